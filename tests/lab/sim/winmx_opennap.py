"""WinMX (WPN) and OpenNap/Napster, written from the specification
(p2p-signatures.md 2.2 and 2.3), both sides.

* WinMX WPN: the listener greets with one byte, "1" (a primary); the connecting side
  sends a 16-byte key block whose unmixed bytes carry a key id and two checksums; the
  listener answers with its own block. Blocks are made the way the specification
  describes checking them, run backwards: fill the plain block, set the id and the
  checksum bytes, then mix it (105 steps adding, every fifth XOR-ing, the byte before).
* OpenNap: a client logs in with a type-2 message (LE16 length, LE16 type, then
  `nick password port "client" link-type`); the server answers type 3 (login ack).
* Napster transfer: the uploader (listener) sends "1", the downloader "GET" alone, then
  `nick "file" offset`; the uploader answers with the size in digits and the data.

Servers report every greeting, block, login and request they receive; clients report
how far they got.
"""

import os
import socket
import struct
import threading
import time

from .net import endpoint, family_of, recv_exact, tcp_listener

WPN_PRIMARY_GREETING = b"1"
KEY_ID_SECONDARY_CLIENT = 0x52
KEY_ID_PRIMARY_SERVER = 0x51
KEY_IDS = {0x50, 0x51, 0x52, 0x53, 0x54, 0x57, 0x58}


def mix(plain):
    """WinMX's key-block mixing (the inverse of the check's unmixing)."""
    k = list(plain)
    for i in range(105):
        prev = 0x57 if i == 0 else k[(i - 1) % 16]
        if i % 5 == 0:
            k[i % 16] ^= prev
        else:
            k[i % 16] = (k[i % 16] + prev) & 0xFF
    return bytes(k)


def unmix(block):
    k = list(block)
    for i in range(104, -1, -1):
        prev = 0x57 if i == 0 else k[(i - 1) % 16]
        if i % 5 == 0:
            k[i % 16] ^= prev
        else:
            k[i % 16] = (k[i % 16] - prev) & 0xFF
    return k


def key_block(key_id):
    """A fresh random key block carrying `key_id`, valid by both checksums."""
    k = list(os.urandom(16))
    k[4] = k[15] ^ k[13] ^ k[5] ^ k[2]
    k[9] = (key_id + (k[14] ^ k[8] ^ k[1])) & 0xFF
    k[11] = ((k[12] ^ k[10] ^ k[7] ^ k[6] ^ k[3] ^ k[0]) + (key_id >> 7)) & 0xFF
    return mix(k)


def block_id(block):
    """The key id of a valid block, else None."""
    if len(block) < 16:
        return None
    k = unmix(block[:16])
    key_id = (k[9] - (k[14] ^ k[8] ^ k[1])) & 0xFF
    ok = k[4] == k[15] ^ k[13] ^ k[5] ^ k[2] and (k[12] ^ k[10] ^ k[7] ^ k[6] ^ k[3] ^ k[0]) == (k[11] - (key_id >> 7)) & 0xFF
    return key_id if ok and key_id in KEY_IDS else None


def opennap_message(msg_type, data):
    return struct.pack("<HH", len(data), msg_type) + data


