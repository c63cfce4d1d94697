"""The internet side of FastTrack: supernodes and peers.

Each peer listens on one ip:port for both UDP and TCP, as FastTrack nodes do. It answers
0x27 pings with a 0x28 pong carrying the lab marker (fasttrack.REAL_*), answers a
session opening with 8 bytes and keeps the session open, and serves HTTP transfers
(`GET /.hash=...`) with the FastTrack response headers, paced so a transfer lasts long
enough to be cut in the middle. Every ping, connection and request is reported.
"""

import socket
import threading

from . import fasttrack
from .net import endpoint, parse_headers, read_headers, send_paced, tcp_listener, udp_socket

DEFAULT_FILE_SIZE = 256 * 1024


def serve_peers(report, peers, rate=0, file_size=DEFAULT_FILE_SIZE):
    """peers: [{"ip": .., "port": ..}]; rate: transfer pace in bytes/s (0: unpaced)."""
    started = []
    for p in peers:
        me = fasttrack.format_endpoint(p["ip"], p["port"])
        u = udp_socket(p["ip"], p["port"])
        t = tcp_listener(p["ip"], p["port"])
        threading.Thread(target=_udp_loop, args=(report, me, u), daemon=True).start()
        threading.Thread(target=_accept_loop, args=(report, me, t, rate, file_size), daemon=True).start()
        started.append(me)
    return {"listening": started}


def _udp_loop(report, me, sock):
    while True:
        data, src = sock.recvfrom(2048)
        ping = fasttrack.parse_ping(data)
        report("peer_udp", peer=me, src=endpoint(src), hex=data.hex(), ping=ping is not None)
        if ping is not None:
            sock.sendto(fasttrack.pong(network=ping["network"], enc_type=ping["enc_type"]), src)


def _accept_loop(report, me, listener, rate, file_size):
    while True:
        conn, src = listener.accept()
        report("peer_accept", peer=me, src=endpoint(src))
        threading.Thread(target=_session, args=(report, me, conn, src, rate, file_size), daemon=True).start()


def _session(report, me, conn, src, rate, file_size):
    with conn:
        try:
            conn.settimeout(30)
            first = conn.recv(4096, socket.MSG_PEEK)
            if first.startswith(b"GET "):
                _serve_transfer(report, me, conn, src, rate, file_size)
                return
            opening = conn.recv(12)
            report("peer_session", peer=me, src=endpoint(src), bytes=len(opening))
            if len(opening) == 12:
                conn.sendall(fasttrack.session_reply())
                # Keep the session open (encrypted traffic would follow) until the client goes.
                while conn.recv(4096):
                    pass
        except OSError as exc:
            report("peer_error", peer=me, src=endpoint(src), error=str(exc))


def _serve_transfer(report, me, conn, src, rate, file_size):
    head, _ = read_headers(conn)
    line, fields = parse_headers(head)
    size = file_size
    rng = fields.get("range", "")
    if rng.startswith("bytes="):
        lo, _, hi = rng[6:].partition("-")
        if lo.isdigit() and hi.isdigit():
            size = int(hi) - int(lo) + 1
    report("peer_http", peer=me, src=endpoint(src), request=line, headers=fields, size=size)
    response = (
        "HTTP/1.1 200 OK\r\n"
        "Server: KazaaClient Nov  3 2002 20:29:03\r\n"
        "Connection: close\r\n"
        f"Content-Length: {size}\r\n"
        f"X-Kazaa-Username: labpeer\r\n"
        f"X-Kazaa-Network: {fields.get('x-kazaa-network', fasttrack.KAZAA)}\r\n"
        f"X-Kazaa-IP: {me}\r\n"
        f"X-Kazaa-SupernodeIP: {me}\r\n"
        "X-KazaaTag: 4=lab file\r\n"
        "\r\n"
    ).encode("ascii")
    conn.sendall(response)
    sent = send_paced(conn, size, rate)
    report("peer_http_done", peer=me, src=endpoint(src), sent=sent, size=size)
