"""A FastTrack client that behaves like Kazaa, written from the protocol description.

What it does, in the order Kazaa does it (ftwall.md 3.1 and 8):
1. binds its FastTrack port for both UDP and TCP;
2. sends a burst of identical 0x27 pings from that port to every supernode in its list;
3. answers every 0x27 ping it receives with a 0x28 pong to the sender (this is how
   ftwall's probes find a client still running);
4. opens parallel TCP connections to the nodes whose pongs arrived and sends the 12-byte
   session opening;
5. downloads a file over plain HTTP from each node it reached, with the X-Kazaa headers.
Everything it sees is reported, including whether a pong carried the real supernodes'
marker (so a test can tell real pongs from ftwall's spoofed ones).
"""

import os
import socket
import threading
import time

from . import fasttrack
from .net import endpoint, family_of, parse_headers, read_body, read_headers, tcp_listener, udp_socket

_clients = {}
_clients_lock = threading.Lock()


class _Client:
    def __init__(self, report, family, port, network):
        self.report = report
        self.network = network
        any_ip = "::" if family == socket.AF_INET6 else "0.0.0.0"
        self.udp = udp_socket(any_ip, port)
        self.udp.settimeout(0.2)
        self.port = self.udp.getsockname()[1]
        self.tcp = tcp_listener(any_ip, self.port)
        self.tcp.settimeout(0.2)
        self.stopped = threading.Event()
        self.pongs = []
        self.probes_answered = 0
        self.sessions = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._udp_loop, daemon=True),
                        threading.Thread(target=self._accept_loop, daemon=True)]
        for t in self.threads:
            t.start()

    def _udp_loop(self):
        while not self.stopped.is_set():
            try:
                data, src = self.udp.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            ping = fasttrack.parse_ping(data)
            pong = fasttrack.parse_pong(data)
            if ping is not None:
                # A client answers pings too; its pong does not carry the supernodes' marker.
                reply = fasttrack.pong(network=ping["network"], enc_type=ping["enc_type"],
                                       counter=0, unknown=b"\0\0", load=0)
                try:
                    self.udp.sendto(reply, src)
                except OSError:
                    pass
                with self.lock:
                    self.probes_answered += 1
                self.report("probe_answered", src=endpoint(src), hex=data.hex())
            elif pong is not None:
                with self.lock:
                    self.pongs.append((endpoint(src), pong))
                self.report("pong", src=endpoint(src), hex=data.hex(), **pong)
            else:
                self.report("client_udp", src=endpoint(src), hex=data.hex())

    def _accept_loop(self):
        while not self.stopped.is_set():
            try:
                conn, src = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.report("client_accept", src=endpoint(src))
            conn.close()

    def close(self):
        """Stops answering and frees the port: when this returns, the port can be bound again."""
        self.stopped.set()
        for t in self.threads:  # they notice within their 0.2 s socket timeout
            t.join(timeout=2)
        for s in [self.udp, self.tcp] + self.sessions:
            try:
                s.close()
            except OSError:
                pass


