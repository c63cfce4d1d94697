"""The lab's remote-controlled traffic agent: one runs inside each namespace.

Commands arrive as JSON lines on stdin ({"id": n, "cmd": name, ...arguments}); every
command runs in its own thread and reports JSON events on stdout, each tagged with the
command's id, the last one being {"ev": "result", "id": n, ...} (with "crash" if the command
raised). The agent exits when
stdin closes, so a harness that dies takes its agents with it.
"""

import json
import sys
import threading
import time
import traceback

from . import bittorrent, dns, http_call, kazaa, load, peers, web, winmx_opennap

_out_lock = threading.Lock()


def emit(ev, **fields):
    fields["ev"] = ev
    fields["t"] = round(time.monotonic(), 3)
    line = json.dumps(fields, sort_keys=True)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


COMMANDS = {
    "serve_peers": peers.serve_peers,
    "serve_web": web.serve_web,
    "fetch": web.fetch,
    "connect": web.connect,
    "stream": web.stream,
    "resolve": dns.resolve,
    "kazaa_start": kazaa.start,
    "kazaa_stop": kazaa.stop,
    "transfer": kazaa.transfer,
    "ping_burst": kazaa.ping_burst,
    "serve_winmx": winmx_opennap.serve_winmx,
    "serve_opennap": winmx_opennap.serve_opennap,
    "serve_nap_transfer": winmx_opennap.serve_nap_transfer,
    "winmx_connect": winmx_opennap.winmx_connect,
    "opennap_login": winmx_opennap.opennap_login,
    "nap_get": winmx_opennap.nap_get,
    "serve_bt": bittorrent.serve_bt,
    "bt_client": bittorrent.bt_client,
    "fetch_loop": load.fetch_loop,
    "udp_flows": load.udp_flows,
    "http_call": http_call.http_call,
}


def _run(cmd_id, name, args):
    def report(ev, **fields):
        emit(ev, id=cmd_id, **fields)

    try:
        result = COMMANDS[name](report, **args)
        report("result", **(result or {}))
    except Exception as exc:  # reported, never swallowed: the harness fails the test
        # "crash", not "error": an "error" field is an ordinary outcome (a refused connection).
        report("result", crash=f"{type(exc).__name__}: {exc}", trace=traceback.format_exc())


def main():
    emit("hello")
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        cmd_id, name = msg.pop("id"), msg.pop("cmd")
        if name not in COMMANDS:
            emit("result", id=cmd_id, crash=f"unknown command {name}")
            continue
        threading.Thread(target=_run, args=(cmd_id, name, msg), daemon=True).start()
    # stdin closed: the harness is gone or done with us.
    sys.stdout.flush()


if __name__ == "__main__":
    main()
