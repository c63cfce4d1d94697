"""Figures 2, 3, 4 and 6, measured in one throw-away lab (tests/lab/labnet): the queue
path, forwarding, the daemon's memory, and what P2P clients get out before the lock.

The daemon runs as the OpenWrt package starts it by default (files/ftwall.config): a
two-minute time-lock, a storefile, a DNS training file, the shipped pattern list, the
`c` and `p` log letters (to a file here instead of syslog), on the lab router the rules of
the nft backend, or of the iptables backend where the kernel cannot queue from nftables.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from labnet import netns, topology
from labnet.ftwall import REPO, Ftwall
from labnet.poll import wait_until
from labnet.topology import ADDR, FT_PORT, ep

from . import pcap
from .dnsfill import PATTERN
from .stats import Sample

LOCK_SECS = 120
PATTERN_FILE = os.path.join(REPO, "files", "ftwall.patterns")
LAB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Internet-side hosts of the benchmarks (documentation ranges, on inet's loopback).
WINMX_SERVER = "198.51.100.90"
BT_PEER = "198.51.100.95"
BT_DHT = ["198.51.100.96", "198.51.100.97"]
DNS_FILL_SERVER = "203.0.113.55"
SHORT_PORT = 8080
# The distinct-source flood of the memory figure: packets per batch and per second.
FLOOD_BATCH = int(os.environ.get("BENCH_FLOOD_BATCH", "200000"))
FLOOD_RATE = int(os.environ.get("BENCH_FLOOD_RATE", "40000"))


class BenchFtwall(Ftwall):
    """The lab's ftwall driver with the package's default daemon options (plus the
    pattern the memory benchmark's DNS answers match)."""

    def daemon_args(self, lock_secs, monitor, extra):
        args = [self.bin, "-s", "-t", str(lock_secs), "-f", self.storefile, "-D", self.storefile + ".dns",
                "--pattern-file", PATTERN_FILE, "--pattern", PATTERN, "-L", "cp", "--lan-if", "lan", "--wan-if", "wan",
                "--backend", self.backend, "--status-file", self.status_file, "--pidfile", self.pidfile]
        if monitor:
            args.append("--monitor")
        return args + list(extra)

    def status(self):
        """Asks for a fresh status file; returns (counters, clients, peers, dns, when)."""
        before = _mtime(self.status_file)
        self.daemon.send_signal(signal.SIGUSR1)
        wait_until(lambda: _mtime(self.status_file) != before, 10, "a fresh status file")
        when = _mtime(self.status_file) / 1e9
        with open(self.status_file) as f:
            lines = [line.split() for line in f]
        counters = {w[1]: int(w[2]) for w in lines if len(w) == 3 and w[0] == "counter"}
        count = {k: sum(1 for w in lines if w and w[0] == k) for k in ("client", "peer", "dns")}
        return counters, count, when

    def memory_kib(self):
        return proc_memory(self.daemon.pid)


def nft_queue_works(ns):
    """True if this kernel queues from nftables rules (CONFIG_NFT_QUEUE); some kernels only
    have iptables' NFQUEUE target."""
    script = "table inet ftwall_probe {\n chain c {\n  type filter hook forward priority 0;\n  queue num 0 bypass\n }\n}\n"
    ok = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script, capture_output=True, text=True).returncode == 0
    if ok:
        netns.sh(["nft", "delete", "table", "inet", "ftwall_probe"], ns=ns)
    return ok


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def cpu_secs(pid):
    """CPU time a process used so far (all its threads), in seconds."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_memory(pid):
    """(VmHWM, VmRSS) of a process, in KiB."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                fields[k] = int(v.split()[0])
    return fields["VmHWM"], fields["VmRSS"]


def smaps_kib(pid):
    """Resident KiB by kind of mapping: the program's own file, shared libraries, heap and
    other anonymous memory, the stack."""
    exe = os.path.realpath(f"/proc/{pid}/exe")
    out = {"program": 0, "libraries": 0, "anonymous": 0, "stack": 0}
    kind = "anonymous"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            w = line.split()
            if not w[0].endswith(":"):  # a mapping's header: range perms offset dev inode [path]
                path = w[5] if len(w) > 5 else ""
                kind = ("program" if path == exe else "stack" if path == "[stack]" else
                        "anonymous" if path in ("", "[heap]") or path.startswith("[anon") else
                        "libraries")
            elif w[0] == "Rss:":
                out[kind] += int(w[1])
    return out


