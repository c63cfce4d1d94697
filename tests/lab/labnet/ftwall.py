"""The real ftwall on the lab router: `ftwall rules apply|remove` and the daemon, run in
the router namespace, plus readers for what ftwall leaves to look at (its log, storefile,
client directory and the kernel sets)."""

import os
import re
import signal
import subprocess
import threading
import time

from . import netns
from .poll import wait_until

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LAN_IF, WAN_IF = "lan", "wan"


def binary():
    """The ftwall under test: $FTWALL_BIN, else the release build of this checkout."""
    return os.environ.get("FTWALL_BIN") or os.path.join(REPO, "target", "release", "ftwall")


class Ftwall:
    def __init__(self, lab, backend, workdir, fail_closed=False):
        self.lab = lab
        self.router = lab.ns["router"]
        self.backend = backend
        self.fail_closed = fail_closed
        self.workdir = workdir
        self.bin = binary()
        self.storefile = os.path.join(workdir, "ftwall.peers")
        self.client_dir = os.path.join(workdir, "ftwall.clients")
        self.status_file = os.path.join(workdir, "ftwall.status")
        self.pidfile = os.path.join(workdir, "ftwall.pid")
        self.log_path = os.path.join(workdir, "ftwall.log")
        os.makedirs(self.client_dir, exist_ok=True)
        self.daemon = None
        self.rules_applied = False
        self.runs = 0

    # -- rules --------------------------------------------------------------------------
    def rule_args(self):
        args = ["--backend", self.backend, "--lan-if", LAN_IF, "--wan-if", WAN_IF]
        return args + (["--fail-closed"] if self.fail_closed else [])

    def apply_rules(self):
        netns.sh([self.bin, "rules", "apply"] + self.rule_args(), ns=self.router)
        self.rules_applied = True

    def remove_rules(self):
        netns.sh([self.bin, "rules", "remove"] + self.rule_args(), ns=self.router)
        self.rules_applied = False

    def ruleset(self):
        """The router's whole netfilter state as text (for failure messages and checks)."""
        parts = [netns.sh(["nft", "list", "ruleset"], ns=self.router, check=False)]
        if self.backend == "iptables":
            for tool in ("iptables-save", "ip6tables-save"):
                parts.append(netns.sh([tool], ns=self.router, check=False))
            parts.append(netns.sh(["ipset", "list"], ns=self.router, check=False))
        return "\n".join(parts)

    def set_members(self, name):
        """Addresses in the kernel set `name` (ftwall_locked4, ftwall_peers6, ...)."""
        if self.backend == "nft":
            out = netns.sh(["nft", "list", "set", "inet", "ftwall", name], ns=self.router, check=False)
            m = re.search(r"elements\s*=\s*\{(.*?)\}", out, re.S)
            if not m:
                return set()
            return {item.strip().split()[0] for item in m.group(1).split(",") if item.strip()}
        out = netns.sh(["ipset", "list", name], ns=self.router, check=False)
        members = out.partition("Members:")[2]
        return {line.split()[0] for line in members.splitlines() if line.strip()}

    def lock_timeouts(self, family):
        """{client: seconds its kernel lock has left}, from the locked set's timeouts."""
        name = f"ftwall_locked{family}"
        if self.backend == "nft":
            out = netns.sh(["nft", "list", "set", "inet", "ftwall", name], ns=self.router, check=False)
            return {ip: _nft_secs(left) for ip, left in re.findall(r"([0-9a-fA-F:.]+) timeout \S+ expires (\w+)", out)}
        out = netns.sh(["ipset", "list", name], ns=self.router, check=False)
        members = out.partition("Members:")[2]
        return {w[0]: int(w[2]) for w in (line.split() for line in members.splitlines())
                if len(w) >= 3 and w[1] == "timeout"}

    def locked(self, family):
        return self.set_members(f"ftwall_locked{family}")

    def blocked(self, family):
        return self.set_members(f"ftwall_peers{family}")

    # -- daemon -------------------------------------------------------------------------
    def daemon_args(self, lock_secs, monitor, extra):
        args = [self.bin, "-s", "-t", str(lock_secs), "-f", self.storefile, "-c", self.client_dir,
                "-L", "cputT", "--lan-if", LAN_IF, "--wan-if", WAN_IF, "--backend", self.backend,
                "--status-file", self.status_file, "--pidfile", self.pidfile]
        if monitor:
            args.append("--monitor")
        if self.fail_closed:
            args.append("--fail-closed")
        return args + list(extra)

    def start(self, lock_secs=6, monitor=False, extra=(), wrap=(), cwd=None):
        """Starts the daemon and waits until it has bound its queue. `wrap` is a command
        prefix that ends by exec'ing (or running) the daemon: unshare, sh -c, strace;
        `cwd` its working directory."""
        assert self.daemon is None or self.daemon.poll() is not None, "daemon already running"
        self.runs += 1
        args = list(wrap) + self.daemon_args(lock_secs, monitor, extra)
        log = open(self.log_path, "a")
        log.write(f"==== run {self.runs}: {' '.join(args)}\n")
        log.flush()
        self.daemon = netns.spawn(args, ns=self.router, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
        log.close()
        wait_until(self._ready, 10, "the ftwall daemon to bind its queue")

    def pid(self):
        """The daemon's own pid: the spawned process, or the first `ftwall` among its
        descendants when a wrapper (strace) runs it as a child."""
        pid = self.daemon.pid
        for _ in range(8):
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().strip() == "ftwall":
                        return pid
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    kids = f.read().split()
            except OSError:
                break
            if not kids:
                break
            pid = int(kids[0])
        raise AssertionError(f"no ftwall process under pid {self.daemon.pid}")

    def signal(self, sig):
        os.kill(self.pid(), sig)

    def _ready(self):
        if self.daemon.poll() is not None:
            raise AssertionError(f"ftwall exited with status {self.daemon.returncode}:\n{self.log()}")
        return self.queue_stats() is not None

    def queue_stats(self):
        """The kernel's view of queue 0 in the router (None if nobody binds it): packets
        held, dropped because the queue was full, dropped because the daemon's socket
        buffer was full."""
        out = netns.sh(["cat", "/proc/net/netfilter/nfnetlink_queue"], ns=self.router, check=False)
        for w in (line.split() for line in out.splitlines()):
            # queue, portid, held, copy mode, copy range, queue dropped, user dropped, id sequence, 1
            if w[:1] == ["0"] and len(w) >= 8:
                return {"held": int(w[2]), "queue_dropped": int(w[5]), "user_dropped": int(w[6])}
        return None

    def alive(self):
        return self.daemon is not None and self.daemon.poll() is None

    def kill9(self):
        netns.stop_process(self.daemon, signal.SIGKILL)

    def stop(self):
        """SIGTERM, as a service manager would; returns the exit status."""
        if self.daemon is None:
            return None
        netns.stop_process(self.daemon, signal.SIGTERM, timeout=10)
        return self.daemon.returncode

    def close(self):
        if self.alive():
            self.stop()
        if self.rules_applied:
            self.remove_rules()

    def counters(self):
        """The daemon's counters, fresh: SIGUSR1 makes it rewrite its status file."""
        return self.status()["counters"]

    # -- what it leaves to look at --------------------------------------------------------
    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""

    def stored_peers(self):
        """Lines of the storefile (peers as written, comments and blanks left out)."""
        try:
            with open(self.storefile) as f:
                return {line.split()[0] for line in f if line.strip() and not line.startswith("#")}
        except OSError:
            return set()

    def stored_peer_ips(self):
        return {_ip_of(p) for p in self.stored_peers()}

    def status(self):
        """The running daemon's status file, freshly written (SIGUSR1), parsed:
        {"pid", "clients": {ip: secs left}, "peers": {ip:port}, "dns": {ip: secs left},
        "counters": {name: value}}."""
        before = os.stat(self.status_file).st_mtime_ns if os.path.exists(self.status_file) else None
        self.signal(signal.SIGUSR1)
        wait_until(lambda: os.path.exists(self.status_file) and os.stat(self.status_file).st_mtime_ns != before, 5,
                   "the status file to be rewritten on SIGUSR1")
        out = {"pid": None, "clients": {}, "peers": set(), "dns": {}, "counters": {}}
        with open(self.status_file) as f:
            for w in (line.split() for line in f):
                if w[:1] == ["pid"]:
                    out["pid"] = int(w[1])
                elif w[:1] == ["client"]:
                    out["clients"][w[1]] = int(w[3])
                elif w[:1] == ["peer"]:
                    out["peers"].add(w[1])
                elif w[:1] == ["dns"]:
                    out["dns"][w[1]] = int(w[2])
                elif w[:1] == ["counter"]:
                    out["counters"][w[1]] = int(w[2])
        return out

    def client_files(self):
        return set(os.listdir(self.client_dir))


class Supervisor:
    """Stands in for procd's respawn: restarts the daemon whenever it exits, `delay`
    seconds later. `hold()` keeps it from restarting (to look at the router while no
    daemon runs) until `release()`. Always `stop()` it before the daemon's own cleanup."""

    def __init__(self, fw, delay=1.0, **start_args):
        self.fw = fw
        self.delay = delay
        self.start_args = start_args
        self.deaths = []  # (monotonic time seen dead, exit status)
        self.restarts = []  # monotonic times the daemon was up again
        self.error = None
        self._stop = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self._thread = None

    def start(self):
        self.fw.start(**self.start_args)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _loop(self):
        try:
            while not self._stop.wait(0.02):
                if self.fw.alive():
                    continue
                self.deaths.append((time.monotonic(), self.fw.daemon.returncode))
                if self._stop.wait(self.delay):
                    return
                while not self._go.wait(0.05):
                    if self._stop.is_set():
                        return
                if self._stop.is_set():
                    return
                self.fw.start(**self.start_args)
                self.restarts.append(time.monotonic())
        except Exception as exc:  # reported by wait_restarts; the test checks it too
            self.error = exc

    def hold(self):
        self._go.clear()

    def release(self):
        self._go.set()

    def wait_restarts(self, n, timeout=15):
        def done():
            if self.error is not None:
                raise AssertionError(f"the supervisor could not restart the daemon: {self.error}")
            return len(self.restarts) >= n
        wait_until(done, timeout, f"the supervisor's restart number {n}")

    def stop(self):
        self._stop.set()
        self._go.set()
        if self._thread is not None:
            self._thread.join(timeout=15)


def _nft_secs(text):
    """nft's "1m2s500ms" -> 62 (whole seconds, rounded down like ipset's)."""
    unit = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return int(sum(int(n) * unit[u] for n, u in re.findall(r"(\d+)(ms|d|h|m|s)", text)))


def _ip_of(endpoint):
    """ "a.b.c.d:port", "[v6]:port" or a bare address -> the address."""
    if endpoint.startswith("["):
        return endpoint[1:].partition("]")[0]
    if endpoint.count(":") == 1:
        return endpoint.partition(":")[0]
    return endpoint
