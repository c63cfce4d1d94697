"""Real P2P programs from Debian in the lab, and the proof every real-client scenario makes.

A scenario is a LAN client (lan1) downloading a file that a program on the lab's internet
offers. `prove()` runs it twice on the same lab, each time with a fresh client, fresh
ftwall files, freshly applied rules and an empty connection-tracking table:

1. ftwall in monitor mode (rules and daemon running, nothing blocked): the download must
   complete, byte for byte, and the daemon must log the client's detection. This shows the
   scenario is real: the programs work here, the file can be had, ftwall sees the protocol.
2. ftwall enforcing: the client must be time-locked in the kernel set, and the download
   must not complete while we watch for longer than the first run needed to finish it.
   Counters on the internet side and on the client itself give what passed before the
   lock, and must not move after it.

What passed is counted where it arrives, not on the router: packets from the client that
reached the internet namespace (its INPUT chain), and packets from beyond the LAN that
reached the client (lan1's INPUT chain).
"""

import dataclasses
import hashlib
import os
import re
import shutil
import subprocess
import time
from contextlib import contextmanager

import pytest

from . import netns, topology
from .ftwall import Ftwall
from .poll import Timeout, stays, wait_until

CLIENT_ROLE = "lan1"
CLIENT_IP = topology.ADDR[4]["lan1"]
# A run with ftwall in monitor mode must finish its download within this many seconds.
# Downloads take 2-15 s; aMule finding its source over Kad once took over 60 s in CI.
CONTROL_DEADLINE = 120.0
# Long enough that the lock never expires during a scenario.
LOCK_SECS = 120
# The enforced run is watched for this many times the monitor run's download time, at least
# MIN_WATCH seconds: the client had more time than it needed to finish, and did not.
WATCH_FACTOR = 1.25
MIN_WATCH = 6.0
# The enforced run must lock the client within LOCK_FACTOR times the control's download
# time plus LOCK_SLACK seconds.
LOCK_FACTOR = 2.0
LOCK_SLACK = 10.0

# Filled by prove(); conftest prints it at the end of the session.
RESULTS = []


def require_programs(*names):
    """Fails (CI=true) or skips loudly when a program the scenario runs is missing."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        msg = (f"REAL-CLIENT SCENARIO DID NOT RUN: missing programs {', '.join(missing)} "
               f"(Debian packages; install them with `sh .ci/deps`)")
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


def add_inet_host(lab, ip):
    """One more internet address (documentation range) on inet's loopback."""
    netns.sh(["ip", "addr", "add", f"{ip}/32", "dev", "lo"], ns=lab.ns["inet"])


def spawn(lab, role, args, log_path, cwd=None):
    """Starts a program in a lab namespace, its output in log_path; registered for cleanup."""
    log = open(log_path, "ab")
    try:
        return netns.spawn(args, ns=lab.ns[role], stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                           stdin=subprocess.DEVNULL)
    finally:
        log.close()


def check_alive(proc, what, log_path):
    """Raises with the program's log if it died."""
    if proc is not None and proc.poll() is not None:
        raise AssertionError(f"{what} exited with status {proc.returncode}:\n{tail(log_path)}")


def tail(path, chars=3000):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-chars:]
    except OSError:
        return f"(no log at {path})"


