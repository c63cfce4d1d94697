//! FastTrack (Kazaa, KazaaLite/K++, iMesh <= 2004, Grokster, Morpheus 1.x).
//!
//! Three kinds of evidence (see p2p-signatures.md 2.1):
//! * UDP supernode discovery: a 0x27 ping (`27`, 4-byte big-endian minimum encryption type,
//!   `80`, network name, `00`) and the 0x28 / 0x29 pongs. A client's ping is answered with
//!   a spoofed 0x28 pong so that the client believes UDP works and never falls back to
//!   scanning peers by TCP; the ping itself becomes the probe ftwall sends later.
//! * The start of an HTTP transfer: `GET /.hash=...`, the other FastTrack `/.` paths, or
//!   any `X-Kazaa-` header (also in the reply, and in a request's later segment), and
//!   the push `GIVE <digits>\r\n`. `X-Kazaa-SupernodeIP` names a supernode to block.
//! * The encrypted TCP session is not recognisable by bytes; it is stopped because its
//!   address was learned from the UDP discovery (peers are blocked by address).

use super::{Confidence, Detector, Hit, Proto, Protocol, ReplyBytes, Segment};
use crate::addr::Endpoint;
use crate::wire::bytes::{be32, find_ci, is_digits, is_printable, starts_with_ci};

/// Network names of real FastTrack clients.
pub const KNOWN_NETWORKS: [&[u8]; 4] = [b"KaZaA", b"fileshare", b"Grokster", b"MusicCity"];

/// Longest network name accepted (real ones are 5 to 9 bytes).
const MAX_NAME: usize = 32;

/// The kind of a FastTrack UDP discovery message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UdpKind {
    /// 0x27: client to supernode.
    Ping,
    /// 0x28: supernode to client.
    Pong,
    /// 0x29: the second pong form.
    Pong2,
}

/// A view of a FastTrack UDP discovery message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpMessage<'a> {
    pub kind: UdpKind,
    /// Minimum encryption type (bytes 1-4, big-endian).
    pub enc_type: u32,
    /// The network name without its terminating NUL (empty for 0x29).
    pub network: &'a [u8],
}