def _serve(report, ip, port, handler, kind):
    listener = tcp_listener(ip, port)

    def accept_loop():
        while True:
            conn, src = listener.accept()
            threading.Thread(target=_guarded, args=(report, kind, handler, conn, src), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    return {"listening": endpoint((ip, port))}


def _guarded(report, kind, handler, conn, src):
    with conn:
        try:
            conn.settimeout(20)
            report(f"{kind}_accept", src=endpoint(src))
            handler(report, conn, endpoint(src))
        except OSError as exc:
            report(f"{kind}_error", src=endpoint(src), error=str(exc))


# -- servers (the internet side) ------------------------------------------------------------
def _winmx_session(report, conn, src):
    conn.sendall(WPN_PRIMARY_GREETING)
    block = recv_exact(conn, 16)
    report("winmx_block", src=src, hex=block.hex(), key_id=block_id(block))
    if len(block) == 16:
        conn.sendall(key_block(KEY_ID_PRIMARY_SERVER))
        while conn.recv(4096):
            pass


def _opennap_session(report, conn, src):
    head = recv_exact(conn, 4)
    if len(head) < 4:
        return
    length, msg_type = struct.unpack("<HH", head)
    data = recv_exact(conn, length)
    report("opennap_message", src=src, type=msg_type, data=data.decode("latin-1"))
    if msg_type in (2, 6):
        conn.sendall(opennap_message(3, b"anon@lab.example"))
        while conn.recv(4096):
            pass


def _transfer_session(report, conn, src):
    conn.sendall(b"1")
    command = conn.recv(16)
    request = conn.recv(1024) if command in (b"GET", b"SEND") else b""
    report("nap_request", src=src, command=command.decode("latin-1"), request=request.decode("latin-1"))
    if command == b"GET" and request:
        body = b"x" * 4096
        conn.sendall(str(len(body)).encode() + body)


def serve_winmx(report, ip, port=6699):
    return _serve(report, ip, port, _winmx_session, "winmx")


def serve_opennap(report, ip, port=8888):
    return _serve(report, ip, port, _opennap_session, "opennap")


def serve_nap_transfer(report, ip, port=6699):
    return _serve(report, ip, port, _transfer_session, "nap")


# -- clients (the LAN side) -----------------------------------------------------------------
def _client(host, port, timeout):
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((host, port))
    return s


def _outcome(steps, start, exc=None):
    out = {"steps": steps, "secs": round(time.monotonic() - start, 3)}
    if exc is not None:
        out["error"] = f"{type(exc).__name__}: {exc}"
    return out


def winmx_connect(report, host, port=6699, timeout=3.0):
    """A secondary connecting to a primary. Steps: connected, greeting, answered."""
    start, steps = time.monotonic(), []
    try:
        with _client(host, port, timeout) as s:
            steps.append("connected")
            if s.recv(1) != WPN_PRIMARY_GREETING:
                return _outcome(steps, start)
            steps.append("greeting")
            s.sendall(key_block(KEY_ID_SECONDARY_CLIENT))
            reply = recv_exact(s, 16)
            if block_id(reply) is not None:
                steps.append("answered")
    except OSError as exc:
        return _outcome(steps, start, exc)
    return _outcome(steps, start)


def opennap_login(report, host, port=8888, nick="labuser", timeout=3.0):
    """A client logging in to a server. Steps: connected, answered."""
    start, steps = time.monotonic(), []
    login = opennap_message(2, f'{nick} secret 6699 "nap v0.8" 3'.encode())
    try:
        with _client(host, port, timeout) as s:
            steps.append("connected")
            s.sendall(login)
            head = recv_exact(s, 4)
            if len(head) == 4 and struct.unpack("<HH", head)[1] == 3:
                steps.append("answered")
    except OSError as exc:
        return _outcome(steps, start, exc)
    return _outcome(steps, start)


def nap_get(report, host, port=6699, nick="labuser", timeout=3.0):
    """A download from another user. Steps: connected, greeting, data."""
    start, steps = time.monotonic(), []
    try:
        with _client(host, port, timeout) as s:
            steps.append("connected")
            if s.recv(1) != b"1":
                return _outcome(steps, start)
            steps.append("greeting")
            s.sendall(b"GET")
            # The command goes alone, as real clients send it; then the request.
            time.sleep(0.2)
            s.sendall(f'{nick} "C:\\Music\\song.mp3" 0'.encode())
            if s.recv(64)[:1].isdigit():
                steps.append("data")
    except OSError as exc:
        return _outcome(steps, start, exc)
    return _outcome(steps, start)
