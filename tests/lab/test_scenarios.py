"""The six end-to-end scenarios of issue 3, each for IPv4 and IPv6 and for both rule
backends, with the real ftwall daemon and rules on the lab router.

test_sim_roundtrip.py is their negative control: without ftwall every action that these
tests expect to fail succeeds.
"""

import re
import time

import pytest

from labnet.poll import stays, wait_until
from labnet.topology import ADDR, FT_PORT, ep

pytestmark = pytest.mark.scenario

LOCK = 6  # -t for the scenarios that time the lock
MARGIN = 3  # slack on the lock's end: the daemon's 1 s tick and the kernel's timeouts
KB = 1024


def supernodes(fam):
    return [ep(ip, FT_PORT) for ip in ADDR[fam]["supernodes"]]


def ip_of(endpoint):
    return endpoint.rsplit(":", 1)[0].strip("[]")


def browse(agent, fam, timeout=1.0):
    """One page load from the web server by address (DNS is checked separately)."""
    return agent.call("fetch", host=ADDR[fam]["web"], timeout=timeout, wait=timeout * 4 + 5)


def can_connect(agent, ip, port=FT_PORT, timeout=1.0):
    return agent.call("connect", host=ip, port=port, timeout=timeout, wait=timeout + 5)["ok"]


def detections(log):
    """What ftwall's log says it found: {("client", ip), ("peer", ip:port)}."""
    found = set()
    for kind, what in re.findall(r"new (client|peer) (\S+)", log):
        found.add((kind, what))
    return found


def from_client(events, fam):
    return [e for e in events if ip_of(e["src"]) == ADDR[fam]["lan1"]]


def test_1_pings_never_reach_peers_pongs_are_spoofed_and_peers_learned(lab, ftwall, family):
    a = ADDR[family]
    lan1, lan2, inet = lab.agent("lan1"), lab.agent("lan2"), lab.agent("inet")
    ftwall.start(lock_secs=LOCK)
    r = lan1.call("kazaa_start", supernodes=supernodes(family), connect_timeout=1.5, stall_timeout=2, wait=40)
    try:
        # Every ping was answered, but by ftwall: the pongs lack the supernodes' marker
        # and mirror the ping's encryption type and network name.
        assert r["real_pongs"] == 0 and r["spoofed_pongs"] == 3, r
        pongs = lan1.events("pong")
        assert sorted(e["src"] for e in pongs) == sorted(supernodes(family))
        assert all(e["enc_type"] == 0x29 and e["network"] == "KaZaA" for e in pongs), pongs
        # Nothing the client sent reached a peer: no ping, no connection, no transfer.
        assert from_client(inet.events("peer_udp"), family) == []
        assert from_client(inet.events("peer_accept"), family) == []
        assert r["connected"] == [] and not any(t["ok"] for t in r["transfers"]), r
        # The peers are learned: storefile, kernel block list, log; the client is known.
        sn_ips = {ip_of(s) for s in supernodes(family)}
        wait_until(lambda: ftwall.stored_peer_ips() >= sn_ips, 5, "the supernodes in the storefile")
        wait_until(lambda: ftwall.blocked(family) >= sn_ips, 5, "the supernodes in the kernel's peer set")
        wait_until(lambda: ("client", a["lan1"]) in detections(ftwall.log()), 5, "'new client' in the log")
        assert {("peer", s) for s in supernodes(family)} <= detections(ftwall.log())
        wait_until(lambda: any(a["lan1"] in f for f in ftwall.client_files()), 5, "the client's file")
        # The other LAN host is not touched.
        assert browse(lan2, family)["ok"]
    finally:
        lan1.call("kazaa_stop")


def test_1_a_second_client_pinging_only_known_supernodes_is_answered_and_locked(lab, ftwall, family):
    """Once the supernodes are known (blocked in the kernel), a new client's pings to them
    must still reach ftwall: answered with spoofed pongs, and the client found and locked."""
    a = ADDR[family]
    lan1, lan2, inet = lab.agent("lan1"), lab.agent("lan2"), lab.agent("inet")
    ftwall.start(lock_secs=LOCK)
    lan1.call("kazaa_start", supernodes=supernodes(family), transfer=False, connect_timeout=1, wait=30)
    lan1.call("kazaa_stop")
    sn_ips = {ip_of(s) for s in supernodes(family)}
    wait_until(lambda: ftwall.blocked(family) >= sn_ips, 5, "the supernodes in the kernel's peer set")
    r = lan2.call("kazaa_start", supernodes=supernodes(family), transfer=False, connect_timeout=1, wait=30)
    try:
        assert r["real_pongs"] == 0 and r["spoofed_pongs"] == 3, r
        assert [e for e in inet.events("peer_udp") if ip_of(e["src"]) == a["lan2"]] == []
        wait_until(lambda: a["lan2"] in ftwall.locked(family), 5, "lan2 in the kernel's locked set")
        assert ("client", a["lan2"]) in detections(ftwall.log())
    finally:
        lan2.call("kazaa_stop")