class Bench:
    def __init__(self, reps, null_queue, log, seconds=2.0, latency_reps=3):
        self.reps = reps
        self.latency_reps = latency_reps
        self.null_queue = null_queue
        self.log = log
        self.seconds = seconds
        self.workdir = tempfile.mkdtemp(prefix="ftwall-bench-")
        self.lab = topology.Lab(workdir=self.workdir)
        self.fw = None
        self.servers = []
        self.tools = {}
        self.backend = None

    def say(self, text):
        print(f"bench: {text}", flush=True)
        self.log.write(text + "\n")
        self.log.flush()

    # -- the lab ----------------------------------------------------------------------------
    def up(self):
        for tool in ("flood", "shortconn", "srcflood"):
            exe = os.path.join(self.workdir, tool)
            netns.sh(["gcc", "-O2", "-o", exe, os.path.join(LAB_DIR, "sim", tool + ".c")])
            self.tools[tool] = exe
        self.lab.up()
        r, inet = self.lab.ns["router"], self.lab.ns["inet"]
        self.backend = "nft" if nft_queue_works(r) else "iptables"
        self.say(f"rules backend: {self.backend}")
        # Short-lived flows end fast, so that floods keep making new ones and the
        # conntrack table never fills; spoofed LAN sources are not dropped by rp_filter.
        for k, v in (("net.netfilter.nf_conntrack_udp_timeout", 1), ("net.netfilter.nf_conntrack_udp_timeout_stream", 5),
                     ("net.netfilter.nf_conntrack_tcp_timeout_time_wait", 1), ("net.ipv4.conf.all.rp_filter", 0),
                     ("net.ipv4.conf.lan.rp_filter", 0)):
            netns.sh(["sysctl", "-qw", f"{k}={v}"], ns=r, check=False)
        for ns in (self.lab.ns["lan1"], inet):
            netns.sh(["sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"], ns=ns, check=False)
            netns.sh(["sysctl", "-qw", "net.ipv4.ip_local_port_range=10000 65000"], ns=ns, check=False)
        for ip in [WINMX_SERVER, BT_PEER, DNS_FILL_SERVER] + BT_DHT:
            netns.sh(["ip", "addr", "add", f"{ip}/32", "dev", "lo"], ns=inet)
        web = ADDR[4]["web"]
        self.spawn_server(["iperf3", "-s", "-B", web, "-p", "5201"], inet, "iperf3")
        self.spawn_server([self.tools["shortconn"], "serve", web, str(SHORT_PORT), "8"], inet, "shortconn")
        env = dict(os.environ, PYTHONPATH=LAB_DIR)
        self.spawn_server([sys.executable, "-m", "benchkit.dnsfill", "serve", DNS_FILL_SERVER, "16"], inet, "dnsfill",
                          env=env)
        a = self.lab.agent("inet")
        a.call("serve_winmx", ip=WINMX_SERVER, port=6699)
        for ip in [BT_PEER] + BT_DHT:
            a.call("serve_bt", ip=ip, port=6881)
        for port in (5201, SHORT_PORT):
            wait_until(lambda: netns.sh(["ss", "-ltnH", "sport", f"= :{port}"], ns=inet, check=False).strip(), 10,
                       f"a listener on port {port}")
        # Count (and drop, so nothing answers) the UDP floods where they arrive.
        netns.sh(["nft", "-f", "-"], ns=inet, input=(
            "table inet bench {\n chain input { type filter hook input priority 0; policy accept;\n"
            f"  ip saddr {ADDR[4]['lan1']} ip daddr {ADDR[4]['inet_wan']} udp dport 1024-65535 counter drop\n }}\n}}\n"))
        return {"backend": self.backend}

    def spawn_server(self, args, ns, name, env=None):
        out = open(os.path.join(self.workdir, f"{name}.log"), "w")
        self.servers.append(netns.spawn(args, ns=ns, stdout=out, stderr=out, cwd=LAB_DIR, env=env))
        out.close()

    def down(self):
        try:
            self.stop_ftwall()
        finally:
            for p in self.servers:
                netns.stop_process(p, signal.SIGKILL)
            self.lab.down()
            if not os.environ.get("BENCH_KEEP"):
                shutil.rmtree(self.workdir, ignore_errors=True)

    # -- what runs on the router ------------------------------------------------------------
    def start_ftwall(self, monitor=False, fresh=True, program=None):
        self.stop_ftwall()
        self.fw = BenchFtwall(self.lab, self.backend, self.workdir)
        if program:
            self.fw.bin = program
        if fresh:
            for f in (self.fw.storefile, self.fw.storefile + ".dns"):
                if os.path.exists(f):
                    os.remove(f)
        self.fw.apply_rules()
        self.fw.start(lock_secs=LOCK_SECS, monitor=monitor)
        return self.fw

    def stop_ftwall(self):
        if self.fw is not None:
            self.fw.close()
            self.fw = None

    def setup(self, kind):
        """none | daemon | monitor | null: what handles the router's packets."""
        self.stop_ftwall()
        if kind == "none":
            return None
        if kind in ("daemon", "monitor"):
            return self.start_ftwall(monitor=kind == "monitor")
        fw = BenchFtwall(self.lab, self.backend, self.workdir)
        fw.apply_rules()
        self.fw = fw
        fw.daemon = netns.spawn([self.null_queue], ns=self.lab.ns["router"], stdout=subprocess.PIPE,
                                stderr=open(os.devnull, "w"), text=True, bufsize=1)
        wait_until(fw._ready, 10, "the null consumer to bind its queue")
        return fw

    # -- figure 2: the queue path -----------------------------------------------------------
    def verdict_count(self, kind):
        """(verdicts so far, seconds, CPU seconds) of what handles the queue."""
        if kind == "null":
            self.fw.daemon.send_signal(signal.SIGUSR1)
            line = self.fw.daemon.stdout.readline().split()
            return int(line[1]), int(line[2]) / 1000.0, cpu_secs(self.fw.daemon.pid)
        counters, _, when = self.fw.status()
        return counters["packets"], when, cpu_secs(self.fw.daemon.pid)

    def queue_path(self):
        """Verdicts per second (wall clock) and per CPU second of the consumer, while the LAN
        host floods new UDP flows; the two consumers alternate."""
        window = max(1.0, self.seconds - 1.0)
        kinds = ("null", "daemon")
        wall = {k: [] for k in kinds}
        per_cpu = {k: [] for k in kinds}
        offered = {k: [] for k in kinds}
        for rep in range(self.reps):
            for kind in kinds:
                self.setup(kind)
                flood = netns.spawn([self.tools["flood"], ADDR[4]["inet_wan"], str(self.seconds + 1.0)],
                                    ns=self.lab.ns["lan1"], stdout=subprocess.PIPE, text=True)
                time.sleep(0.7)
                c0, t0, cpu0 = self.verdict_count(kind)
                time.sleep(window)
                c1, t1, cpu1 = self.verdict_count(kind)
                sent = int(flood.communicate(timeout=self.seconds + 30)[0].split()[1])
                wall[kind].append((c1 - c0) / (t1 - t0))
                per_cpu[kind].append((c1 - c0) / max(cpu1 - cpu0, 1e-6))
                offered[kind].append(sent / (self.seconds + 1.0))
                self.say(f"queue path rep {rep + 1}: {kind:6s} {wall[kind][-1]:9.0f} verdicts/s, "
                         f"{per_cpu[kind][-1]:9.0f} per CPU second ({(cpu1 - cpu0) / (t1 - t0) * 100:.0f}% of a core), "
                         f"offered {offered[kind][-1]:.0f}/s")
                self.stop_ftwall()
        return {"wall": {k: Sample(v, "verdicts/s") for k, v in wall.items()},
                "per_cpu": {k: Sample(v, "verdicts/CPU s") for k, v in per_cpu.items()},
                "offered": {k: Sample(v, "packets/s") for k, v in offered.items()}}

    # -- figure 3: forwarding ---------------------------------------------------------------
    def iperf(self):
        web = ADDR[4]["web"]
        out = netns.sh(["iperf3", "-c", web, "-p", "5201", "-t", str(self.seconds), "-O", "1", "-J"],
                       ns=self.lab.ns["lan1"], timeout=self.seconds + 30)
        import json
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9

    def short_connections(self):
        out = netns.sh([self.tools["shortconn"], "load", ADDR[4]["web"], str(SHORT_PORT), str(self.seconds), "16"],
                       ns=self.lab.ns["lan1"], timeout=self.seconds + 30)
        ok, failed = (int(x) for x in out.split()[1:3])
        return ok / self.seconds, failed

    def forwarding(self):
        kinds = ("none", "daemon", "monitor")
        bulk = {k: [] for k in kinds}
        short = {k: [] for k in kinds}
        failed = {k: 0 for k in kinds}
        for rep in range(self.reps):
            for kind in kinds:
                self.setup(kind)
                gbps = self.iperf()
                cps, bad = self.short_connections()
                bulk[kind].append(gbps)
                short[kind].append(cps)
                failed[kind] += bad
                self.say(f"forwarding rep {rep + 1}: {kind:8s} bulk {gbps:6.2f} Gbit/s, {cps:7.0f} connections/s ({bad} failed)")
                self.stop_ftwall()
        return {"bulk": {k: Sample(v, "Gbit/s") for k, v in bulk.items()},
                "short": {k: Sample(v, "connections/s") for k, v in short.items()}, "failed": failed}

    # -- figure 4: memory -------------------------------------------------------------------
    def router_mac(self):
        out = netns.sh(["ip", "-o", "link", "show", "lan"], ns=self.lab.ns["router"])
        return re.search(r"link/ether ([0-9a-f:]{17})", out).group(1)

    def src_flood(self, count, rate, first):
        out = netns.sh([self.tools["srcflood"], "eth0", self.router_mac(), str(count), str(rate), str(first)],
                       ns=self.lab.ns["lan1"], timeout=count / max(rate, 1000) + 60)
        return int(out.split()[1])

    def memory(self, sources=1_000_000, program=None, monitor=True, budget_secs=120.0):
        """Peak RSS with every table full, then after `sources` distinct sources, of the
        daemon `program` (default: the lab's binary)."""
        fw = self.start_ftwall(monitor=monitor, program=program)
        stages = []

        def stage(name, sent):
            counters, count, _ = fw.status()
            hwm, rss = fw.memory_kib()
            stages.append({"stage": name, "hwm_kib": hwm, "rss_kib": rss, "sent": sent, "seen": counters["packets"],
                           "smaps": smaps_kib(fw.daemon.pid),
                           "clients": count["client"], "peers": count["peer"], "dns": count["dns"],
                           "evicted": {k: counters.get(k, 0) for k in ("clients_evicted", "peers_evicted",
                                                                        "flows_evicted", "dns_evicted")}})
            self.say(f"memory {name}: VmHWM {hwm} KiB, VmRSS {rss} KiB; the daemon saw {counters['packets']} packets; "
                     f"holds {count['client']} clients, {count['peer']} peers, {count['dns']} DNS addresses")

        stage("started", 0)
        env = dict(os.environ, PYTHONPATH=LAB_DIR)
        p = subprocess.run(["ip", "netns", "exec", self.lab.ns["lan1"], sys.executable, "-m", "benchkit.dnsfill", "ask",
                            DNS_FILL_SERVER, "192"], cwd=LAB_DIR, env=env, capture_output=True, text=True, timeout=120)
        sent = self.src_flood(30_000, 20_000, 1)
        time.sleep(1.0)
        stage("tables-full", sent)
        total, first, began = 0, 1_000_000, time.monotonic()
        base = stages[-1]["seen"]
        while time.monotonic() - began < budget_secs:
            total += self.src_flood(FLOOD_BATCH, FLOOD_RATE, first + total)
            seen = fw.status()[0]["packets"] - base
            if seen >= sources:
                break
        self.say(f"memory flood: sent {total} in {time.monotonic() - began:.0f} s, the daemon saw {seen}")
        stage("after-flood", total)
        dns_answers = p.stdout.strip()
        self.stop_ftwall()
        return {"stages": stages, "monitor": monitor, "dns_fill": dns_answers}

    # -- figure 6: latency to block ---------------------------------------------------------
    def capture(self, role, path):
        p = netns.spawn(["tcpdump", "-i", "eth0", "--immediate-mode", "-U", "-n", "-s", "256", "-w", path, "host", ADDR[4]["lan1"]],
                        ns=self.lab.ns[role], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: "listening on" in (p.stderr.readline() or "") or p.poll() is not None, 10,
                   f"tcpdump in {role}")
        return p

    def scenario(self, name):
        """Runs one client; returns the P2P hosts it talked to."""
        lan1 = self.lab.agent("lan1")
        a = ADDR[4]
        if name == "FastTrack":
            lan1.call("kazaa_start", supernodes=[ep(ip, FT_PORT) for ip in a["supernodes"]], transfer=True,
                      connect_timeout=1.0, pong_wait=1.0, stall_timeout=1.0, wait=40)
            lan1.call("kazaa_stop")
            return set(a["supernodes"])
        if name == "WinMX":
            lan1.call("winmx_connect", host=WINMX_SERVER, port=6699, timeout=2.0, wait=20)
            return {WINMX_SERVER}
        if name == "BitTorrent":
            lan1.call("bt_client", peers=[BT_PEER], dht_nodes=BT_DHT, want=256 * 1024, timeout=2.0, wait=30)
            return {BT_PEER} | set(BT_DHT)
        raise ValueError(name)

    def latency_run(self, name, with_ftwall, tag):
        if with_ftwall:
            self.start_ftwall()
        else:
            self.stop_ftwall()
        lan_pcap = os.path.join(self.workdir, f"{tag}-lan.pcap")
        inet_pcap = os.path.join(self.workdir, f"{tag}-inet.pcap")
        caps = [self.capture("lan1", lan_pcap), self.capture("inet", inet_pcap)]
        try:
            hosts = self.scenario(name)
            time.sleep(0.5)
        finally:
            for c in caps:
                netns.stop_process(c, signal.SIGINT)
        locked = self.fw is not None and ADDR[4]["lan1"] in self.fw.locked(4)
        self.stop_ftwall()
        return count_leaks(lan_pcap, inet_pcap, ADDR[4]["lan1"], hosts), locked

    def latency(self):
        out = {}
        for name in ("FastTrack", "WinMX", "BitTorrent"):
            base, _ = self.latency_run(name, False, f"{name}-without")
            runs = []
            for rep in range(self.latency_reps):
                r, locked = self.latency_run(name, True, f"{name}-{rep}")
                r["locked"] = locked
                runs.append(r)
                self.say(f"latency {name} rep {rep + 1}: out before the lock {r['out_packets']} packets "
                         f"{r['out_bytes']} bytes ({r['out_payload_bytes']} payload bytes); payload bytes after the "
                         f"first detection {r['leaked_after_bytes']}; locked {locked}")
            self.say(f"latency {name} without ftwall: {base['out_packets']} packets, {base['out_payload_bytes']} payload bytes out")
            out[name] = {"without": base, "runs": runs}
        return out


