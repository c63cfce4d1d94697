#!/usr/bin/env python3
"""`make bench`: every figure of issue 8, each against its baseline in the same run, into
BENCHMARKS.md. Measures, never asserts; never part of `make test`.

1. engine: `cargo bench --bench engine` (engine vs parse-only), `ftwall inspect --summary`
   vs `ndpiReader -q` on the same captures;
2. queue: daemon vs a null NFQUEUE consumer in the lab;
3. forwarding: iperf3 bulk and short connections, no ftwall / rules + daemon / monitor;
4. memory: the daemon's peak RSS with full tables and after a million-source flood;
5. size: stripped binary per target;
6. latency: what P2P clients get out before they are locked.

Usage: benchmarks.py [--out BENCHMARKS.md] [--reps N] [--only PART,...] [--seconds S]
Needs root, a release build (make build) and the examples null_queue and memory_probe.
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from labnet import netns  # noqa: E402
from labnet.ftwall import REPO, binary  # noqa: E402
from benchkit import engine, report, size  # noqa: E402
from benchkit.stats import Sample, machine  # noqa: E402

PARTS = ("engine", "size", "queue", "forwarding", "memory", "latency")
LAB_PARTS = ("queue", "forwarding", "memory", "latency")


def git(*args):
    return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()


def example(name):
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    return os.path.join(target, "release", "examples", name)


def daemons(ftwall):
    """The binaries whose memory is measured: the host build, and the static musl build
    for x86_64 (what ships on routers, from `make cross`) when it is there."""
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    out = [("host release build (glibc, dynamically linked)", ftwall)]
    musl = os.path.join(target, "x86_64-unknown-linux-musl", "release", "ftwall")
    if os.path.exists(musl):
        out.append(("x86_64 musl, statically linked (how the router packages are built)", musl))
    return out


def memory(bench, builds, sources):
    """The last build (the one the goal is read on) takes the whole flood; the others a
    fifth of it, enough to show whether they stay flat, to keep `make bench` short."""
    runs = []
    for i, (label, program) in enumerate(builds):
        n = sources if i == len(builds) - 1 else sources // 5
        runs.append(dict(bench.memory(n, program), build=label))
    return {"runs": runs, "probe": memory_probe()}


def memory_probe():
    out = subprocess.run([example("memory_probe")], capture_output=True, text=True, timeout=300).stdout
    return [(w[1], int(w[2]), int(w[3])) for w in (line.split() for line in out.splitlines())
            if len(w) == 4 and w[0] == "memory"]


def shared_machine(mach):
    """A reason to call the machine shared, or None."""
    busy = mach["load"][0]
    if os.environ.get("BENCH_SHARED"):
        return os.environ["BENCH_SHARED"]
    if busy > 0.5 * (mach["cores"] or 1):
        return f"load average {busy:.1f} on {mach['cores']} cores before the run"
    return None


def jsonable(x):
    if hasattr(x, "as_dict"):
        return x.as_dict()
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x


def samples(x):
    """results.json read back: figures stored as {values, unit} become Samples again."""
    if isinstance(x, dict):
        if set(x) == {"values", "unit"}:
            return Sample(x["values"], x["unit"])
        return {k: samples(v) for k, v in x.items()}
    if isinstance(x, list):
        return [samples(v) for v in x]
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "BENCHMARKS.md"))
    ap.add_argument("--reps", type=int, default=int(os.environ.get("BENCH_REPS", "5")))
    ap.add_argument("--latency-reps", type=int, default=3)
    ap.add_argument("--cmd-reps", type=int, default=int(os.environ.get("BENCH_CMD_REPS", "5")))
    ap.add_argument("--seconds", type=float, default=2.0, help="length of each lab load")
    ap.add_argument("--sources", type=int, default=1_000_000, help="distinct sources in the memory flood")
    ap.add_argument("--only", default=",".join(PARTS))
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the report from the last run's target/bench/results.json, measuring nothing")
    args = ap.parse_args()
    parts = [p for p in args.only.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        ap.error(f"unknown parts {sorted(unknown)}; parts are {','.join(PARTS)}")
    if os.geteuid() != 0 and any(p in LAB_PARTS for p in parts):
        print("bench: the lab figures need root (network namespaces)", file=sys.stderr)
        return 1
    out_dir = os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target"), "bench")
    if args.report_only:
        with open(os.path.join(out_dir, "results.json")) as f:
            saved = samples(json.load(f))
        with open(args.out, "w") as f:
            f.write(report.Report(saved["meta"], saved["results"]).render())
        print(f"bench: rewrote {args.out} from {out_dir}/results.json", flush=True)
        return 0
    ftwall = binary()
    if not os.path.exists(ftwall):
        print(f"bench: no ftwall binary at {ftwall} (make build)", file=sys.stderr)
        return 1

    began = time.monotonic()
    mach = machine()
    meta = {"machine": mach, "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
            "commit": git("rev-parse", "--short=12", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!BENCHMARKS.md")),
            "reps": args.reps, "latency_reps": args.latency_reps, "cmd_reps": args.cmd_reps, "seconds": args.seconds, "shared": shared_machine(mach)}
    os.makedirs(out_dir, exist_ok=True)
    log = open(os.path.join(out_dir, "bench.log"), "w")
    results = {"errors": {}}

    def attempt(part, f):
        t = time.monotonic()
        print(f"bench: {part} ...", flush=True)
        try:
            results[part] = f()
        except Exception:  # one broken figure must not lose the others; the report shows it
            results["errors"][part] = traceback.format_exc()
            print(f"bench: {part} FAILED:\n{results['errors'][part]}", file=sys.stderr, flush=True)
        print(f"bench: {part} took {time.monotonic() - t:.0f} s", flush=True)

    if "engine" in parts:
        attempt("engine", lambda: engine.run(REPO, ftwall, out_dir, args.cmd_reps, log))
    if "size" in parts:
        attempt("size", lambda: size.run(REPO, ftwall))
    lab_parts = [p for p in parts if p in LAB_PARTS]
    if lab_parts:
        from benchkit.labbench import Bench
        netns.install_cleanup_handlers()
        netns.sweep_stale()
        bench = Bench(args.reps, example("null_queue"), log, seconds=args.seconds, latency_reps=args.latency_reps)
        try:
            attempt("lab", bench.up)
            if "lab" not in results["errors"]:
                if "queue" in lab_parts:
                    attempt("queue", bench.queue_path)
                if "forwarding" in lab_parts:
                    attempt("forwarding", bench.forwarding)
                if "memory" in lab_parts:
                    attempt("memory", lambda: memory(bench, daemons(ftwall), args.sources))
                if "latency" in lab_parts:
                    attempt("latency", bench.latency)
            else:
                for p in lab_parts:
                    results["errors"][p] = results["errors"]["lab"]
        finally:
            bench.down()
    meta["elapsed"] = time.monotonic() - began
    meta["load_after"] = os.getloadavg()
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump(jsonable({"meta": meta, "results": results}), f, indent=1)
    text = report.Report(meta, results).render()
    with open(args.out, "w") as f:
        f.write(text)
    print(f"bench: wrote {args.out} in {meta['elapsed'] / 60:.1f} minutes", flush=True)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
