"""Builds a lab, writes its namespace names to the file named by argv[1], and waits to be
killed. The cleanup tests signal it and check what it left behind. Cleans up only through
the harness's own handlers (atexit, SIGTERM/SIGHUP/SIGINT), as a test run would."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from labnet import netns, topology  # noqa: E402

netns.install_cleanup_handlers()
lab = topology.Lab(workdir=sys.argv[2]).up()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("\n".join(lab.ns.values()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)
