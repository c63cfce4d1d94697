"""Fills the daemon's table of DNS-learned addresses in the memory benchmark.

    python3 -m benchkit.dnsfill serve IP PER_ANSWER   (in the internet namespace)
    python3 -m benchkit.dnsfill ask SERVER COUNT      (in a LAN namespace)

The server answers every AAAA question with PER_ANSWER distinct addresses in
2001:db8:d000::/36 (a new block each answer); the client asks COUNT names
n<i>.bench.example, which the daemon's pattern *.bench.example matches. The answers are
real replies to real queries, so conntrack and the rules treat them as DNS answers."""

import socket
import struct
import sys

sys.path.insert(0, __file__.rsplit("/benchkit/", 1)[0])

from sim import dns  # noqa: E402

NAME_SUFFIX = "bench.example"
PATTERN = "*." + NAME_SUFFIX


def _question_end(msg):
    off = 12
    while msg[off] != 0:
        off += 1 + msg[off]
    return off + 5


def serve(ip, per_answer):
    s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 53))
    block = 0
    while True:
        msg, src = s.recvfrom(2048)
        if len(msg) < 17:
            continue
        end = _question_end(msg)
        qid = msg[:2]
        head = qid + struct.pack(">HHHHH", 0x8180, 1, per_answer, 0, 0)
        answers = b""
        for i in range(per_answer):
            addr = struct.pack(">HHHHHHHH", 0x2001, 0x0db8, 0xd000 | (block >> 16), block & 0xffff, 0, 0, 0, i + 1)
            answers += b"\xc0\x0c" + struct.pack(">HHIH", 28, 1, 3600, 16) + addr
        block += 1
        s.sendto(head + msg[12:end] + answers, src)


def ask(server, count):
    learned = 0
    for i in range(count):
        try:
            learned += len(dns.query(server, f"n{i}.{NAME_SUFFIX}", "AAAA", timeout=1.0))
        except (OSError, ValueError):
            pass
    print(f"answers {learned}")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        ask(sys.argv[2], int(sys.argv[3]))
