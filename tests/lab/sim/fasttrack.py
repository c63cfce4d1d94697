"""FastTrack (Kazaa) wire format, written from the protocol description in
shared/reference/p2p-signatures.md section 2.1 and ftwall.md sections 3.4 and 3.7.

Only what a Kazaa-like client and its supernodes need in the lab: the UDP 0x27 ping and
0x28 pong, the 12-byte TCP session opening, and the plain-HTTP file transfer request.
"""

import os
import struct

PING = 0x27
PONG = 0x28
PONG2 = 0x29

# giFT and Kazaa send "minimum encryption type" 0x29, big-endian.
DEFAULT_ENC_TYPE = 0x29
KAZAA = "KaZaA"

# Marker the lab's supernodes put into their pongs, so a test can tell a pong that really
# came from a peer from one that ftwall forged (ftwall copies the encryption type and the
# network name of the ping and has no reason to fill the unknown bytes like this).
REAL_COUNTER = 0x4C  # byte 6: "L" for lab
REAL_UNKNOWN = b"ab"  # bytes 7-8
REAL_LOAD = 77  # byte 9: load in percent


def ping(network=KAZAA, enc_type=DEFAULT_ENC_TYPE):
    """A 0x27 ping: 27, enc type (BE32), 80, network name, 00. 12 bytes for KaZaA."""
    return bytes([PING]) + struct.pack(">I", enc_type) + b"\x80" + network.encode("ascii") + b"\x00"


def pong(network=KAZAA, enc_type=DEFAULT_ENC_TYPE, counter=REAL_COUNTER, unknown=REAL_UNKNOWN,
         load=REAL_LOAD, unknown2=0):
    """A 0x28 pong: 28, enc type (BE32), 00, counter, 2 unknown bytes, load %, 1 unknown
    byte, network name, 00. 17 bytes for KaZaA."""
    if len(unknown) != 2:
        raise ValueError("pong: the unknown field is 2 bytes")
    return (bytes([PONG]) + struct.pack(">I", enc_type) + bytes([0, counter]) + unknown
            + bytes([load, unknown2]) + network.encode("ascii") + b"\x00")


def _name(data, start):
    """The NUL-terminated printable name that must end the datagram, or None."""
    body = data[start:]
    if len(body) < 2 or body[-1] != 0 or 0 in body[:-1]:
        return None
    name = body[:-1]
    if not all(0x20 < b < 0x7F for b in name):
        return None
    return name.decode("ascii")


def parse_ping(data):
    """Returns {"enc_type", "network"} for a well-formed 0x27 ping, else None."""
    if len(data) < 8 or data[0] != PING or data[5] != 0x80:
        return None
    name = _name(data, 6)
    if name is None:
        return None
    return {"enc_type": struct.unpack(">I", data[1:5])[0], "network": name}


def parse_pong(data):
    """Returns the fields of a 0x28 pong, else None. `real` says whether it carries the
    lab supernodes' marker."""
    if len(data) < 13 or data[0] != PONG or data[5] != 0:
        return None
    name = _name(data, 11)
    if name is None:
        return None
    counter, unknown, load = data[6], data[7:9], data[9]
    return {
        "enc_type": struct.unpack(">I", data[1:5])[0],
        "network": name,
        "counter": counter,
        "load": load,
        "real": counter == REAL_COUNTER and unknown == REAL_UNKNOWN and load == REAL_LOAD,
    }


def session_opening():
    """The client's first TCP payload to a supernode: 4 bytes "rand", 4 bytes outgoing
    cipher seed, 4 bytes encoded enc type (12 bytes, random-looking as real Kazaa's)."""
    return os.urandom(12)


def session_reply():
    """The supernode's 8-byte answer: seed and encoded enc type."""
    return os.urandom(8)


def transfer_request(file_hash, username, client_ip, client_port, supernode, network=KAZAA,
                     host=None, byte_range=None):
    """The plain HTTP/1.1 request that starts a FastTrack file transfer.

    `supernode` is "ip:port" (IPv6 in brackets), `file_hash` 40 hex digits."""
    if len(file_hash) != 40 or any(c not in "0123456789abcdef" for c in file_hash):
        raise ValueError("transfer_request: the hash is 40 lowercase hex digits")
    lines = [f"GET /.hash={file_hash} HTTP/1.1"]
    if host:
        lines.append(f"Host: {host}")
    lines += [
        "UserAgent: KazaaClient Jan 31 2004 16:15:58",
        f"X-Kazaa-Username: {username}",
        f"X-Kazaa-Network: {network}",
        f"X-Kazaa-IP: {format_endpoint(client_ip, client_port)}",
        f"X-Kazaa-SupernodeIP: {supernode}",
        "Connection: close",
    ]
    if byte_range:
        lines.append(f"Range: bytes={byte_range[0]}-{byte_range[1]}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def format_endpoint(ip, port):
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def parse_endpoint(text):
    """ "a.b.c.d:port" or "[v6]:port" -> (ip, port)."""
    if text.startswith("["):
        ip, _, rest = text[1:].partition("]")
        return ip, int(rest.lstrip(":"))
    ip, _, port = text.rpartition(":")
    return ip, int(port)
