//! Builds the UDP datagrams ftwall sends as if a peer had sent them (the spoofed
//! answers): a whole IPv4 or IPv6 packet with correct checksums, ready for a raw socket
//! that takes the IP header from us. Pure: bytes in, bytes out.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::addr::Endpoint;

/// Hop limit of the datagrams we make, as a normal host would send them.
pub const TTL: u8 = 64;

const IPV4_HEADER: usize = 20;
const IPV6_HEADER: usize = 40;
const UDP_HEADER: usize = 8;
const PROTO_UDP: u8 = 17;

/// Why a datagram could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The two ends are of different address families.
    MixedFamilies,
    /// The payload does not fit in one datagram.
    TooLong,
}

/// Builds `from -> to` carrying `payload`: IPv4 header (with `id`) or IPv6 header, then
/// UDP header, then the payload.
pub fn udp(from: Endpoint, to: Endpoint, payload: &[u8], id: u16) -> Result<Vec<u8>, BuildError> {
    let udp_len = UDP_HEADER.checked_add(payload.len()).ok_or(BuildError::TooLong)?;
    let udp_len16 = u16::try_from(udp_len).map_err(|_| BuildError::TooLong)?;
    match (from.ip, to.ip) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(IPV4_HEADER + udp_len).map_err(|_| BuildError::TooLong)?;
            let mut p = Vec::with_capacity(usize::from(total));
            p.extend_from_slice(&[0x45, 0]);
            p.extend_from_slice(&total.to_be_bytes());
            p.extend_from_slice(&id.to_be_bytes());
            // Don't fragment: these are tiny.
            p.extend_from_slice(&[0x40, 0x00, TTL, PROTO_UDP, 0, 0]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            let sum = finish(add_words(0, &p));
            p[10..12].copy_from_slice(&sum.to_be_bytes());
            push_udp(&mut p, from.port, to.port, udp_len16, payload, pseudo_v4(s, d, udp_len16));
            Ok(p)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let mut p = Vec::with_capacity(IPV6_HEADER + udp_len);
            p.extend_from_slice(&[0x60, 0, 0, 0]);
            p.extend_from_slice(&udp_len16.to_be_bytes());
            p.extend_from_slice(&[PROTO_UDP, TTL]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
            push_udp(&mut p, from.port, to.port, udp_len16, payload, pseudo_v6(s, d, udp_len16));
            Ok(p)
        }
        _ => Err(BuildError::MixedFamilies),
    }
}

fn push_udp(p: &mut Vec<u8>, sport: u16, dport: u16, len: u16, payload: &[u8], pseudo: u32) {
    let start = p.len();
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    let sum = finish(add_words(pseudo, &p[start..]));
    // In UDP an all-zero checksum means "none"; a computed zero is sent as all ones.
    let sum = if sum == 0 { 0xffff } else { sum };
    p[start + 6..start + 8].copy_from_slice(&sum.to_be_bytes());
}

fn pseudo_v4(s: Ipv4Addr, d: Ipv4Addr, udp_len: u16) -> u32 {
    let mut acc = add_words(0, &s.octets());
    acc = add_words(acc, &d.octets());
    acc + u32::from(PROTO_UDP) + u32::from(udp_len)
}

fn pseudo_v6(s: Ipv6Addr, d: Ipv6Addr, udp_len: u16) -> u32 {
    let mut acc = add_words(0, &s.octets());
    acc = add_words(acc, &d.octets());
    acc + u32::from(PROTO_UDP) + u32::from(udp_len)
}

