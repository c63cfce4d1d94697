"""A minimal DNS stub resolver (RFC 1035): one A or AAAA question over UDP, or over TCP
(each message behind a two-byte length, RFC 1035 4.2.2; RFC 7766)."""

import os
import socket
import struct

from .net import family_of

QTYPES = {"A": 1, "AAAA": 28}


def build_query(name, qtype):
    qid = struct.unpack(">H", os.urandom(2))[0]
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # recursion desired
    qname = b"".join(bytes([len(label)]) + label.encode("ascii") for label in name.rstrip(".").split("."))
    return qid, header + qname + b"\x00" + struct.pack(">HH", QTYPES[qtype], 1)


def _skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def parse_answer(msg, qid, qtype):
    """The addresses of type `qtype` in an answer to query `qid`."""
    rid, flags, qd, an = struct.unpack(">HHHH", msg[:8])
    if rid != qid or not flags & 0x8000:
        raise ValueError("not the answer to our query")
    off = 12
    for _ in range(qd):
        off = _skip_name(msg, off) + 4
    out = []
    for _ in range(an):
        off = _skip_name(msg, off)
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        rdata = msg[off:off + rdlen]
        off += rdlen
        if rtype == QTYPES[qtype]:
            out.append(socket.inet_ntop(socket.AF_INET if rtype == 1 else socket.AF_INET6, rdata))
    return out


def _recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ValueError(f"the server closed the connection after {len(data)} of {n} bytes")
        data += chunk
    return data


def query(server, name, qtype="A", timeout=2.0, tcp=False):
    qid, q = build_query(name, qtype)
    if tcp:
        with socket.create_connection((server, 53), timeout=timeout) as s:
            s.sendall(struct.pack(">H", len(q)) + q)
            (n,) = struct.unpack(">H", _recv_exactly(s, 2))
            msg = _recv_exactly(s, n)
    else:
        with socket.socket(family_of(server), socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(q, (server, 53))
            msg, _ = s.recvfrom(4096)
    return parse_answer(msg, qid, qtype)


def resolve(report, name, server, qtype="A", timeout=2.0, tcp=False):
    try:
        return {"ok": True, "addrs": query(server, name, qtype, timeout, tcp)}
    except (OSError, ValueError) as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
