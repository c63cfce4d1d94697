"""BitTorrent with real programs from Debian: opentracker (HTTP and UDP tracker), a
transmission-daemon seeder on the lab's internet, and the LAN clients transmission-cli and
aria2c. Torrents are made with mktorrent from files of random bytes.

A tracker runs either on the internet (its announces cross the router, so ftwall sees the
tracker protocol) or on the router itself, bound to its LAN address: then the announces
never cross the LAN-to-internet path ftwall guards, and only the peer wire to the seeder
does, which is how a scenario proves a peer-wire detection on its own.
"""

import dataclasses
import json
import os
import re
import shutil
import subprocess
from urllib.parse import quote_from_bytes

from . import netns, topology
from .poll import wait_until
from .real import Client, add_inet_host, check_alive, http_call, make_file, same_file, spawn, tail

SEEDER = "198.51.100.100"
SEED_PORT = 51413
INET_TRACKER = "203.0.113.69"
ROUTER_TRACKER = topology.ADDR[4]["router_lan"]
TRACKER_PORT = 6969
# Whitelisted in every tracker and never seeded: announcing it tells whether opentracker
# (Debian builds it with a whitelist) has loaded its list yet.
PROBE_HASH = bytes(range(20))


@dataclasses.dataclass
class Torrent:
    name: str
    size: int
    sha256: str
    data_path: str
    path: str
    info_hash: str  # hex
    tracker_ip: str


def info_hash(torrent_path):
    out = subprocess.run(["transmission-show", torrent_path], capture_output=True, text=True, check=True).stdout
    m = re.search(r"^\s*Hash:\s*([0-9a-f]{40})\s*$", out, re.M)
    assert m, f"no info hash in transmission-show output:\n{out}"
    return m.group(1)


class Swarm:
    """Trackers and a seeder on the lab's internet; add() torrents, then start()."""

    def __init__(self, lab, workdir):
        self.lab = lab
        self.dir = os.path.join(workdir, "swarm")
        self.data_dir = os.path.join(self.dir, "data")
        self.watch_dir = os.path.join(self.dir, "watch")
        for d in (self.data_dir, self.watch_dir):
            os.makedirs(d, exist_ok=True)
        self.torrents = []
        self.procs = []

    def add(self, name, size, scheme="http", where="inet"):
        """A file of `size` random bytes and its torrent, announced over `scheme` (http or
        udp) to the tracker on the internet ("inet") or on the router ("router")."""
        ip = INET_TRACKER if where == "inet" else ROUTER_TRACKER
        data = os.path.join(self.data_dir, name)
        sha = make_file(data, size)
        path = os.path.join(self.dir, name + ".torrent")
        url = f"{scheme}://{ip}:{TRACKER_PORT}/announce"
        subprocess.run(["mktorrent", "-l", "16", "-a", url, "-o", path, data], capture_output=True, check=True)
        t = Torrent(name, size, sha, data, path, info_hash(path), ip)
        self.torrents.append(t)
        return t

    def start(self, seeder_tcp=True):
        """Starts the trackers the torrents name and the seeder; returns once the seeder is
        registered with every tracker. seeder_tcp=False drops TCP to the seeder's peer port
        on the internet side, so that a client can only reach it over uTP."""
        for ip in sorted({t.tracker_ip for t in self.torrents}):
            self._start_tracker(ip)
        add_inet_host(self.lab, SEEDER)
        if not seeder_tcp:
            netns.sh(["iptables", "-w", "-A", "INPUT", "-p", "tcp", "-d", SEEDER, "--dport", str(SEED_PORT),
                      "-j", "DROP"], ns=self.lab.ns["inet"])
        self._start_seeder()
        for t in self.torrents:
            wait_until(lambda t=t: self._seeded(t), 20, f"the seeder to register {t.name} with {t.tracker_ip}")

    def _start_tracker(self, ip):
        where = "router" if ip == ROUTER_TRACKER else "inet"
        if where == "inet":
            add_inet_host(self.lab, ip)
        root = os.path.join(self.dir, f"opentracker-{where}")
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, "whitelist"), "w") as f:
            for h in [PROBE_HASH.hex()] + [t.info_hash for t in self.torrents if t.tracker_ip == ip]:
                f.write(h + "\n")
        log = os.path.join(self.dir, f"opentracker-{where}.log")
        # -d: it chroots there and drops to user nobody, so the whitelist path is relative.
        p = spawn(self.lab, where, ["opentracker", "-i", ip, "-p", str(TRACKER_PORT), "-P", str(TRACKER_PORT),
                                    "-d", root, "-w", "whitelist"], log)
        self.procs.append(p)
        wait_until(lambda: check_alive(p, "opentracker", log) or self._whitelist_loaded(ip), 10,
                   f"opentracker on {ip} to load its whitelist")

    def _announce_probe(self, ip):
        q = (f"/announce?info_hash={quote_from_bytes(PROBE_HASH)}&peer_id={quote_from_bytes(b'-LAB000-probeprobe00')}"
             f"&port=1&uploaded=0&downloaded=0&left=0&event=stopped&compact=1")
        return http_call(self.lab, "inet", ip, TRACKER_PORT, q, timeout=2.0)

    def _whitelist_loaded(self, ip):
        r = self._announce_probe(ip)
        return r.get("status") == 200 and "failure reason" not in r.get("body", "")

    def _seeded(self, t):
        check_alive(self.seeder, "the transmission-daemon seeder", self.seeder_log)
        q = f"/scrape?info_hash={quote_from_bytes(bytes.fromhex(t.info_hash))}"
        r = http_call(self.lab, "inet", t.tracker_ip, TRACKER_PORT, q, timeout=2.0)
        m = re.search(r"8:completei(\d+)e", r.get("body", ""))
        return m is not None and int(m.group(1)) >= 1

    def _start_seeder(self):
        cfg = os.path.join(self.dir, "seeder-config")
        os.makedirs(cfg, exist_ok=True)
        settings = {
            "bind-address-ipv4": SEEDER, "peer-port": SEED_PORT, "peer-port-random-on-start": False,
            "download-dir": self.data_dir, "incomplete-dir-enabled": False,
            "watch-dir-enabled": True, "watch-dir": self.watch_dir, "start-added-torrents": True,
            # Only the tracker tells who has what: no DHT, no local discovery, no exchange.
            "dht-enabled": False, "lpd-enabled": False, "pex-enabled": False, "utp-enabled": True,
            "encryption": 1, "port-forwarding-enabled": False, "blocklist-enabled": False,
            "ratio-limit-enabled": False, "idle-seeding-limit-enabled": False, "speed-limit-up-enabled": False,
            "alt-speed-enabled": False, "rpc-enabled": False, "message-level": 2,
        }
        with open(os.path.join(cfg, "settings.json"), "w") as f:
            json.dump(settings, f)
        for t in self.torrents:
            shutil.copy(t.path, self.watch_dir)
        self.seeder_log = os.path.join(self.dir, "seeder.log")
        self.seeder = spawn(self.lab, "inet", ["transmission-daemon", "-f", "-g", cfg], self.seeder_log)
        self.procs.append(self.seeder)

    def stop(self):
        for p in self.procs:
            netns.stop_process(p)
        self.procs = []


