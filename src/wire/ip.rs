//! The IP layer: addresses, transport, ports, TCP flags and payload of one packet.
//!
//! Headers are decoded by etherparse's lax slicer, which accepts packets cut short by the
//! NFQUEUE copy range or a capture's snap length and still gives whatever payload is
//! there. Fragments after the first carry no transport header and are reported as such.

use std::net::IpAddr;

use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};

/// Why a packet could not be viewed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Not an IPv4 or IPv6 header, or too short to hold one.
    BadIpHeader,
}

/// TCP flags the engine cares about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

impl TcpFlags {
    /// A connection request: SYN without ACK.
    pub fn is_connect(&self) -> bool {
        self.syn && !self.ack
    }
}

/// The transport part of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    Tcp { src_port: u16, dst_port: u16, flags: TcpFlags, payload: &'a [u8] },
    Udp { src_port: u16, dst_port: u16, payload: &'a [u8] },
    /// A fragment after the first, a transport header cut short, or another protocol
    /// (ICMP, ESP, ...): nothing to inspect.
    Other,
}

/// A view of one IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpPacket<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// True if this packet is one fragment of a larger datagram.
    pub fragment: bool,
    pub transport: Transport<'a>,
}

impl<'a> IpPacket<'a> {
    /// Views `bytes`, which start at the IP header.
    pub fn parse(bytes: &'a [u8]) -> Result<IpPacket<'a>, WireError> {
        let sliced = LaxSlicedPacket::from_ip(bytes).map_err(|_| WireError::BadIpHeader)?;
        let (src, dst, fragment) = match &sliced.net {
            Some(LaxNetSlice::Ipv4(v4)) => {
                let h = v4.header();
                (IpAddr::V4(h.source_addr()), IpAddr::V4(h.destination_addr()), v4.is_payload_fragmented())
            }
            Some(LaxNetSlice::Ipv6(v6)) => {
                let h = v6.header();
                (IpAddr::V6(h.source_addr()), IpAddr::V6(h.destination_addr()), v6.is_payload_fragmented())
            }
            _ => return Err(WireError::BadIpHeader),
        };
        let transport = match (&sliced.transport, fragment) {
            // A first fragment's payload is only part of the datagram: treat it as
            // opaque rather than judge a message from its first piece.
            (_, true) => Transport::Other,
            (Some(TransportSlice::Tcp(t)), false) => Transport::Tcp {
                src_port: t.source_port(),
                dst_port: t.destination_port(),
                flags: TcpFlags { syn: t.syn(), ack: t.ack(), fin: t.fin(), rst: t.rst() },
                payload: t.payload(),
            },
            (Some(TransportSlice::Udp(u)), false) => Transport::Udp {
                src_port: u.source_port(),
                dst_port: u.destination_port(),
                payload: u.payload(),
            },
            _ => Transport::Other,
        };
        Ok(IpPacket { src, dst, fragment, transport })
    }

    /// Source and destination ports, if the packet has a TCP or UDP header.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.transport {
            Transport::Tcp { src_port, dst_port, .. } | Transport::Udp { src_port, dst_port, .. } => {
                Some((src_port, dst_port))
            }
            Transport::Other => None,
        }
    }

    /// The transport payload (empty for `Other`).
    pub fn payload(&self) -> &'a [u8] {
        match self.transport {
            Transport::Tcp { payload, .. } | Transport::Udp { payload, .. } => payload,
            Transport::Other => &[],
        }
    }
}
