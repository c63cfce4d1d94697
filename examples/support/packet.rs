//! One IP packet built with etherparse, for the example capture generator and the
//! benchmarks (included by path: examples/ and benches/ cannot share a module otherwise).

use std::net::{IpAddr, SocketAddr};

/// UDP if `tcp` is `None`; a TCP SYN if `Some(true)`; a TCP ACK+PSH data segment if
/// `Some(false)`. Addresses are `ip:port` or `[v6]:port`.
pub fn packet(src: &str, dst: &str, tcp: Option<bool>, payload: &[u8]) -> Vec<u8> {
    let (s, d): (SocketAddr, SocketAddr) = (src.parse().expect("src"), dst.parse().expect("dst"));
    let ip = match (s.ip(), d.ip()) {
        (IpAddr::V4(a), IpAddr::V4(b)) => etherparse::PacketBuilder::ipv4(a.octets(), b.octets(), 64),
        (IpAddr::V6(a), IpAddr::V6(b)) => etherparse::PacketBuilder::ipv6(a.octets(), b.octets(), 64),
        _ => panic!("mixed address families"),
    };
    let mut out = Vec::new();
    let written = match tcp {
        None => ip.udp(s.port(), d.port()).write(&mut out, payload),
        Some(true) => ip.tcp(s.port(), d.port(), 1, 64240).syn().write(&mut out, payload),
        Some(false) => ip.tcp(s.port(), d.port(), 2, 64240).ack(1).psh().write(&mut out, payload),
    };
    written.expect("build packet");
    out
}