def make_file(path, size):
    """A file of random bytes (nothing a detector could key on); returns its sha256."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = os.urandom(size)
    with open(path, "wb") as f:
        f.write(data)
    return hashlib.sha256(data).hexdigest()


def same_file(path, size, sha256):
    """True once `path` holds exactly the expected content."""
    try:
        if os.path.getsize(path) != size:
            return False
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest() == sha256
    except OSError:
        return False


def http_call(lab, role, host, port, path="/", **kw):
    """An HTTP request made from inside namespace `role` (by its lab agent)."""
    return lab.agent(role).call("http_call", host=host, port=port, path=path, **kw)


@dataclasses.dataclass
class Counts:
    out_pkts: int
    out_bytes: int
    in_pkts: int
    in_bytes: int


class Counters:
    """What the client sent that reached the internet, and what reached the client from
    beyond the LAN (router and LAN traffic excluded)."""

    def __init__(self, lab):
        self.inet, self.client = lab.ns["inet"], lab.ns[CLIENT_ROLE]
        lan_net = topology.ADDR[4]["lan_net"]
        netns.sh(["iptables", "-w", "-I", "INPUT", "1", "-i", "eth0", "-s", CLIENT_IP,
                  "-m", "comment", "--comment", "ftl-from-client"], ns=self.inet)
        netns.sh(["iptables", "-w", "-I", "INPUT", "1", "-i", "eth0", "!", "-s", lan_net,
                  "-m", "comment", "--comment", "ftl-to-client"], ns=self.client)

    def reset(self):
        for ns in (self.inet, self.client):
            netns.sh(["iptables", "-w", "-Z", "INPUT"], ns=ns)

    def read(self):
        out = self._read(self.inet, "ftl-from-client")
        inn = self._read(self.client, "ftl-to-client")
        return Counts(out[0], out[1], inn[0], inn[1])

    @staticmethod
    def _read(ns, comment):
        for line in netns.sh(["iptables", "-w", "-nvxL", "INPUT"], ns=ns).splitlines():
            if f"/* {comment} */" in line:
                w = line.split()
                return int(w[0]), int(w[1])
        raise AssertionError(f"counting rule {comment} is gone from {ns}")


class Client:
    """The LAN client of a scenario, the object prove() drives. Subclasses set `protocol`
    (the name ftwall logs), `program` and `client` (for the results), and give start(run)
    (a fresh client: own directory and ports), complete() (the file is there, byte for byte;
    it may also take the user's next step), state() (for failure messages) and stop()."""

    def __init__(self, lab, workdir, name, reason, proves, size):
        self.lab, self.workdir = lab, workdir
        # The scenario's name, the text its detection must contain, what it proves.
        self.name, self.reason, self.proves = name, reason, proves
        self.size = size


@contextmanager
def ftwall_running(lab, backend, workdir, monitor):
    """ftwall's rules and daemon on the router, with files of their own and no connection
    tracked from an earlier run (a stale entry would hide a flow's first packets)."""
    os.makedirs(workdir, exist_ok=True)
    netns.sh(["conntrack", "-F"], ns=lab.ns["router"], check=False)
    fw = Ftwall(lab, backend, workdir)
    try:
        fw.apply_rules()
        fw.start(lock_secs=LOCK_SECS, monitor=monitor)
        yield fw
    finally:
        fw.close()


class Undetected(AssertionError):
    """The download completed while ftwall, in monitor mode, never recognised the client."""


_DETECTION = re.compile(r"new client (\S+) \(([a-z0-9]+): ([^)]*)\)")


def detections(log, ip=CLIENT_IP):
    """(protocol, what) of each detection of `ip` in a daemon log."""
    return [(m.group(2), m.group(3)) for m in _DETECTION.finditer(log) if m.group(1) == ip]


@dataclasses.dataclass
class Result:
    protocol: str
    client: str
    proves: str
    detected_as: str
    before_lock: Counts
    control_secs: float
    lock_secs: float
    watched_secs: float
    size: int

    def line(self):
        c = self.before_lock
        return (f"{self.protocol:12} {self.client:38} {c.out_pkts:4} pkts {c.out_bytes:6} B out, "
                f"{c.in_pkts:4} pkts {c.in_bytes:6} B in before the lock ({self.detected_as}); "
                f"download {self.control_secs:.1f}s unblocked, locked after {self.lock_secs:.1f}s, "
                f"watched {self.watched_secs:.1f}s")


def prove(lab, backend, workdir, scen):
    """The two runs described at the top, for `scen`, a Client."""
    counters = Counters(lab)

    # 1. The control: ftwall watches but blocks nothing; the download must complete.
    with ftwall_running(lab, backend, os.path.join(workdir, "monitor"), monitor=True) as fw:
        counters.reset()
        t0 = time.monotonic()
        scen.start(1)
        try:
            try:
                wait_until(scen.complete, CONTROL_DEADLINE, f"{scen.name}: the download with ftwall in monitor mode")
            except Timeout as e:
                raise Timeout(f"{e}; {scen.state()}; passed: {counters.read()}\n{fw.log()[-3000:]}") from None
            control_secs = time.monotonic() - t0
        finally:
            scen.stop()
        seen = detections(fw.log())
        control = counters.read()
    if not any(p == scen.protocol for p, _ in seen):
        raise Undetected(f"{scen.name}: the download completed and the monitor-mode daemon did not log {CLIENT_IP} "
                         f"as {scen.protocol} ({seen}):\n{fw.log()[-3000:]}")
    assert control.in_bytes >= scen.size, (
        f"{scen.name}: the download completed, but only {control.in_bytes} bytes came from the internet: "
        f"it did not cross the router ({control})")

    # 2. The proof: ftwall enforcing; the client is locked and the download never completes.
    with ftwall_running(lab, backend, os.path.join(workdir, "enforcing"), monitor=False) as fw:
        counters.reset()
        t0 = time.monotonic()
        scen.start(2)
        try:
            # Real programs vary from run to run (aMule asks a source 2 to 8 s after it has
            # the link), so the lock gets twice the control's time and then some.
            def locked():
                # complete() also drives clients that need steps (aMule's link, DC's hub).
                assert not scen.complete(), f"{scen.name}: the download completed under ftwall, never locked"
                return CLIENT_IP in fw.locked(4)

            try:
                wait_until(locked, LOCK_FACTOR * control_secs + LOCK_SLACK,
                           f"{scen.name}: ftwall to lock {CLIENT_IP} (the download alone took {control_secs:.1f}s)")
            except Timeout as e:
                raise Timeout(f"{e}; {scen.state()}; passed so far: {counters.read()}\n{fw.log()[-3000:]}") from None
            lock_secs = time.monotonic() - t0
            before = counters.read()
            watch = max(WATCH_FACTOR * control_secs, MIN_WATCH)
            stays(lambda: not scen.complete(), watch, f"{scen.name}: the download staying incomplete under ftwall")
            after = counters.read()
            state = scen.state()
        finally:
            scen.stop()
        found = detections(fw.log())
        log = fw.log()
    assert found, f"{scen.name}: locked, but the log names no detection:\n{log[-3000:]}"
    protocol, what = found[0]
    assert protocol == scen.protocol and scen.reason in what, (
        f"{scen.name}: detected as {protocol}: {what}, expected {scen.protocol}: {scen.reason}\n{log[-3000:]}")
    assert after == before, f"{scen.name}: traffic passed after the lock: {before} at the lock, {after} later"
    assert before.in_bytes < scen.size // 2, f"{scen.name}: most of the file arrived before the lock: {before}"

    result = Result(scen.protocol, scen.client, scen.proves, f"{protocol}: {what}", before, control_secs, lock_secs,
                    watch, scen.size)
    RESULTS.append((scen.name, result))
    print(f"\n{scen.name}: {result.line()} [{state}]")
    return result
