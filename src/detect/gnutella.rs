//! Gnutella 0.4/0.6 and Gnutella2 (LimeWire, BearShare, gtk-gnutella, Shareaza, Phex...)
//! (p2p-signatures.md 2.6).
//!
//! TCP, one packet, either direction:
//! * the handshake `GNUTELLA CONNECT/<version>` and its answers `GNUTELLA/0.<n> <code>` and
//!   0.4's `GNUTELLA OK` (2.6a);
//! * G2's handshake headers (`Accept:`/`Content-Type: application/x-gnutella2` or
//!   `application/x-gnutella-packets`) in a text payload;
//! * HTTP downloads (2.6b): `GET /uri-res/N2R?urn:sha1:`, the THEX/tigertree and push-proxy
//!   paths under `/gnutella/`, and `GET /get/<index>/` only together with an `X-Gnutella-`
//!   or `X-Queue:` header (in the same segment or the request's next one), since `/get/`
//!   alone is an ordinary web path; a server's HTTP reply with `X-Gnutella-` headers;
//! * the push `GIV <index>:<32 hex servent id>/`.
//!
//! UDP, one datagram:
//! * a Gnutella message: the 23-byte header (16-byte GUID, function, TTL, hops) whose
//!   little-endian payload length at offset 19 is exactly the rest of the datagram, with a
//!   known function byte and TTL + hops <= 7 (2.6c). nDPI's own capture has 308 UDP flows it
//!   leaves Unknown (and one it calls BACnet) that this rule identifies;
//! * a G2 datagram: `GND`, flags, sequence, part and count consistent (an acknowledgement
//!   is exactly the 8-byte header), or a bare G2 packet whose control byte, name and length
//!   describe the whole datagram exactly (one of l7-filter's G2 samples is one).

use super::{Confidence, Detector, Hit, Proto, Protocol, Segment};
use crate::wire::bytes::{find_ci, is_digits, le32, starts_with_ci};

/// Function bytes a Gnutella message may carry over UDP: ping, pong, bye, vendor,
/// standard vendor, push, query, query hit, Mojito DHT.
pub const FUNCTIONS: [u8; 9] = [0x00, 0x01, 0x02, 0x31, 0x32, 0x40, 0x80, 0x81, 0x44];

/// Largest TTL + hops a real servent sends (the network's maximum TTL).
pub const MAX_TTL: u8 = 7;

/// A Gnutella message header (0.6), as carried over UDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub guid: &'a [u8],
    pub function: u8,
    pub ttl: u8,
    pub hops: u8,
    pub payload_len: u32,
}

impl<'a> Header<'a> {
    pub const LEN: usize = 23;

