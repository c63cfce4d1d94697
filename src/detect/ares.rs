//! Ares Galaxy (p2p-signatures.md 2.8).
//!
//! [`Ares`]: Ares frames TCP messages as a little-endian 16-bit data length, a type byte,
//! then the data. The only message with constant bytes is the login a client sends to a
//! supernode: 3 bytes of data, so the whole payload is exactly 6 bytes, `03 00`, type `5A`
//! (connect) or `5D` (supernode login), and the last data byte `05` (the pattern of
//! l7-filter, which deletes NUL bytes, and of ipp2p). The length check is explicit
//! little-endian: ipp2p's version of this rule is correct only on little-endian hosts.
//!
//! [`Transfer`]: everything after the login, transfers included, is obfuscated (l7-filter's
//! Ares download samples are indistinguishable from random bytes), so a flow is Ares
//! only from host state: the LAN client already logged in to the Ares network, the flow's
//! first payload is at least 16 bytes of unframed binary, and both ports are high.

use super::shape;
use super::{Confidence, Detector, Hit, Proto, Protocol, Segment};
use crate::wire::bytes::le16;

/// Message types of the login.
pub const CONNECT: u8 = 0x5a;
pub const SUPERNODE_LOGIN: u8 = 0x5d;

/// An Ares TCP message header: data length and type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub len: u16,
    pub kind: u8,
}

impl Header {
    pub const LEN: usize = 3;

    pub fn parse(b: &[u8]) -> Option<Header> {
        Some(Header { len: le16(b, 0)?, kind: *b.get(2)? })
    }
}

/// The login: one message of exactly 3 data bytes ending `05`.
pub fn login(p: &[u8]) -> Option<&'static str> {
    let h = Header::parse(p)?;
    let exact = usize::from(h.len) + Header::LEN == p.len() && h.len == 3 && p.get(5) == Some(&0x05);
    match h.kind {
        CONNECT if exact => Some("login"),
        SUPERNODE_LOGIN if exact => Some("supernode login"),
        _ => None,
    }
}

/// The Ares login detector.
pub struct Ares;

impl Detector for Ares {
    fn protocol(&self) -> Protocol {
        Protocol::Ares
    }

    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit> {
        if seg.proto != Proto::Tcp {
            return None;
        }
        login(seg.payload).map(|what| Hit::new(Confidence::Certain, what))
    }
}

/// Smallest first payload taken for an obfuscated Ares transfer.
const TRANSFER_MIN: usize = 16;

/// Ares's obfuscated connections, recognised from host state and shape. Registered after
/// every byte-signature detector.
pub struct Transfer;

impl Detector for Transfer {
    fn protocol(&self) -> Protocol {
        Protocol::Ares
    }

    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit> {
        let ok = seg.flow.client_known == Some(Protocol::Ares)
            && seg.proto == Proto::Tcp
            && shape::is_flow_start(seg)
            && seg.payload.len() >= TRANSFER_MIN
            && shape::both_ports_high(seg)
            && shape::is_unframed_binary(seg.payload);
        ok.then(|| Hit::new(Confidence::Likely, "obfuscated connection"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{known, noise, seg, seg_ports};

    /// A login built from the framing: LE16 data length 3, type, 3 data bytes ending 05.
    fn login_bytes(kind: u8) -> Vec<u8> {
        let mut v = 3u16.to_le_bytes().to_vec();
        v.extend_from_slice(&[kind, 0x8d, 0x38, 0x05]);
        v
    }

    #[test]
    fn logins() {
        for (kind, what) in [(CONNECT, "login"), (SUPERNODE_LOGIN, "supernode login")] {
            let p = login_bytes(kind);
            assert_eq!(p[..3], [0x03, 0x00, kind]);
            let hit = Ares.inspect(&seg(Proto::Tcp, true, &p)).unwrap();
            assert_eq!((hit.what, hit.confidence), (what, Confidence::Certain));
        }
    }

    #[test]
    fn login_near_misses() {
        let good = login_bytes(CONNECT);
        let mut last = good.clone();
        last[5] = 0x06;
        let mut kind = good.clone();
        kind[2] = 0x5b;
        let mut big_endian = good.clone();
        big_endian[..2].copy_from_slice(&3u16.to_be_bytes());
        let mut longer = good.clone();
        longer.push(0);
        for p in [&last[..], &kind, &big_endian, &longer, &good[..5], &[]] {
            assert!(Ares.inspect(&seg(Proto::Tcp, true, p)).is_none(), "{p:02x?}");
        }
        assert!(Ares.inspect(&seg(Proto::Udp, true, &good)).is_none());
    }

    #[test]
    fn transfers_only_from_host_state() {
        let data = noise(77, 595);
        let s = seg(Proto::Tcp, true, &data);
        assert!(Ares.inspect(&s).is_none() && Transfer.inspect(&s).is_none());
        assert!(Transfer.inspect(&known(s, Some(Protocol::Ares), false)).is_some());
        assert!(Transfer.inspect(&known(s, None, true)).is_none(), "a learned peer alone does not say Ares");
        assert!(Transfer.inspect(&known(seg(Proto::Tcp, true, &data[..15]), Some(Protocol::Ares), false)).is_none());
        assert!(Transfer.inspect(&known(seg_ports(Proto::Tcp, true, 50000, 443, &data), Some(Protocol::Ares), false)).is_none());
        let mut tls = vec![0x16, 0x03, 0x03];
        tls.extend_from_slice(&data);
        assert!(Transfer.inspect(&known(seg(Proto::Tcp, true, &tls), Some(Protocol::Ares), false)).is_none());
    }
}
