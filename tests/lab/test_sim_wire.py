"""The simulator's bytes checked against the FastTrack specification
(shared/reference/p2p-signatures.md 2.1, ftwall.md 3.4, 3.7 and 8). No root needed."""

import re
import struct

from sim import dns, fasttrack


def test_kazaa_ping_is_the_12_bytes_kazaa_and_gift_send():
    p = fasttrack.ping()
    # ftwall.md 8: giFT-FastTrack's pings are exactly these bytes.
    assert p == bytes.fromhex("27 00000029 80 4b615a614100")
    assert len(p) == 12
    assert p[0] == 0x27 and struct.unpack(">I", p[1:5])[0] == 0x29 and p[5] == 0x80
    assert p.endswith(b"KaZaA\x00")


def test_ping_lengths_for_other_network_names():
    # Table in 2.1: 16 bytes for fileshare, 15 for Grokster.
    assert len(fasttrack.ping("fileshare")) == 16
    assert len(fasttrack.ping("Grokster")) == 15


def test_pong_layout_matches_the_table():
    p = fasttrack.pong()
    assert len(p) == 17  # "17 B for KaZaA"
    assert p[0] == 0x28
    assert p[1:5] == b"\x00\x00\x00\x29"  # encryption type
    assert p[5] == 0x00
    assert p[9] == fasttrack.REAL_LOAD  # load %
    assert p[11:] == b"KaZaA\x00"
    # ipp2p's rule (last 6 bytes KaZaA\0 and longer than 14) matches the pong.
    assert len(p) > 14 and p[-6:] == b"KaZaA\x00"


def test_parsers_round_trip_and_tell_real_pongs_from_forged_ones():
    assert fasttrack.parse_ping(fasttrack.ping()) == {"enc_type": 0x29, "network": "KaZaA"}
    real = fasttrack.parse_pong(fasttrack.pong())
    assert real["real"] and real["network"] == "KaZaA" and real["load"] == fasttrack.REAL_LOAD
    # What ftwall forges: enc type and name copied from the ping, neutral unknown fields.
    forged = bytes([0x28]) + b"\x00\x00\x00\x29" + bytes(6) + b"KaZaA\x00"
    parsed = fasttrack.parse_pong(forged)
    assert parsed is not None and not parsed["real"] and parsed["network"] == "KaZaA"


def test_parsers_reject_what_is_not_framed_like_fasttrack():
    ping = fasttrack.ping()
    assert fasttrack.parse_ping(ping[:-1]) is None  # no terminating NUL
    assert fasttrack.parse_ping(ping[:5] + b"\x00" + ping[6:]) is None  # byte 5 must be 0x80
    assert fasttrack.parse_ping(b"\x28" + ping[1:]) is None
    assert fasttrack.parse_pong(ping) is None
    assert fasttrack.parse_pong(fasttrack.pong()[:12]) is None


def test_transfer_request_is_a_kazaa_http_get():
    req = fasttrack.transfer_request("0123456789abcdef" * 2 + "01234567", "labuser", "10.77.0.11", 40000,
                                     "198.51.100.1:1214")
    text = req.decode("ascii")
    assert re.match(r"GET /\.hash=[0-9a-f]{40} HTTP/1\.1\r\n", text)
    assert text.endswith("\r\n\r\n")
    lines = text.split("\r\n")
    names = [line.split(":", 1)[0] for line in lines[1:] if line]
    for needed in ("UserAgent", "X-Kazaa-Username", "X-Kazaa-Network", "X-Kazaa-IP", "X-Kazaa-SupernodeIP"):
        assert needed in names
    assert "User-Agent" not in names  # Kazaa's own spelling has no hyphen
    assert "X-Kazaa-SupernodeIP: 198.51.100.1:1214" in lines
    assert "X-Kazaa-IP: 10.77.0.11:40000" in lines
    assert "X-Kazaa-Network: KaZaA" in lines


def test_transfer_request_writes_ipv6_endpoints_in_brackets_and_checks_the_hash():
    req = fasttrack.transfer_request("ab" * 20, "u", "fd77:77::11", 1214, "[2001:db8:51::1]:1214")
    assert b"X-Kazaa-IP: [fd77:77::11]:1214\r\n" in req
    assert fasttrack.parse_endpoint("[2001:db8:51::1]:1214") == ("2001:db8:51::1", 1214)
    assert fasttrack.parse_endpoint("198.51.100.1:1214") == ("198.51.100.1", 1214)
    try:
        fasttrack.transfer_request("xyz", "u", "10.0.0.1", 1, "198.51.100.1:1214")
    except ValueError:
        pass
    else:
        raise AssertionError("a malformed hash was accepted")


def test_dns_stub_reads_a_crafted_answer():
    qid, query = dns.build_query("web.example", "A")
    assert query[12:] == b"\x03web\x07example\x00\x00\x01\x00\x01"
    answer = (struct.pack(">HHHHHH", qid, 0x8180, 1, 1, 0, 0) + query[12:]
              + b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([203, 0, 113, 80]))
    assert dns.parse_answer(answer, qid, "A") == ["203.0.113.80"]
    assert dns.parse_answer(answer, qid, "AAAA") == []
