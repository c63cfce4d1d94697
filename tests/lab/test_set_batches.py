"""Kernel set updates under a burst of new P2P sources, with the real daemon behind
`ftwall rules` on the lab router: 500 LAN hosts that each ping a different FastTrack
peer must all end up locked, and their peers blocked, in the kernel sets, with far fewer
`nft`/`ipset` processes than elements (the daemon batches its set updates).

The processes are counted by wrappers that stand first on the daemon's PATH and log each
start before running the real tool, so the count does not rely on the daemon's word.
"""

import os
import re
import shutil

from labnet import netns
from labnet.poll import wait_until

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
SOURCES = 500
# 1,000 sources a second: a burst the daemon must keep up with. Much faster, and on a
# busy machine the queue socket's default buffer (about 150 packets) may overflow while
# the daemon waits for the CPU; those packets pass unexamined (fail-open), a different
# matter (test_faults.py).
RATE = 1000
MAX_COMMANDS = 50  # a command per element would be 1,000


def counting_path(tmp_path):
    """A directory of `nft` and `ipset` wrappers that append a line to a log per start;
    returns (PATH for the daemon, log file)."""
    bindir = tmp_path / "counting-bin"
    bindir.mkdir()
    log = tmp_path / "commands.log"
    log.write_text("")
    for tool in ("nft", "ipset"):
        real = shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin:/bin")
        assert real, f"{tool} is not installed"
        w = bindir / tool
        w.write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\nexec {real} "$@"\n')
        w.chmod(0o755)
    return f"{bindir}:/usr/sbin:/usr/bin:/sbin:/bin", log


def commands(log):
    return log.read_text().splitlines()


def test_a_burst_of_new_sources_reaches_the_kernel_sets_in_few_commands(lab, ftwall, tmp_path):
    fw = ftwall
    path, log = counting_path(tmp_path)
    srcflood = str(tmp_path / "srcflood")
    netns.sh(["gcc", "-O2", "-o", srcflood, os.path.join(LAB_DIR, "sim", "srcflood.c")])
    fw.start(lock_secs=120, wrap=["env", f"PATH={path}"])
    at_start = len(commands(log))
    assert at_start >= 1, "the wrappers saw nothing: the daemon does not run the tools through PATH"

    mac = re.search(r"link/ether ([0-9a-f:]{17})", netns.sh(["ip", "-o", "link", "show", "lan"], ns=lab.ns["router"])).group(1)
    out = netns.sh([srcflood, "eth0", mac, str(SOURCES), str(RATE), "1"], ns=lab.ns["lan1"], timeout=60)
    assert int(out.split()[1]) == SOURCES, out

    def landed():
        return len(fw.locked(6)) >= SOURCES and len(fw.blocked(6)) >= SOURCES

    wait_until(landed, 20, f"{SOURCES} locked clients and {SOURCES} blocked peers in the kernel sets")
    locked, blocked = fw.locked(6), fw.blocked(6)
    assert len(locked) == SOURCES and all(ip.startswith("fd77:77:") for ip in locked), sorted(locked)[:5]
    assert len(blocked) == SOURCES and all(ip.startswith("2001:db8:") for ip in blocked), sorted(blocked)[:5]

    ran = commands(log)[at_start:]
    assert 1 <= len(ran) <= MAX_COMMANDS, f"{len(ran)} set commands for {2 * SOURCES} elements:\n" + "\n".join(ran[:20])
    counters = fw.counters()
    assert counters["daemon_set_changes"] >= 2 * SOURCES, counters
    assert counters["daemon_set_changes_failed"] == 0, counters
    assert counters["daemon_set_commands"] == len(ran), (counters, ran)
    print(f"\n{2 * SOURCES} set elements in {len(ran)} commands")
