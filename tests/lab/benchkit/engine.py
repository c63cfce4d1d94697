"""Figure 1: the engine. In-process packets/s against the parse-only baseline (the
`engine` cargo bench), and whole commands: `ftwall inspect --summary` against
`ndpiReader -i FILE -q` on the same captures, timed over interleaved runs."""

import os
import shutil
import subprocess

from . import pcap
from .stats import Sample, ratio, run_timed

SHARED_CAPTURES = ["gnutella.pcap", "bittorrent.pcap", "edonkey.pcap", "bt-http.pcapng", "bt_search.pcap"]


def shared_dir(repo):
    for d in (os.path.join(repo, "..", "shared", "captures", "ndpi"),
              os.path.join(repo, "..", "..", "shared", "captures", "ndpi"),
              os.environ.get("FTWALL_CAPTURES", "")):
        if d and os.path.isdir(d):
            return os.path.abspath(d)
    return None


def cargo_bench(repo, out_dir, log):
    """Runs the engine bench; returns {name: {...}} of its `bench` lines."""
    p = subprocess.run(["cargo", "bench", "--locked", "--bench", "engine", "--", out_dir], cwd=repo,
                       capture_output=True, text=True)
    log.write(p.stderr)
    if p.returncode != 0:
        raise RuntimeError(f"cargo bench failed:\n{p.stderr[-3000:]}")
    figures, notes = {}, []
    for line in p.stdout.splitlines():
        parts = line.split()
        if parts[:2] == ["bench", "missing"]:
            notes.append(line.split(" ", 2)[2])
        elif len(parts) == 7 and parts[0] == "bench":
            kind, name, n = parts[1], parts[2], int(parts[3])
            figures.setdefault(name, {"packets": n})[kind] = [float(x) for x in parts[4:7]]
    if not figures:
        raise RuntimeError(f"cargo bench printed no figures:\n{p.stdout[-2000:]}")
    return figures, notes


def commands(ftwall, files, reps):
    """For each capture: wall and CPU time of ftwall inspect and of ndpiReader, in turns.
    Returns a list of dicts (file, packets, samples)."""
    ndpi = shutil.which("ndpiReader")
    rows = []
    for path in files:
        packets = pcap.count(path)
        runs = {"ftwall": ([], []), "ndpi": ([], [])}
        errors = []
        for _ in range(reps):
            for name, args in (("ftwall", [ftwall, "inspect", "--summary", path]),
                               ("ndpi", [ndpi, "-i", path, "-q"] if ndpi else None)):
                if args is None:
                    continue
                wall, cpu, code = run_timed(args)
                if code != 0:
                    errors.append(f"{name} exited with {code} on {os.path.basename(path)}")
                runs[name][0].append(wall)
                runs[name][1].append(cpu)
        rows.append({
            "file": os.path.basename(path), "packets": packets, "bytes": os.path.getsize(path),
            "ftwall_wall": Sample(runs["ftwall"][0], "s"), "ftwall_cpu": Sample(runs["ftwall"][1], "s"),
            "ndpi_wall": Sample(runs["ndpi"][0], "s"), "ndpi_cpu": Sample(runs["ndpi"][1], "s"),
            "errors": errors,
        })
    return rows


def speedup(row, kind):
    """ftwall's speed over ndpiReader's: ndpi time / ftwall time (median, run min, run max)."""
    return ratio(row[f"ndpi_{kind}"], row[f"ftwall_{kind}"])


def run(repo, ftwall, out_dir, reps, log):
    figures, notes = cargo_bench(repo, out_dir, log)
    result = {"cargo_bench": figures, "notes": notes}
    files = [os.path.join(out_dir, "synthetic.pcap")]
    shared = shared_dir(repo)
    if shared:
        files += [os.path.join(shared, f) for f in SHARED_CAPTURES if os.path.exists(os.path.join(shared, f))]
    result["commands"] = commands(ftwall, files, reps)
    result["ndpi_version"] = ndpi_version()
    return result


def ndpi_version():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "libndpi-bin"], capture_output=True, text=True).stdout
        return out.strip() or "?"
    except OSError:
        return "?"
