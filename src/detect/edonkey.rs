//! eDonkey2000 / eMule / aMule / Kad (and the late Overnet) (p2p-signatures.md 2.5).
//!
//! [`EDonkey`] decides on bytes alone:
//! * TCP framing: a protocol byte (`E3` eDonkey, `C5` eMule extensions, `D4` zlib-packed),
//!   a little-endian 32-bit length of opcode plus data, the opcode (2.5a). The payload must
//!   be exactly one message, or several whole messages back to back (a server packs its
//!   greeting messages into one segment), where each following message must frame too.
//!   The hello/login opcode `01` and the hello answer `4C` must also hold their fixed
//!   fields (user hash, client id, port and a small tag count), and packed messages start
//!   with a zlib header. The length check is what makes this safe: nDPI uses the same
//!   rule; ipp2p reads the length in host order and so never matches on big-endian MIPS.
//! * UDP: eDonkey server queries (`E3 96/97/9A/92/A2`), eMule's extended UDP (`C5 90-93`),
//!   Kad (`E4` with the size table of 2.5b, `E5` packed with a zlib header) and Overnet
//!   (`E3 0A/0E/0F`), each with its exact size: a two-byte prefix alone would be weak.
//!
//! [`Obfuscated`] recognises eMule's protocol obfuscation, which has nothing constant on
//! the wire (2.5c), from host state: the LAN client already spoke eDonkey in clear, and the
//! first payload of a TCP flow between high ports is 12..1024 bytes of unframed binary whose
//! first byte is none of the plain protocol bytes (obfuscation avoids them on purpose).

use super::shape;
use super::{Confidence, Detector, Hit, Proto, Protocol, Segment};
use crate::wire::bytes::{le16, le32};

/// TCP/UDP protocol bytes.
pub const EDONKEY: u8 = 0xe3;
pub const EMULE: u8 = 0xc5;
pub const PACKED: u8 = 0xd4;
pub const KAD: u8 = 0xe4;
pub const KAD_PACKED: u8 = 0xe5;

/// The largest message eMule sends (a 180 KB block plus headers fits comfortably).
const MAX_MESSAGE: u32 = 2 * 1024 * 1024;

/// A tag count larger than this in a hello or login is not a real client's.
const MAX_HELLO_TAGS: u32 = 64;

/// One message's header in a TCP stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHeader {
    pub protocol: u8,
    /// Length of opcode plus data.
    pub len: u32,
    pub opcode: u8,
}

impl TcpHeader {
    pub const LEN: usize = 5;

    pub fn parse(b: &[u8]) -> Option<TcpHeader> {
        let protocol = *b.first()?;
        if !matches!(protocol, EDONKEY | EMULE | PACKED) {
            return None;
        }
        let len = le32(b, 1)?;
        let opcode = *b.get(5)?;
        (1..=MAX_MESSAGE).contains(&len).then_some(TcpHeader { protocol, len, opcode })
    }

    /// The message's total size on the wire.
    pub fn total(&self) -> usize {
        TcpHeader::LEN + self.len as usize
    }
}

/// True if the whole message `m` (header included) holds the fields its opcode demands.
fn plausible_message(h: &TcpHeader, m: &[u8]) -> bool {
    let small_tag_count = |at: usize| le32(m, at).is_some_and(|n| n <= MAX_HELLO_TAGS);
    match (h.protocol, h.opcode) {
        // hello: hash size 16, hash, client id, port, tag count at 29;
        // login: hash, client id, port, tag count at 28
        (EDONKEY, 0x01) => (m.get(6) == Some(&16) && small_tag_count(29)) || small_tag_count(28),
        // hello answer: hash, client id, port, tag count at 28
        (EDONKEY, 0x4c) => small_tag_count(28),
        // packed data is a zlib stream
        (PACKED, _) => h.len < 3 || m.get(6) == Some(&0x78),
        _ => true,
    }
}

