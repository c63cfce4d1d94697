"""The daemon alone, in the lab: the real `ftwall` daemon (driven by labnet.ftwall) on an
NFQUEUE queue fed by one minimal rule per family (only the LAN's UDP to the internet),
without `ftwall rules`, so a failure here points at the daemon.

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
from labnet.ftwall import Ftwall
from labnet.poll import wait_until

PASS_MARK = 0x10000000


def queue_rule(lab):
    """Queues the LAN's forwarded UDP to queue 0 unless the daemon already passed it (its
    mark). iptables' NFQUEUE target, because some kernels (this project's CI machine among
    them) are built without nft's own `queue` expression."""
    for tool in ("iptables", "ip6tables"):
        netns.sh([tool, "-A", "FORWARD", "-i", "lan", "-o", "wan", "-p", "udp",
                  "-m", "mark", "--mark", f"0/{PASS_MARK:#x}",
                  "-j", "NFQUEUE", "--queue-num", "0", "--queue-bypass"], ns=lab.ns["router"])


def status(fw, pid=None):
    """Asks the daemon (pid, or the driver's process) for a fresh status file (SIGUSR1)
    and returns `ftwall status` output."""
    before = os.stat(fw.status_file).st_mtime_ns
    os.kill(pid or fw.daemon.pid, signal.SIGUSR1)
    wait_until(lambda: os.path.exists(fw.status_file) and os.stat(fw.status_file).st_mtime_ns != before, 5,
               "the status file to be rewritten on SIGUSR1")
    r = subprocess.run([fw.bin, "status", "--status-file", fw.status_file], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, f"ftwall status failed: {r.stderr}"
    return r.stdout


@pytest.fixture
def daemon(request, lab, tmp_path):
    """ftwall's daemon on the lab router behind the minimal queue rule; .start() it."""
    require_lab()
    queue_rule(lab)
    fw = Ftwall(lab, "iptables", str(tmp_path))
    try:
        yield fw
    finally:
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            print(f"\n---- ftwall log ({fw.log_path}) ----\n{fw.log()[-6000:]}")
        if fw.alive():
            fw.stop()


def test_fasttrack_ping_is_dropped_answered_learned_and_shown(lab, family, daemon):
    a = topology.ADDR[family]
    supernode = topology.ep(a["supernodes"][0], topology.FT_PORT)
    client = a["lan1"]
    daemon.start(lock_secs=120)
    wait_until(lambda: os.path.exists(daemon.status_file), 5, "the first status file")
    assert open(daemon.pidfile).read().strip() == str(daemon.daemon.pid)

    r = lab.agent("lan1").call("ping_burst", supernodes=[supernode], listen=1.5)
    assert "error" not in r, r
    pongs = r["pongs"]
    assert len(pongs) == 1, f"expected exactly the forged pong: {pongs}"
    pong = pongs[0]
    assert pong["src"] == supernode, pong
    assert not pong["real"], "the pong came from the real supernode: the ping got through"
    assert (pong["network"], pong["enc_type"]) == ("KaZaA", 0x29), pong

    pings_seen = [e for e in lab.agent("inet").events("peer_udp") if e["src"].strip("[").startswith(client)]
    assert not pings_seen, f"the supernode received the ping: {pings_seen}"

    wait_until(lambda: supernode in daemon.stored_peers(), 5, "the storefile to learn the supernode")
    client_file = os.path.join(daemon.client_dir, client)
    wait_until(lambda: os.path.exists(client_file), 5, "the client file")
    assert open(client_file).read().startswith("protocol fasttrack\n")

    out = status(daemon)
    assert "Locked clients: 1" in out and client in out, out
    assert supernode in out and "s left" in out, out
    log = daemon.log()
    assert f"new client {client}" in log and f"new peer {supernode}" in log, log

    assert daemon.stop() == 0, daemon.log()
    assert not os.path.exists(daemon.status_file), "a clean stop removes the status file"
    assert not os.path.exists(daemon.pidfile), "a clean stop removes the pid file"
    assert not os.path.exists(client_file), "a clean stop removes the client files"
    assert supernode in daemon.stored_peers(), "the storefile keeps the peer"
    r = subprocess.run([daemon.bin, "status", "--status-file", daemon.status_file], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 1 and "not running" in r.stderr, (r.returncode, r.stderr)

    # Restarted, it knows the supernode from the storefile before any packet.
    daemon.start(lock_secs=120)
    wait_until(lambda: os.path.exists(daemon.status_file), 5, "the first status file")
    out = status(daemon)
    assert supernode in out and "Locked clients: 0" in out, out


def test_ordinary_udp_passes_and_the_clock_runs_without_packets(lab, daemon):
    a = topology.ADDR[4]
    daemon.start()
    r = lab.agent("lan2").call("resolve", name=topology.WEB_NAME, server=a["dns"], timeout=2.0)
    assert r.get("ok"), f"DNS through the queue failed: {r}"
    # The status file is rewritten every few seconds with no traffic at all: the loop
    # wakes on its own.
    wait_until(lambda: os.path.exists(daemon.status_file), 5, "the first status file")
    first = os.stat(daemon.status_file).st_mtime_ns
    wait_until(lambda: os.stat(daemon.status_file).st_mtime_ns != first, 12, "the periodic status rewrite")
    out = status(daemon)
    assert "Locked clients: 0" in out, out
    packets = [line.split() for line in out.splitlines() if line.split()[:1] == ["packets"]]
    assert packets and int(packets[0][1]) >= 1, out


def test_sighup_reloads_the_storefile_and_bad_lines_are_skipped(lab, daemon):
    a = topology.ADDR[4]
    with open(daemon.storefile, "w") as f:
        f.write(f"{topology.ep(a['supernodes'][1], 1214)} fasttrack\nthis is not a peer\n")
    daemon.start()
    wait_until(lambda: os.path.exists(daemon.status_file), 5, "the first status file")
    assert "line 2" in daemon.log(), daemon.log()
    assert "this is not a peer" not in open(daemon.storefile).read(), "the damaged file is rewritten clean"
    out = status(daemon)
    assert topology.ep(a["supernodes"][1], 1214) in out and "Known peers: 1" in out, out

    added = topology.ep(a["supernodes"][2], 1214)
    with open(daemon.storefile, "a") as f:
        f.write(f"{added} fasttrack\n")
    daemon.daemon.send_signal(signal.SIGHUP)
    wait_until(lambda: "reloading" in daemon.log(), 5, "the daemon to reload")
    out = status(daemon)
    assert added in out and "Known peers: 2" in out, out
    assert daemon.alive()


def test_without_s_it_detaches_writes_its_pid_and_stops_on_sigterm(lab, daemon):
    """The classic default: the command returns at once, the daemon lives on by itself."""
    args = [a for a in daemon.daemon_args(120, False, ()) if a != "-s"]
    r = subprocess.run(["ip", "netns", "exec", lab.ns["router"]] + args, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    wait_until(lambda: os.path.exists(daemon.pidfile) and os.path.exists(daemon.status_file), 5,
               "the detached daemon's pid and status files")
    pid = int(open(daemon.pidfile).read())
    try:
        assert os.getsid(pid) == pid, "the daemon leads a session of its own"
        assert os.readlink(f"/proc/{pid}/cwd") == "/"
        out = status(daemon, pid=pid)
        assert f"pid {pid}" in out, out
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 10, "the detached daemon to stop")
        assert not os.path.exists(daemon.pidfile) and not os.path.exists(daemon.status_file)
    finally:
        if os.path.exists(f"/proc/{pid}"):
            os.kill(pid, signal.SIGKILL)
