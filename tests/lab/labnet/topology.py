"""The lab network: two LAN hosts behind a switch, a router, and an "internet".

    lan1 (eth0) ─┐
                 ├─ sw (br0) ── (lan) router (wan) ── (eth0) inet
    lan2 (eth0) ─┘

The LAN uses private ranges (10.77.0.0/24, fd77:77::/64); everything beyond the router
uses documentation ranges only: the WAN link 192.0.2.0/24 and 2001:db8:2::/64, FastTrack
supernodes and peers in 198.51.100.0/24 and 2001:db8:51::/64, the web and DNS servers in
203.0.113.0/24 and 2001:db8:113::/64. The internet's hosts are addresses on inet's
loopback, served by one agent; the router routes without NAT so that every side sees the
real addresses. All namespaces are new and private to one lab.
"""

import os
import tempfile

from . import netns
from .agent import Agent
from .poll import wait_until

ADDR = {
    4: {
        "router_lan": "10.77.0.1", "lan1": "10.77.0.11", "lan2": "10.77.0.12", "lan_net": "10.77.0.0/24",
        "lan_prefix": 24,
        "router_wan": "192.0.2.1", "inet_wan": "192.0.2.254", "wan_prefix": 24,
        "supernodes": ["198.51.100.1", "198.51.100.2", "198.51.100.3"],
        "stranger": "198.51.100.50",  # a peer no client ever pings (scenario 4)
        "stranger_sn": "198.51.100.60",  # the supernode the stranger's transfer names
        "web": "203.0.113.80", "dns": "203.0.113.53",
        "host_prefix": 32,
    },
    6: {
        "router_lan": "fd77:77::1", "lan1": "fd77:77::11", "lan2": "fd77:77::12", "lan_net": "fd77:77::/64",
        "lan_prefix": 64,
        "router_wan": "2001:db8:2::1", "inet_wan": "2001:db8:2::254", "wan_prefix": 64,
        "supernodes": ["2001:db8:51::1", "2001:db8:51::2", "2001:db8:51::3"],
        "stranger": "2001:db8:51::50",
        "stranger_sn": "2001:db8:51::60",
        "web": "2001:db8:113::80", "dns": "2001:db8:113::53",
        "host_prefix": 128,
    },
}
FT_PORT = 1214
WEB_NAME = "web.example"
# Pace of the peers' HTTP transfers (bytes/s), so a transfer can be cut in its middle.
PEER_RATE = 256 * 1024


