"""Network namespaces and the processes run in them, with cleanup that survives test
failures, Ctrl-C, SIGTERM and a harness killed with -9 (the next run sweeps up).

Every namespace is named `ftl-<pid>-<n>-<role>`: the pid of the harness that made it
tells a later run whether its owner is still alive.
"""

import atexit
import itertools
import os
import re
import signal
import subprocess
import threading

PREFIX = "ftl-"
_NAME = re.compile(r"^ftl-(\d+)-")
_counter = itertools.count(1)
_lock = threading.Lock()
_namespaces = []  # created by this process, not yet deleted
_processes = []  # Popen objects started in them


class CommandError(RuntimeError):
    pass


def sh(args, ns=None, check=True, timeout=30, input=None):
    """Runs a command (in namespace `ns`), returns its stdout. Raises CommandError with the
    command's stderr when check is set and it fails."""
    full = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    p = subprocess.run(full, capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise CommandError(f"{' '.join(full)} -> exit {p.returncode}: {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout


def new_name(role):
    return f"{PREFIX}{os.getpid()}-{next(_counter)}-{role}"


def add(role):
    name = new_name(role)
    with _lock:
        _namespaces.append(name)  # registered first: a failure below still cleans up
    sh(["ip", "netns", "add", name])
    sh(["ip", "link", "set", "lo", "up"], ns=name)
    return name


def spawn(args, ns=None, **popen_args):
    """Starts a long-running process (in namespace `ns`) in its own process group."""
    full = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    p = subprocess.Popen(full, start_new_session=True, **popen_args)
    with _lock:
        _processes.append(p)
    return p


def stop_process(p, sig=signal.SIGTERM, timeout=5):
    """Signals a process group we started and reaps it (SIGKILL if it lingers)."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(timeout=timeout)
    with _lock:
        if p in _processes:
            _processes.remove(p)


def _kill_inside(name):
    """SIGKILLs every process still living in namespace `name` (by pid, one by one)."""
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    for pid in out.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def delete(name):
    _kill_inside(name)
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    with _lock:
        if name in _namespaces:
            _namespaces.remove(name)


def cleanup():
    """Stops every process and deletes every namespace this harness made. Idempotent."""
    with _lock:
        procs = list(_processes)
        names = list(_namespaces)
    for p in procs:
        stop_process(p, signal.SIGKILL, timeout=3)
    for name in reversed(names):
        delete(name)


def listed():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def ours():
    """Namespaces of this harness that still exist."""
    mine = f"{PREFIX}{os.getpid()}-"
    return [n for n in listed() if n.startswith(mine)]


def live_processes():
    with _lock:
        return [p for p in _processes if p.poll() is None]


def sweep_stale():
    """Deletes lab namespaces left by harnesses that died without cleaning up (killed
    with -9, machine trouble). Namespaces of live harnesses are left alone."""
    swept = []
    for name in listed():
        m = _NAME.match(name)
        if not m:
            continue
        pid = int(m.group(1))
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # its owner still runs
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        delete(name)
        swept.append(name)
    return swept


def _on_signal(signum, _frame):
    # Turn SIGTERM/SIGHUP into the same path as Ctrl-C so that finalizers run.
    raise KeyboardInterrupt(f"signal {signum}")


def install_cleanup_handlers():
    atexit.register(cleanup)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
