//! BitTorrent: peer wire, trackers, Mainline DHT, Local Service Discovery, uTP, and
//! encrypted (MSE/PE) connections (p2p-signatures.md 2.4, summary in section 3).
//!
//! [`BitTorrent`] decides on bytes alone:
//! * the peer-wire handshake `13 "BitTorrent protocol"` (2.4a), also when a client sends
//!   the `13` byte in a segment of its own and the name in the next;
//! * an HTTP tracker request: `GET <path>/announce...?` or `/scrape...?` whose query has an
//!   `info_hash=` of exactly 20 URL-encoded bytes (2.4b);
//! * a UDP tracker connect request: exactly 16 bytes, the protocol id
//!   `00 00 04 17 27 10 19 80` and action 0 (2.4c; ipp2p's rule for it is dead code);
//!   an announce (98 bytes, action 1, event 0..3) only counts when the host state says the
//!   connect was already seen, because the announce has no constant bytes of its own;
//! * Mainline DHT KRPC messages: `d1:ad2:id20:`, `d1:rd2:id20:`, the BEP 42 responses
//!   `d2:ip6:`/`d2:ip18:` ... `1:rd2:id20:` that ipp2p misses, errors `d1:eli<n>e<n>:`, and
//!   unsorted encoders' dictionaries with `1:y1:q`/`1:y1:r` and `2:id20:` (2.4d); a KRPC
//!   datagram is one whole dictionary with a message type, so it must also end with `e`
//!   and hold `1:y1:`;
//! * Local Service Discovery `BT-SEARCH * HTTP/1.1` (2.4g);
//! * uTP (2.4f) only when confirmed, because a bare uTP header is four bytes of rules that
//!   QUIC short headers and DNS ids can satisfy: a DATA packet carrying the handshake, or a
//!   STATE packet answering the other side's SYN (SYN of exactly its header, timestamp
//!   difference 0; the STATE carries the SYN's connection id and acknowledges its sequence
//!   number). The SYN itself is remembered by the engine as the flow's first payload.
//!
//! [`Encrypted`] recognises MSE/PE (2.4h), where nothing on the wire is constant, from host
//! state and shape: the first payload of a TCP flow is 96..608 bytes of unframed binary
//! (a 768-bit Diffie-Hellman key plus up to 512 pad bytes), both ports are unprivileged,
//! and the LAN client already ran BitTorrent, or the remote is a learned peer and the client
//! ran nothing else. It is never decided on shape alone (the reference's FP warning).

use super::shape;
use super::{Confidence, Detector, Hit, Prefix, Proto, Protocol, Segment};
use crate::wire::bytes::{be16, be32};

/// The handshake's first 20 bytes: the name length and the protocol name.
pub const HANDSHAKE_START: &[u8; 20] = b"\x13BitTorrent protocol";

/// The protocol name without its length byte.
const PROTOCOL_NAME: &[u8] = b"BitTorrent protocol";

/// BEP 15's protocol id that opens a UDP tracker connect request.
pub const UDP_TRACKER_MAGIC: [u8; 8] = [0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80];

/// The LSD announcement's request line.
const LSD_START: &[u8] = b"BT-SEARCH * HTTP/1.1\r\n";

/// Size limits of the first MSE message: a 96-byte public key plus 0..512 pad bytes.
pub const MSE_MIN: usize = 96;
pub const MSE_MAX: usize = 96 + 512;

/// What a TCP payload shows of the peer wire or an HTTP tracker.
fn tcp_evidence(seg: &Segment<'_>) -> Option<&'static str> {
    let p = seg.payload;
    if p.starts_with(HANDSHAKE_START) {
        return Some("peer-wire handshake");
    }
    // The handshake split after its first byte: the `13` alone was this side's first payload.
    let (count, first) = own_history(seg);
    if count == 1 && first.len == 1 && first.bytes() == [0x13] && p.starts_with(PROTOCOL_NAME) {
        return Some("peer-wire handshake");
    }
    if seg.from_client {
        return tracker_request(p);
    }
    None
}

/// How many payloads this segment's sender sent before, and the first of them.
fn own_history<'s>(seg: &'s Segment<'_>) -> (u8, &'s Prefix) {
    if seg.from_client {
        (seg.flow.client_payloads, &seg.flow.client_first)
    } else {
        (seg.flow.remote_payloads, &seg.flow.remote_first)
    }
}

