#!/usr/bin/env python3
"""Measures (never asserts) the cost of ftwall's queue path in the lab, for the README:

* bulk TCP (iperf3, lan1 -> internet) through the lab router without ftwall and with the
  rules and daemon of each backend: bulk traffic should not cross into userspace;
* packets per second through the daemon: a flood of datagrams that each open a new UDP
  flow (so each is queued), counted where they arrive, with and without ftwall.

Usage: bench.py [SECONDS]. Needs root, iperf3 and a release build. Prints a table.
"""

import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from labnet import netns, topology  # noqa: E402
from labnet.ftwall import Ftwall, binary  # noqa: E402
from labnet.topology import ADDR  # noqa: E402


def iperf(lab, seconds):
    a = ADDR[4]
    server = netns.spawn(["iperf3", "-s", "-1", "-B", a["web"], "-p", "5201"], ns=lab.ns["inet"],
                         stdout=open(os.devnull, "w"), stderr=open(os.devnull, "w"))
    try:
        for _ in range(50):  # wait for the listener
            if netns.sh(["ss", "-ltnH", "sport", "= :5201"], ns=lab.ns["inet"], check=False).strip():
                break
            time.sleep(0.1)
        out = netns.sh(["iperf3", "-c", a["web"], "-p", "5201", "-t", str(seconds), "-J"], ns=lab.ns["lan1"],
                       timeout=seconds + 30)
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9
    finally:
        netns.stop_process(server)


def flooder(workdir):
    """Builds the C flood sender (Python alone cannot send fast enough)."""
    exe = os.path.join(workdir, "flood")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sim", "flood.c")
    netns.sh(["gcc", "-O2", "-o", exe, src])
    return exe


def flood(lab, seconds, fw=None):
    inet = lab.ns["inet"]
    # Count (and drop, so no ICMP answers) what arrives at the internet side.
    netns.sh(["nft", "-f", "-"], ns=inet, input=(
        "table inet bench {\n chain input { type filter hook input priority 0; policy accept;\n"
        f"  ip saddr {ADDR[4]['lan1']} udp dport 1024-65535 counter drop\n }}\n}}\n"))
    # Old flows expire fast, so that the port cycle keeps making new flows.
    netns.sh(["sysctl", "-qw", "net.netfilter.nf_conntrack_udp_timeout=1"], ns=lab.ns["router"], check=False)
    exe = flooder(lab.workdir)
    before = fw.counters().get("packets", 0) if fw else 0
    out = netns.sh([exe, ADDR[4]["inet_wan"], str(seconds)], ns=lab.ns["lan1"], timeout=seconds + 30)
    sent = int(out.split()[1])
    time.sleep(0.5)
    through_daemon = (fw.counters().get("packets", 0) - before) / seconds if fw else None
    out = netns.sh(["nft", "list", "table", "inet", "bench"], ns=inet)
    netns.sh(["nft", "delete", "table", "inet", "bench"], ns=inet)
    got = int(out.split("counter packets")[1].split()[0])
    return sent / seconds, got / seconds, through_daemon


def main(seconds="5"):
    seconds = float(seconds)
    if os.geteuid() != 0 or not shutil.which("iperf3") or not os.path.exists(binary()):
        print("bench: needs root, iperf3 (sh .ci/deps) and a release build (make build)", file=sys.stderr)
        return 1
    netns.install_cleanup_handlers()
    rows = []
    for setup in ("no ftwall", "ftwall nft", "ftwall iptables"):
        workdir = tempfile.mkdtemp(prefix="ftwall-bench-")
        lab = topology.Lab(workdir=workdir)
        fw = None
        try:
            lab.up()
            if setup != "no ftwall":
                fw = Ftwall(lab, setup.split()[1], workdir)
                try:
                    fw.apply_rules()
                except netns.CommandError as exc:
                    print(f"{setup:16s} not measured: {str(exc).splitlines()[-1]}", flush=True)
                    fw = None
                    continue
                fw.start(lock_secs=120)
            gbps = iperf(lab, seconds)
            sent, delivered, daemon_pps = flood(lab, min(seconds, 3), fw)
            rows.append((setup, gbps, sent, delivered, daemon_pps))
            verdicts = f" daemon verdicts {daemon_pps:9.0f}/s" if daemon_pps is not None else ""
            print(f"{setup:16s} bulk TCP {gbps:6.2f} Gbit/s   new-flow UDP: sent {sent:9.0f}/s delivered "
                  f"{delivered:9.0f}/s{verdicts}", flush=True)
        finally:
            if fw is not None:
                fw.close()
            lab.down()
    print("\n| setup | bulk TCP through the router (iperf3) | new UDP flows sent/s | delivered/s | daemon verdicts/s |")
    print("|---|---|---|---|---|")
    for setup, gbps, sent, delivered, daemon_pps in rows:
        verdicts = f"{daemon_pps:,.0f}" if daemon_pps is not None else "-"
        print(f"| {setup} | {gbps:.2f} Gbit/s | {sent:,.0f} | {delivered:,.0f} | {verdicts} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