    pub fn parse(b: &'a [u8]) -> Option<Header<'a>> {
        let h = b.get(..Header::LEN)?;
        Some(Header { guid: &h[..16], function: h[16], ttl: h[17], hops: h[18], payload_len: le32(h, 19)? })
    }

    /// True if the header describes exactly this datagram and could come from a servent.
    pub fn fits_datagram(&self, len: usize) -> bool {
        let all_same = self.guid.iter().all(|&c| c == self.guid[0]);
        self.payload_len as usize == len.wrapping_sub(Header::LEN)
            && FUNCTIONS.contains(&self.function)
            && u16::from(self.ttl) + u16::from(self.hops) <= u16::from(MAX_TTL)
            && !all_same
    }
}

/// G2 packet names that may stand at the top of a datagram or stream.
const G2_TOP_NAMES: [&[u8]; 18] = [
    b"PI", b"PO", b"LNI", b"KHL", b"KHLR", b"KHLA", b"QKR", b"QKA", b"Q2", b"QA", b"QH2", b"QHT", b"PUSH", b"CRAWLR", b"CRAWLA",
    b"HAW", b"UPROC", b"UPROD",
];

/// How deep G2 children may nest before the packet is implausible.
const G2_MAX_DEPTH: u8 = 4;

/// Parses one G2 packet at the start of `b`; returns its name and total length.
/// Children of a compound packet are checked too.
pub fn g2_packet(b: &[u8], depth: u8) -> Option<(&[u8], usize)> {
    let control = *b.first()?;
    let len_len = usize::from(control >> 6);
    let name_len = usize::from((control >> 3) & 7) + 1;
    let compound = control & 0x04 != 0;
    let big_endian = control & 0x02 != 0;
    if control & 0x01 != 0 || depth > G2_MAX_DEPTH {
        return None;
    }
    let len_bytes = b.get(1..1 + len_len)?;
    let fold = |acc: usize, &x: &u8| acc << 8 | usize::from(x);
    let length = if big_endian { len_bytes.iter().fold(0, fold) } else { len_bytes.iter().rev().fold(0, fold) };
    let name = b.get(1 + len_len..1 + len_len + name_len)?;
    if !name.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        return None;
    }
    let start = 1 + len_len + name_len;
    let end = start.checked_add(length)?;
    let payload = b.get(start..end)?;
    if compound {
        // Children fill the payload, or end at a zero byte before the packet's own data.
        let mut at = 0;
        while at < payload.len() && payload[at] != 0 {
            let (_, n) = g2_packet(&payload[at..], depth + 1)?;
            at += n;
        }
        if at == 0 {
            return None;
        }
    }
    Some((name, end))
}

/// A G2 UDP datagram: the `GND` header, or a bare G2 packet filling the datagram.
fn g2_datagram(p: &[u8]) -> Option<&'static str> {
    if let Some(h) = p.strip_prefix(b"GND") {
        let (&flags, rest) = h.split_first()?;
        // flags: deflate, acknowledge-me, and the two bits newer servents set
        let (part, count) = (*rest.get(2)?, *rest.get(3)?);
        let header_ok = flags & !0x17 == 0
            && if count == 0 { p.len() == 8 } else { (1..=count).contains(&part) && p.len() > 8 };
        return header_ok.then_some("g2 udp");
    }
    let (name, len) = g2_packet(p, 0)?;
    (len == p.len() && G2_TOP_NAMES.contains(&name)).then_some("g2 udp packet")
}

/// The text evidence of a TCP payload.
fn tcp_evidence(seg: &Segment<'_>) -> Option<&'static str> {
    let p = seg.payload;
    if let Some(v) = p.strip_prefix(b"GNUTELLA CONNECT/") {
        return v.first().is_some_and(u8::is_ascii_digit).then_some("handshake");
    }
    if let Some(v) = p.strip_prefix(b"GNUTELLA/0.") {
        // version digit, space, three-digit status code
        let ok = v.len() >= 5 && v[0].is_ascii_digit() && v[1] == b' ' && is_digits(&v[2..5]);
        return ok.then_some("handshake");
    }
    if p.starts_with(b"GNUTELLA OK\n") {
        return Some("handshake");
    }
    if let Some(v) = p.strip_prefix(b"GIV ") {
        return giv(v).then_some("push GIV");
    }
    if seg.from_client {
        if let Some(what) = download_request(p) {
            return Some(what);
        }
        // A /get/ request whose headers arrive in its next segment.
        if seg.flow.client_payloads > 0 && seg.flow.client_first.bytes().starts_with(b"GET /get/") && gnutella_headers(p) {
            return Some("http download");
        }
    } else if p.starts_with(b"HTTP/1.") && find_ci(p, b"\r\nX-Gnutella-").is_some() {
        return Some("http download reply");
    }
    g2_handshake_headers(p).then_some("g2 handshake")
}

/// `GIV <index>:<32 hex>/`, given what follows `GIV `.
fn giv(v: &[u8]) -> bool {
    let digits = v.iter().take_while(|c| c.is_ascii_digit()).count();
    let Some(rest) = v.get(digits..).and_then(|r| r.strip_prefix(b":")) else { return false };
    digits > 0 && rest.len() > 32 && rest[..32].iter().all(u8::is_ascii_hexdigit) && rest[32] == b'/'
}

/// Headers only Gnutella servents send.
fn gnutella_headers(p: &[u8]) -> bool {
    find_ci(p, b"\r\nX-Gnutella-").is_some() || find_ci(p, b"\r\nX-Queue:").is_some() || p.starts_with(b"X-Gnutella-")
}

/// An HTTP request that only Gnutella servents make.
fn download_request(p: &[u8]) -> Option<&'static str> {
    let target = p.strip_prefix(b"GET ").or_else(|| p.strip_prefix(b"HEAD "))?;
    if starts_with_ci(target, b"/uri-res/N2R?urn:sha1:") {
        return Some("http download");
    }
    for path in [&b"/gnutella/thex/"[..], b"/gnutella/tigertree/", b"/gnutella/push-proxy?"] {
        if target.starts_with(path) {
            return Some("http download");
        }
    }
    if let Some(rest) = target.strip_prefix(b"/get/") {
        let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && rest.get(digits) == Some(&b'/') && gnutella_headers(p) {
            return Some("http download");
        }
    }
    None
}

