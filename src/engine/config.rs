//! The engine's settings: everything that changes what it decides.

use std::net::IpAddr;

use crate::addr::{is_special, IpNet, MacAddr};
use crate::detect::ProtocolSet;
use crate::dns::PatternSet;

/// The default time-lock, in seconds (ftwall's `-t`).
pub const DEFAULT_LOCK_SECS: u32 = 120;

/// How long an address learned from DNS stays blocked, whatever the record's TTL says:
/// at least 10 minutes (load-balanced names carry TTLs of seconds, but clients keep using
/// an address much longer), at most a day (addresses move; a stale block must end).
pub const DNS_MIN_SECS: u32 = 600;
pub const DNS_MAX_SECS: u32 = 86_400;

/// Which log classes to produce: ftwall's letters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogMask {
    /// `u`: dropped UDP packets.
    pub udp_dropped: bool,
    /// `U`: accepted UDP packets.
    pub udp_accepted: bool,
    /// `t`: dropped TCP packets.
    pub tcp_dropped: bool,
    /// `T`: accepted TCP packets.
    pub tcp_accepted: bool,
    /// `c`: clients identified and vanished.
    pub clients: bool,
    /// `p`: peers learned.
    pub peers: bool,
    /// `m`: add the client's MAC address to log lines.
    pub mac: bool,
    /// `d`: DNS queries (ftwall 2's debug class).
    pub dns_queries: bool,
    /// `a`: DNS answers: every address record read, and unreadable messages. (`D`: both.)
    pub dns_answers: bool,
}

impl LogMask {
    pub const LETTERS: &'static str = "uUtTcpmdaD";

    /// Reads a letter set such as `utcp`; an unknown letter is an error naming it.
    pub fn parse(letters: &str) -> Result<LogMask, char> {
        let mut m = LogMask::default();
        for c in letters.chars() {
            match c {
                'u' => m.udp_dropped = true,
                'U' => m.udp_accepted = true,
                't' => m.tcp_dropped = true,
                'T' => m.tcp_accepted = true,
                'c' => m.clients = true,
                'p' => m.peers = true,
                'm' => m.mac = true,
                'd' => m.dns_queries = true,
                'a' => m.dns_answers = true,
                'D' => (m.dns_queries, m.dns_answers) = (true, true),
                other => return Err(other),
            }
        }
        Ok(m)
    }

    pub fn union(self, o: LogMask) -> LogMask {
        LogMask {
            udp_dropped: self.udp_dropped || o.udp_dropped,
            udp_accepted: self.udp_accepted || o.udp_accepted,
            tcp_dropped: self.tcp_dropped || o.tcp_dropped,
            tcp_accepted: self.tcp_accepted || o.tcp_accepted,
            clients: self.clients || o.clients,
            peers: self.peers || o.peers,
            mac: self.mac || o.mac,
            dns_queries: self.dns_queries || o.dns_queries,
            dns_answers: self.dns_answers || o.dns_answers,
        }
    }
}

/// Engine settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Time-lock length in seconds; 0 turns the time-lock (and probing) off.
    pub lock_secs: u32,
    /// Drop recognised peer-to-peer UDP packets (ftwall's `-n` turns this off: they are
    /// still recognised and still teach peers and lock clients).
    pub drop_udp: bool,
    /// Decide and log everything, block nothing.
    pub monitor: bool,
    /// Which detectors run.
    pub protocols: ProtocolSet,
    /// Clients the engine never blocks or locks (by address or network).
    pub exempt_nets: Vec<IpNet>,
    /// Clients the engine never blocks or locks (by MAC address).
    pub exempt_macs: Vec<MacAddr>,
    /// Addresses that may never be learned as peers, whatever the traffic says: the
    /// router's own addresses, the LAN networks, an admin's list.
    pub never_block: Vec<IpNet>,
    /// Which log events to produce.
    pub log: LogMask,
    /// Seed for the tables' hash, so that an attacker cannot aim at one bucket.
    pub seed: u32,
    /// DNS names whose addresses are blocked (ftwall 2's wildcards; see [`crate::dns`]).
    pub patterns: PatternSet,
    /// Bounds on how long a DNS-learned address stays blocked (the record's TTL, clamped).
    pub dns_min_secs: u32,
    pub dns_max_secs: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            lock_secs: DEFAULT_LOCK_SECS,
            drop_udp: true,
            monitor: false,
            protocols: ProtocolSet::all(),
            exempt_nets: Vec::new(),
            exempt_macs: Vec::new(),
            never_block: Vec::new(),
            log: LogMask::default(),
            seed: 0x5eed_f7a1,
            patterns: PatternSet::new(),
            dns_min_secs: DNS_MIN_SECS,
            dns_max_secs: DNS_MAX_SECS,
        }
    }
}

impl Config {
    pub fn is_exempt(&self, ip: IpAddr, mac: Option<crate::addr::MacAddr>) -> bool {
        self.exempt_nets.iter().any(|n| n.contains(ip)) || mac.is_some_and(|m| self.exempt_macs.contains(&m))
    }

    /// True if `ip` may be learned and blocked as a peer.
    pub fn may_block(&self, ip: IpAddr) -> bool {
        !is_special(ip) && !self.never_block.iter().any(|n| n.contains(ip)) && !self.exempt_nets.iter().any(|n| n.contains(ip))
    }
}