def test_2_locked_client_is_cut_off_the_other_host_is_not(lab, ftwall, family):
    a = ADDR[family]
    lan1, lan2 = lab.agent("lan1"), lab.agent("lan2")
    ftwall.start(lock_secs=30)  # long enough to outlast the scenario
    size, rate = 800 * KB, 100 * KB  # eight seconds of download
    s1 = lan1.send("stream", host=a["web"], size=size, rate=rate, stall_timeout=2.5)
    s2 = lan2.send("stream", host=a["web"], size=size, rate=rate, stall_timeout=2.5)
    for agent, cmd in ((lan1, s1), (lan2, s2)):
        agent.wait_event(lambda e, c=cmd: e["ev"] == "progress" and e.get("id") == c and e["bytes"] > 0, 5,
                         f"{agent.name}'s download to start")
    lan1.call("kazaa_start", supernodes=supernodes(family), transfer=False, connect_timeout=1, wait=30)
    try:
        wait_until(lambda: a["lan1"] in ftwall.locked(family), 5, "lan1 in the kernel's locked set")
        # The connection opened before the lock stops passing data.
        r1 = lan1.result(s1, wait=15)
        assert not r1["ok"] and r1["bytes"] < size, r1
        # New connections to anything fail: web (by address and by name), a peer, DNS.
        assert not browse(lan1, family)["ok"]
        assert not lan1.call("fetch", host="web.example", dns_server=a["dns"], family=family, timeout=1)["ok"]
        assert not can_connect(lan1, a["stranger"])
        # lan2 is unaffected: its download completes and it browses.
        r2 = lan2.result(s2, wait=20)
        assert r2["ok"] and r2["bytes"] == size, r2
        assert browse(lan2, family)["ok"]
        assert lan2.call("fetch", host="web.example", dns_server=a["dns"], family=family)["ok"]
        assert a["lan2"] not in ftwall.locked(family)
    finally:
        lan1.call("kazaa_stop")


def test_3_probes_keep_the_lock_while_the_client_runs_then_it_ends_in_time(lab, ftwall, family):
    a = ADDR[family]
    lan1 = lab.agent("lan1")
    ftwall.start(lock_secs=LOCK)
    lan1.call("kazaa_start", supernodes=supernodes(family), transfer=False, connect_timeout=1, wait=30)
    running = True
    try:
        # From here on the client sends nothing of its own: only its answers to probes
        # can keep it locked. Hold for longer than the lock, checking it stays cut off.
        stays(lambda: not browse(lan1, family)["ok"], LOCK + 2, "lan1 locked while Kazaa runs")
        probes = lan1.events("probe_answered")
        assert len(probes) >= 2, probes
        assert {ip_of(e["src"]) for e in probes} == {a["router_lan"]}
        lan1.call("kazaa_stop")
        running = False
        stopped = time.monotonic()
        wait_until(lambda: browse(lan1, family, timeout=0.5)["ok"], LOCK + MARGIN,
                   f"lan1 to browse again within -t {LOCK} s + {MARGIN} s of closing Kazaa")
        took = time.monotonic() - stopped
        print(f"lock ended {took:.1f}s after the client stopped (-t {LOCK})")
        assert lan1.call("fetch", host="web.example", dns_server=a["dns"], family=family)["ok"]
        wait_until(lambda: not any(a["lan1"] in f for f in ftwall.client_files()), 3, "the client's file to go")
    finally:
        if running:
            lan1.call("kazaa_stop")


def test_4_transfer_from_an_unlearned_peer_is_cut_and_its_supernode_blocked(lab, ftwall, family):
    a = ADDR[family]
    lan1, lan2, inet = lab.agent("lan1"), lab.agent("lan2"), lab.agent("inet")
    ftwall.start(lock_secs=LOCK)
    assert can_connect(lan2, a["stranger_sn"]), "control: the supernode is reachable before"
    size = 1024 * KB
    r = lan1.call("transfer", peer=ep(a["stranger"], FT_PORT), supernode=ep(a["stranger_sn"], FT_PORT),
                  size=size, stall_timeout=2, wait=30)
    assert not r["ok"] and r["bytes"] < size, r
    assert not [e for e in from_client(inet.events("peer_http_done"), family) if e["sent"] == e["size"]]
    wanted = {a["stranger"], a["stranger_sn"]}
    wait_until(lambda: ftwall.stored_peer_ips() >= wanted, 5, "peer and supernode in the storefile")
    wait_until(lambda: ftwall.blocked(family) >= wanted, 5, "peer and supernode in the kernel's peer set")
    assert not can_connect(lan2, a["stranger_sn"]), "the supernode named in the request is not blocked"
    assert not can_connect(lan2, a["stranger"]), "the peer is not blocked"
    assert browse(lan2, family)["ok"]
    wait_until(lambda: a["lan1"] in ftwall.locked(family), 5, "lan1 locked")


