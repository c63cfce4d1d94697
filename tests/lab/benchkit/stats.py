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
    """Ratio of two interleaved samples: (median/median, min, max of the run-by-run ratios)."""
    pairs = [a / b for a, b in zip(num.values, den.values) if b]
    med = num.median / den.median if den.median else float("nan")
    return med, (min(pairs) if pairs else med), (max(pairs) if pairs else med)


def best_ratio(num, den, lower_is_better=False):
    """Ratio of the best run of each side: the fastest rate, or the shortest time. On a
    machine shared with other jobs, which only ever slow a run down, the best run is the
    least disturbed estimate of each side."""
    if lower_is_better:
        return num.min / den.min if den.min else float("nan")
    return num.max / den.max if den.max else float("nan")


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
