//! What the engine says: a verdict for each packet, the reason behind it, and the actions
//! the caller must carry out (the engine itself does no I/O).

use core::fmt;
use std::net::IpAddr;

use crate::addr::{Endpoint, MacAddr};
use crate::detect::{Protocol, ReplyBytes};
use crate::dns::name::NameTail;
use crate::dns::DnsError;

/// Where a packet travels, as told by the caller (the daemon knows it from the
/// interfaces, `inspect` from the LAN networks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Forwarded from a LAN host to the internet.
    LanToWan,
    /// Forwarded from the internet to a LAN host.
    WanToLan,
    /// From a LAN host to the router itself (probe answers, DNS queries to the router).
    LanToRouter,
    /// From the router itself to a LAN host (the router's resolver answering).
    RouterToLan,
    /// From the internet to the router itself (upstream DNS answers).
    WanToRouter,
    /// From the router itself to the internet.
    RouterToWan,
}

/// The packet's fate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
}

/// Why the engine decided what it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Nothing of interest.
    Clean,
    /// The packet itself is evidence of a protocol.
    Detected(Protocol, &'static str),
    /// The remote address is a known peer of that protocol.
    KnownPeer(Protocol),
    /// The client is time-locked for running that protocol.
    Locked(Protocol),
    /// A client's answer to one of ftwall's probes.
    ProbeAnswer(Protocol),
    /// The client is exempt; the packet passes whatever it is.
    Exempt,
    /// Not TCP or UDP, a fragment, or the router's own traffic: passed unexamined.
    NotInspected,
    /// Not a readable IP packet.
    Malformed,
}

impl Reason {
    /// The protocol behind this reason, if any.
    pub fn protocol(&self) -> Option<Protocol> {
        match *self {
            Reason::Detected(p, _) | Reason::KnownPeer(p) | Reason::Locked(p) | Reason::ProbeAnswer(p) => Some(p),
            _ => None,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Clean => f.write_str("clean"),
            Reason::Detected(p, what) => write!(f, "{p} {what}"),
            Reason::KnownPeer(p) => write!(f, "known {p} peer"),
            Reason::Locked(p) => write!(f, "client locked ({p})"),
            Reason::ProbeAnswer(p) => write!(f, "{p} probe answer"),
            Reason::Exempt => f.write_str("exempt client"),
            Reason::NotInspected => f.write_str("not inspected"),
            Reason::Malformed => f.write_str("malformed"),
        }
    }
}

/// The engine's answer for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// What to tell the kernel.
    pub verdict: Verdict,
    /// What the engine would have said outside monitor mode.
    pub wanted: Verdict,
    pub reason: Reason,
}

impl Decision {
    pub(crate) const fn accept(reason: Reason) -> Decision {
        Decision { verdict: Verdict::Accept, wanted: Verdict::Accept, reason }
    }
}

/// How a peer came to be known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerSource {
    /// It sent or was sent protocol traffic.
    Traffic,
    /// A payload named it (FastTrack's `X-Kazaa-SupernodeIP`).
    Named,
}

/// What happened to a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientChange {
    /// First evidence: the client is now known (and locked, unless exempt or -t 0).
    Identified,
    /// The client was seen with a protocol it was not known for before.
    AlsoRuns,
    /// No evidence for the lock's length: the client is gone.
    Vanished,
}

/// What a packet's fate was, for the u/U/t/T log classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    Accepted,
    Dropped,
    /// Monitor mode: it would have been dropped.
    WouldDrop,
}

/// A log event. Which ones are produced is chosen by [`super::LogMask`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A UDP (u/U) or TCP (t/T) packet's fate.
    Packet { tcp: bool, disposition: Disposition, client: Endpoint, remote: Endpoint, outbound: bool, reason: Reason, mac: Option<MacAddr> },
    /// A LAN client identified or vanished (c).
    Client { client: IpAddr, change: ClientChange, protocol: Protocol, what: &'static str, mac: Option<MacAddr> },
    /// A peer learned (p).
    Peer { peer: Endpoint, protocol: Protocol, source: PeerSource },
    /// DNS traffic (d, a; learned and refused addresses also p).
    Dns(DnsEvent),
}

/// What the engine saw of DNS. Names are carried as their last characters
/// ([`NameTail`]), which keeps every event small enough to pass by value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsEvent {
    /// A question on its way to a resolver (d). `client` asked it (the router's own
    /// resolver when it asks upstream).
    Query { client: IpAddr, name: NameTail, qtype: u16 },
    /// An address record of an answer (a; p too when learned or refused).
    Answer { name: NameTail, addr: IpAddr, ttl: u32, outcome: DnsOutcome },
    /// An answer that could not be read and was ignored as a whole (a).
    Unreadable { server: IpAddr, error: DnsError },
}

/// What became of one address record of a DNS answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsOutcome {
    /// Its name matched a pattern: the address is blocked for this many seconds (the
    /// TTL, clamped), or its block was extended to that.
    Learned { secs: u32 },
    /// Its name matched, but the address may never be blocked (the router, the LAN,
    /// loopback, link-local, multicast, the never-block list, an exempt host).
    Refused,
    /// Its name matched no pattern.
    NotMatched,
}

/// Something the caller must do for the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send a UDP datagram that claims to come from `from` to the LAN client `to`
    /// (through a raw socket), so the client believes the peer answered.
    Spoof { from: Endpoint, to: Endpoint, payload: ReplyBytes },
    /// Send a UDP datagram from the router to a LAN client to learn whether it still runs
    /// its peer-to-peer program.
    Probe { to: Endpoint, payload: ReplyBytes },
    /// Append a newly learned peer to the storefile.
    StorePeer { peer: Endpoint, protocol: Protocol },
    /// Block a peer address in the kernel (not sent in monitor mode).
    BlockPeer { ip: IpAddr },
    /// Lock a client in the kernel for `secs` seconds from now (not sent in monitor mode
    /// or with -t 0). Sent again when the lock is extended.
    Lock { client: IpAddr, secs: u32 },
    /// The client's lock ended (the kernel's timeout ends it on its own too).
    Unlock { client: IpAddr },
    /// A client was identified: create its file in the client directory.
    ClientOnline { client: IpAddr, protocol: Protocol, mac: Option<MacAddr> },
    /// A client vanished: remove its file.
    ClientOffline { client: IpAddr },
    /// Log an event.
    Log(Event),
}
