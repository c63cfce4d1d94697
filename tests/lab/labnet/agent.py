"""Harness side of the simulators: starts `python3 -m sim.agent` in a namespace, sends it
commands and collects the events it reports."""

import itertools
import json
import os
import subprocess
import sys
import threading
import time

from . import netns
from .poll import wait_until

LAB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class AgentError(AssertionError):
    pass


class Agent:
    def __init__(self, ns, name, log_dir):
        self.ns = ns
        self.name = name
        self._ids = itertools.count(1)
        self._events = []
        self._cond = threading.Condition()
        self.stderr_path = os.path.join(log_dir, f"agent-{name}.stderr")
        self._stderr = open(self.stderr_path, "w")
        env = dict(os.environ, PYTHONPATH=LAB_DIR, PYTHONUNBUFFERED="1")
        self.proc = netns.spawn([sys.executable, "-m", "sim.agent"], ns=ns, cwd=LAB_DIR, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                text=True, bufsize=1)
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_event(lambda e: e["ev"] == "hello", 10, f"agent {name} to start")

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"ev": "garbage", "line": line}
            ev["at"] = time.monotonic()
            with self._cond:
                self._events.append(ev)
                self._cond.notify_all()

    def send(self, cmd, **args):
        """Starts a command; returns its id (see result())."""
        cmd_id = next(self._ids)
        if self.proc.poll() is not None:
            raise AgentError(f"agent {self.name} is dead: {self.stderr()}")
        self.proc.stdin.write(json.dumps({"id": cmd_id, "cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        return cmd_id

    def result(self, cmd_id, wait=30, allow_error=False):
        """The command's result; raises AgentError if the command itself crashed (unless
        allow_error). An "error" field is an outcome (a refused connection), never raised."""
        ev = self.wait_event(lambda e: e["ev"] == "result" and e.get("id") == cmd_id, wait,
                             f"{self.name}: result of command {cmd_id}")
        if "crash" in ev and not allow_error:
            raise AgentError(f"agent {self.name} command {cmd_id} crashed: {ev['crash']}\n{ev.get('trace', '')}")
        return ev

    def call(self, cmd, wait=30, **args):
        """Runs a command and returns its result (`wait`: how long to wait for it)."""
        return self.result(self.send(cmd, **args), wait)

    def events(self, ev=None, cmd_id=None, since=0.0):
        with self._cond:
            return [e for e in self._events
                    if (ev is None or e["ev"] == ev) and (cmd_id is None or e.get("id") == cmd_id)
                    and e["at"] >= since]

    def wait_event(self, pred, timeout, what):
        def check():
            with self._cond:
                for e in self._events:
                    if pred(e):
                        return e
            if self.proc.poll() is not None:
                raise AgentError(f"agent {self.name} exited while waiting for {what}: {self.stderr()}")
            return None
        return wait_until(check, timeout, what, interval=0.02)

    def stderr(self):
        try:
            with open(self.stderr_path) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        netns.stop_process(self.proc)
        self._stderr.close()
