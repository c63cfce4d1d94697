"""eDonkey with real programs: two aMule daemons (amuled from Debian's amule-daemon, driven
by amulecmd over aMule's external connections), one sharing a file on the lab's internet,
one on the LAN that is given an ed2k link whose sources list names the sharer.

Debian packages no eD2k server, and aMule asks a link's sources only while it is connected
to a network (CPartFile::Process checks IsConnected before AskForDownload), so both join Kad:
the LAN client's nodes.dat is a bootstrap-only file that names the sharer's Kad node by
ip:port, with the Kad ID the sharer is given in its preferencesKad.dat (Kad packets are
obfuscated with the receiver's ID, so the two must agree).
"""

import hashlib
import ipaddress
import os
import struct

from . import netns
from .poll import wait_until
from .real import Client, add_inet_host, check_alive, make_file, same_file, spawn

SHARER = "198.51.100.101"
TCP_PORT, UDP_PORT = 4662, 4672
EC_PORT = 4712
EC_PASSWORD = "lab"
KAD_VERSION = 8  # aMule 2.3's Kad protocol version
# eD2k hashes a file in parts of this size; one MD4 suffices below it.
PART_SIZE = 9728000


def _rotl(x, n):
    x &= 0xFFFFFFFF
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def md4(data):
    """MD4 (RFC 1320), which eD2k names files by; Python's hashlib no longer offers it."""
    msg = bytearray(data)
    bits = (8 * len(data)) & 0xFFFFFFFFFFFFFFFF
    msg.append(0x80)
    msg.extend(b"\0" * ((56 - len(msg) % 64) % 64))
    msg += struct.pack("<Q", bits)
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    rounds = (
        (lambda x, y, z: (x & y) | (~x & z), 0, range(16), (3, 7, 11, 19)),
        (lambda x, y, z: (x & y) | (x & z) | (y & z), 0x5A827999,
         [(i % 4) * 4 + i // 4 for i in range(16)], (3, 5, 9, 13)),
        (lambda x, y, z: x ^ y ^ z, 0x6ED9EBA1, (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15), (3, 9, 11, 15)),
    )
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off:off + 64])
        a, b, c, d = state
        for f, k, order, shifts in rounds:
            for i, w in enumerate(order):
                # Each step updates one of a, d, c, b in turn, from the other three.
                s = shifts[i % 4]
                if i % 4 == 0:
                    a = _rotl(a + f(b, c, d) + x[w] + k, s)
                elif i % 4 == 1:
                    d = _rotl(d + f(a, b, c) + x[w] + k, s)
                elif i % 4 == 2:
                    c = _rotl(c + f(d, a, b) + x[w] + k, s)
                else:
                    b = _rotl(b + f(c, d, a) + x[w] + k, s)
        state = [(v + n) & 0xFFFFFFFF for v, n in zip(state, (a, b, c, d))]
    return struct.pack("<4I", *state)


def ed2k_link(path, name, source):
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) < PART_SIZE, "only single-part files here: their eD2k hash is their MD4"
    return f"ed2k://|file|{name}|{len(data)}|{md4(data).hex().upper()}|/|sources,{source}|/"


def write_conf(d, nick, tcp, udp, ec_port, address="", sharer=False):
    """amule.conf for a daemon that only does what the scenario needs: Kad on (no eD2k
    server exists), nothing fetched from the internet, LAN addresses allowed (the lab's
    client has one), and as a sharer no upload ramp-up (aMule starts each slot slowly)."""
    os.makedirs(os.path.join(d, "Temp"), exist_ok=True)
    os.makedirs(os.path.join(d, "Incoming"), exist_ok=True)
    lines = [
        "[eMule]", f"Nick={nick}", f"Port={tcp}", f"UDPPort={udp}", "UDPEnable=1", f"Address={address}",
        "Autoconnect=1", "ConnectToKad=1", "ConnectToED2K=0", "Reconnect=1",
        f"TempDir={d}/Temp", f"IncomingDir={d}/Incoming", f"OSDirectory={d}/",
        "FilterLanIPs=0", "ParanoidFiltering=0", "IPFilterAutoLoad=0", "GeoIPEnabled=0", "NewVersionCheck=0",
        "KadNodesUrl=", "Ed2kServersUrl=", "ConfirmExit=0",
        "MaxUpload=50000" if sharer else "MaxUpload=0", "SlotAllocation=20000",
        "UploadCapacity=100000", "DownloadCapacity=100000",
        "[ExternalConnect]", "AcceptExternalConnections=1", "ECAddress=127.0.0.1", f"ECPort={ec_port}",
        # aMule keeps the MD5 of the password.
        "ECPassword=" + hashlib.md5(EC_PASSWORD.encode()).hexdigest(),
    ]
    with open(os.path.join(d, "amule.conf"), "w") as f:
        f.write("\n".join(lines) + "\n")


