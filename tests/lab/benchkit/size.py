"""Figure 5: stripped binary size per target: the `make cross` binaries when they are
there (targets from cross/targets.tsv), the static x86_64 musl build when there, and
always the host's release build."""

import gzip
import os
import subprocess


def _row(target, path, source):
    with open(path, "rb") as f:
        data = f.read()
    kind = subprocess.run(["file", "-b", path], capture_output=True, text=True).stdout.strip() if _has("file") else ""
    return {"target": target, "bytes": len(data), "gzip_bytes": len(gzip.compress(data, 9)), "source": source,
            "stripped": "not stripped" not in kind, "file": kind}


def _has(tool):
    return any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get("PATH", "").split(":"))


def run(repo, host_bin):
    target_dir = os.environ.get("CARGO_TARGET_DIR") or os.path.join(repo, "target")
    rows = []
    targets = os.path.join(repo, "cross", "targets.tsv")
    if os.path.exists(targets):
        with open(targets) as f:
            for line in f:
                if not line.strip() or line.startswith("#"):
                    continue
                triple = line.split("\t")[0].strip()
                path = os.path.join(target_dir, triple, "release", "ftwall")
                if os.path.exists(path):
                    rows.append(_row(triple, path, "make cross"))
                else:
                    rows.append({"target": triple, "bytes": None, "source": "not built (run `make cross`)"})
    musl = "x86_64-unknown-linux-musl"
    path = os.path.join(target_dir, musl, "release", "ftwall")
    if os.path.exists(path) and not any(r["target"] == musl for r in rows):
        rows.append(_row(musl, path, "make bench (static, for the memory figure)"))
    host = os.uname().machine + " host (glibc, dynamic)"
    rows.append(_row(host, host_bin, "make build (release profile)"))
    return rows