/// eDonkey framing over a whole TCP payload: one message, or whole messages back to back
/// (the last may continue in the next segment once at least one whole message came first).
pub fn tcp_framing(p: &[u8]) -> Option<TcpHeader> {
    let first = TcpHeader::parse(p)?;
    let mut at = 0usize;
    let mut whole = 0usize;
    loop {
        let rest = &p[at..];
        let Some(h) = TcpHeader::parse(rest) else {
            // Fewer than six bytes left can still be the start of a header.
            return (whole > 0 && rest.len() < 6 && rest.first().is_some_and(|&b| matches!(b, EDONKEY | EMULE | PACKED))).then_some(first);
        };
        let end = at.checked_add(h.total())?;
        if end > p.len() {
            return (whole > 0).then_some(first);
        }
        if !plausible_message(&h, &p[at..end]) {
            return None;
        }
        whole += 1;
        if end == p.len() {
            return Some(first);
        }
        at = end;
    }
}

fn tcp_what(h: &TcpHeader) -> &'static str {
    match (h.protocol, h.opcode) {
        (EDONKEY, 0x01) => "hello or login",
        (EDONKEY, 0x4c) => "hello answer",
        (EDONKEY, _) => "tcp message",
        (EMULE, _) => "emule tcp message",
        _ => "packed tcp message",
    }
}

/// eDonkey, eMule, Kad and Overnet UDP messages with their exact sizes.
pub fn udp_message(p: &[u8]) -> Option<&'static str> {
    let (&proto, rest) = p.split_first()?;
    let &opcode = rest.first()?;
    let len = p.len();
    let found = match proto {
        EDONKEY => match opcode {
            // global server status request: challenge
            0x96 => len == 6,
            // server status reply: challenge, users, files, then optional 4-byte fields
            // and the obfuscation ports and key
            0x97 => (14..=42).contains(&len) && (len - 2) % 4 == 0,
            // get sources: a 16-byte file hash (a client may batch a few)
            0x9a => (18..=2 + 16 * 8).contains(&len) && (len - 2) % 16 == 0,
            0x92 => len == 10,
            // server description request: 4-byte challenge beginning FF F0
            0xa2 => len == 6 && p[2..4] == [0xff, 0xf0],
            // Overnet: connect, search, search-next with its 23-byte peer entries
            0x0a => len == 25,
            0x0e => len == 19 && p[2] == 0x14,
            0x0f => len >= 19 && len == 19 + 23 * usize::from(p[18]),
            _ => false,
        },
        EMULE => match opcode {
            // reask file ping: hash, then (by UDP version) sources count and part status
            0x90 => len == 18 || len == 20 || le16(p, 18).is_some_and(|n| len == 22 + usize::from(n).div_ceil(8)),
            // reask ack: queue rank, optionally after the part status
            0x91 => len == 4 || le16(p, 2).is_some_and(|n| len == 6 + usize::from(n).div_ceil(8)),
            // file not found: hash; queue full: nothing
            0x92 => len == 18,
            0x93 => len == 2,
            _ => false,
        },
        KAD => kad_size_ok(opcode, p),
        // packed Kad: opcode then a zlib stream
        KAD_PACKED => len >= 10 && p[2] == 0x78 && p[3] == 0xda,
        _ => false,
    };
    found.then_some(match proto {
        EDONKEY if matches!(opcode, 0x0a | 0x0e | 0x0f) => "overnet udp",
        EDONKEY => "server udp",
        EMULE => "emule udp",
        _ => "kad udp",
    })
}

/// Kad's opcodes and the sizes real clients send (2.5b).
fn kad_size_ok(opcode: u8, p: &[u8]) -> bool {
    let len = p.len();
    match opcode {
        0x00 | 0x10 | 0x18 => len == 27,
        0x01 => len == 2 || len == 18,
        0x08 => len == 529,
        0x09 => len == 523,
        // hello request/response: Kad id, TCP port, version, tag count, tags
        0x11 => (22..=64).contains(&len) && (1..=12).contains(&p[20]) && p[21] <= 4,
        0x19 => matches!(len, 22 | 28 | 38),
        0x20 | 0x21 => len == 35,
        // the sizes seen in real traces (ipp2p generalises them to 44 + 25n)
        0x28 | 0x29 => matches!(len, 44 | 69 | 119 | 269 | 294),
        0x40 => len == 48,
        0x43 => len == 225,
        0x48 | 0x4b => len == 19,
        0x50 => len == 4,
        0x52 => len == 36,
        0x58 => len == 6,
        0x59 => len == 2,
        _ => false,
    }
}

