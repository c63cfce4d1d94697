"""Load for the fault tests: a LAN host that keeps opening new connections, and a burst
of new UDP flows. Both report what happened, with times on the machine's monotonic clock
(the harness's clock too), so a test can tell what ran while the daemon was dead."""

import socket
import time

from . import web
from .net import family_of


def fetch_loop(report, host, port=80, secs=5.0, interval=0.05, timeout=3.0):
    """Loads a page again and again for `secs` seconds, each time on a new TCP
    connection. Result: every attempt with its start and end time and outcome."""
    fetches = []
    until = time.monotonic() + secs
    while time.monotonic() < until:
        start = time.monotonic()
        r = web.fetch(report, host, port=port, timeout=timeout)
        fetches.append({"start": start, "end": time.monotonic(), "ok": r["ok"],
                        "error": r.get("error") or r.get("why")})
        time.sleep(interval)
    return {"fetches": fetches}


def udp_flows(report, ip, first_port, count, pps=5000, size=32):
    """Sends one datagram to each of `count` ports from `first_port` on, from one
    socket: every datagram opens a new flow. Paced at about `pps` datagrams a second so
    that only the router, not a link, can lose them. Result: sent, start, end."""
    payload = b"\0" * size
    sent = 0
    start = time.monotonic()
    with socket.socket(family_of(ip), socket.SOCK_DGRAM) as s:
        for i in range(count):
            try:
                s.sendto(payload, (ip, first_port + i))
            except OSError as exc:
                raise OSError(exc.errno, f"datagram {i} to port {first_port + i}: {exc.strerror}") from exc
            sent += 1
            ahead = sent / pps - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    return {"sent": sent, "start": start, "end": time.monotonic()}
