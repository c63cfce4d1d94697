"""A BitTorrent-like client and peer, written from p2p-signatures.md 2.4, for the
latency-to-block benchmark.

* Peer (internet side): a Mainline DHT node answering KRPC pings on UDP, and a peer-wire
  listener on TCP (same port) that answers the 68-byte handshake with its own, a
  bitfield and unchoke, then sends piece messages for as long as the client asks.
* Client (LAN side): pings every DHT node (`d1:ad2:id20:...e1:q4:ping1:t2:..1:y1:qe`), then
  opens a peer-wire connection to every peer, handshakes, says interested and reads
  pieces until `want` bytes arrived or the connection stalls.
Everything each side sees is reported.
"""

import os
import socket
import struct
import threading
import time

from .net import endpoint, family_of, recv_exact, tcp_listener, udp_socket

PSTR = b"\x13BitTorrent protocol"
PIECE_BLOCK = 16 * 1024


def handshake(info_hash, peer_id):
    return PSTR + b"\0" * 8 + info_hash + peer_id


def krpc_ping(node_id, tid):
    return b"d1:ad2:id20:" + node_id + b"e1:q4:ping1:t2:" + tid + b"1:y1:qe"


def krpc_pong(node_id, tid):
    return b"d1:rd2:id20:" + node_id + b"e1:t2:" + tid + b"1:y1:re"


def message(msg_id, body=b""):
    return struct.pack(">IB", 1 + len(body), msg_id) + body


# -- peer (the internet side) ---------------------------------------------------------------
def serve_bt(report, ip, port=6881):
    node_id = os.urandom(20)
    udp = udp_socket(ip, port)
    listener = tcp_listener(ip, port)

    def dht_loop():
        while True:
            data, src = udp.recvfrom(2048)
            report("dht_query", src=endpoint(src), size=len(data))
            if data.startswith(b"d1:ad2:id20:") and b"1:t2:" in data:
                tid = data.split(b"1:t2:", 1)[1][:2]
                udp.sendto(krpc_pong(node_id, tid), src)

    def session(conn, src):
        with conn:
            conn.settimeout(10)
            try:
                hs = recv_exact(conn, 68)
                report("bt_handshake", src=endpoint(src), ok=hs.startswith(PSTR))
                if not hs.startswith(PSTR):
                    return
                conn.sendall(handshake(hs[28:48], b"-LB0001-" + os.urandom(12)))
                conn.sendall(message(5, b"\xff" * 4) + message(1))  # bitfield, unchoke
                index = 0
                while True:
                    head = recv_exact(conn, 4)
                    if len(head) < 4:
                        return
                    body = recv_exact(conn, struct.unpack(">I", head)[0])
                    if body[:1] in (b"\x02", b"\x06"):  # interested, request: send a block
                        conn.sendall(message(7, struct.pack(">II", index, 0) + b"\x5a" * PIECE_BLOCK))
                        index += 1
            except OSError as exc:
                report("bt_error", src=endpoint(src), error=str(exc))

    def accept_loop():
        while True:
            conn, src = listener.accept()
            threading.Thread(target=session, args=(conn, src), daemon=True).start()

    threading.Thread(target=dht_loop, daemon=True).start()
    threading.Thread(target=accept_loop, daemon=True).start()
    return {"listening": endpoint((ip, port))}


# -- client (the LAN side) ------------------------------------------------------------------
def _fetch(peer, port, info_hash, want, timeout):
    got, steps = 0, []
    began = time.monotonic()
    try:
        with socket.socket(family_of(peer), socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect((peer, port))
            steps.append("connected")
            s.sendall(handshake(info_hash, b"-LB0001-" + os.urandom(12)))
            if not recv_exact(s, 68).startswith(PSTR):
                return {"peer": peer, "steps": steps, "bytes": got}
            steps.append("handshake")
            s.sendall(message(2))  # interested
            while got < want:
                s.sendall(message(6, struct.pack(">III", got // PIECE_BLOCK, 0, PIECE_BLOCK)))
                head = recv_exact(s, 4)
                if len(head) < 4:
                    break
                body = recv_exact(s, struct.unpack(">I", head)[0])
                if body[:1] == b"\x07":
                    got += len(body) - 9
    except OSError as exc:
        return {"peer": peer, "steps": steps, "bytes": got, "error": f"{type(exc).__name__}: {exc}",
                "secs": round(time.monotonic() - began, 3)}
    return {"peer": peer, "steps": steps, "bytes": got, "secs": round(time.monotonic() - began, 3)}


def bt_client(report, peers, port=6881, dht_nodes=(), want=64 * 1024, timeout=2.0):
    """DHT pings to `dht_nodes`, then a download of `want` bytes from each of `peers`."""
    info_hash = os.urandom(20)
    node_id = os.urandom(20)
    pongs = 0
    if dht_nodes:
        with socket.socket(family_of(dht_nodes[0]), socket.SOCK_DGRAM) as u:
            u.settimeout(0.3)
            for i, node in enumerate(dht_nodes):
                u.sendto(krpc_ping(node_id, b"%02d" % (i % 100)), (node, port))
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                try:
                    data, _ = u.recvfrom(2048)
                except OSError:
                    break
                pongs += data.startswith(b"d1:rd2:id20:")
    fetched = []
    threads = [threading.Thread(target=lambda p=p: fetched.append(_fetch(p, port, info_hash, want, timeout)))
               for p in peers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"dht_pongs": pongs, "fetched": fetched}
