"""Negative controls: without ftwall, everything the scenarios expect to be stopped works.
This is what makes each scenario real: if ftwall were absent or did nothing, these same
actions succeed."""

from labnet import topology
from labnet.topology import ADDR, FT_PORT, ep


def supernodes(fam):
    return [ep(ip, FT_PORT) for ip in ADDR[fam]["supernodes"]]


def test_kazaa_client_reaches_its_supernodes_and_downloads(lab, family):
    a = ADDR[family]
    lan1, inet = lab.agent("lan1"), lab.agent("inet")
    r = lan1.call("kazaa_start", supernodes=supernodes(family), wait=30)
    try:
        # Pings reached every supernode, from the client's FastTrack port.
        pinged = {(e["peer"], e["src"]) for e in inet.events("peer_udp") if e["ping"]}
        assert pinged == {(sn, ep(a["lan1"], FT_PORT)) for sn in supernodes(family)}
        # Real pongs came back, none forged; parallel TCP and the HTTP transfers worked.
        assert r["real_pongs"] == 3 and r["spoofed_pongs"] == 0, r
        assert r["answered"] == sorted(supernodes(family))
        assert r["connected"] == sorted(supernodes(family))
        assert len(r["transfers"]) == 3 and all(t["ok"] and t["bytes"] == t["size"] for t in r["transfers"]), r
        # The peers saw Kazaa transfer requests with the X-Kazaa headers.
        http = inet.events("peer_http")
        assert len(http) == 3
        for e in http:
            assert e["request"].startswith("GET /.hash=")
            assert e["headers"]["x-kazaa-supernodeip"] in supernodes(family)
            assert e["headers"]["useragent"].startswith("KazaaClient")
    finally:
        lan1.call("kazaa_stop")


def test_kazaa_client_answers_pings_like_ftwall_probes(lab, family):
    """ftwall keeps the lock alive by pinging the client from the router; the client must
    answer with a pong to the sender."""
    a = ADDR[family]
    lan1 = lab.agent("lan1")
    lan1.call("kazaa_start", supernodes=supernodes(family), transfer=False, wait=30)
    try:
        r = lab.agent("router").call("ping_burst", supernodes=[ep(a["lan1"], FT_PORT)], wait=10)
        assert len(r["pongs"]) == 1 and r["pongs"][0]["src"] == ep(a["lan1"], FT_PORT), r
        assert not r["pongs"][0]["real"]  # a client's pong, not a supernode's
        answered = lan1.events("probe_answered")
        assert len(answered) == 1 and answered[0]["src"].rsplit(":", 1)[0].strip("[]") == a["router_lan"]
    finally:
        stopped = lan1.call("kazaa_stop")
    assert stopped["probes_answered"] == 1
    # Once stopped, nobody answers.
    r = lab.agent("router").call("ping_burst", supernodes=[ep(a["lan1"], FT_PORT)], listen=0.5)
    assert r["pongs"] == []


def test_transfer_from_a_peer_never_pinged_completes(lab, family):
    """Control for scenario 4."""
    a = ADDR[family]
    r = lab.agent("lan1").call("transfer", peer=ep(a["stranger"], FT_PORT),
                               supernode=ep(a["stranger_sn"], FT_PORT), size=128 * 1024, wait=30)
    assert r["ok"] and r["bytes"] == 128 * 1024, r


def test_open_stream_keeps_flowing_and_second_host_browses(lab, family):
    """Control for scenarios 2 and 5: a long download runs to its end."""
    a = ADDR[family]
    lan1 = lab.agent("lan1")
    size = 400 * 1024
    r = lan1.call("stream", host=topology.WEB_NAME, dns_server=a["dns"], family=family, size=size,
                  rate=400 * 1024, wait=30)
    assert r["ok"] and r["bytes"] == size, r
    assert lan1.events("progress"), "the stream reported no progress"
    r = lab.agent("lan2").call("fetch", host=topology.WEB_NAME, dns_server=a["dns"], family=family)
    assert r["ok"], r