/// The eDonkey detector for everything recognisable by bytes.
pub struct EDonkey;

impl Detector for EDonkey {
    fn protocol(&self) -> Protocol {
        Protocol::EDonkey
    }

    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit> {
        let what = match seg.proto {
            Proto::Tcp => tcp_what(&tcp_framing(seg.payload)?),
            Proto::Udp => udp_message(seg.payload)?,
        };
        Some(Hit::new(Confidence::Certain, what))
    }
}

/// Size limits of an obfuscated first packet: marker and key (5), magic, method bytes and
/// pad length (at least 7), up to 255 pad bytes; a server handshake adds a 96-byte key.
const OBFUSCATED_MIN: usize = 12;
const OBFUSCATED_MAX: usize = 1024;

/// eMule's obfuscated connections, recognised from host state and shape. Registered after
/// every byte-signature detector.
pub struct Obfuscated;

impl Detector for Obfuscated {
    fn protocol(&self) -> Protocol {
        Protocol::EDonkey
    }

    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit> {
        let p = seg.payload;
        let ok = seg.flow.client_known == Some(Protocol::EDonkey)
            && seg.proto == Proto::Tcp
            && shape::is_flow_start(seg)
            && (OBFUSCATED_MIN..=OBFUSCATED_MAX).contains(&p.len())
            && !matches!(p[0], EDONKEY | EMULE | PACKED)
            && shape::both_ports_high(seg)
            && shape::is_unframed_binary(p);
        ok.then(|| Hit::new(Confidence::Likely, "obfuscated connection"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{known, noise, seg, seg_ports};

    /// A TCP message: protocol byte, LE32 length of opcode + data, opcode, data.
    fn msg(proto: u8, opcode: u8, data: &[u8]) -> Vec<u8> {
        let mut v = vec![proto];
        v.extend_from_slice(&(1 + data.len() as u32).to_le_bytes());
        v.push(opcode);
        v.extend_from_slice(data);
        v
    }

    /// A client hello built from the specification: hash size, user hash, client id,
    /// port 4662, two tags.
    fn hello() -> Vec<u8> {
        let mut d = vec![16];
        d.extend_from_slice(&[0x5a; 16]);
        d.extend_from_slice(&[10, 0, 0, 2]);
        d.extend_from_slice(&4662u16.to_le_bytes());
        d.extend_from_slice(&2u32.to_le_bytes());
        d.extend_from_slice(&[0x02, 0x01, 0x00, 0x01, 0x05, 0x00, b'a', b'l', b'i', b'c', b'e']);
        d.extend_from_slice(&[0x03, 0x01, 0x00, 0x11, 0x3c, 0, 0, 0]);
        msg(EDONKEY, 0x01, &d)
    }

    fn tcp(p: &[u8]) -> Option<&'static str> {
        EDonkey.inspect(&seg(Proto::Tcp, true, p)).map(|h| h.what)
    }

    fn udp(p: &[u8]) -> Option<&'static str> {
        EDonkey.inspect(&seg(Proto::Udp, true, p)).map(|h| h.what)
    }

    #[test]
    fn hello_login_and_answer() {
        let h = hello();
        assert_eq!(&h[..7], &[0xe3, 0x2f, 0, 0, 0, 0x01, 0x10]);
        assert_eq!(tcp(&h), Some("hello or login"));
        assert_eq!(EDonkey.inspect(&seg(Proto::Tcp, false, &h)).unwrap().confidence, Confidence::Certain);
        // login to a server: no hash-size byte, tag count at 28
        let mut login = vec![0x77; 16];
        login.extend_from_slice(&[0, 0, 0, 0, 0x36, 0x12]);
        login.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(tcp(&msg(EDONKEY, 0x01, &login)), Some("hello or login"));
        let answer = msg(EDONKEY, 0x4c, &hello()[7..]);
        assert_eq!(tcp(&answer), Some("hello answer"));
        // a hello whose tag count is absurd, or that is too short to hold one
        let mut huge = hello();
        huge[29] = 0xff;
        huge[28] = 0xff;
        assert_eq!(tcp(&huge), None);
        assert_eq!(tcp(&msg(EDONKEY, 0x01, &[16, 1, 2, 3])), None);
    }

    #[test]
    fn length_must_match() {
        let h = hello();
        let mut longer = h.clone();
        longer[1] += 1;
        assert_eq!(tcp(&longer), None);
        let mut shorter = h.clone();
        shorter[1] -= 1;
        assert_eq!(tcp(&shorter), None, "a following 'message' must frame too");
        let mut big_endian = h.clone();
        big_endian[1..5].copy_from_slice(&(h.len() as u32 - 5).to_be_bytes());
        assert_eq!(tcp(&big_endian), None, "the length is little-endian");
        let mut proto = h.clone();
        proto[0] = 0xe4;
        assert_eq!(tcp(&proto), None);
        assert_eq!(tcp(&h[..5]), None);
        assert_eq!(tcp(&[0xe3, 0, 0, 0, 0, 0]), None, "an empty message has no opcode");
    }

    #[test]
    fn coalesced_messages() {
        // A server's greeting: ID change, server status, a packed server message.
        let mut p = msg(EDONKEY, 0x40, &[0x42, 0x5d, 0x11, 0xd8, 0x79, 0, 0, 0]);
        p.extend(msg(EDONKEY, 0x34, &[0x48, 0x4f, 0, 0, 0xbf, 0x51, 1, 0]));
        p.extend(msg(PACKED, 0x38, &[0x78, 0xda, 1, 2, 3, 4]));
        assert_eq!(tcp(&p), Some("tcp message"));
        // the last message continues in the next segment
        assert_eq!(tcp(&p[..p.len() - 3]), Some("tcp message"));
        assert_eq!(tcp(&p[..14 + 3]), Some("tcp message"));
        // ...but not when nothing whole came first
        assert_eq!(tcp(&p[..10]), None);
        // a second message with a foreign protocol byte, or an unpacked "packed" one
        let mut bad = msg(EDONKEY, 0x40, &[1, 2, 3, 4, 5, 6, 7, 8]);
        bad.extend(msg(0x17, 0x34, &[1, 2, 3]));
        assert_eq!(tcp(&bad), None);
        let mut unpacked = msg(EDONKEY, 0x40, &[1, 2, 3, 4, 5, 6, 7, 8]);
        unpacked.extend(msg(PACKED, 0x38, b"plain text"));
        assert_eq!(tcp(&unpacked), None);
        // eMule's secure-ident message after the hello
        let mut emule = hello();
        emule.extend(msg(EMULE, 0x87, &[1, 2, 3, 4, 5]));
        assert!(tcp(&emule).is_some());
    }

    #[test]
    fn server_udp() {
        assert_eq!(udp(&[0xe3, 0x96, 1, 2, 3, 4]), Some("server udp"));
        assert_eq!(udp(&[0xe3, 0x96, 1, 2, 3]), None);
        for len in [14, 18, 22, 26, 30, 34, 38, 42] {
            let mut v = vec![0xe3, 0x97];
            v.resize(len, 0x11);
            assert!(udp(&v).is_some(), "{len}");
        }
        for len in [13, 16, 46] {
            let mut v = vec![0xe3, 0x97];
            v.resize(len, 0x11);
            assert!(udp(&v).is_none(), "{len}");
        }
        let mut sources = vec![0xe3, 0x9a];
        sources.extend_from_slice(&[7; 16]);
        assert!(udp(&sources).is_some());
        sources.push(1);
        assert!(udp(&sources).is_none());
        assert!(udp(&[0xe3, 0xa2, 0xff, 0xf0, 1, 2]).is_some());
        assert!(udp(&[0xe3, 0xa2, 0xff, 0xf1, 1, 2]).is_none());
        assert!(udp(&[0xe3, 0x92, 0, 0, 0, 0, 0, 0, 0, 0]).is_some());
        assert!(udp(&[0xe3, 0x91, 0, 0, 0, 0, 0, 0, 0, 0]).is_none());
    }

    #[test]
    fn emule_udp() {
        let mut ping = vec![0xc5, 0x90];
        ping.extend_from_slice(&[3; 16]);
        assert_eq!(udp(&ping), Some("emule udp"));
        ping.extend_from_slice(&12u16.to_le_bytes()); // 12 parts: 2 bytes of bits
        ping.extend_from_slice(&[0xff, 0x0f]);
        ping.extend_from_slice(&4u16.to_le_bytes());
        assert_eq!(ping.len(), 24);
        assert!(udp(&ping).is_some());
        ping.push(0);
        assert!(udp(&ping).is_none());
        assert!(udp(&[0xc5, 0x91, 7, 0]).is_some());
        assert!(udp(&[0xc5, 0x91, 7, 0, 1]).is_none());
        assert!(udp(&[0xc5, 0x93]).is_some());
        assert!(udp(&[0xc5, 0x93, 0]).is_none());
        let mut nf = vec![0xc5, 0x92];
        nf.extend_from_slice(&[1; 16]);
        assert!(udp(&nf).is_some());
        assert!(udp(&nf[..17]).is_none());
    }

    #[test]
    fn kad_sizes() {
        let sized = |op: u8, len: usize| {
            let mut v = vec![0xe4, op];
            v.resize(len, 0);
            v
        };
        for (op, len) in [(0x00, 27), (0x01, 2), (0x01, 18), (0x08, 529), (0x09, 523), (0x10, 27), (0x18, 27), (0x19, 22), (0x19, 38), (0x20, 35), (0x21, 35), (0x28, 44), (0x29, 69), (0x28, 119), (0x29, 269), (0x28, 294), (0x40, 48), (0x43, 225), (0x48, 19), (0x4b, 19), (0x50, 4), (0x52, 36), (0x58, 6), (0x59, 2)] {
            assert_eq!(udp(&sized(op, len)), Some("kad udp"), "{op:02x} {len}");
            assert_eq!(udp(&sized(op, len + 1)), None, "{op:02x} {}", len + 1);
        }
        let mut hello = sized(0x11, 22);
        hello[20] = 8; // version
        hello[21] = 0; // no tags
        assert!(udp(&hello).is_some());
        hello[20] = 0;
        assert!(udp(&hello).is_none());
        assert!(udp(&sized(0x0f, 27)).is_none(), "unknown opcode");
        assert!(udp(&[0xe5, 0x28, 0x78, 0xda, 1, 2, 3, 4, 5, 6]).is_some());
        assert!(udp(&[0xe5, 0x28, 0x78, 0x9c, 1, 2, 3, 4, 5, 6]).is_none());
    }

    #[test]
    fn overnet_search_next_counts_its_entries() {
        for n in 0..4u8 {
            let mut v = vec![0xe3, 0x0f];
            v.extend_from_slice(&[9; 16]);
            v.push(n);
            v.extend(vec![0x33; 23 * usize::from(n)]);
            assert_eq!(udp(&v), Some("overnet udp"));
            v.push(0);
            assert_eq!(udp(&v), None);
        }
    }

    #[test]
    fn obfuscation_needs_host_state() {
        let mut first = vec![0x17];
        first.extend(noise(11, 60));
        let s = seg(Proto::Tcp, true, &first);
        assert!(Obfuscated.inspect(&s).is_none());
        let s = known(s, Some(Protocol::EDonkey), false);
        assert_eq!(Obfuscated.inspect(&s).unwrap().confidence, Confidence::Likely);
        // near misses: a plain protocol byte, too short, other host state, low port, later payload
        let mut plain = first.clone();
        plain[0] = 0xe3;
        assert!(Obfuscated.inspect(&known(seg(Proto::Tcp, true, &plain), Some(Protocol::EDonkey), false)).is_none());
        assert!(Obfuscated.inspect(&known(seg(Proto::Tcp, true, &first[..11]), Some(Protocol::EDonkey), false)).is_none());
        assert!(Obfuscated.inspect(&known(seg(Proto::Tcp, true, &first), Some(Protocol::BitTorrent), true)).is_none());
        assert!(Obfuscated.inspect(&known(seg_ports(Proto::Tcp, true, 50000, 443, &first), Some(Protocol::EDonkey), false)).is_none());
        let mut later = known(seg(Proto::Tcp, true, &first), Some(Protocol::EDonkey), false);
        later.flow.remote_payloads = 1;
        assert!(Obfuscated.inspect(&later).is_none());
        assert!(Obfuscated.inspect(&known(seg(Proto::Udp, true, &first), Some(Protocol::EDonkey), false)).is_none());
    }
}
