"""Issue 4 in the lab: WinMX and OpenNap blocked through DNS name patterns and through
their wire signatures, IPv4 and IPv6, with the real daemon on the lab router.

The router runs its own resolver (dnsmasq, forwarding to a DNS server on the internet
side that knows WinMX and OpenNap names), so answers travel all three ways ftwall reads:
upstream server -> router, router's resolver -> LAN client, outside server -> LAN client.
The daemon gets the package's shipped pattern list (files/ftwall.patterns) and a DNS
training file, behind `ftwall rules` (nftables and iptables backends), which queue the
DNS answers on those three paths besides the connections.

1. A client that resolves a WinMX cache name (through the router) or the OpenNap
   metaserver name (directly) cannot connect to the address it got and is locked; a
   name that matches nothing resolves and connects normally; the learned addresses are
   in `ftwall status` and in the training file, and come back after a restart.
2. A WinMX-like client and an OpenNap-like client, talking to addresses never seen in
   DNS, are stopped by their signatures: the key block and the login never arrive, and
   the clients are locked.
3. Answers that map a pattern's name to the router, a LAN host or loopback block nothing
   and are logged as refused.
"""

import os
import re
import signal

import pytest

from conftest import require_lab
from labnet import netns, topology
from labnet.topology import add_host, dnsmasq
from labnet.ftwall import REPO
from labnet.poll import wait_until

PATTERNS = os.path.join(REPO, "files", "ftwall.patterns")

# Internet-side hosts of this test (documentation ranges, on inet's loopback).
HOSTS = {
    4: {"dns": "203.0.113.54", "cache": "198.51.100.70", "meta": "198.51.100.71",
        "winmx": "198.51.100.90", "opennap": "198.51.100.91", "uploader": "198.51.100.92"},
    6: {"dns": "2001:db8:113::54", "cache": "2001:db8:51::70", "meta": "2001:db8:51::71",
        "winmx": "2001:db8:51::90", "opennap": "2001:db8:51::91", "uploader": "2001:db8:51::92"},
}
QTYPE = {4: "A", 6: "AAAA"}


@pytest.fixture
def world(lab, ftwall, tmp_path):
    """The test's internet hosts and DNS servers (internet and router) around ftwall's
    rules and daemon (the `ftwall` fixture: one run per rule backend)."""
    require_lab()
    procs = []
    fw = ftwall
    try:
        for fam in (4, 6):
            for ip in HOSTS[fam].values():
                add_host(lab, ip)
        records = []
        for name, key in [("cache0.winmx.com", "cache"), ("server.napster.com", "meta")]:
            records.append(f"--host-record={name},{HOSTS[4][key]},{HOSTS[6][key]}")
        a4, a6 = topology.ADDR[4], topology.ADDR[6]
        records += [
            f"--host-record={topology.WEB_NAME},{a4['web']},{a6['web']}",
            f"--host-record=trap-router.winmx.com,{a4['router_lan']},{a6['router_lan']}",
            f"--host-record=trap-lan.winmx.com,{a4['lan2']},{a6['lan2']}",
            "--host-record=trap-lo.winmx.com,127.0.0.1,::1",
        ]
        procs.append(dnsmasq(lab, "inet", [HOSTS[4]["dns"], HOSTS[6]["dns"]], ["--no-resolv"] + records, "dns-inet.log"))
        # The router's resolver, as on OpenWrt: it forwards to the internet server.
        procs.append(dnsmasq(lab, "router", [a4["router_lan"], a6["router_lan"]],
                             ["--no-resolv", f"--server={HOSTS[4]['dns']}", "--cache-size=0"], "dns-router.log"))
        inet = lab.agent("inet")
        for fam in (4, 6):
            h = HOSTS[fam]
            for key in ("cache", "meta"):
                inet.call("serve_web", ip=h[key], port=80)
            inet.call("serve_winmx", ip=h["winmx"], port=6699)
            inet.call("serve_opennap", ip=h["opennap"], port=8888)
            inet.call("serve_nap_transfer", ip=h["uploader"], port=6699)
        for server in (HOSTS[4]["dns"], topology.ADDR[4]["router_lan"]):
            wait_until(lambda s=server: call(lab, "lan1", "resolve", name=topology.WEB_NAME, server=s,
                                             timeout=0.5).get("ok"),
                       10, f"the DNS server {server} to answer")
        fw.training = os.path.join(str(tmp_path), "ftwall.dns")
        yield fw
    finally:
        for p in procs:
            netns.stop_process(p)