impl<'a> UdpMessage<'a> {
    /// Views `b` as a FastTrack UDP message, or `None` if it is not one.
    pub fn parse(b: &'a [u8]) -> Option<UdpMessage<'a>> {
        let first = *b.first()?;
        // Bytes 1-3 are the high bytes of a small encryption type: always zero.
        if b.get(1..4)? != [0, 0, 0] {
            return None;
        }
        let enc_type = be32(b, 1)?;
        match first {
            0x27 if *b.get(5)? == 0x80 => {
                let network = terminated_name(b, 6)?;
                Some(UdpMessage { kind: UdpKind::Ping, enc_type, network })
            }
            0x28 if *b.get(5)? == 0x00 => {
                let network = terminated_name(b, 11)?;
                Some(UdpMessage { kind: UdpKind::Pong, enc_type, network })
            }
            // 13 bytes, or 21 with the extra address; byte 5 is 1 or 2.
            0x29 if (b.len() == 13 || b.len() == 21) && matches!(b.get(5), Some(1) | Some(2)) => {
                Some(UdpMessage { kind: UdpKind::Pong2, enc_type, network: &[] })
            }
            _ => None,
        }
    }

    /// True if the network name is one real clients use.
    pub fn known_network(&self) -> bool {
        KNOWN_NETWORKS.contains(&self.network)
    }
}

/// The printable name from `at` to a NUL that is the message's last byte.
fn terminated_name(b: &[u8], at: usize) -> Option<&[u8]> {
    let (last, body) = b.split_last()?;
    let name = body.get(at..)?;
    (*last == 0 && !name.is_empty() && name.len() <= MAX_NAME && is_printable(name)).then_some(name)
}

/// Builds a ping: what a client sends to supernodes, and what ftwall sends as a probe.
pub fn ping(enc_type: u32, network: &[u8]) -> Option<ReplyBytes> {
    let mut v = ReplyBytes::new();
    v.push(0x27).ok()?;
    v.extend_from_slice(&enc_type.to_be_bytes()).ok()?;
    v.push(0x80).ok()?;
    v.extend_from_slice(network).ok()?;
    v.push(0).ok()?;
    Some(v)
}

/// Builds the spoofed 0x28 pong: the ping's encryption type and network, a load of 0 %,
/// zeros where the meaning is unknown.
pub fn pong(enc_type: u32, network: &[u8]) -> Option<ReplyBytes> {
    let mut v = ReplyBytes::new();
    v.push(0x28).ok()?;
    v.extend_from_slice(&enc_type.to_be_bytes()).ok()?;
    // byte 5 = 00, 6 = counter, 7-8 unknown, 9 = load %, 10 unknown
    v.extend_from_slice(&[0, 0, 0, 0, 0, 0]).ok()?;
    v.extend_from_slice(network).ok()?;
    v.push(0).ok()?;
    Some(v)
}

/// What an HTTP payload shows.
fn http_evidence(seg: &Segment<'_>) -> Option<&'static str> {
    let p = seg.payload;
    if seg.from_client {
        if starts_with_ci(p, b"GIVE ") {
            let line_end = crate::wire::bytes::find(p, b"\r\n")?;
            return is_digits(&p[5..line_end]).then_some("push GIVE");
        }
        if p.starts_with(b"GET /") {
            for path in [&b"GET /.hash="[..], b"GET /.download/", b"GET /.supernode", b"GET /.status", b"GET /.network", b"GET /.files"] {
                if p.starts_with(path) {
                    return Some("http transfer");
                }
            }
            return find_ci(p, b"\r\nX-Kazaa-").map(|_| "http transfer");
        }
        // A request whose headers arrive in a later segment.
        if seg.flow.client_payloads > 0 && seg.flow.client_first.bytes().starts_with(b"GET /") {
            return find_ci(p, b"X-Kazaa-").map(|_| "http transfer");
        }
        return None;
    }
    (p.starts_with(b"HTTP/1.") && find_ci(p, b"\r\nX-Kazaa-").is_some()).then_some("http reply")
}

/// The endpoint named by an `X-Kazaa-SupernodeIP: a.b.c.d:port` header.
fn supernode(p: &[u8]) -> Option<Endpoint> {
    const HEADER: &[u8] = b"\r\nX-Kazaa-SupernodeIP:";
    let start = find_ci(p, HEADER)? + HEADER.len();
    let rest = &p[start..];
    let end = rest.iter().position(|&c| c == b'\r' || c == b'\n').unwrap_or(rest.len());
    let value = core::str::from_utf8(&rest[..end]).ok()?.trim();
    value.parse().ok()
}

/// The FastTrack detector.
pub struct FastTrack;

impl Detector for FastTrack {
    fn protocol(&self) -> Protocol {
        Protocol::FastTrack
    }

    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit> {
        match seg.proto {
            Proto::Udp => {
                let m = UdpMessage::parse(seg.payload)?;
                let confidence = if m.known_network() || m.kind == UdpKind::Pong2 { Confidence::Certain } else { Confidence::Likely };
                let mut hit = Hit::new(
                    confidence,
                    match m.kind {
                        UdpKind::Ping => "udp ping",
                        UdpKind::Pong | UdpKind::Pong2 => "udp pong",
                    },
                );
                if seg.from_client && m.kind == UdpKind::Ping {
                    if !seg.remote_is_router {
                        hit.reply = pong(m.enc_type, m.network);
                    }
                    hit.probe = ping(m.enc_type, m.network).map(|p| (seg.client.port, p));
                } else if seg.from_client && m.kind == UdpKind::Pong {
                    // The client answers pings on this port: a probe will be answered too.
                    hit.probe = ping(m.enc_type, m.network).map(|p| (seg.client.port, p));
                }
                Some(hit)
            }
            Proto::Tcp => {
                let what = http_evidence(seg)?;
                let mut hit = Hit::new(Confidence::Certain, what);
                hit.also_block = supernode(seg.payload);
                Some(hit)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::FlowView;

    fn seg(proto: Proto, from_client: bool, payload: &[u8]) -> Segment<'_> {
        Segment {
            proto,
            client: "192.168.1.10:1214".parse().unwrap(),
            remote: "203.0.113.5:3531".parse().unwrap(),
            from_client,
            remote_is_router: false,
            payload,
            flow: FlowView::NEW,
        }
    }

    #[test]
    fn giftfasttrack_ping_is_recognised_and_answered() {
        // The exact 12 bytes giFT-FastTrack sends (ftwall.md section 8).
        let bytes = [0x27, 0, 0, 0, 0x29, 0x80, b'K', b'a', b'Z', b'a', b'A', 0];
        let m = UdpMessage::parse(&bytes).unwrap();
        assert_eq!((m.kind, m.enc_type, m.network), (UdpKind::Ping, 0x29, &b"KaZaA"[..]));
        let hit = FastTrack.inspect(&seg(Proto::Udp, true, &bytes)).unwrap();
        assert_eq!(hit.confidence, Confidence::Certain);
        let reply = hit.reply.unwrap();
        assert_eq!(reply.len(), 17, "a KaZaA pong is 17 bytes");
        let pong = UdpMessage::parse(&reply).unwrap();
        assert_eq!((pong.kind, pong.enc_type, pong.network), (UdpKind::Pong, 0x29, &b"KaZaA"[..]));
        let (port, probe) = hit.probe.unwrap();
        assert_eq!(port, 1214);
        assert_eq!(&probe[..], &bytes[..]);
    }

    #[test]
    fn every_client_family_has_its_ping_size() {
        for (name, size) in [(&b"KaZaA"[..], 12), (b"fileshare", 16), (b"Grokster", 15), (b"MusicCity", 16)] {
            let p = ping(0xa9, name).unwrap();
            assert_eq!(p.len(), size);
            assert!(UdpMessage::parse(&p).unwrap().known_network());
            assert!(FastTrack.inspect(&seg(Proto::Udp, true, &p)).is_some());
        }
    }

    #[test]
    fn near_misses_are_not_fasttrack() {
        let good = ping(0x29, b"KaZaA").unwrap();
        let mut no_nul = good.clone();
        *no_nul.last_mut().unwrap() = b'x';
        let mut high_enc = good.clone();
        high_enc[1] = 1;
        let mut bad_marker = good.clone();
        bad_marker[5] = 0x81;
        let mut unprintable = good.clone();
        unprintable[7] = 0x01;
        for b in [&no_nul[..], &high_enc, &bad_marker, &unprintable, &good[..6], &[0x27], &[], &[0x27, 0, 0, 0, 0x29, 0x80, 0]] {
            assert!(UdpMessage::parse(b).is_none(), "{b:02x?}");
        }
        // DNS-like and random datagrams.
        assert!(UdpMessage::parse(&[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]).is_none());
    }

    #[test]
    fn pong2_sizes() {
        let mut p = vec![0x29, 0, 0, 0, 0x29, 1, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(UdpMessage::parse(&p).unwrap().kind, UdpKind::Pong2);
        p.extend_from_slice(&[203, 0, 113, 9, 0x04, 0xbe, 0, 0]);
        assert_eq!(UdpMessage::parse(&p).unwrap().kind, UdpKind::Pong2);
        p.push(0);
        assert!(UdpMessage::parse(&p).is_none());
    }

    #[test]
    fn http_transfers_and_supernode() {
        let req = b"GET /.hash=0123456789abcdef0123456789abcdef01234567 HTTP/1.1\r\nHost: 203.0.113.5:3531\r\nUserAgent: KazaaClient Nov  3 2002 20:29:03\r\nX-Kazaa-Username: alice\r\nX-Kazaa-Network: KaZaA\r\nX-Kazaa-IP: 192.168.1.10:1214\r\nX-Kazaa-SupernodeIP: 198.51.100.7:2323\r\n\r\n";
        let hit = FastTrack.inspect(&seg(Proto::Tcp, true, req)).unwrap();
        assert_eq!(hit.what, "http transfer");
        assert_eq!(hit.also_block, Some("198.51.100.7:2323".parse().unwrap()));

        let old = b"GET /1234/song.mp3 HTTP/1.1\r\nx-kazaa-username: bob\r\n\r\n";
        assert!(FastTrack.inspect(&seg(Proto::Tcp, true, old)).unwrap().also_block.is_none());

        let reply = b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 300\r\nX-Kazaa-Username: carol\r\n\r\n";
        assert!(FastTrack.inspect(&seg(Proto::Tcp, false, reply)).is_some());

        assert_eq!(FastTrack.inspect(&seg(Proto::Tcp, true, b"GIVE 1234567\r\n")).unwrap().what, "push GIVE");
        assert!(FastTrack.inspect(&seg(Proto::Tcp, true, b"GIVE 12a4\r\n")).is_none());
        assert!(FastTrack.inspect(&seg(Proto::Tcp, true, b"GIVE 1234")).is_none());
    }

    #[test]
    fn headers_in_a_later_segment() {
        let mut s = seg(Proto::Tcp, true, b"X-Kazaa-Network: KaZaA\r\n\r\n");
        assert!(FastTrack.inspect(&s).is_none(), "no request seen before");
        s.flow.client_payloads = 1;
        s.flow.client_first = crate::detect::Prefix::of(b"GET /.hash=01234567");
        assert!(FastTrack.inspect(&s).is_some());
    }

    #[test]
    fn ordinary_web_traffic_is_not_fasttrack() {
        let get = b"GET /index.html HTTP/1.1\r\nHost: example.org\r\nUser-Agent: curl/8.0\r\n\r\n";
        assert!(FastTrack.inspect(&seg(Proto::Tcp, true, get)).is_none());
        let reply = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nX-Kazaa: nope\r\n\r\n";
        assert!(FastTrack.inspect(&seg(Proto::Tcp, false, reply)).is_none());
    }
}
