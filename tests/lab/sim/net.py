"""Small socket helpers shared by the simulators."""

import socket
import time

from .fasttrack import format_endpoint


def family_of(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def endpoint(addr):
    """A socket address tuple -> "ip:port" / "[ip]:port"."""
    return format_endpoint(addr[0], addr[1])


def udp_socket(ip, port):
    s = socket.socket(family_of(ip), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if ":" in ip:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((ip, port))
    return s


def tcp_listener(ip, port, backlog=64):
    s = socket.socket(family_of(ip), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if ":" in ip:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((ip, port))
    s.listen(backlog)
    return s


def recv_exact(conn, n):
    """Reads `n` bytes, or fewer if the peer closes first."""
    buf = b""
    while len(buf) < n:
        part = conn.recv(n - len(buf))
        if not part:
            break
        buf += part
    return buf


def read_headers(conn, limit=16384):
    """Reads until the end of an HTTP header block; returns (header bytes, rest)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            break
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def parse_headers(head):
    """HTTP header block -> (first line, {lower-case name: value})."""
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return lines[0], fields


def send_paced(conn, size, rate, chunk=8192, stop=None):
    """Sends `size` bytes at about `rate` bytes/s (0: as fast as possible). Returns the
    number of bytes sent; stops early on a socket error or when stop() is true."""
    sent = 0
    start = time.monotonic()
    block = b"x" * chunk
    while sent < size:
        if stop is not None and stop():
            break
        n = min(chunk, size - sent)
        try:
            conn.sendall(block[:n])
        except OSError:
            break
        sent += n
        if rate:
            ahead = sent / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    return sent


def read_body(conn, expected, report_progress=None, stall_timeout=3.0, total_timeout=60.0,
              initial=b""):
    """Reads up to `expected` bytes (or until close). Returns (bytes read, why it ended):
    "complete", "closed", "stalled" (nothing for stall_timeout) or "timeout"."""
    got = len(initial)
    conn.settimeout(0.2)
    start = last_data = last_report = time.monotonic()
    while got < expected:
        now = time.monotonic()
        if now - start > total_timeout:
            return got, "timeout"
        if now - last_data > stall_timeout:
            return got, "stalled"
        try:
            chunk = conn.recv(65536)
        except socket.timeout:
            chunk = None
        except OSError:
            return got, "reset"
        if chunk == b"":
            return got, "closed"
        if chunk:
            got += len(chunk)
            last_data = time.monotonic()
        if report_progress and time.monotonic() - last_report >= 0.2:
            report_progress(got)
            last_report = time.monotonic()
    return got, "complete"
