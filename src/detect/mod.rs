//! Protocol detectors: one file per peer-to-peer protocol, all behind [`Detector`].
//!
//! A detector looks at one payload-carrying segment of a flow, with the little the
//! engine remembers about that flow ([`FlowView`]), and says whether it is evidence of its
//! protocol. It keeps no state of its own and does no I/O: everything it needs is in the
//! [`Segment`], so detectors are tested on bytes alone.

pub mod ares;
pub mod bittorrent;
pub mod directconnect;
pub mod edonkey;
pub mod fasttrack;
pub mod gnutella;
pub mod opennap;
pub mod shape;
pub mod soulseek;
#[cfg(test)]
mod test_support;
pub mod winmx;

use core::fmt;

use crate::addr::Endpoint;

/// The protocols ftwall knows. The order is the order of `--protocols` help and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    FastTrack,
    WinMx,
    OpenNap,
    BitTorrent,
    EDonkey,
    Gnutella,
    DirectConnect,
    Ares,
    Soulseek,
    /// An address learned from a DNS answer whose name matched a configured pattern.
    DnsName,
}

impl Protocol {
    pub const ALL: [Protocol; 10] = [
        Protocol::FastTrack,
        Protocol::WinMx,
        Protocol::OpenNap,
        Protocol::BitTorrent,
        Protocol::EDonkey,
        Protocol::Gnutella,
        Protocol::DirectConnect,
        Protocol::Ares,
        Protocol::Soulseek,
        Protocol::DnsName,
    ];

    /// The short lower-case name used on the command line, in files and in logs.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::FastTrack => "fasttrack",
            Protocol::WinMx => "winmx",
            Protocol::OpenNap => "opennap",
            Protocol::BitTorrent => "bittorrent",
            Protocol::EDonkey => "edonkey",
            Protocol::Gnutella => "gnutella",
            Protocol::DirectConnect => "directconnect",
            Protocol::Ares => "ares",
            Protocol::Soulseek => "soulseek",
            Protocol::DnsName => "dns",
        }
    }

    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.iter().copied().find(|p| p.name().eq_ignore_ascii_case(name))
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of protocols (which detectors are switched on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProtocolSet(u16);

impl ProtocolSet {
    pub const EMPTY: ProtocolSet = ProtocolSet(0);

    pub fn all() -> ProtocolSet {
        Protocol::ALL.iter().fold(ProtocolSet::EMPTY, |s, &p| s.with(p))
    }

    pub const fn with(self, p: Protocol) -> ProtocolSet {
        ProtocolSet(self.0 | p.bit())
    }

    pub const fn without(self, p: Protocol) -> ProtocolSet {
        ProtocolSet(self.0 & !p.bit())
    }

    pub const fn contains(self, p: Protocol) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Protocol> {
        Protocol::ALL.into_iter().filter(move |&p| self.contains(p))
    }
}

/// How many leading payload bytes of each direction a flow remembers for detectors that
/// need both directions (server-first protocols such as WinMX or NMDC).
pub const PREFIX_LEN: usize = 24;

/// The first payload a flow carried in one direction, as remembered by the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    /// Length of that whole payload (it may be longer than what is kept).
    pub len: u16,
    kept: u8,
    bytes: [u8; PREFIX_LEN],
}

impl Prefix {
    pub const NONE: Prefix = Prefix { len: 0, kept: 0, bytes: [0; PREFIX_LEN] };

    pub fn of(payload: &[u8]) -> Prefix {
        let kept = payload.len().min(PREFIX_LEN);
        let mut bytes = [0; PREFIX_LEN];
        bytes[..kept].copy_from_slice(&payload[..kept]);
        Prefix { len: u16::try_from(payload.len()).unwrap_or(u16::MAX), kept: kept as u8, bytes }
    }

    /// The remembered bytes (at most [`PREFIX_LEN`]).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.kept)]
    }

    pub fn is_none(&self) -> bool {
        self.len == 0
    }
}

/// What the engine remembers about a flow, as shown to detectors. "Client" is the LAN
/// side of the flow, "remote" the other side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowView {
    /// Payload-carrying packets seen so far from the client and from the remote
    /// (not counting the current one).
    pub client_payloads: u8,
    pub remote_payloads: u8,
    /// The first payload from the client and from the remote.
    pub client_first: Prefix,
    pub remote_first: Prefix,
    /// The protocol this flow's client was last detected with, if any (host state for
    /// protocols whose own traffic is encrypted).
    pub client_known: Option<Protocol>,
    /// True if the remote endpoint (ip and port) is a peer learned earlier.
    pub remote_known: bool,
}

