//! Shape tests for the detectors that recognise encrypted or obfuscated peer-to-peer
//! traffic (BitTorrent MSE/PE, eMule obfuscation, Ares transfers) from host state plus the
//! look of a flow's first packet (p2p-signatures.md 2.4h, 2.5c, 2.8).
//!
//! Those rules learn the remote as a peer, and a learned peer is blocked for every LAN
//! host. So a rule that fires on "random-looking bytes" must never fire on the first packet
//! of an ordinary protocol the same host also speaks: TLS, SSH, length-framed binary
//! protocols (DNS over TCP, OpenVPN, RDP, SMB, MySQL...), STUN. A truly random first
//! packet matches one of these exclusions with a probability far below one in a thousand,
//! so excluding them costs the encrypted-P2P rules almost nothing.

use super::Segment;
use crate::wire::bytes::{be16, be32, le16, le32};

/// How many leading bytes decide whether a payload is text.
const TEXT_WINDOW: usize = 32;

/// True if the payload starts like text: printable ASCII, tab, CR or LF.
pub fn is_text(b: &[u8]) -> bool {
    let head = &b[..b.len().min(TEXT_WINDOW)];
    !head.is_empty() && head.iter().all(|&c| (0x20..=0x7e).contains(&c) || matches!(c, b'\t' | b'\r' | b'\n'))
}

/// True if the payload starts like a TLS record or an SSLv2 client hello.
pub fn is_tls(b: &[u8]) -> bool {
    match b {
        // content type (change_cipher_spec .. heartbeat), version 3.x
        [0x14..=0x18, 0x03, 0x00..=0x04, ..] => true,
        // SSLv2 record with the high length bit, message type 1 (client hello), version 2 or 3
        [0x80..=0xff, _, 0x01, 0x00 | 0x02 | 0x03, ..] => true,
        _ => false,
    }
}

/// True if a length field at the start of the payload describes the payload: the mark of
/// a framed binary protocol, not of random bytes.
pub fn is_length_framed(b: &[u8]) -> bool {
    let len = b.len() as u64;
    let is = |v: Option<u64>, hdr: u64| v.is_some_and(|v| v == len || v + hdr == len);
    let be24_at1 = b.get(1..4).map(|s| u64::from(s[0]) << 16 | u64::from(s[1]) << 8 | u64::from(s[2]));
    let le24_at0 = b.get(0..3).map(|s| u64::from(s[2]) << 16 | u64::from(s[1]) << 8 | u64::from(s[0]));
    is(be16(b, 0).map(u64::from), 2)
        || is(le16(b, 0).map(u64::from), 2)
        || is(be32(b, 0).map(u64::from), 4)
        || is(le32(b, 0).map(u64::from), 4)
        // TPKT (RDP): 03 00 + BE16 total length
        || (b.first() == Some(&3) && be16(b, 2).is_some_and(|v| u64::from(v) == len))
        // NetBIOS session (SMB): 00 + BE24 length
        || (b.first() == Some(&0) && is(be24_at1, 4))
        // MySQL: LE24 length + sequence number
        || is(le24_at0, 4)
}

/// True if the payload is a STUN message (magic cookie at offset 4).
pub fn is_stun(b: &[u8]) -> bool {
    be32(b, 4) == Some(0x2112_a442)
}

/// True if the payload is binary with no recognisable framing: what an encrypted or
/// obfuscated P2P handshake looks like, and what ordinary protocols do not.
pub fn is_unframed_binary(b: &[u8]) -> bool {
    !b.is_empty() && !is_text(b) && !is_tls(b) && !is_length_framed(b) && !is_stun(b)
}

/// True if this segment is the first payload of its flow in either direction.
pub fn is_flow_start(seg: &Segment<'_>) -> bool {
    seg.flow.client_payloads == 0 && seg.flow.remote_payloads == 0
}

/// True if both ports are unprivileged: peer-to-peer programs listen on high ports, while
/// the services a host uses besides (web, mail, DNS, NTP, SSH...) sit below 1024.
pub fn both_ports_high(seg: &Segment<'_>) -> bool {
    seg.client.port >= 1024 && seg.remote.port >= 1024
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::noise;

    #[test]
    fn text_and_binary() {
        assert!(is_text(b"GET / HTTP/1.1\r\n"));
        assert!(is_text(b"SSH-2.0-OpenSSH_9.2\r\n"));
        assert!(!is_text(b""));
        assert!(!is_text(&[0x47, 0x45, 0x00, 0x54]));
        assert!(is_unframed_binary(&noise(7, 200)));
        assert!(!is_unframed_binary(b"SSH-2.0-OpenSSH_9.2\r\n"));
    }

    #[test]
    fn tls_is_recognised() {
        let mut hello = vec![0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00, 0x00, 0xfc, 0x03, 0x03];
        hello.extend(noise(3, 250));
        assert!(is_tls(&hello) && !is_unframed_binary(&hello));
        assert!(is_tls(&[0x17, 0x03, 0x03, 0x00, 0x20]));
        assert!(!is_tls(&[0x16, 0x02, 0x01]));
        assert!(is_tls(&[0x80, 0x2e, 0x01, 0x03, 0x01]));
    }

    #[test]
    fn length_prefixes_are_framing() {
        let mut dns_tcp = vec![0x00, 0x1d];
        dns_tcp.extend(noise(1, 0x1d));
        assert!(is_length_framed(&dns_tcp));
        let mut le32 = 100u32.to_le_bytes().to_vec();
        le32.extend(noise(2, 100));
        assert!(is_length_framed(&le32));
        let mut tpkt = vec![0x03, 0x00, 0x00, 0x13];
        tpkt.extend(noise(4, 15));
        assert!(is_length_framed(&tpkt));
        let mut mysql = vec![0x4a, 0x00, 0x00, 0x00];
        mysql.extend(noise(5, 0x4a));
        assert!(is_length_framed(&mysql));
        let mut stun = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
        stun.extend(noise(6, 20));
        assert!(is_stun(&stun) && !is_unframed_binary(&stun));
    }

    #[test]
    fn random_payloads_are_rarely_excluded() {
        // The exclusions must not eat the encrypted handshakes they protect.
        let excluded = (0..2000u32).filter(|&i| !is_unframed_binary(&noise(i + 1, 96 + (i as usize % 500)))).count();
        assert!(excluded <= 10, "{excluded} of 2000 random payloads look framed");
    }
}
