"""A pytest test that builds a lab and hangs: the cleanup tests interrupt a pytest run of
it with Ctrl-C (SIGINT) and check that the lab fixture still removed everything."""

import os
import time


def test_hang(lab):
    with open(os.environ["FTWALL_LAB_NAMES"] + ".tmp", "w") as f:
        f.write("\n".join(lab.ns.values()))
    os.rename(os.environ["FTWALL_LAB_NAMES"] + ".tmp", os.environ["FTWALL_LAB_NAMES"])
    time.sleep(120)