def amulecmd(lab, role, ec_port, command):
    return netns.sh(["amulecmd", "-h", "127.0.0.1", "-p", str(ec_port), "-P", EC_PASSWORD, "-c", command],
                    ns=lab.ns[role], check=False, timeout=15)


class Sharer:
    """amuled on the internet sharing one file, with a Kad ID chosen here."""

    def __init__(self, lab, workdir, name, size):
        self.lab, self.name, self.size = lab, name, size
        self.dir = os.path.join(workdir, "amule-sharer")
        write_conf(self.dir, "lab-sharer", TCP_PORT, UDP_PORT, EC_PORT, address=SHARER, sharer=True)
        self.path = os.path.join(self.dir, "Incoming", name)
        self.sha256 = make_file(self.path, size)
        with open(os.path.join(self.dir, "shareddir.dat"), "w") as f:
            f.write(os.path.join(self.dir, "Incoming") + "\n")
        self.kad_id = os.urandom(16)
        with open(os.path.join(self.dir, "preferencesKad.dat"), "wb") as f:
            # last known IP, an unused word, the Kad ID, a tag count.
            f.write(struct.pack("<IH", 0, 0) + self.kad_id + b"\0")
        self.link = ed2k_link(self.path, name, f"{SHARER}:{TCP_PORT}")
        self.proc = None

    def start(self):
        add_inet_host(self.lab, SHARER)
        self.log = os.path.join(self.dir, "amuled.log")
        self.proc = spawn(self.lab, "inet", ["amuled", "-c", self.dir, "-o"], self.log)
        file_hash = self.link.split("|")[4]
        wait_until(lambda: check_alive(self.proc, "the sharing amuled", self.log)
                   or file_hash in amulecmd(self.lab, "inet", EC_PORT, "show shared"), 30,
                   "the sharing amuled to hash and share its file")

    def bootstrap_nodes_dat(self):
        """A bootstrap-only nodes.dat (version 3, edition 1) naming this node."""
        ip = int(ipaddress.IPv4Address(SHARER))
        record = self.kad_id + struct.pack("<IHHB", ip, UDP_PORT, TCP_PORT, KAD_VERSION)
        return struct.pack("<IIII", 0, 3, 1, 1) + record

    def stop(self):
        if self.proc is not None:
            netns.stop_process(self.proc, timeout=10)
            self.proc = None


class AmuleLeecher(Client):
    """amuled on lan1, told the ed2k link with its source."""

    protocol = "edonkey"
    program = "amuled"
    client = "aMule 2.3.3 (amuled + amulecmd)"

    def __init__(self, lab, workdir, sharer, name, reason, proves):
        super().__init__(lab, workdir, name, reason, proves, sharer.size)
        self.sharer = sharer
        self.proc = None
        self.added = False

    def start(self, run):
        self.dir = os.path.join(self.workdir, f"amule-run{run}")
        self.ec_port = EC_PORT + run
        write_conf(self.dir, f"lab-leecher{run}", TCP_PORT + run, UDP_PORT + run, self.ec_port)
        with open(os.path.join(self.dir, "nodes.dat"), "wb") as f:
            f.write(self.sharer.bootstrap_nodes_dat())
        self.log = os.path.join(self.dir, "amuled.log")
        self.proc = spawn(self.lab, "lan1", ["amuled", "-c", self.dir, "-o"], self.log)
        self.added = False

    def complete(self):
        """Also clicks the link, as a user would, once aMule is on Kad: a source from a
        link given earlier was seen to be dropped or never asked."""
        check_alive(self.proc, "the LAN amuled", self.log)
        if not self.added:
            if "Kad: Connected" in amulecmd(self.lab, "lan1", self.ec_port, "status"):
                out = amulecmd(self.lab, "lan1", self.ec_port, f"add {self.sharer.link}")
                assert "Operation was successful" in out, f"amulecmd refused the link: {out}"
                self.added = True
            return False
        return same_file(os.path.join(self.dir, "Incoming", self.sharer.name), self.size, self.sharer.sha256)

    def state(self):
        out = amulecmd(self.lab, "lan1", self.ec_port, "show dl").strip().splitlines()
        kad = [line.strip(" >") for line in amulecmd(self.lab, "lan1", self.ec_port, "status").splitlines()
               if "Kad:" in line]
        return f"amuled: {kad[0] if kad else 'Kad: ?'}; {out[-1].strip(' >') if out else 'no download listed'}"

    def stop(self):
        if self.proc is not None:
            netns.stop_process(self.proc, timeout=10)
            self.proc = None


def md4_self_test():
    """RFC 1320's test vectors: the link is only right if the hash is."""
    vectors = {b"": "31d6cfe0d16ae931b73c59d7e0c089c0", b"abc": "a448017aaf21d8525fc10ae87aa6729d",
               b"1234567890" * 8: "e33b4ddc9c38f2199c3e7b164fcc0536"}
    return all(md4(m).hex() == h for m, h in vectors.items())