/// G2's content types in handshake header lines.
fn g2_handshake_headers(p: &[u8]) -> bool {
    // Header lines are text: do not search binary payloads at all.
    if !p.first().is_some_and(u8::is_ascii_alphabetic) || !super::shape::is_text(p) {
        return false;
    }
    [&b"\nAccept: application/x-gnutella2"[..], b"\nContent-Type: application/x-gnutella2", b"application/x-gnutella-packets"]
        .iter()
        .any(|h| find_ci(p, h).is_some())
}

/// The Gnutella and G2 detector.
pub struct Gnutella;

impl Detector for Gnutella {
    fn protocol(&self) -> Protocol {
        Protocol::Gnutella
    }

    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit> {
        let what = match seg.proto {
            Proto::Tcp => tcp_evidence(seg)?,
            Proto::Udp => {
                let p = seg.payload;
                match Header::parse(p) {
                    Some(h) if h.fits_datagram(p.len()) => "udp message",
                    _ => g2_datagram(p)?,
                }
            }
        };
        Some(Hit::new(Confidence::Certain, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{after_client, noise, seg};

    fn tcp(from_client: bool, p: &[u8]) -> Option<&'static str> {
        Gnutella.inspect(&seg(Proto::Tcp, from_client, p)).map(|h| h.what)
    }

    fn udp(p: &[u8]) -> Option<&'static str> {
        Gnutella.inspect(&seg(Proto::Udp, true, p)).map(|h| h.what)
    }

    /// A Gnutella UDP message built from the 0.6 specification: modern GUID (byte 8 FF,
    /// byte 15 the version), function, TTL, hops, LE32 payload length, payload.
    fn message(function: u8, ttl: u8, hops: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x12, 0x9c, 0x31, 0x02, 0x56, 0xa4, 0x06, 0x5d, 0xff, 0x6e, 0x15, 0xf2, 0x79, 0xe9, 0x8e, 0x00];
        v.extend_from_slice(&[function, ttl, hops]);
        v.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn handshakes() {
        let connect = b"GNUTELLA CONNECT/0.6\r\nUser-Agent: gtk-gnutella/1.2.2\r\nX-Ultrapeer: False\r\n\r\n";
        assert_eq!(tcp(true, connect), Some("handshake"));
        assert_eq!(tcp(false, connect), Some("handshake"));
        assert_eq!(tcp(false, b"GNUTELLA/0.6 200 OK\r\nUser-Agent: x\r\n\r\n"), Some("handshake"));
        assert_eq!(tcp(true, b"GNUTELLA/0.6 503 Too many leaves\r\n\r\n"), Some("handshake"));
        assert_eq!(tcp(true, b"GNUTELLA CONNECT/0.4\n\n"), Some("handshake"));
        assert_eq!(tcp(false, b"GNUTELLA OK\n\n"), Some("handshake"));
        for near in [&b"GNUTELLA CONNECT/"[..], b"GNUTELLA CONNECT/x.6\r\n", b"gnutella connect/0.6\r\n", b"GNUTELLA/0.6 2OO OK\r\n", b"GNUTELLA/0.6\r\n", b"GNUTELLA/1.0 200 OK\r\n", b"GNUTELLA OK"] {
            assert_eq!(tcp(true, near), None, "{}", String::from_utf8_lossy(near));
        }
    }

    #[test]
    fn g2_headers() {
        let p = b"User-Agent: Shareaza 2.1.0.0\r\nAccept: application/x-gnutella2\r\n\r\n";
        assert_eq!(tcp(false, p), Some("g2 handshake"));
        let p = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-gnutella-packets\r\n\r\n";
        assert_eq!(tcp(false, p), Some("g2 handshake"));
        assert_eq!(tcp(false, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"), None);
        assert_eq!(tcp(false, b"\x00\x01Accept: application/x-gnutella2"), None, "not text");
    }

    #[test]
    fn downloads() {
        let n2r = b"GET /uri-res/N2R?urn:sha1:LXFWQ5IHJ7W4AWTNFCQWHFJUKOTHVE3R HTTP/1.1\r\nHost: 203.0.113.5:6346\r\n\r\n";
        assert_eq!(tcp(true, n2r), Some("http download"));
        assert_eq!(tcp(true, b"GET /gnutella/thex/v1?urn:tree:tiger/:ABC HTTP/1.1\r\n"), Some("http download"));
        assert_eq!(tcp(true, b"HEAD /gnutella/push-proxy?ServerId=abc HTTP/1.1\r\n"), Some("http download"));
        let get = b"GET /get/42/song.mp3 HTTP/1.1\r\nUser-Agent: LimeWire/4.8\r\nX-Queue: 0.1\r\n\r\n";
        assert_eq!(tcp(true, get), Some("http download"));
        let get_plain = b"GET /get/42/song.mp3 HTTP/1.1\r\nUser-Agent: curl/8\r\n\r\n";
        assert_eq!(tcp(true, get_plain), None, "/get/ is an ordinary web path");
        assert_eq!(tcp(true, b"GET /get/x/song.mp3 HTTP/1.1\r\nX-Queue: 0.1\r\n"), None);
        // headers in the request's next segment
        let s = after_client(seg(Proto::Tcp, true, b"X-Gnutella-Content-URN: urn:sha1:ABC\r\n\r\n"), b"GET /get/42/song.mp3 HTTP/1.1\r\n", 1);
        assert!(Gnutella.inspect(&s).is_some());
        let s = after_client(seg(Proto::Tcp, true, b"X-Gnutella-Content-URN: urn:sha1:ABC\r\n\r\n"), b"GET /index.html HTTP/1.1\r\n", 1);
        assert!(Gnutella.inspect(&s).is_none());
        let reply = b"HTTP/1.1 206 OK\r\nServer: Shareaza 2.7\r\nX-Gnutella-Content-URN: urn:sha1:LXF\r\n\r\n";
        assert_eq!(tcp(false, reply), Some("http download reply"));
        assert_eq!(tcp(true, reply), None, "a reply comes from the server");
        assert_eq!(tcp(true, b"GET /uri-res/N2X?urn:sha1:ABC HTTP/1.1\r\n"), None);
    }

    #[test]
    fn push() {
        assert_eq!(tcp(true, b"GIV 12:0123456789abcdef0123456789ABCDEF/song.mp3\n\n"), Some("push GIV"));
        assert_eq!(tcp(true, b"GIV :0123456789abcdef0123456789abcdef/x\n\n"), None);
        assert_eq!(tcp(true, b"GIV 12:0123456789abcdef0123456789abcdeg/x\n\n"), None);
        assert_eq!(tcp(true, b"GIV 12:0123456789abcdef0123456789abcdef\n\n"), None);
    }

    #[test]
    fn udp_header_rule() {
        let ping = message(0x00, 1, 0, &[0xc3, 0x82, 0x51, 0x4b, 0x40]);
        assert_eq!(ping.len(), 28);
        assert_eq!(udp(&ping), Some("udp message"));
        assert_eq!(udp(&message(0x01, 1, 0, &[0; 14])), Some("udp message"));
        assert_eq!(udp(&message(0x44, 0, 0, b"\x00\x05GTKG\x00\x00")), Some("udp message"));
        assert_eq!(udp(&message(0x80, 4, 3, b"query")), Some("udp message"));
        assert_eq!(udp(&message(0x00, 1, 0, &[])), Some("udp message"));

        let mut long = ping.clone();
        long.push(0);
        assert_eq!(udp(&long), None);
        let mut big_endian = ping.clone();
        big_endian[19..23].copy_from_slice(&5u32.to_be_bytes());
        assert_eq!(udp(&big_endian), None, "the length is little-endian");
        assert_eq!(udp(&message(0x03, 1, 0, &[1])), None, "unknown function");
        assert_eq!(udp(&message(0x00, 8, 0, &[1])), None);
        assert_eq!(udp(&message(0x00, 4, 4, &[1])), None);
        assert_eq!(udp(&[0u8; 23]), None, "an all-zero GUID is no servent's");
        assert_eq!(udp(&ping[..22]), None);
    }

    #[test]
    fn g2_datagrams() {
        // l7-filter's samples: GND + PI, GND + PO/RELAY, and a bare PI/IDENT packet.
        let pi = b"GND\x02\x08\x00\x01\x01\x48\x00PI";
        assert_eq!(udp(pi), Some("g2 udp"));
        let po = b"GND\x02\x09\x00\x01\x01\x4c\x07PO\x60\x00RELAY";
        assert_eq!(udp(po), Some("g2 udp"));
        let bare = b"\x4c\x0bPI\x60\x04IDENTr\x05\x89\x0e";
        assert_eq!(udp(bare), Some("g2 udp packet"));
        assert_eq!(udp(b"GND\x00\x08\x00\x01\x00"), Some("g2 udp"), "an acknowledgement");
        assert_eq!(udp(b"GND\x10\x8b\x01\x01\x01T\x0bQKR"), Some("g2 udp"));

        // near misses
        assert_eq!(udp(b"GND\x00\x08\x00\x01\x00\x00"), None, "an ack has no payload");
        assert_eq!(udp(b"GND\x02\x08\x00\x02\x01\x48\x00PI"), None, "part beyond count");
        assert_eq!(udp(b"GND\x02\x08\x00\x00\x01\x48\x00PI"), None, "part 0");
        assert_eq!(udp(b"GND\x80\x08\x00\x01\x01\x48\x00PI"), None, "unknown flag");
        assert_eq!(udp(b"GND\x02\x08\x00\x01"), None);
        assert_eq!(udp(&bare[..14]), None);
        let mut longer = bare.to_vec();
        longer.push(0);
        assert_eq!(udp(&longer), None);
        assert_eq!(udp(b"\x4c\x0bXY\x60\x04IDENTr\x05\x89\x0e"), None, "unknown name");
        assert_eq!(udp(b"\x4c\x0bPI\x60\x05IDENTr\x05\x89\x0e"), None, "child overruns");
        assert_eq!(udp(b"\x48\x00pi"), None, "names are upper case");
    }

    #[test]
    fn ordinary_traffic_is_not_gnutella() {
        assert_eq!(tcp(true, b"GET /index.html HTTP/1.1\r\nHost: example.org\r\n\r\n"), None);
        assert_eq!(tcp(false, b"HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n"), None);
        // a DNS query and random datagrams
        assert_eq!(udp(&[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'o', b'r', b'g', 0, 0, 1, 0, 1]), None);
        let hits = (0..20000u32).filter(|&i| udp(&noise(i + 1, 8 + (i as usize % 200))).is_some()).count();
        assert_eq!(hits, 0);
    }
}