def test_5_kill_9_fail_open_keeps_lan_traffic_and_restart_reloads_peers(lab, ftwall, family):
    a = ADDR[family]
    lan1, lan2 = lab.agent("lan1"), lab.agent("lan2")
    ftwall.start(lock_secs=LOCK)
    lan1.call("kazaa_start", supernodes=supernodes(family), transfer=False, connect_timeout=1, wait=30)
    lan1.call("kazaa_stop")
    sn_ips = {ip_of(s) for s in supernodes(family)}
    wait_until(lambda: ftwall.stored_peer_ips() >= sn_ips, 5, "the supernodes in the storefile")

    size, rate = 1200 * KB, 400 * KB
    s2 = lan2.send("stream", host=a["web"], size=size, rate=rate, stall_timeout=2)
    lan2.wait_event(lambda e: e["ev"] == "progress" and e.get("id") == s2 and e["bytes"] > 0, 5, "download start")
    ftwall.kill9()
    r2 = lan2.result(s2, wait=20)
    assert r2["ok"] and r2["bytes"] == size, f"the download died with the daemon: {r2}"
    assert browse(lan2, family)["ok"], "new connections fail without the daemon (fail-open)"
    assert lan2.call("resolve", name="web.example", server=a["dns"], qtype="A" if family == 4 else "AAAA")["ok"]

    # Fresh kernel state, as after a reboot: only the storefile remembers the peers.
    ftwall.remove_rules()
    ftwall.apply_rules()
    assert not ftwall.blocked(family) & sn_ips
    ftwall.start(lock_secs=LOCK)
    wait_until(lambda: ftwall.blocked(family) >= sn_ips, 5, "the restarted daemon to block the stored peers")
    assert not can_connect(lan2, ip_of(supernodes(family)[0]))
    assert browse(lan2, family)["ok"]


def test_5_kill_9_fail_closed_stops_queued_traffic(lab, ftwall_fail_closed, family):
    a = ADDR[family]
    lan2 = lab.agent("lan2")
    fw = ftwall_fail_closed
    fw.start(lock_secs=LOCK)
    assert browse(lan2, family)["ok"], "control: browsing works while the daemon runs"
    fw.kill9()
    assert not browse(lan2, family)["ok"], "a new connection passed with no daemon (should fail closed)"
    assert not lan2.call("resolve", name="web.example", server=a["dns"], timeout=1,
                         qtype="A" if family == 4 else "AAAA")["ok"]
    fw.start(lock_secs=LOCK)
    wait_until(lambda: browse(lan2, family)["ok"], 5, "browsing to come back with the daemon")


def test_6_monitor_mode_logs_the_same_detections_and_blocks_nothing(lab, ftwall, family):
    a = ADDR[family]
    lan1, inet = lab.agent("lan1"), lab.agent("inet")
    ftwall.start(lock_secs=LOCK, monitor=True)
    r = lan1.call("kazaa_start", supernodes=supernodes(family), connect_timeout=1.5, wait=40)
    try:
        assert r["real_pongs"] == 3 and r["spoofed_pongs"] == 0, r
        assert r["connected"] == sorted(supernodes(family)), r
        assert len(r["transfers"]) == 3 and all(t["ok"] for t in r["transfers"]), r
        assert len({e["peer"] for e in from_client(inet.events("peer_udp"), family)}) == 3
        assert browse(lan1, family)["ok"]
        expected = {("client", a["lan1"])} | {("peer", s) for s in supernodes(family)}
        wait_until(lambda: detections(ftwall.log()) >= expected, 5, "monitor mode to log the detections")
        assert ftwall.locked(family) == set() and ftwall.blocked(family) == set()
    finally:
        lan1.call("kazaa_stop")
    monitor_saw = detections(ftwall.log())

    # The same client against an enforcing daemon (fresh state) detects the same things.
    assert ftwall.stop() == 0
    ftwall.log_path += ".enforcing"
    ftwall.storefile += ".enforcing"
    ftwall.start(lock_secs=LOCK)
    r = lan1.call("kazaa_start", supernodes=supernodes(family), transfer=False, connect_timeout=1, wait=30)
    try:
        assert r["spoofed_pongs"] == 3, r
        wait_until(lambda: detections(ftwall.log()) >= expected, 5, "enforcing mode to log the detections")
        assert detections(ftwall.log()) == monitor_saw
    finally:
        lan1.call("kazaa_stop")