def start(fw):
    fw.start(lock_secs=120, extra=["--pattern-file", PATTERNS, "-D", fw.training, "-L", "da"])
    wait_until(lambda: os.path.exists(fw.status_file), 5, "the first status file")


def status(fw):
    """The status file, freshly written (SIGUSR1): {"clients": {ip: protocol}, "dns": {ip: name}, counters}."""
    before = os.stat(fw.status_file).st_mtime_ns
    fw.daemon.send_signal(signal.SIGUSR1)
    wait_until(lambda: os.path.exists(fw.status_file) and os.stat(fw.status_file).st_mtime_ns != before, 5,
               "the status file to be rewritten")
    out = {"clients": {}, "dns": {}, "counters": {}}
    for line in open(fw.status_file):
        w = line.split()
        if w[:1] == ["client"]:
            out["clients"][w[1]] = w[2]
        elif w[:1] == ["dns"]:
            out["dns"][w[1]] = w[3]
        elif w[:1] == ["counter"]:
            out["counters"][w[1]] = int(w[2])
    return out


def call(lab, role, cmd, **args):
    """Runs an agent command; its failure (a refused connection) is a result to check."""
    return lab.agent(role).call(cmd, **args)


def resolve(lab, host, name, server, family, tcp=False):
    r = call(lab, host, "resolve", name=name, server=server, qtype=QTYPE[family], timeout=2.0, tcp=tcp)
    assert r.get("ok"), f"{host} could not resolve {name} through {server} (tcp={tcp}): {r}"
    return r["addrs"]


def connects(lab, host, ip, port=80):
    return call(lab, host, "connect", host=ip, port=port, timeout=1.5).get("ok")


def web_works(lab, host, family):
    a = topology.ADDR[family]
    return call(lab, host, "fetch", host=a["web"], port=80, timeout=2.0).get("ok")


def test_dns_names_block_their_addresses_and_lock_the_client(lab, family, world):
    a, h = topology.ADDR[family], HOSTS[family]
    start(world)
    # Before any answer, the addresses are reachable.
    assert connects(lab, "lan1", h["cache"]) and connects(lab, "lan2", h["meta"])

    # A name that matches nothing resolves and connects normally (through the router).
    assert resolve(lab, "lan1", topology.WEB_NAME, a["router_lan"], family) == [a["web"]]
    assert web_works(lab, "lan1", family)

    # A WinMX cache name through the router's resolver: the answer arrives, the
    # connection to it does not, and the client is locked.
    assert resolve(lab, "lan1", "cache0.winmx.com", a["router_lan"], family) == [h["cache"]]
    assert not connects(lab, "lan1", h["cache"]), "connected to an address learned from a WinMX name"
    st = status(world)
    assert st["clients"].get(a["lan1"]) == "dns", st
    assert st["dns"].get(h["cache"]) == "cache0.winmx.com", st
    assert not web_works(lab, "lan1", family), "the locked client still reaches the web"

    # The OpenNap metaserver name asked directly from the internet server by lan2.
    assert resolve(lab, "lan2", "server.napster.com", h["dns"], family) == [h["meta"]]
    assert not connects(lab, "lan2", h["meta"])
    st = status(world)
    assert st["clients"].get(a["lan2"]) == "dns" and h["meta"] in st["dns"], st
    assert st["counters"]["dns_learned"] >= 2, st
    log = world.log()
    assert f"DNS cache0.winmx.com -> {h['cache']}: blocked for" in log, log[-3000:]

    # The training file keeps them across a restart.
    assert world.stop() == 0
    saved = open(world.training).read()
    assert h["cache"] in saved and h["meta"] in saved, saved
    start(world)
    st = status(world)
    assert h["cache"] in st["dns"] and h["meta"] in st["dns"], st
    assert not connects(lab, "lan2", h["cache"]), "a restarted daemon forgot the learned address"


