"""The daemon alone, in the lab: the real `ftwall` binary on an NFQUEUE queue fed by a
minimal nft rule (only the LAN's UDP to the internet), without the rules module, so a
failure here points at the daemon.

A FastTrack ping from a LAN host must never reach the supernode; the host must get the
17-byte 0x28 pong forged by ftwall from the supernode's address; the storefile must learn
the supernode, the client directory must list the host, `ftwall status` must show both,
SIGTERM must stop the daemon cleanly, and a restart must reload the peer.
"""

import os
import signal
import subprocess

import pytest

from conftest import require_lab
from labnet import netns, topology
from labnet.poll import wait_until

FTWALL = os.environ.get("FTWALL_BIN") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "target", "release", "ftwall")
QUEUE = 7
PASS_MARK = 0x10000000


def queue_rule(lab):
    """Queues the LAN's forwarded UDP unless the daemon already passed it (its mark).
    iptables' NFQUEUE target, because some kernels (this project's CI machine among them)
    are built without nft's own `queue` expression."""
    for tool in ("iptables", "ip6tables"):
        netns.sh([tool, "-A", "FORWARD", "-i", "lan", "-o", "wan", "-p", "udp",
                  "-m", "mark", "--mark", f"0/{PASS_MARK:#x}",
                  "-j", "NFQUEUE", "--queue-num", str(QUEUE), "--queue-bypass"], ns=lab.ns["router"])


class Daemon:
    def __init__(self, lab, workdir, extra=()):
        self.lab = lab
        self.store = os.path.join(workdir, "peers")
        self.clients = os.path.join(workdir, "clients")
        self.status = os.path.join(workdir, "status")
        self.log_path = os.path.join(workdir, "ftwall.log")
        self.proc = None
        self.extra = list(extra)

    def start(self):
        assert os.access(FTWALL, os.X_OK), f"no ftwall binary at {FTWALL} (build it, or set FTWALL_BIN)"
        log = open(self.log_path, "a")
        a4, a6 = topology.ADDR[4], topology.ADDR[6]
        self.proc = netns.spawn(
            [FTWALL, "-s", "--queue", str(QUEUE), "--lan-if", "lan", "--wan-if", "wan",
             "--lan", a4["lan_net"], "--lan", a6["lan_net"], "-f", self.store, "-c", self.clients,
             "--status-file", self.status, "-L", "cpu", "-t", "120"] + self.extra,
            ns=self.lab.ns["router"], stdout=log, stderr=log)
        log.close()
        wait_until(lambda: self._alive() and os.path.exists(self.status), 10, "the daemon to write its status file")
        return self

    def _alive(self):
        assert self.proc.poll() is None, f"ftwall exited with {self.proc.returncode}: {self.log()}"
        return True

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def status_now(self):
        """Asks for a fresh status file (SIGUSR1) and returns `ftwall status` output."""
        before = os.stat(self.status).st_mtime_ns
        self.proc.send_signal(signal.SIGUSR1)
        wait_until(lambda: os.path.exists(self.status) and os.stat(self.status).st_mtime_ns != before, 5,
                   "the status file to be rewritten on SIGUSR1")
        r = subprocess.run([FTWALL, "status", "--status-file", self.status], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, f"ftwall status failed: {r.stderr}"
        return r.stdout

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            code = self.proc.wait(timeout=10)
            netns.stop_process(self.proc)
            self.proc = None
            return code
        if self.proc is not None:
            netns.stop_process(self.proc)
        return None


@pytest.fixture
def daemon(lab, tmp_path):
    require_lab()
    queue_rule(lab)
    d = Daemon(lab, str(tmp_path))
    try:
        yield d
    finally:
        d.stop()


def test_fasttrack_ping_is_dropped_answered_learned_and_shown(lab, family, daemon):
    a = topology.ADDR[family]
    supernode = topology.ep(a["supernodes"][0], topology.FT_PORT)
    client = a["lan1"]
    daemon.start()

    r = lab.agent("lan1").call("ping_burst", supernodes=[supernode], listen=1.5)
    assert "error" not in r, r
    pongs = r["pongs"]
    assert len(pongs) == 1, f"expected exactly the forged pong: {pongs}\n{daemon.log()}"
    pong = pongs[0]
    assert pong["src"] == supernode, pong
    assert not pong["real"], "the pong came from the real supernode: the ping got through"
    assert (pong["network"], pong["enc_type"]) == ("KaZaA", 0x29), pong

    pings_seen = [e for e in lab.agent("inet").events("peer_udp") if e["src"].strip("[").startswith(client)]
    assert not pings_seen, f"the supernode received the ping: {pings_seen}"

    wait_until(lambda: os.path.exists(daemon.store) and a["supernodes"][0] in open(daemon.store).read(), 5,
               "the storefile to learn the supernode")
    assert f"{supernode} fasttrack" in open(daemon.store).read().splitlines()
    client_file = os.path.join(daemon.clients, client)
    wait_until(lambda: os.path.exists(client_file), 5, "the client file")
    assert open(client_file).read().startswith("protocol fasttrack\n")

    out = daemon.status_now()
    assert "Locked clients: 1" in out and client in out, out
    assert supernode in out, out
    assert "s left" in out, out
    assert "new client" in daemon.log() and "new peer" in daemon.log(), daemon.log()

    assert daemon.stop() == 0, daemon.log()
    assert not os.path.exists(daemon.status), "a clean stop removes the status file"
    assert not os.path.exists(client_file), "a clean stop removes the client files"
    r = subprocess.run([FTWALL, "status", "--status-file", daemon.status], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "not running" in r.stderr, (r.returncode, r.stderr)

    # Restarted, it knows the supernode from the storefile before any packet.
    daemon.start()
    out = daemon.status_now()
    assert supernode in out and "Locked clients: 0" in out, out


def test_ordinary_udp_passes_and_the_clock_runs_without_packets(lab, daemon):
    a = topology.ADDR[4]
    daemon.start()
    r = lab.agent("lan2").call("resolve", name=topology.WEB_NAME, server=a["dns"], timeout=2.0)
    assert r.get("ok"), f"DNS through the queue failed: {r}\n{daemon.log()}"
    # The status file is rewritten every few seconds with no traffic at all: the loop
    # wakes on its own.
    first = os.stat(daemon.status).st_mtime_ns
    wait_until(lambda: os.stat(daemon.status).st_mtime_ns != first, 12, "the periodic status rewrite")
    out = daemon.status_now()
    assert "Locked clients: 0" in out, out
    packets = [l.split() for l in out.splitlines() if l.split()[:1] == ["packets"]]
    assert packets and int(packets[0][1]) >= 1, out