def start(report, supernodes, port=1214, network=fasttrack.KAZAA, pong_wait=1.0, connect_timeout=2.0,
          transfer=True, transfer_size=64 * 1024, stall_timeout=3.0, username="labuser", name="kazaa",
          ping_interval=0.01):
    """Runs steps 1-5; the client then stays up, answering pings, until stop().

    `ping_interval` spaces the burst a little, as a client walking a list of hundreds of
    supernodes does; a firewall must treat the tenth ping of a burst like the first."""
    family = family_of(fasttrack.parse_endpoint(supernodes[0])[0])
    client = _Client(report, family, port, network)
    with _clients_lock:
        if name in _clients:
            client.close()
            raise RuntimeError(f"client {name} already running")
        _clients[name] = client

    ping = fasttrack.ping(network)
    for i, sn in enumerate(supernodes):
        if i and ping_interval:
            time.sleep(ping_interval)
        client.udp.sendto(ping, fasttrack.parse_endpoint(sn))
    report("pings_sent", count=len(supernodes), port=client.port, hex=ping.hex(), to=supernodes)

    deadline = time.monotonic() + pong_wait
    while time.monotonic() < deadline and len(client.pongs) < len(supernodes):
        time.sleep(0.02)
    with client.lock:
        answered = sorted({src for src, _ in client.pongs})

    connected = []
    threads = [threading.Thread(target=_connect, args=(report, client, peer, connect_timeout, connected))
               for peer in answered]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    transfers = []
    if transfer:
        def one(peer):
            sn = peer  # the node we reached is the supernode we are "attached" to
            transfers.append(_transfer(report, peer, sn, transfer_size, stall_timeout, 30.0, username))
        threads = [threading.Thread(target=one, args=(p,)) for p in sorted(connected)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    with client.lock:
        real = sum(1 for _, p in client.pongs if p["real"])
        spoofed = len(client.pongs) - real
    return {"port": client.port, "answered": answered, "real_pongs": real, "spoofed_pongs": spoofed,
            "connected": sorted(connected), "transfers": transfers}


def _connect(report, client, peer, timeout, connected):
    ip, port = fasttrack.parse_endpoint(peer)
    s = socket.socket(family_of(ip), socket.SOCK_STREAM)
    s.settimeout(timeout)
    began = time.monotonic()
    try:
        s.connect((ip, port))
        s.sendall(fasttrack.session_opening())
        reply = b""
        while len(reply) < 8:
            chunk = s.recv(8 - len(reply))
            if not chunk:
                break
            reply += chunk
        ok = len(reply) == 8
        report("connect", peer=peer, ok=True, session=ok, secs=round(time.monotonic() - began, 3))
        client.sessions.append(s)
        connected.append(peer)
    except OSError as exc:
        s.close()
        report("connect", peer=peer, ok=False, error=f"{type(exc).__name__}: {exc}",
               secs=round(time.monotonic() - began, 3))


def _transfer(report, peer, supernode, size, stall_timeout, total_timeout, username, connect_timeout=2.0):
    ip, port = fasttrack.parse_endpoint(peer)
    file_hash = os.urandom(20).hex()
    began = time.monotonic()
    s = socket.socket(family_of(ip), socket.SOCK_STREAM)
    s.settimeout(connect_timeout)
    try:
        s.connect((ip, port))
        local = s.getsockname()
        report("transfer_open", peer=peer, local=endpoint(local))
        s.sendall(fasttrack.transfer_request(file_hash, username, local[0], local[1], supernode,
                                             host=peer, byte_range=(0, size - 1)))
        s.settimeout(stall_timeout)
        head, rest = read_headers(s)
        line, fields = parse_headers(head)
        if not line.startswith("HTTP/1.1 200"):
            raise OSError(f"bad answer {line!r}")
        got, why = read_body(s, size, report_progress=lambda n: report("progress", peer=peer, bytes=n),
                             stall_timeout=stall_timeout, total_timeout=total_timeout, initial=rest)
        result = {"peer": peer, "ok": why == "complete", "bytes": got, "size": size, "why": why,
                  "secs": round(time.monotonic() - began, 3)}
    except OSError as exc:
        result = {"peer": peer, "ok": False, "bytes": 0, "size": size, "why": "error",
                  "error": f"{type(exc).__name__}: {exc}", "secs": round(time.monotonic() - began, 3)}
    finally:
        s.close()
    report("transfer", **result)
    return result


def transfer(report, peer, supernode, size=256 * 1024, stall_timeout=3.0, total_timeout=60.0,
             username="labuser", connect_timeout=2.0):
    """One HTTP transfer from `peer`, naming `supernode` in X-Kazaa-SupernodeIP, without
    any UDP before it (as a client does whose UDP is blocked)."""
    return _transfer(report, peer, supernode, size, stall_timeout, total_timeout, username, connect_timeout)


def stop(report, name="kazaa"):
    with _clients_lock:
        client = _clients.pop(name, None)
    if client is None:
        raise RuntimeError(f"no client {name}")
    client.close()
    return {"probes_answered": client.probes_answered, "pongs": len(client.pongs)}


def ping_burst(report, supernodes, port=0, network=fasttrack.KAZAA, listen=1.0):
    """Pings once from a fresh port and collects the pongs for `listen` seconds."""
    family = family_of(fasttrack.parse_endpoint(supernodes[0])[0])
    s = udp_socket("::" if family == socket.AF_INET6 else "0.0.0.0", port)
    pongs = []
    with s:
        for sn in supernodes:
            s.sendto(fasttrack.ping(network), fasttrack.parse_endpoint(sn))
        deadline = time.monotonic() + listen
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data, src = s.recvfrom(2048)
            except socket.timeout:
                break
            p = fasttrack.parse_pong(data)
            if p is not None:
                pongs.append({"src": endpoint(src), **p})
    return {"pongs": pongs}