class Leecher(Client):
    """A BitTorrent client on lan1; subclasses give its command line."""

    protocol = "bittorrent"

    def __init__(self, lab, workdir, torrent, name, reason, proves):
        super().__init__(lab, workdir, name, reason, proves, torrent.size)
        self.torrent = torrent
        self.proc = None
        self.log = None
        self.dl = None

    def start(self, run):
        d = os.path.join(self.workdir, f"{self.program}-run{run}")
        self.dl = os.path.join(d, "download")
        os.makedirs(self.dl, exist_ok=True)
        self.log = os.path.join(d, "client.log")
        self.proc = spawn(self.lab, "lan1", self.command(d, run), self.log)

    def complete(self):
        check_alive_unless_done(self)
        return same_file(os.path.join(self.dl, self.torrent.name), self.size, self.torrent.sha256)

    def state(self):
        have = 0
        # transmission keeps an incomplete file as NAME.part; aria2 writes NAME in place.
        for name in (self.torrent.name, self.torrent.name + ".part"):
            path = os.path.join(self.dl or "", name)
            if os.path.exists(path):
                have = os.path.getsize(path)
        return f"{self.program}: {have} of {self.size} bytes on disk"

    def stop(self):
        if self.proc is not None:
            netns.stop_process(self.proc)
            self.proc = None


def check_alive_unless_done(leecher):
    """A client may exit once its download is complete (aria2 --seed-time=0); before that,
    an exit is a failure to report with its log."""
    p = leecher.proc
    if p is not None and p.poll() is not None and not same_file(
            os.path.join(leecher.dl, leecher.torrent.name), leecher.size, leecher.torrent.sha256):
        raise AssertionError(f"{leecher.program} exited with status {p.returncode}:\n{tail(leecher.log)}")


class TransmissionCli(Leecher):
    """transmission-cli 3.00. encryption: "tolerated" (plaintext), "preferred" or
    "required"; utp: whether uTP may be used (Transmission tries it before TCP)."""

    program = "transmission-cli"
    client = "transmission-cli 3.00"

    def __init__(self, lab, workdir, torrent, name, reason, proves, encryption, utp):
        super().__init__(lab, workdir, torrent, name, reason, proves)
        self.encryption, self.utp = encryption, utp

    def command(self, d, run):
        cfg = os.path.join(d, "config")
        os.makedirs(cfg, exist_ok=True)
        settings = {"dht-enabled": False, "lpd-enabled": False, "pex-enabled": False, "utp-enabled": self.utp,
                    "port-forwarding-enabled": False, "blocklist-enabled": False, "message-level": 2,
                    "peer-port-random-on-start": False}
        with open(os.path.join(cfg, "settings.json"), "w") as f:
            json.dump(settings, f)
        flag = {"tolerated": "-et", "preferred": "-ep", "required": "-er"}[self.encryption]
        return ["transmission-cli", "-g", cfg, "-w", self.dl, "-p", str(51420 + run), "-M", flag, self.torrent.path]


class Aria2(Leecher):
    """aria2c 1.36 with MSE required. aria2 only speaks to UDP trackers through its DHT
    socket, so DHT is on (with no node to ask: nothing is sent on it but the tracker's)."""

    program = "aria2c"
    client = "aria2c 1.36"

    def command(self, d, run):
        return ["aria2c", "--enable-dht=true", f"--dht-listen-port={6990 + run}",
                f"--dht-file-path={os.path.join(d, 'dht.dat')}", "--enable-dht6=false", "--bt-enable-lpd=false",
                "--enable-peer-exchange=false", "--bt-require-crypto=true", "--bt-min-crypto-level=arc4",
                f"--listen-port={6890 + run}", "--seed-time=0", "--file-allocation=none", "--summary-interval=0",
                "--console-log-level=notice", f"--dir={self.dl}", self.torrent.path]
