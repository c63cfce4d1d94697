#!/usr/bin/env python3
"""`make demo`: ftwall against a Kazaa-like client in a throw-away lab, narrated.

Builds the lab network (two LAN hosts, the router running the real ftwall rules and
daemon, an internet with FastTrack supernodes, a web server and DNS), then plays issue 3's
scenarios 1-3: the client's pings are answered by ftwall instead of the supernodes, the
client gets time-locked off the internet while the other host is untouched, probes keep
the lock alive while the client runs, and it ends soon after the client stops. Every line
the daemon logs is shown as it happens. Needs root; removes everything it made.
"""

import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from labnet import netns, topology  # noqa: E402
from labnet.ftwall import Ftwall, binary  # noqa: E402
from labnet.poll import wait_until  # noqa: E402
from labnet.topology import ADDR, FT_PORT, ep  # noqa: E402

LOCK = 6
T0 = time.monotonic()


def say(text=""):
    print(f"[{time.monotonic() - T0:5.1f}s] {text}" if text else "", flush=True)


def step(title):
    print(f"\n== {title}", flush=True)


def tail_log(fw, stop):
    """Echoes the daemon's log lines as they are written."""
    pos = 0
    while not stop.is_set():
        text = fw.log()
        if len(text) > pos:
            for line in text[pos:].splitlines():
                if line and not line.startswith("===="):
                    print(f"           ftwall| {line}", flush=True)
            pos = len(text)
        time.sleep(0.1)


def browse(agent, fam=4, timeout=1.0):
    r = agent.call("fetch", host=topology.WEB_NAME, dns_server=ADDR[fam]["dns"], family=fam, timeout=timeout,
                   wait=timeout * 4 + 5)
    return r


def describe(r):
    return f"OK ({r['bytes']} bytes in {r['secs'] * 1000:.0f} ms)" if r["ok"] else f"FAILED ({r.get('error') or r.get('why')})"


def main(backend="iptables"):
    if os.geteuid() != 0:
        print("demo: needs root (it builds network namespaces and netfilter rules)", file=sys.stderr)
        return 1
    if not os.path.exists(binary()):
        print(f"demo: no ftwall binary at {binary()} (run `make build`)", file=sys.stderr)
        return 1
    netns.install_cleanup_handlers()
    netns.sweep_stale()
    a = ADDR[4]
    workdir = tempfile.mkdtemp(prefix="ftwall-demo-")
    lab = topology.Lab(workdir=workdir)
    fw = None
    stop = threading.Event()
    try:
        step("Building the lab")
        lab.up()
        say(f"LAN 10.77.0.0/24: lan1 {a['lan1']}, lan2 {a['lan2']}; router {a['router_lan']} / {a['router_wan']}")
        say(f"internet: supernodes {', '.join(a['supernodes'])} port {FT_PORT}; web.example {a['web']}; DNS {a['dns']}")
        lan1, lan2, inet = lab.agent("lan1"), lab.agent("lan2"), lab.agent("inet")
        say(f"lan1 browses http://{topology.WEB_NAME}/ without ftwall: {describe(browse(lan1))}")

        step(f"Starting ftwall on the router ({backend} rules, daemon with -t {LOCK})")
        fw = Ftwall(lab, backend, workdir)
        fw.apply_rules()
        say(f"rules applied: ftwall rules apply {' '.join(fw.rule_args())}")
        threading.Thread(target=tail_log, args=(fw, stop), daemon=True).start()
        fw.start(lock_secs=LOCK)
        say("daemon running: " + " ".join(os.path.basename(x) for x in fw.daemon_args(LOCK, False, ())))
        say(f"lan1 browses: {describe(browse(lan1))}")

        step("Scenario 1: lan1 starts Kazaa")
        say(f"Kazaa on lan1 sends its UDP ping burst to {len(a['supernodes'])} supernodes from port {FT_PORT}")
        r = lan1.call("kazaa_start", supernodes=[ep(ip, FT_PORT) for ip in a["supernodes"]], transfer=False,
                      connect_timeout=1.5, wait=30)
        pings_seen = [e for e in inet.events("peer_udp") if e["src"].startswith(a["lan1"] + ":")]
        say(f"Kazaa received {r['real_pongs'] + r['spoofed_pongs']} pongs: {r['real_pongs']} from real supernodes, "
            f"{r['spoofed_pongs']} forged by ftwall")
        say(f"the supernodes received {len(pings_seen)} of the client's pings")
        say(f"Kazaa's TCP connections to the nodes that 'answered': {len(r['connected'])} of {len(r['answered'])} "
            "got through")
        wait_until(lambda: len(fw.stored_peers()) >= 3, 5, "the storefile")
        say(f"ftwall's storefile now lists: {', '.join(sorted(fw.stored_peers()))}")
        say(f"kernel block list (ftwall_peers4): {', '.join(sorted(fw.blocked(4)))}")

        step("Scenario 2: lan1 is time-locked; lan2 is not")
        wait_until(lambda: a["lan1"] in fw.locked(4), 5, "the lock")
        say(f"kernel lock set (ftwall_locked4): {', '.join(sorted(fw.locked(4)))}")
        say(f"lan1 browses: {describe(browse(lan1))}")
        say(f"lan2 browses: {describe(browse(lan2))}")

        step("Scenario 3: probes keep the lock while Kazaa runs")
        hold = LOCK + 3
        say(f"Kazaa keeps running, sending nothing of its own, for {hold} s (longer than the {LOCK} s lock)")
        time.sleep(hold)
        probes = lan1.events("probe_answered")
        say(f"ftwall probed the client {len(probes)} times; Kazaa answered each, so the lock was renewed")
        say(f"lan1 browses: {describe(browse(lan1))}")
        lan1.call("kazaa_stop")
        stopped = time.monotonic()
        say("Kazaa is closed on lan1; waiting for the lock to run out")
        wait_until(lambda: browse(lan1, timeout=0.5)["ok"], LOCK + 5, "lan1 to browse again")
        say(f"lan1 browses again {time.monotonic() - stopped:.1f} s after Kazaa closed: {describe(browse(lan1))}")

        step("Cleaning up")
        fw.close()
        say("daemon stopped, rules removed")
        return 0
    finally:
        stop.set()
        if fw is not None:
            try:
                fw.close()
            except Exception as exc:  # still tear the lab down
                print(f"demo: {exc}", file=sys.stderr)
        lab.down()
        left = netns.ours()
        say("lab removed" if not left else f"LEFT BEHIND: {left}")


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