/// Adds big-endian 16-bit words (an odd last byte is padded with zero), folding the
/// carries as it goes so the sum never overflows.
fn add_words(mut acc: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for w in &mut chunks {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
        acc = (acc & 0xffff) + (acc >> 16);
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// The one's complement of the folded sum: the Internet checksum.
fn finish(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{IpNumber, Ipv4HeaderSlice, Ipv6HeaderSlice, UdpHeaderSlice};

    fn ep(s: &str) -> Endpoint {
        s.parse().unwrap()
    }

    const PONG: [u8; 17] = [0x28, 0, 0, 0, 0x29, 0, 0, 0, 0, 0, 0, b'K', b'a', b'Z', b'a', b'A', 0];

    /// Checksums are checked with etherparse's own implementation, not ours.
    #[test]
    fn ipv4_datagram_has_correct_headers_and_checksums() {
        let from = ep("203.0.113.20:1214");
        let to = ep("192.168.50.10:1214");
        let p = udp(from, to, &PONG, 0x1234).unwrap();
        assert_eq!(p.len(), 20 + 8 + 17);
        let ip = Ipv4HeaderSlice::from_slice(&p).unwrap();
        assert_eq!(ip.total_len(), 45);
        assert_eq!(ip.protocol(), IpNumber::UDP);
        assert_eq!(ip.ttl(), TTL);
        assert_eq!(ip.identification(), 0x1234);
        assert_eq!(ip.source_addr(), "203.0.113.20".parse::<Ipv4Addr>().unwrap());
        assert_eq!(ip.destination_addr(), "192.168.50.10".parse::<Ipv4Addr>().unwrap());
        let header = ip.to_header();
        assert_eq!(ip.header_checksum(), header.calc_header_checksum());

        let u = UdpHeaderSlice::from_slice(&p[20..]).unwrap();
        assert_eq!((u.source_port(), u.destination_port(), u.length()), (1214, 1214, 25));
        let expect = u.to_header().calc_checksum_ipv4(&header, &p[28..]).unwrap();
        assert_eq!(u.checksum(), expect);
        assert_eq!(&p[28..], &PONG);
    }

    #[test]
    fn ipv6_datagram_has_correct_headers_and_checksum() {
        let from = ep("[2001:db8:ff::20]:1214");
        let to = ep("[2001:db8:50::10]:4000");
        let p = udp(from, to, &PONG, 0).unwrap();
        assert_eq!(p.len(), 40 + 8 + 17);
        let ip = Ipv6HeaderSlice::from_slice(&p).unwrap();
        assert_eq!(ip.payload_length(), 25);
        assert_eq!(ip.next_header(), IpNumber::UDP);
        assert_eq!(ip.hop_limit(), TTL);
        assert_eq!(ip.source_addr(), "2001:db8:ff::20".parse::<Ipv6Addr>().unwrap());
        let u = UdpHeaderSlice::from_slice(&p[40..]).unwrap();
        assert_eq!((u.source_port(), u.destination_port(), u.length()), (1214, 4000, 25));
        let expect = u.to_header().calc_checksum_ipv6(&ip.to_header(), &p[48..]).unwrap();
        assert_eq!(u.checksum(), expect);
    }

    #[test]
    fn odd_and_empty_payloads_sum_correctly() {
        for payload in [&b""[..], b"x", b"abc", &[0xff; 63]] {
            let p = udp(ep("198.51.100.7:9"), ep("192.0.2.9:65535"), payload, 7).unwrap();
            let ip = Ipv4HeaderSlice::from_slice(&p).unwrap().to_header();
            let u = UdpHeaderSlice::from_slice(&p[20..]).unwrap();
            assert_eq!(u.checksum(), u.to_header().calc_checksum_ipv4(&ip, payload).unwrap(), "{payload:?}");
            assert_ne!(u.checksum(), 0, "zero means no checksum");
        }
    }

    #[test]
    fn a_whole_packet_sums_to_all_ones() {
        // The receiver's check: the header with its checksum adds up to 0xffff.
        let p = udp(ep("203.0.113.1:1"), ep("192.0.2.2:2"), b"hello", 99).unwrap();
        assert_eq!(finish(add_words(0, &p[..20])), 0);
    }

    #[test]
    fn refuses_what_cannot_be_sent() {
        assert_eq!(udp(ep("192.0.2.1:1"), ep("[2001:db8::1]:1"), b"", 0), Err(BuildError::MixedFamilies));
        let big = vec![0u8; 65_530];
        assert_eq!(udp(ep("192.0.2.1:1"), ep("192.0.2.2:1"), &big, 0), Err(BuildError::TooLong));
        assert!(udp(ep("[2001:db8::1]:1"), ep("[2001:db8::2]:1"), &big[..65_000], 0).is_ok());
    }
}