def count_leaks(lan_pcap, inet_pcap, client, hosts):
    """What the client sent to the P2P hosts and what of it reached the internet.

    The first detection is the first payload packet the client sent to a P2P host that
    did not come out on the internet side (the daemon drops what it detects). Packets
    are matched across the router by their addresses, ports, TCP sequence and payload."""
    sent = [p for p in pcap.ip_packets(lan_pcap) if p.src == client and p.dst in hosts]
    out = [p for p in pcap.ip_packets(inet_pcap) if p.src == client and p.dst in hosts]
    arrived = {}
    for p in out:
        arrived[p.key] = arrived.get(p.key, 0) + 1
    remaining = dict(arrived)
    first_detection = None
    sent_at = {}
    for p in sent:
        sent_at.setdefault(p.key, []).append(p.t)
        if remaining.get(p.key, 0) > 0:
            remaining[p.key] -= 1
        elif p.payload > 0 and first_detection is None:
            first_detection = p.t
    leaked = []
    if first_detection is not None:
        for p in out:
            times = sent_at.get(p.key) or [p.t]
            if p.payload > 0 and min(times) > first_detection:
                leaked.append(p)
    return {
        "sent_packets": len(sent), "sent_bytes": sum(p.length for p in sent),
        "sent_payload_bytes": sum(p.payload for p in sent),
        "out_packets": len(out), "out_bytes": sum(p.length for p in out),
        "out_payload_packets": sum(1 for p in out if p.payload > 0),
        "out_payload_bytes": sum(p.payload for p in out),
        "detected": first_detection is not None,
        "leaked_after_packets": len(leaked), "leaked_after_bytes": sum(p.payload for p in leaked),
    }