impl FlowView {
    pub const NEW: FlowView = FlowView {
        client_payloads: 0,
        remote_payloads: 0,
        client_first: Prefix::NONE,
        remote_first: Prefix::NONE,
        client_known: None,
        remote_known: false,
    };
}

/// TCP or UDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// One payload-carrying packet as a detector sees it.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    pub proto: Proto,
    /// The LAN side and the other side of the flow.
    pub client: Endpoint,
    pub remote: Endpoint,
    /// True if this packet goes from the client to the remote.
    pub from_client: bool,
    /// True if the remote is the router itself (probe answers, local resolver).
    pub remote_is_router: bool,
    pub payload: &'a [u8],
    pub flow: FlowView,
}

impl Segment<'_> {
    /// What the flow saw from this packet's sender before it: how many payloads, and the
    /// first one. (Server-first protocols need "who spoke first", whichever side is LAN.)
    pub fn sender_history(&self) -> (u8, Prefix) {
        if self.from_client {
            (self.flow.client_payloads, self.flow.client_first)
        } else {
            (self.flow.remote_payloads, self.flow.remote_first)
        }
    }

    /// The same for the other side of the flow.
    pub fn other_history(&self) -> (u8, Prefix) {
        if self.from_client {
            (self.flow.remote_payloads, self.flow.remote_first)
        } else {
            (self.flow.client_payloads, self.flow.client_first)
        }
    }
}

/// Largest payload a detector may ask the engine to send (spoofed reply or probe).
pub const MAX_REPLY: usize = 64;

/// Bytes for the engine to send.
pub type ReplyBytes = heapless::Vec<u8, MAX_REPLY>;

/// How sure a detector is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confidence {
    /// Shape and host state agree, but the bytes alone would not be enough.
    Likely,
    /// The bytes alone are a signature.
    Certain,
}

/// A positive detection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub confidence: Confidence,
    /// What was seen, for logs and `inspect` ("udp ping", "http transfer", ...).
    pub what: &'static str,
    /// Another endpoint the payload names as a peer (FastTrack's supernode header).
    pub also_block: Option<Endpoint>,
    /// A reply to spoof from the remote to the client when the packet is dropped, so the
    /// client believes the peer answered and does not fall back to scanning.
    pub reply: Option<ReplyBytes>,
    /// How to probe the client later to learn whether it still runs: the client's UDP
    /// port and the payload to send there. An answer is detected as a new hit.
    pub probe: Option<(u16, ReplyBytes)>,
}

impl Hit {
    pub fn new(confidence: Confidence, what: &'static str) -> Hit {
        Hit { confidence, what, also_block: None, reply: None, probe: None }
    }
}

/// A protocol detector.
pub trait Detector: Sync {
    /// The protocol this detector recognises.
    fn protocol(&self) -> Protocol;

    /// Looks at one segment; returns evidence of the protocol or `None`.
    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit>;
}

/// Every detector, in the order they are tried; the first hit decides the flow.
///
/// Order: byte signatures first, cheapest and most specific first; then the detectors
/// that decide from host state plus a first packet's shape (encrypted or obfuscated
/// traffic), so that a packet a signature names is never claimed by a guess.
///
/// Each detector belongs to one [`Protocol`] and runs only while that protocol is in
/// [`Config::protocols`](crate::engine::Config) (`--protocols`). The default set is every
/// protocol ([`ProtocolSet::all`]): fasttrack, winmx, opennap, bittorrent, edonkey,
/// gnutella, directconnect, ares, soulseek and dns (DNS name patterns).
pub static DETECTORS: &[&dyn Detector] = &[
    &fasttrack::FastTrack,
    &winmx::WinMx,
    &opennap::OpenNap,
    &bittorrent::BitTorrent,
    &edonkey::EDonkey,
    &gnutella::Gnutella,
    &directconnect::DirectConnect,
    &ares::Ares,
    &soulseek::Soulseek,
    // host state + shape
    &bittorrent::Encrypted,
    &edonkey::Obfuscated,
    &ares::Transfer,
];
