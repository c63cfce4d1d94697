//! What the engine remembers: clients (with their time-lock), peers and flows.
//!
//! Each lives in a fixed-capacity [`Table`](super::table::Table); the sizes below bound the
//! engine's memory whatever arrives.

use std::net::IpAddr;

use crate::addr::{Endpoint, MacAddr};
use crate::detect::{FlowView, Proto, Protocol, ReplyBytes};
use crate::dns::name::NameTail;
use crate::time::Millis;

/// Table sizes. Capacity is buckets times ways.
pub const CLIENT_BUCKETS: usize = 128;
pub const CLIENT_WAYS: usize = 8;
pub const PEER_BUCKETS: usize = 1024;
pub const PEER_WAYS: usize = 8;
pub const FLOW_BUCKETS: usize = 1024;
pub const FLOW_WAYS: usize = 8;
pub const DNS_BUCKETS: usize = 256;
pub const DNS_WAYS: usize = 4;

/// Payload-carrying packets per direction that detectors see in each flow; later packets
/// of an undecided flow pass unexamined (the kernel rules stop queueing them too).
pub const INSPECT_PAYLOADS: u8 = 4;

/// A flow idle this long is forgotten: a later packet starts it afresh.
pub const FLOW_IDLE_MS: u64 = 120_000;

/// A LAN host with peer-to-peer evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Client {
    pub mac: Option<MacAddr>,
    /// The protocol of the latest evidence.
    pub protocol: Protocol,
    pub first_seen: Millis,
    /// When the latest evidence arrived; the lock and the probes count from here.
    pub last_evidence: Millis,
    /// When the client is forgotten (and its lock ends), unless new evidence arrives.
    pub until: Millis,
    /// The lock end the kernel was last told, so it is told again only when it moves.
    pub kernel_until: Millis,
    /// How to probe it: its UDP port and the payload (from the detector).
    pub probe: Option<(u16, ReplyBytes)>,
    /// Probes sent since the latest evidence.
    pub probes_sent: u8,
}

/// A peer learned from traffic or named in a payload. Peers are blocked by address:
/// the port is kept for the storefile and for `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    pub port: u16,
    pub protocol: Protocol,
    pub learned: Millis,
    /// Last time it was learned again or matched a packet: the eviction rank.
    pub last_hit: Millis,
}

/// An address learned from a DNS answer whose name matched a pattern. Blocked by the
/// engine only (not put in the kernel's peer set), so that a client's connection to it
/// still reaches the engine and time-locks the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsEntry {
    /// When the block ends: the record's TTL after the latest answer, clamped.
    pub until: Millis,
    /// The end of the name it was learned from, for `status` and the training file.
    pub name: NameTail,
}

/// An address blocked by DNS name, as shown by `status` and saved in the training file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsStatus {
    pub ip: IpAddr,
    pub name: NameTail,
    pub secs_left: u32,
}

/// Identifies a flow from the LAN client's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    pub proto: Proto,
    pub client: Endpoint,
    pub remote: Endpoint,
}

impl super::table::Key for FlowKey {
    fn feed(&self, h: &mut super::table::Hasher) {
        // The protocol and both ports in two words, then the addresses.
        h.word(u32::from(self.client.port) | u32::from(matches!(self.proto, Proto::Tcp)) << 16);
        h.word(u32::from(self.remote.port));
        self.client.ip.feed(h);
        self.remote.ip.feed(h);
    }
}

/// What became of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowState {
    /// Detectors still look at its payloads.
    Inspecting,
    /// A detector recognised it: every later packet is evidence too.
    Detected(Protocol, &'static str),
    /// Its inspection window is over with nothing found.
    Clean,
}

/// A flow being inspected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flow {
    pub last_seen: Millis,
    pub view: FlowView,
    pub state: FlowState,
}

/// Largest engine capacity summary, for `status` and the benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacities {
    pub clients: usize,
    pub peers: usize,
    pub flows: usize,
    pub dns: usize,
}

/// A client as shown by `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientStatus {
    pub ip: IpAddr,
    pub mac: Option<MacAddr>,
    pub protocol: Protocol,
    /// Seconds until the client is forgotten (and unlocked).
    pub secs_left: u32,
    /// True if the client is locked (not exempt, time-lock on, not monitor mode).
    pub locked: bool,
}