/// The first payload of the other side, if it sent one.
fn other_first<'s>(seg: &'s Segment<'_>) -> Option<&'s Prefix> {
    let p = if seg.from_client { &seg.flow.remote_first } else { &seg.flow.client_first };
    (!p.is_none()).then_some(p)
}

/// An HTTP tracker announce or scrape request.
pub fn tracker_request(p: &[u8]) -> Option<&'static str> {
    let rest = p.strip_prefix(b"GET /")?;
    let line_end = rest.iter().position(|&c| c == b' ' || c == b'\r' || c == b'\n')?;
    let target = &rest[..line_end];
    let q = target.iter().position(|&c| c == b'?')?;
    let (path, query) = (&target[..q], &target[q + 1..]);
    let last = path.rsplit(|&c| c == b'/').next().unwrap_or(path);
    let what = if last.starts_with(b"announce") {
        "http tracker announce"
    } else if last.starts_with(b"scrape") {
        "http tracker scrape"
    } else {
        return None;
    };
    query
        .split(|&c| c == b'&')
        .filter_map(|kv| kv.strip_prefix(b"info_hash="))
        .any(|v| url_decoded_len(v) == Some(20))
        .then_some(what)
}

/// Length of a URL-encoded value once decoded; `None` if a `%` escape is malformed.
fn url_decoded_len(v: &[u8]) -> Option<usize> {
    let (mut i, mut n) = (0, 0);
    while i < v.len() {
        if v[i] == b'%' {
            let hex = v.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            i += 3;
        } else {
            i += 1;
        }
        n += 1;
    }
    Some(n)
}

/// A UDP tracker (BEP 15) request.
fn udp_tracker(seg: &Segment<'_>) -> Option<&'static str> {
    let p = seg.payload;
    if p.len() == 16 && p.starts_with(&UDP_TRACKER_MAGIC) && be32(p, 8) == Some(0) {
        return Some("udp tracker connect");
    }
    // conn id 8, action 4, txid 4, info hash 20, peer id 20, downloaded/left/uploaded 8
    // each, event 4 at offset 80, ip, key, num_want, port: 98 bytes.
    let host_state = seg.flow.client_known == Some(Protocol::BitTorrent) || seg.flow.remote_known;
    if p.len() == 98 && be32(p, 8) == Some(1) && be32(p, 80).is_some_and(|e| e <= 3) && host_state {
        return Some("udp tracker announce");
    }
    None
}

/// A Mainline DHT (KRPC) message.
pub fn dht(p: &[u8]) -> Option<&'static str> {
    const ID: &[u8] = b"d2:id20:";
    // A datagram is one whole dictionary, and every KRPC message has a type key "y".
    if p.last() != Some(&b'e') || find(p, b"1:y1:").is_none() {
        return None;
    }
    // Every form below is followed by a 20-byte node id and the dictionary's end.
    let id_then_more = |at: usize| p.len() > at + 20;
    if let Some(r) = p.strip_prefix(b"d1:a") {
        return (r.starts_with(ID) && id_then_more(12)).then_some("dht query");
    }
    if let Some(r) = p.strip_prefix(b"d1:r") {
        return (r.starts_with(ID) && id_then_more(12)).then_some("dht response");
    }
    // BEP 42: the responder reports the querier's compact address first.
    for (start, addr_len) in [(&b"d2:ip6:"[..], 6), (b"d2:ip18:", 18)] {
        if let Some(r) = p.strip_prefix(start) {
            let after = r.get(addr_len..)?;
            const THEN: &[u8] = b"1:rd2:id20:";
            return (after.starts_with(THEN) && id_then_more(start.len() + addr_len + THEN.len())).then_some("dht response");
        }
    }
    if let Some(r) = p.strip_prefix(b"d1:eli") {
        // d1:eli<code>e<len>:<message>e...
        let code = r.iter().take_while(|c| c.is_ascii_digit()).count();
        let r = r.get(code..)?.strip_prefix(b"e")?;
        let len = r.iter().take_while(|c| c.is_ascii_digit()).count();
        return (code > 0 && len > 0 && r.get(len) == Some(&b':')).then_some("dht error");
    }
    // Encoders that do not sort keys: a dictionary with a query or response type and an id.
    if p.starts_with(b"d1:") || p.starts_with(b"d2:") {
        let typed = find(p, b"1:y1:q").or_else(|| find(p, b"1:y1:r"));
        if typed.is_some() && find(p, b"2:id20:").is_some_and(|at| p.len() > at + 7 + 20) {
            return Some("dht message");
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    crate::wire::bytes::find(hay, needle)
}

/// uTP packet types (the high nibble of byte 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UtpType {
    Data,
    Fin,
    State,
    Reset,
    Syn,
}

/// A uTP (BEP 29) version 1 header, checked field by field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtpHeader {
    pub kind: UtpType,
    pub connection_id: u16,
    pub timestamp_us: u32,
    pub timestamp_diff_us: u32,
    pub window: u32,
    pub seq: u16,
    pub ack: u16,
    /// Header length including the extension chain: the payload starts here.
    pub len: usize,
}

