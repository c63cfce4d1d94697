"""A plain web server on the lab's internet and the LAN hosts' browser.

Server paths: `/` a small page; `/stream?size=N&rate=R` N bytes at R bytes/s, so that a
connection stays open long enough to see it cut. The browser side resolves names through
the lab's DNS server and reports what happened rather than raising.
"""

import socket
import threading
import time
from urllib.parse import parse_qs, urlsplit

from . import dns
from .net import endpoint, family_of, parse_headers, read_body, read_headers, send_paced, tcp_listener

PAGE = b"<html><body>ftwall lab web server</body></html>\n"


def serve_web(report, ip, port=80):
    listener = tcp_listener(ip, port)
    threading.Thread(target=_accept_loop, args=(report, listener), daemon=True).start()
    return {"listening": endpoint((ip, port))}


def _accept_loop(report, listener):
    while True:
        conn, src = listener.accept()
        threading.Thread(target=_handle, args=(report, conn, src), daemon=True).start()


def _handle(report, conn, src):
    with conn:
        try:
            conn.settimeout(30)
            head, _ = read_headers(conn)
            line, _fields = parse_headers(head)
            parts = line.split(" ")
            target = urlsplit(parts[1] if len(parts) > 1 else "/")
            report("web_request", src=endpoint(src), path=parts[1] if len(parts) > 1 else "")
            if target.path == "/stream":
                q = parse_qs(target.query)
                size = int(q.get("size", ["1048576"])[0])
                rate = int(q.get("rate", ["0"])[0])
                conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode())
                send_paced(conn, size, rate)
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                             + str(len(PAGE)).encode() + b"\r\nConnection: close\r\n\r\n" + PAGE)
        except OSError:
            pass


def _connect(host, port, timeout, dns_server, family):
    """Resolves (if needed) and connects; returns (socket, ip)."""
    ip = host
    if not _is_literal(host):
        addrs = dns.query(dns_server, host, "AAAA" if family == 6 else "A", timeout=timeout)
        if not addrs:
            raise OSError(f"no address for {host}")
        ip = addrs[0]
    s = socket.socket(family_of(ip), socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((ip, port))
    return s, ip


def _is_literal(host):
    try:
        socket.inet_pton(family_of(host), host)
        return True
    except OSError:
        return False


def fetch(report, host, port=80, path="/", timeout=2.0, dns_server=None, family=4):
    """One page load. Result: ok, status, bytes, error, secs."""
    start = time.monotonic()
    try:
        s, ip = _connect(host, port, timeout, dns_server, family)
        with s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            head, rest = read_headers(s)
            line, fields = parse_headers(head)
            length = int(fields.get("content-length", "0"))
            got, why = read_body(s, length, stall_timeout=timeout, total_timeout=timeout * 3, initial=rest)
        status = int(line.split(" ")[1]) if line.startswith("HTTP/") else 0
        ok = status == 200 and why == "complete"
        return {"ok": ok, "status": status, "bytes": got, "ip": ip, "why": why,
                "secs": round(time.monotonic() - start, 3)}
    except OSError as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "secs": round(time.monotonic() - start, 3)}


def stream(report, host, port=80, size=10 * 1024 * 1024, rate=200000, timeout=2.0, stall_timeout=3.0,
           total_timeout=120.0, dns_server=None, family=4):
    """A long download reporting progress events; ends when complete, cut or stalled."""
    start = time.monotonic()
    try:
        s, ip = _connect(host, port, timeout, dns_server, family)
        with s:
            report("stream_open", local=endpoint(s.getsockname()), remote=endpoint(s.getpeername()))
            s.sendall(f"GET /stream?size={size}&rate={rate} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            head, rest = read_headers(s)
            got, why = read_body(s, size, report_progress=lambda n: report("progress", bytes=n),
                                 stall_timeout=stall_timeout, total_timeout=total_timeout, initial=rest)
        return {"ok": why == "complete", "bytes": got, "why": why, "secs": round(time.monotonic() - start, 3)}
    except OSError as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "bytes": 0,
                "secs": round(time.monotonic() - start, 3)}


def connect(report, host, port, timeout=1.5):
    """A bare TCP connection attempt. Result: ok, error, secs."""
    start = time.monotonic()
    try:
        s = socket.socket(family_of(host), socket.SOCK_STREAM)
        with s:
            s.settimeout(timeout)
            s.connect((host, port))
        return {"ok": True, "secs": round(time.monotonic() - start, 3)}
    except OSError as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "secs": round(time.monotonic() - start, 3)}