def test_dns_answers_over_tcp_block_as_over_udp(lab, family, world):
    """A resolver asks again over TCP when a UDP answer is truncated; clients may ask over
    TCP from the start. Both router paths (upstream server -> router's resolver, resolver
    -> LAN client) and the direct one carry the answer in a TCP connection's first
    packets, which the rules queue."""
    a, h = topology.ADDR[family], HOSTS[family]
    start(world)
    # A name that matches nothing, over TCP through the router: answered, nothing learned.
    assert resolve(lab, "lan1", topology.WEB_NAME, a["router_lan"], family, tcp=True) == [a["web"]]
    assert status(world)["dns"] == {}
    # The router's resolver forwards a TCP question over TCP.
    assert resolve(lab, "lan1", "cache0.winmx.com", a["router_lan"], family, tcp=True) == [h["cache"]]
    assert not connects(lab, "lan1", h["cache"]), "connected to an address learned from a DNS answer over TCP"
    st = status(world)
    assert st["dns"].get(h["cache"]) == "cache0.winmx.com", st
    assert st["clients"].get(a["lan1"]) == "dns", st
    # Directly from the internet server, over TCP.
    assert resolve(lab, "lan2", "server.napster.com", h["dns"], family, tcp=True) == [h["meta"]]
    assert not connects(lab, "lan2", h["meta"])
    st = status(world)
    assert h["meta"] in st["dns"] and st["clients"].get(a["lan2"]) == "dns", st
    forwarded = open(os.path.join(lab.workdir, "dns-inet.log")).read()
    assert "cache0.winmx.com" in forwarded, "the router's resolver never asked upstream"


def test_answers_for_the_router_the_lan_or_loopback_block_nothing(lab, family, world):
    a, h = topology.ADDR[family], HOSTS[family]
    loopback = "127.0.0.1" if family == 4 else "::1"
    start(world)
    for name, expect in [("trap-router.winmx.com", a["router_lan"]), ("trap-lan.winmx.com", a["lan2"]),
                         ("trap-lo.winmx.com", loopback)]:
        # Through the router's resolver and directly: the client still gets its answer.
        assert resolve(lab, "lan1", name, a["router_lan"], family) == [expect]
        assert resolve(lab, "lan1", name, h["dns"], family) == [expect]
    st = status(world)
    assert st["dns"] == {}, f"a refused address is blocked: {st['dns']}"
    assert st["counters"]["dns_refused"] >= 6, st
    assert a["lan1"] not in st["clients"], st
    log = world.log()
    for ip in (a["router_lan"], a["lan2"], loopback):
        assert re.search(rf"-> {re.escape(ip)}: matches a pattern, but may never be blocked", log), log[-3000:]
    assert web_works(lab, "lan1", family)


def test_winmx_and_opennap_clients_are_caught_by_their_signatures(lab, family, world):
    a, h = topology.ADDR[family], HOSTS[family]
    start(world)
    r = call(lab, "lan1", "winmx_connect", host=h["winmx"], port=6699, timeout=3.0)
    assert r["steps"][:2] == ["connected", "greeting"] and "answered" not in r["steps"], r
    blocks = [e for e in lab.agent("inet").events("winmx_block") if e["hex"]]
    assert not blocks, f"the WinMX primary received the key block: {blocks}"

    r = call(lab, "lan2", "opennap_login", host=h["opennap"], port=8888, timeout=3.0)
    assert r["steps"] == ["connected"], r
    assert not lab.agent("inet").events("opennap_message"), "the OpenNap server received the login"

    st = status(world)
    assert st["clients"].get(a["lan1"]) == "winmx" and st["clients"].get(a["lan2"]) == "opennap", st
    assert st["dns"] == {}, "nothing here came from DNS"
    peers = world.stored_peer_ips()
    assert h["winmx"] in peers and h["opennap"] in peers, peers
    assert not web_works(lab, "lan1", family) and not web_works(lab, "lan2", family)


def test_napster_transfer_is_caught_on_its_request(lab, family, world):
    a, h = topology.ADDR[family], HOSTS[family]
    start(world)
    r = call(lab, "lan1", "nap_get", host=h["uploader"], port=6699, timeout=3.0)
    assert r["steps"][:2] == ["connected", "greeting"] and "data" not in r["steps"], r
    requests = [e for e in lab.agent("inet").events("nap_request") if e.get("request")]
    assert not requests, f"the uploader received the request: {requests}"
    st = status(world)
    assert st["clients"].get(a["lan1"]) == "opennap", st
    # lan2 was not involved and browses on.
    assert web_works(lab, "lan2", family)