/// Most extensions a header may carry before it is implausible.
const MAX_EXTENSIONS: usize = 4;

impl UtpHeader {
    /// Views a whole datagram's header.
    pub fn parse(b: &[u8]) -> Option<UtpHeader> {
        UtpHeader::parse_visible(b, b.len())
    }

    /// Views a header of which only `visible` bytes are at hand, in a datagram of `total`
    /// bytes (the engine keeps the first bytes of a flow's first payload). The extension
    /// chain is followed as far as its headers are visible; data bytes need not be.
    pub fn parse_visible(visible: &[u8], total: usize) -> Option<UtpHeader> {
        if total < 20 || visible.len() < 20 {
            return None;
        }
        let kind = match visible[0] {
            0x01 => UtpType::Data,
            0x11 => UtpType::Fin,
            0x21 => UtpType::State,
            0x31 => UtpType::Reset,
            0x41 => UtpType::Syn,
            _ => return None,
        };
        let mut next = visible[1];
        let mut at = 20usize;
        let mut count = 0;
        while next != 0 {
            count += 1;
            let len = usize::from(*visible.get(at + 1)?);
            let valid = match next {
                // selective ack: a bitmask of at least 32 bits, whole 32-bit words
                1 => len >= 4 && len % 4 == 0,
                // extension bits
                2 => len == 8,
                _ => false,
            };
            if !valid || count > MAX_EXTENSIONS {
                return None;
            }
            next = visible[at];
            at += 2 + len;
            if at > total {
                return None;
            }
        }
        Some(UtpHeader {
            kind,
            connection_id: be16(visible, 2)?,
            timestamp_us: be32(visible, 4)?,
            timestamp_diff_us: be32(visible, 8)?,
            window: be32(visible, 12)?,
            seq: be16(visible, 16)?,
            ack: be16(visible, 18)?,
            len: at,
        })
    }
}

/// The SYN a remembered first payload holds, if it is one: header only, no payload,
/// timestamp difference 0 (nothing was received yet).
fn remembered_syn(first: &Prefix) -> Option<UtpHeader> {
    let h = UtpHeader::parse_visible(first.bytes(), usize::from(first.len))?;
    (h.kind == UtpType::Syn && h.len == usize::from(first.len) && h.timestamp_diff_us == 0).then_some(h)
}

