"""Direct Connect with real programs: uhub (Debian's ADC hub) and two EiskaltDC++ daemons
(eiskaltdcpp-daemon, driven over its JSON-RPC interface), one sharing a file on the lab's
internet, one on the LAN that does what a user does: join the hub, fetch the sharer's file
list, queue the file it lists (by its TTH) and let the queue match the list.

Debian packages no NMDC hub, so the scenario is ADC; the NMDC side of the detector (hub
speaks first) is covered by the unit and replay tests.
"""

import base64
import bz2
import glob
import json
import os
import xml.etree.ElementTree as ET

from . import netns
from .poll import wait_until
from .real import CLIENT_IP, Client, add_inet_host, check_alive, http_call, make_file, same_file, spawn

HUB = "203.0.113.11"
HUB_PORT = 1511
HUB_URL = f"adc://{HUB}:{HUB_PORT}"
SHARER = "198.51.100.102"
SHARER_NICK = "sharer"
RPC_PORT = 3121


def write_config(d, nick, ip, port, download_dir, share_dir=None):
    """DCPlusPlus.xml: a private ID of its own (two daemons started in the same second
    otherwise draw the same one, and the hub refuses the second as "CID taken"), active
    mode on the given address and ports, hashing at once, no dynamic-DNS lookup."""
    os.makedirs(d, exist_ok=True)
    pid = base64.b32encode(os.urandom(24)).decode().rstrip("=")
    settings = {
        "CID": pid, "Nick": nick, "InPort": port, "UDPPort": port, "TLSPort": port + 1,
        "IncomingConnections": 0, "ExternalIp": ip, "BindAddress": ip, "NoIpOverride": 1,
        "DownloadDirectory": download_dir + "/", "TempDownloadDirectory": os.path.join(d, "incomplete") + "/",
        "HashingStartDelay": 0, "EnableDynDNS": 0, "Slots": 5,
    }
    lines = ['<?xml version="1.0" encoding="utf-8" standalone="yes"?>', "<DCPlusPlus>", "\t<Settings>"]
    for key, value in settings.items():
        kind = "int" if isinstance(value, int) else "string"
        lines.append(f'\t\t<{key} type="{kind}">{value}</{key}>')
    lines.append("\t</Settings>")
    if share_dir:
        lines += ["\t<Share>", f'\t\t<Directory Virtual="share">{share_dir}/</Directory>', "\t</Share>"]
    lines.append("</DCPlusPlus>")
    with open(os.path.join(d, "DCPlusPlus.xml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def rpc(lab, role, port, method, **params):
    """One JSON-RPC call to the daemon in namespace `role`; None while it does not answer."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    r = http_call(lab, role, "127.0.0.1", port, "/eiskaltdcpp", method="POST", body=body,
                  headers={"Content-Type": "application/json"}, timeout=3.0)
    if r.get("status") != 200:
        return None
    return json.loads(r["body"]).get("result")


class Hub:
    def __init__(self, lab, workdir):
        self.lab = lab
        self.dir = os.path.join(workdir, "uhub")
        os.makedirs(self.dir, exist_ok=True)
        plugins = os.path.join(self.dir, "plugins.conf")
        open(plugins, "w").close()
        self.conf = os.path.join(self.dir, "uhub.conf")
        with open(self.conf, "w") as f:
            f.write(f"server_port={HUB_PORT}\nserver_bind_addr={HUB}\nhub_name=lab hub\nhub_enabled=1\n"
                    f"registered_users_only=0\nmax_users=10\nfile_plugins={plugins}\n")
        self.proc = None

    def start(self):
        add_inet_host(self.lab, HUB)
        log = os.path.join(self.dir, "uhub.log")
        self.proc = spawn(self.lab, "inet", ["uhub", "-c", self.conf], log)
        wait_until(lambda: check_alive(self.proc, "uhub", log) or self.lab.agent("inet").call(
            "connect", host=HUB, port=HUB_PORT, timeout=1.0).get("ok"), 10, "uhub to listen")

    def stop(self):
        if self.proc is not None:
            netns.stop_process(self.proc)
            self.proc = None


class Daemon:
    """One eiskaltdcpp-daemon in a namespace."""

    def __init__(self, lab, role, d, rpc_port):
        self.lab, self.role, self.dir, self.rpc_port = lab, role, d, rpc_port
        self.log = os.path.join(d, "daemon.log")
        self.proc = spawn(lab, role, ["eiskaltdcpp-daemon", "-c", d + "/", "-L", "127.0.0.1", "-P", str(rpc_port)],
                          self.log)

    def call(self, method, **params):
        check_alive(self.proc, f"eiskaltdcpp-daemon in {self.role}", self.log)
        return rpc(self.lab, self.role, self.rpc_port, method, **params)

    def hub(self):
        desc = self.call("hub.listfulldesc") or {}
        return desc.get(HUB_URL, {}) if isinstance(desc, dict) else {}

    def stop(self):
        if self.proc is not None:
            netns.stop_process(self.proc, timeout=10)
            self.proc = None


class DcSharer:
    def __init__(self, lab, workdir, name, size):
        self.lab, self.name, self.size = lab, name, size
        self.dir = os.path.join(workdir, "dc-sharer")
        share = os.path.join(self.dir, "share")
        self.sha256 = make_file(os.path.join(share, name), size)
        write_config(self.dir, SHARER_NICK, SHARER, 4100, os.path.join(self.dir, "download"), share_dir=share)
        self.daemon = None

    def start(self):
        add_inet_host(self.lab, SHARER)
        self.daemon = Daemon(self.lab, "inet", self.dir, RPC_PORT)
        wait_until(lambda: self.daemon.call("show.version"), 15, "the sharing eiskaltdcpp-daemon's RPC")
        wait_until(self._hashed, 20, "the sharer to hash its file")
        self.daemon.call("hub.add", huburl=HUB_URL, enc="")
        wait_until(lambda: self.daemon.hub().get("connected") == "1", 15, "the sharer to join the hub")

    def _hashed(self):
        st = self.daemon.call("hash.status") or {}
        if st.get("status") == "pause":
            # The daemon can start with its hasher paused; hash.pause toggles it.
            self.daemon.call("hash.pause")
            return False
        return st.get("filesleft") == 0 and st.get("bytesleft") == 0 and "0 B" not in (
            self.daemon.call("share.list", separator=";") or "0 B")

    def stop(self):
        if self.daemon is not None:
            self.daemon.stop()


class DcLeecher(Client):
    """eiskaltdcpp-daemon on lan1. complete() takes the user's steps one at a time, as far
    as the network lets it."""

    protocol = "directconnect"
    program = "eiskaltdcpp-daemon"
    client = "EiskaltDC++ 2.4.2 daemon"

    def __init__(self, lab, workdir, sharer, name, reason, proves):
        super().__init__(lab, workdir, name, reason, proves, sharer.size)
        self.sharer = sharer
        self.daemon = None

    def start(self, run):
        self.dir = os.path.join(self.workdir, f"dc-run{run}")
        self.dl = os.path.join(self.dir, "download")
        os.makedirs(self.dl, exist_ok=True)
        write_config(self.dir, f"leecher{run}", CLIENT_IP, 4200 + 10 * run, self.dl)
        self.daemon = Daemon(self.lab, "lan1", self.dir, RPC_PORT + run)
        self.step = "starting"

    def complete(self):
        d = self.daemon
        if self.step == "starting":
            if d.call("show.version"):
                d.call("hub.add", huburl=HUB_URL, enc="")
                self.step = "joining the hub"
        elif self.step == "joining the hub":
            if SHARER_NICK in (d.call("hub.getusers", huburl=HUB_URL, separator=";") or "").split(";"):
                d.call("list.download", huburl=HUB_URL, nick=SHARER_NICK)
                self.step = "fetching the file list"
        elif self.step == "fetching the file list":
            lists = glob.glob(os.path.join(self.dir, "FileLists", f"{SHARER_NICK}.*.xml.bz2"))
            if lists:
                entry = self._listed_file(lists[0])
                if entry is not None:
                    d.call("queue.add", directory=self.dl + "/", tth=entry.get("TTH"), filename=self.sharer.name,
                           size=int(entry.get("Size")))
                    d.call("queue.matchlists")
                    self.step = "downloading"
        elif self.step == "downloading":
            return same_file(os.path.join(self.dl, self.sharer.name), self.size, self.sharer.sha256)
        return False

    def _listed_file(self, path):
        try:
            root = ET.fromstring(bz2.decompress(open(path, "rb").read()))
        except (OSError, ValueError, ET.ParseError):
            return None  # still being written
        for f in root.iter("File"):
            if f.get("Name") == self.sharer.name:
                return f
        raise AssertionError(f"the sharer's file list does not list {self.sharer.name}: {path}")

    def state(self):
        hub = self.daemon.hub() if self.daemon else {}
        return f"eiskaltdcpp-daemon: {self.step}; hub connected {hub.get('connected', '?')}, users {hub.get('users', '?')}"

    def stop(self):
        if self.daemon is not None:
            self.daemon.stop()
            self.daemon = None
