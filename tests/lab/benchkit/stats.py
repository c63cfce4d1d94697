"""Repeated measurements: min/median/max, ratios of interleaved runs, and timing whole
commands (wall clock and CPU time of the process and its children)."""

import os
import statistics
import subprocess
import time


class Sample:
    """Values of one figure over repeated runs."""

    def __init__(self, values, unit=""):
        self.values = [float(v) for v in values]
        self.unit = unit

    def __bool__(self):
        return bool(self.values)

    @property
    def min(self):
        return min(self.values)

    @property
    def median(self):
        return statistics.median(self.values)

    @property
    def max(self):
        return max(self.values)

    def as_dict(self):
        return {"values": self.values, "unit": self.unit}


def ratio(num, den):
    """Ratio of two samples whose runs alternated: (median, min, max) of the run-by-run
    ratios. Each pair ran close in time, so other work on the machine slows both sides of
    a pair alike more often than not; the median leaves out the pairs where it did not."""
    pairs = sorted(a / b for a, b in zip(num.values, den.values) if b)
    if not pairs:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(pairs), pairs[0], pairs[-1]


def run_timed(args, cwd=None, env=None, stdout=subprocess.DEVNULL):
    """Runs a command to its end; returns (wall seconds, CPU seconds, exit status).
    CPU time is user + system of the process (and anything it waited for)."""
    began = time.perf_counter()
    p = subprocess.Popen(args, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - began
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, p.returncode


def machine():
    """CPU model, cores, kernel, memory, and how busy the machine was."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kib = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {"cpu": model, "cores": os.cpu_count(), "kernel": os.uname().release, "machine": os.uname().machine,
            "mem_mib": mem_kib // 1024, "load": os.getloadavg()}