/// Confirmed uTP: the handshake inside DATA, or a STATE answering the other side's SYN.
fn utp(seg: &Segment<'_>) -> Option<&'static str> {
    let h = UtpHeader::parse(seg.payload)?;
    let body = &seg.payload[h.len..];
    match h.kind {
        UtpType::Data if body.starts_with(HANDSHAKE_START) => Some("utp peer-wire handshake"),
        UtpType::State if body.is_empty() => {
            let syn = remembered_syn(other_first(seg)?)?;
            (h.connection_id == syn.connection_id && h.ack == syn.seq).then_some("utp connection")
        }
        _ => None,
    }
}

/// The BitTorrent detector for everything recognisable by bytes.
pub struct BitTorrent;

impl Detector for BitTorrent {
    fn protocol(&self) -> Protocol {
        Protocol::BitTorrent
    }

    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit> {
        let what = match seg.proto {
            Proto::Tcp => tcp_evidence(seg)?,
            Proto::Udp => {
                let p = seg.payload;
                let by_first_byte = match p.first()? {
                    b'd' => dht(p),
                    b'B' if p.starts_with(LSD_START) => Some("lsd announce"),
                    0x01 | 0x21 => utp(seg),
                    _ => None,
                };
                by_first_byte.or_else(|| udp_tracker(seg))?
            }
        };
        Some(Hit::new(Confidence::Certain, what))
    }
}

/// BitTorrent's encrypted connections (MSE/PE), recognised from host state and shape.
/// Registered after every byte-signature detector.
pub struct Encrypted;

impl Detector for Encrypted {
    fn protocol(&self) -> Protocol {
        Protocol::BitTorrent
    }

    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit> {
        let known = seg.flow.client_known;
        let host_state = known == Some(Protocol::BitTorrent) || (seg.flow.remote_known && known.is_none());
        let p = seg.payload;
        let shaped = seg.proto == Proto::Tcp
            && shape::is_flow_start(seg)
            && (MSE_MIN..=MSE_MAX).contains(&p.len())
            && shape::both_ports_high(seg)
            && shape::is_unframed_binary(p);
        (host_state && shaped).then(|| Hit::new(Confidence::Likely, "encrypted connection (mse)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{after_client, after_remote, known, noise, seg, seg_ports};

    /// A 68-byte handshake built from the specification (2.4a).
    fn handshake() -> Vec<u8> {
        let mut v = vec![19];
        v.extend_from_slice(b"BitTorrent protocol");
        v.extend_from_slice(&[0, 0, 0, 0, 0, 0x10, 0, 0x05]);
        v.extend_from_slice(&[0xaa; 20]);
        v.extend_from_slice(b"-TR3000-abcdefghijkl");
        v
    }

    fn tcp(from_client: bool, p: &[u8]) -> Option<Hit> {
        BitTorrent.inspect(&seg(Proto::Tcp, from_client, p))
    }

    fn udp(p: &[u8]) -> Option<&'static str> {
        BitTorrent.inspect(&seg(Proto::Udp, true, p)).map(|h| h.what)
    }

    #[test]
    fn handshake_from_either_side() {
        let h = handshake();
        assert_eq!(h.len(), 68);
        assert_eq!(tcp(true, &h).unwrap().what, "peer-wire handshake");
        assert!(tcp(false, &h).is_some());
        assert!(tcp(true, &h[..20]).is_some(), "the name alone is enough");
        assert!(tcp(true, &h[..19]).is_none());
        let mut wrong_len = h.clone();
        wrong_len[0] = 18;
        assert!(tcp(true, &wrong_len).is_none());
        let mut lower = h.clone();
        lower[1] = b'b';
        assert!(tcp(true, &lower).is_none());
    }

    #[test]
    fn handshake_split_after_the_length_byte() {
        let h = handshake();
        let s = after_client(seg(Proto::Tcp, true, &h[1..]), &[0x13], 1);
        assert!(BitTorrent.inspect(&s).is_some());
        // the same bytes without the lone 13 before them are not a handshake
        assert!(tcp(true, &h[1..]).is_none());
        let s = after_client(seg(Proto::Tcp, true, &h[1..]), &[0x12], 1);
        assert!(BitTorrent.inspect(&s).is_none());
        let s = after_client(seg(Proto::Tcp, true, &h[1..]), &[0x13], 2);
        assert!(BitTorrent.inspect(&s).is_none(), "only the very next payload");
        // the 13 came from the other side
        let s = after_remote(seg(Proto::Tcp, true, &h[1..]), &[0x13], 1);
        assert!(BitTorrent.inspect(&s).is_none());
    }

    #[test]
    fn http_tracker_requests() {
        let ih = "%aa7i%c4S%0d%de%06%24%18s%da%d4%3a%b5%cc%ec%2c%e6%22";
        let announce = format!("GET /announce?info_hash={ih}&peer_id=-TR2940-chho92c56pul&port=51413&uploaded=0&downloaded=0&left=282050560&compact=1&event=started HTTP/1.1\r\nHost: tracker.example\r\n\r\n");
        assert_eq!(tcp(true, announce.as_bytes()).unwrap().what, "http tracker announce");
        let scrape = format!("GET /scrape?info_hash={ih} HTTP/1.0\r\n\r\n");
        assert_eq!(tcp(true, scrape.as_bytes()).unwrap().what, "http tracker scrape");
        let passkey = format!("GET /0123abcd/announce.php?peer_id=x&info_hash={ih}&port=1 HTTP/1.1\r\n");
        assert!(tcp(true, passkey.as_bytes()).is_some());
        // no request line end in this segment: still the whole target is there
        let cut = format!("GET /announce?info_hash={ih} HT");
        assert!(tcp(true, cut.as_bytes()).is_some());

        for near in [
            format!("GET /announce?info_hash={} HTTP/1.1\r\n", &ih[..ih.len() - 3]),
            format!("GET /announce?info_hash={ih}%2 HTTP/1.1\r\n"),
            format!("GET /announce?info_hash={}%zz HTTP/1.1\r\n", &ih[..ih.len() - 3]),
            format!("GET /index.html?info_hash={ih} HTTP/1.1\r\n"),
            format!("GET /announce?x_info_hash={ih} HTTP/1.1\r\n"),
            format!("POST /announce?info_hash={ih} HTTP/1.1\r\n"),
            "GET /announce HTTP/1.1\r\n".to_string(),
        ] {
            assert!(tcp(true, near.as_bytes()).is_none(), "{near}");
        }
        // a request is the client's; the same text from a server is not evidence
        assert!(tcp(false, announce.as_bytes()).is_none());
    }

    #[test]
    fn udp_tracker_connect_and_announce() {
        let mut connect = UDP_TRACKER_MAGIC.to_vec();
        connect.extend_from_slice(&0u32.to_be_bytes());
        connect.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        assert_eq!(udp(&connect), Some("udp tracker connect"));
        let mut longer = connect.clone();
        longer.push(0);
        assert_eq!(udp(&longer), None);
        let mut action1 = connect.clone();
        action1[11] = 1;
        assert_eq!(udp(&action1), None);
        let mut magic = connect.clone();
        magic[7] = 0x81;
        assert_eq!(udp(&magic), None);

        let mut announce = vec![0x5a; 8];
        announce.extend_from_slice(&1u32.to_be_bytes());
        announce.extend_from_slice(&7u32.to_be_bytes());
        announce.extend_from_slice(&[0xaa; 20]);
        announce.extend_from_slice(b"-TR3000-abcdefghijkl");
        announce.extend_from_slice(&[0; 24]);
        announce.extend_from_slice(&2u32.to_be_bytes()); // event started
        announce.extend_from_slice(&[0; 8]);
        announce.extend_from_slice(&u32::MAX.to_be_bytes());
        announce.extend_from_slice(&51413u16.to_be_bytes());
        assert_eq!(announce.len(), 98);
        assert_eq!(udp(&announce), None, "no constant bytes: needs the learned connect");
        let s = known(seg(Proto::Udp, true, &announce), Some(Protocol::BitTorrent), false);
        assert_eq!(BitTorrent.inspect(&s).unwrap().what, "udp tracker announce");
        let s = known(seg(Proto::Udp, true, &announce), None, true);
        assert!(BitTorrent.inspect(&s).is_some());
        let mut bad_event = announce.clone();
        bad_event[83] = 4;
        assert!(BitTorrent.inspect(&known(seg(Proto::Udp, true, &bad_event), Some(Protocol::BitTorrent), true)).is_none());
        let mut bad_action = announce.clone();
        bad_action[11] = 2;
        assert!(BitTorrent.inspect(&known(seg(Proto::Udp, true, &bad_action), Some(Protocol::BitTorrent), true)).is_none());
    }

    fn id20() -> Vec<u8> {
        (1..=20).collect()
    }

    #[test]
    fn dht_messages() {
        let mut ping = b"d1:ad2:id20:".to_vec();
        ping.extend(id20());
        ping.extend_from_slice(b"e1:q4:ping1:t2:aa1:y1:qe");
        assert_eq!(udp(&ping), Some("dht query"));
        let mut resp = b"d1:rd2:id20:".to_vec();
        resp.extend(id20());
        resp.extend_from_slice(b"e1:t2:aa1:y1:re");
        assert_eq!(udp(&resp), Some("dht response"));
        let mut bep42 = b"d2:ip6:".to_vec();
        bep42.extend_from_slice(&[203, 0, 113, 7, 0x1a, 0xe1]);
        bep42.extend_from_slice(b"1:rd2:id20:");
        bep42.extend(id20());
        bep42.extend_from_slice(b"e1:t2:aa1:y1:re");
        assert_eq!(udp(&bep42), Some("dht response"));
        let mut bep42v6 = b"d2:ip18:".to_vec();
        bep42v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x1a, 0xe1]);
        bep42v6.extend_from_slice(b"1:rd2:id20:");
        bep42v6.extend(id20());
        bep42v6.extend_from_slice(b"e1:t2:aa1:y1:re");
        assert_eq!(udp(&bep42v6), Some("dht response"));
        let err = b"d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee";
        assert_eq!(udp(err), Some("dht error"));
        let mut unsorted = b"d1:t2:aa1:y1:q1:q4:ping1:ad2:id20:".to_vec();
        unsorted.extend(id20());
        unsorted.extend_from_slice(b"ee");
        assert_eq!(udp(&unsorted), Some("dht message"));

        // near misses
        assert_eq!(udp(&ping[..ping.len() - 1]), None, "not a whole dictionary");
        assert_eq!(udp(&ping[..33]), None, "no message type");
        let mut short_id = b"d1:ad2:id19:".to_vec();
        short_id.extend(id20());
        short_id.extend_from_slice(b"ee");
        assert_eq!(udp(&short_id), None);
        let mut bep42_cut = b"d2:ip6:".to_vec();
        bep42_cut.extend_from_slice(&[203, 0, 113, 7, 0x1a]);
        bep42_cut.extend_from_slice(b"1:rd2:id20:");
        bep42_cut.extend(id20());
        bep42_cut.extend_from_slice(b"ee");
        assert_eq!(udp(&bep42_cut), None);
        assert_eq!(udp(b"d1:eli201e"), None);
        assert_eq!(udp(b"d1:elie3:abce"), None);
        assert_eq!(udp(b"d1:t2:aa1:y1:qe"), None, "no node id");
        assert_eq!(udp(b"d4:name5:alicee"), None);
    }

    #[test]
    fn lsd() {
        let m = b"BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 51413\r\nInfohash: 0123456789abcdef0123456789abcdef01234567\r\n\r\n\r\n";
        assert_eq!(udp(m), Some("lsd announce"));
        assert_eq!(udp(b"BT-SEARCH * HTTP/1.0\r\n"), None);
        assert_eq!(udp(b"M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\n\r\n"), None);
    }

    /// A uTP header built from BEP 29's layout.
    fn utp_header(kind: u8, ext: u8, conn: u16, ts: u32, tdiff: u32, seq: u16, ack: u16) -> Vec<u8> {
        let mut v = vec![kind << 4 | 1, ext];
        v.extend_from_slice(&conn.to_be_bytes());
        v.extend_from_slice(&ts.to_be_bytes());
        v.extend_from_slice(&tdiff.to_be_bytes());
        v.extend_from_slice(&0x0010_0000u32.to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&ack.to_be_bytes());
        v
    }

    #[test]
    fn utp_header_view() {
        let syn = utp_header(4, 0, 0xbeef, 0x0102_0304, 0, 0x3333, 0);
        let h = UtpHeader::parse(&syn).unwrap();
        assert_eq!((h.kind, h.connection_id, h.timestamp_us, h.seq, h.len), (UtpType::Syn, 0xbeef, 0x0102_0304, 0x3333, 20));
        let mut with_bits = utp_header(4, 2, 1, 1, 0, 1, 0);
        with_bits.extend_from_slice(&[0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(UtpHeader::parse(&with_bits).unwrap().len, 30);
        let mut sack = utp_header(2, 1, 1, 1, 5, 1, 1);
        sack.extend_from_slice(&[2, 4, 1, 0, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(UtpHeader::parse(&sack).unwrap().len, 36);
        // near misses: version 0, type 5, extension 3, bad lengths, chain past the end
        for bad in [
            {
                let mut v = syn.clone();
                v[0] = 0x40;
                v
            },
            {
                let mut v = syn.clone();
                v[0] = 0x51;
                v
            },
            {
                let mut v = syn.clone();
                v[1] = 3;
                v
            },
            {
                let mut v = utp_header(4, 2, 1, 1, 0, 1, 0);
                v.extend_from_slice(&[0, 7, 0, 0, 0, 0, 0, 0, 0]);
                v
            },
            {
                let mut v = utp_header(4, 1, 1, 1, 0, 1, 0);
                v.extend_from_slice(&[0, 6, 0, 0, 0, 0, 0, 0]);
                v
            },
            {
                let mut v = utp_header(4, 2, 1, 1, 0, 1, 0);
                v.extend_from_slice(&[0, 8, 0, 0]);
                v
            },
            syn[..19].to_vec(),
        ] {
            assert!(UtpHeader::parse(&bad).is_none(), "{bad:02x?}");
        }
    }

    #[test]
    fn utp_syn_alone_is_not_enough() {
        let syn = utp_header(4, 0, 0x1000, 77, 0, 0x2222, 0);
        assert!(BitTorrent.inspect(&seg(Proto::Udp, true, &syn)).is_none());
    }

    #[test]
    fn utp_state_answering_a_syn() {
        let syn = utp_header(4, 0, 0x1000, 77, 0, 0x2222, 0);
        let state = utp_header(2, 0, 0x1000, 99, 22, 0x5151, 0x2222);
        // outgoing: the client sent the SYN, the remote answers
        let s = after_client(seg(Proto::Udp, false, &state), &syn, 1);
        assert_eq!(BitTorrent.inspect(&s).unwrap().what, "utp connection");
        // incoming: the remote sent the SYN, the client answers
        let s = after_remote(seg(Proto::Udp, true, &state), &syn, 1);
        assert!(BitTorrent.inspect(&s).is_some());
        // with the extension-bits SYN that libtorrent sends (30 bytes: longer than the
        // engine keeps, but the chain's headers are visible)
        let mut syn_ext = utp_header(4, 2, 0x1000, 77, 0, 0x2222, 0);
        syn_ext.extend_from_slice(&[0, 8, 0, 0, 0, 0, 0, 0x10, 0, 0]);
        let s = after_client(seg(Proto::Udp, false, &state), &syn_ext, 1);
        assert!(BitTorrent.inspect(&s).is_some());

        // near misses: other ids, ack, a SYN with payload or a timestamp difference,
        // a STATE with payload, the SYN from the same side
        let wrong_id = utp_header(2, 0, 0x1001, 99, 22, 0x5151, 0x2222);
        let wrong_ack = utp_header(2, 0, 0x1000, 99, 22, 0x5151, 0x2223);
        for st in [&wrong_id, &wrong_ack] {
            assert!(BitTorrent.inspect(&after_client(seg(Proto::Udp, false, st), &syn, 1)).is_none());
        }
        let mut syn_data = syn.clone();
        syn_data.push(0);
        assert!(BitTorrent.inspect(&after_client(seg(Proto::Udp, false, &state), &syn_data, 1)).is_none());
        let syn_tdiff = utp_header(4, 0, 0x1000, 77, 5, 0x2222, 0);
        assert!(BitTorrent.inspect(&after_client(seg(Proto::Udp, false, &state), &syn_tdiff, 1)).is_none());
        let mut state_data = state.clone();
        state_data.push(1);
        assert!(BitTorrent.inspect(&after_client(seg(Proto::Udp, false, &state_data), &syn, 1)).is_none());
        assert!(BitTorrent.inspect(&after_client(seg(Proto::Udp, true, &state), &syn, 1)).is_none());
    }

    #[test]
    fn utp_data_with_the_handshake() {
        let mut data = utp_header(0, 0, 0x1001, 5, 9, 0x2223, 0x5151);
        data.extend(handshake());
        assert_eq!(udp(&data).unwrap(), "utp peer-wire handshake");
        let mut other = utp_header(0, 0, 0x1001, 5, 9, 0x2223, 0x5151);
        other.extend(noise(3, 68));
        assert_eq!(udp(&other), None);
    }

    #[test]
    fn quic_and_dns_are_not_utp() {
        // QUIC short header: 0x41 then a connection id; a STATE-looking answer cannot
        // confirm it because QUIC answers start 0x40..0x7f too, never 0x21.
        let mut quic = vec![0x41, 0x00];
        quic.extend(noise(9, 18));
        let mut answer = vec![0x21, 0x00];
        answer.extend_from_slice(&quic[2..4]);
        answer.extend(noise(10, 30));
        assert!(BitTorrent.inspect(&after_client(seg(Proto::Udp, false, &answer), &quic, 1)).is_none());
        // a 20-byte DNS query whose id starts 0x41 0x00, and its answer
        let query = [0x41, 0x00, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1, 0];
        assert_eq!(udp(&query), None);
        let mut reply = query.to_vec();
        reply[2] = 0x81;
        reply[3] = 0x80;
        assert!(BitTorrent.inspect(&after_client(seg(Proto::Udp, false, &reply), &query, 1)).is_none());
    }

    #[test]
    fn mse_needs_host_state_and_shape() {
        let ya = noise(42, 96 + 137);
        let plain = seg(Proto::Tcp, true, &ya);
        assert!(BitTorrent.inspect(&plain).is_none());
        assert!(Encrypted.inspect(&plain).is_none(), "never on shape alone");
        let hit = Encrypted.inspect(&known(plain, Some(Protocol::BitTorrent), false)).unwrap();
        assert_eq!(hit.confidence, Confidence::Likely);
        assert!(Encrypted.inspect(&known(plain, None, true)).is_some());
        // the remote opened the connection to a LAN seeder
        assert!(Encrypted.inspect(&known(seg(Proto::Tcp, false, &ya), Some(Protocol::BitTorrent), false)).is_some());

        // near misses
        let bt = |s| known(s, Some(Protocol::BitTorrent), false);
        assert!(Encrypted.inspect(&known(plain, Some(Protocol::EDonkey), true)).is_none(), "a host that ran something else");
        assert!(Encrypted.inspect(&bt(seg(Proto::Tcp, true, &ya[..95]))).is_none());
        let big = noise(43, 609);
        assert!(Encrypted.inspect(&bt(seg(Proto::Tcp, true, &big))).is_none());
        assert!(Encrypted.inspect(&bt(seg(Proto::Udp, true, &ya))).is_none());
        assert!(Encrypted.inspect(&bt(after_remote(seg(Proto::Tcp, true, &ya), b"x", 1))).is_none(), "not the first payload");
        assert!(Encrypted.inspect(&bt(seg_ports(Proto::Tcp, true, 50000, 443, &ya))).is_none());
        let mut tls = vec![0x16, 0x03, 0x01, 0x01, 0x00, 0x01];
        tls.extend(noise(44, 250));
        assert!(Encrypted.inspect(&bt(seg(Proto::Tcp, true, &tls))).is_none());
        let text = [b'a'; 200];
        assert!(Encrypted.inspect(&bt(seg(Proto::Tcp, true, &text))).is_none());
    }
}
