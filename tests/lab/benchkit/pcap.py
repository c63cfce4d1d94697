"""Just enough of pcap and pcapng for the benchmarks: count a capture's packets, and read
the IP packets tcpdump wrote on a lab interface (Ethernet link) with their times."""

import struct

LINK_ETHERNET, LINK_RAW, LINK_RAW_IP = 1, 101, 12


def _pcap_records(f, head):
    magic = head[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise ValueError("not a pcap file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    link = struct.unpack(end + "I", head[20:24])[0]
    while True:
        rec = f.read(16)
        if len(rec) < 16:
            return
        sec, frac, incl, _orig = struct.unpack(end + "IIII", rec)
        data = f.read(incl)
        yield sec + frac / (1e9 if nano else 1e6), link, data


def _pcapng_records(f, head):
    end, links, data = "<", [], head
    while True:
        if len(data) < 8:
            data += f.read(8 - len(data))
            if len(data) < 8:
                return
        btype = struct.unpack(end + "I", data[:4])[0]
        if btype == 0x0A0D0D0A:  # section header: learn the byte order
            bom = data[8:12] if len(data) >= 12 else f.read(4)
            end = "<" if bom in (b"\x4d\x3c\x2b\x1a",) else ">"
            if len(data) < 12:
                data = data + bom
            links = []
        blen = struct.unpack(end + "I", data[4:8])[0]
        body = data[8:] + f.read(blen - len(data))
        data = b""
        if btype == 1:  # interface description
            links.append(struct.unpack(end + "H", body[:2])[0])
        elif btype == 6:  # enhanced packet
            iface, hi, lo, incl = struct.unpack(end + "IIII", body[:16])
            yield ((hi << 32) | lo) / 1e6, links[iface] if iface < len(links) else 1, body[20:20 + incl]
        elif btype == 3:  # simple packet
            yield 0.0, links[0] if links else 1, body[4:-4]


def records(path):
    """(time, link type, bytes) for every packet of a pcap or pcapng file."""
    with open(path, "rb") as f:
        head = f.read(24)
        gen = _pcapng_records(f, head) if head[:4] == b"\x0a\x0d\x0d\x0a" else _pcap_records(f, head)
        yield from gen


def count(path):
    """Packets in a capture (classic pcap counted by skipping over the records)."""
    with open(path, "rb") as f:
        head = f.read(24)
        if head[:4] == b"\x0a\x0d\x0d\x0a":
            return sum(1 for _ in _pcapng_records(f, head))
        end = "<" if head[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        n = 0
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return n
            f.seek(struct.unpack(end + "I", rec[8:12])[0], 1)
            n += 1


class Ip:
    """The parts of an IP packet the latency count needs."""

    __slots__ = ("t", "src", "dst", "proto", "sport", "dport", "length", "payload", "key")

    def __init__(self, t, src, dst, proto, sport, dport, length, payload, key):
        self.t, self.src, self.dst, self.proto = t, src, dst, proto
        self.sport, self.dport, self.length, self.payload, self.key = sport, dport, length, payload, key


def _addr(b):
    import ipaddress
    return str(ipaddress.ip_address(b))


def ip_packets(path):
    """IPv4/IPv6 TCP/UDP packets of a capture. `key` identifies the same packet seen on
    both sides of the router (no NAT in the lab: only TTL and checksums change)."""
    for t, link, data in records(path):
        if link == LINK_ETHERNET:
            if len(data) < 14:
                continue
            etype, data = struct.unpack(">H", data[12:14])[0], data[14:]
            if etype == 0x8100 and len(data) >= 4:
                etype, data = struct.unpack(">H", data[2:4])[0], data[4:]
            if etype not in (0x0800, 0x86DD):
                continue
        elif link not in (LINK_RAW, LINK_RAW_IP):
            continue
        if not data:
            continue
        if data[0] >> 4 == 4 and len(data) >= 20:
            ihl = (data[0] & 15) * 4
            length = struct.unpack(">H", data[2:4])[0]
            proto, src, dst, l4 = data[9], _addr(data[12:16]), _addr(data[16:20]), data[ihl:length]
        elif data[0] >> 4 == 6 and len(data) >= 40:
            length = 40 + struct.unpack(">H", data[4:6])[0]
            proto, src, dst, l4 = data[6], _addr(data[8:24]), _addr(data[24:40]), data[40:length]
        else:
            continue
        if proto == 6 and len(l4) >= 20:
            sport, dport, seq = struct.unpack(">HHI", l4[:8])
            payload = l4[(l4[12] >> 4) * 4:]
            key = (src, dst, proto, sport, dport, seq, l4[13], bytes(payload[:64]), len(payload))
        elif proto == 17 and len(l4) >= 8:
            sport, dport = struct.unpack(">HH", l4[:4])
            payload = l4[8:]
            key = (src, dst, proto, sport, dport, bytes(payload[:64]), len(payload))
        else:
            continue
        yield Ip(t, src, dst, proto, sport, dport, length, len(payload), key)