def ep(ip, port):
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class Lab:
    """One lab network. `up()` builds it, `down()` removes everything (idempotent)."""

    def __init__(self, workdir=None):
        self.workdir = workdir or tempfile.mkdtemp(prefix="ftwall-lab-")
        self.ns = {}
        self.agents = {}
        self.dnsmasq = None

    # -- building ---------------------------------------------------------------------
    def up(self, services=True):
        for role in ("sw", "lan1", "lan2", "router", "inet"):
            self.ns[role] = netns.add(role)
            # No duplicate address detection: a tentative link-local address would hold
            # back neighbour discovery (and the first IPv6 packets) for a second.
            for scope in ("default", "all"):
                netns.sh(["sysctl", "-qw", f"net.ipv6.conf.{scope}.accept_dad=0"], ns=self.ns[role])
        sw, r, inet = self.ns["sw"], self.ns["router"], self.ns["inet"]
        sh = netns.sh
        # No multicast snooping: the bridge would drop IPv6 neighbour solicitations to
        # hosts whose MLD joins it has not seen (they go unsent with DAD off), which left
        # IPv6 between the LAN hosts and the router dead in some runs (sendto: EINVAL).
        sh(["ip", "link", "add", "br0", "type", "bridge", "forward_delay", "0", "mcast_snooping", "0"], ns=sw)
        self._veth(r, "lan", sw, "r")
        self._veth(self.ns["lan1"], "eth0", sw, "h1")
        self._veth(self.ns["lan2"], "eth0", sw, "h2")
        self._veth(r, "wan", inet, "eth0")
        for port in ("r", "h1", "h2"):
            sh(["ip", "link", "set", port, "master", "br0", "up"], ns=sw)
        sh(["ip", "link", "set", "br0", "up"], ns=sw)

        for fam in (4, 6):
            a = ADDR[fam]
            self._addr(r, "lan", a["router_lan"], a["lan_prefix"])
            self._addr(r, "wan", a["router_wan"], a["wan_prefix"])
            self._addr(inet, "eth0", a["inet_wan"], a["wan_prefix"])
            for host in ("lan1", "lan2"):
                self._addr(self.ns[host], "eth0", a[host], a["lan_prefix"])
            for ip in a["supernodes"] + [a["stranger"], a["stranger_sn"], a["web"], a["dns"]]:
                self._addr(inet, "lo", ip, a["host_prefix"])
        for ns, dev in ((r, "lan"), (r, "wan"), (inet, "eth0"), (self.ns["lan1"], "eth0"), (self.ns["lan2"], "eth0")):
            sh(["ip", "link", "set", dev, "up"], ns=ns)

        sh(["sysctl", "-qw", "net.ipv4.ip_forward=1"], ns=r)
        sh(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"], ns=r)
        for host in ("lan1", "lan2"):
            sh(["ip", "route", "add", "default", "via", ADDR[4]["router_lan"]], ns=self.ns[host])
            sh(["ip", "-6", "route", "add", "default", "via", ADDR[6]["router_lan"]], ns=self.ns[host])
        sh(["ip", "route", "add", "default", "via", ADDR[4]["inet_wan"]], ns=r)
        sh(["ip", "-6", "route", "add", "default", "via", ADDR[6]["inet_wan"]], ns=r)
        sh(["ip", "route", "add", ADDR[4]["lan_net"], "via", ADDR[4]["router_wan"]], ns=inet)
        sh(["ip", "-6", "route", "add", ADDR[6]["lan_net"], "via", ADDR[6]["router_wan"]], ns=inet)
        self._wait_for_links()
        if services:
            self.start_services()
        return self

    def _wait_for_links(self, deadline_s=10):
        """Waits until every host reaches its next hop on both families. A packet sent
        before new links carry traffic leaves its neighbour entry FAILED, and until that
        entry is probed again every send to that next hop fails at once (sendto: EINVAL):
        on a loaded machine that broke whole runs."""
        hops = []
        for fam in (4, 6):
            a = ADDR[fam]
            hops += [(h, a["router_lan"]) for h in ("lan1", "lan2")]
            hops += [("router", a["lan1"]), ("router", a["lan2"]), ("router", a["inet_wan"]), ("inet", a["router_wan"])]

        def reaches(role, ip):
            try:
                netns.sh(["ping", "-c", "1", "-W", "1", ip], ns=self.ns[role])
                return True
            except netns.CommandError:
                return False

        for role, ip in hops:
            wait_until(lambda: reaches(role, ip), deadline_s, f"{role} to reach {ip}")

    def _veth(self, ns_a, name_a, ns_b, name_b):
        netns.sh(["ip", "link", "add", name_a, "type", "veth", "peer", "name", name_b, "netns", ns_b], ns=ns_a)

    def _addr(self, ns, dev, ip, prefix):
        extra = ["nodad"] if ":" in ip else []
        netns.sh(["ip", "addr", "add", f"{ip}/{prefix}", "dev", dev] + extra, ns=ns)

    def start_services(self):
        inet = self.agent("inet")
        peers = []
        for fam in (4, 6):
            a = ADDR[fam]
            for ip in a["supernodes"] + [a["stranger"], a["stranger_sn"]]:
                peers.append({"ip": ip, "port": FT_PORT})
            inet.call("serve_web", ip=a["web"], port=80)
        self.peers_cmd = inet.send("serve_peers", peers=peers, rate=PEER_RATE)
        inet.result(self.peers_cmd, wait=10)
        self._start_dns()
        self.agent("lan1")
        self.agent("lan2")

    def _start_dns(self):
        log = open(os.path.join(self.workdir, "dnsmasq.log"), "w")
        self.dnsmasq = netns.spawn(
            ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
             "--bind-interfaces", "--listen-address", ADDR[4]["dns"], "--listen-address", ADDR[6]["dns"],
             "--pid-file=", "--user=root", "--group=root", "--log-facility=-",
             f"--host-record={WEB_NAME},{ADDR[4]['web']},{ADDR[6]['web']}"],
            ns=self.ns["inet"], stdout=log, stderr=log)
        log.close()
        wait_until(self._dns_answers, 10, "dnsmasq to answer")

    def _dns_answers(self):
        if self.dnsmasq.poll() is not None:
            raise AssertionError(f"dnsmasq exited: {open(os.path.join(self.workdir, 'dnsmasq.log')).read()}")
        inet = self.agent("inet")
        r = inet.result(inet.send("resolve", name=WEB_NAME, server=ADDR[4]["dns"], timeout=0.3))
        return r.get("ok")

    def agent(self, role):
        if role not in self.agents:
            self.agents[role] = Agent(self.ns[role], role, self.workdir)
        return self.agents[role]

    # -- teardown ---------------------------------------------------------------------
    def down(self):
        for a in self.agents.values():
            a.close()
        self.agents = {}
        if self.dnsmasq is not None:
            netns.stop_process(self.dnsmasq)
            self.dnsmasq = None
        for name in reversed(list(self.ns.values())):
            netns.delete(name)
        self.ns = {}


def add_host(lab, ip):
    """Another internet host: `ip` on the internet namespace's loopback."""
    prefix = "128" if ":" in ip else "32"
    extra = ["nodad"] if ":" in ip else []
    netns.sh(["ip", "addr", "add", f"{ip}/{prefix}", "dev", "lo"] + extra, ns=lab.ns["inet"])


def dnsmasq(lab, ns_role, listen, extra, logname):
    """Another DNS server (dnsmasq, logging its queries to `logname` in the lab's
    directory) in namespace `ns_role`; the caller stops it with netns.stop_process."""
    log = open(os.path.join(lab.workdir, logname), "w")
    args = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-hosts", "--bind-interfaces",
            "--pid-file=", "--user=root", "--group=root", "--log-facility=-", "--log-queries"]
    args += [f"--listen-address={a}" for a in listen] + extra
    p = netns.spawn(args, ns=lab.ns[ns_role], stdout=log, stderr=log)
    log.close()
    return p
