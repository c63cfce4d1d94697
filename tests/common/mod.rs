//! Packet builders and engine helpers shared by the integration tests.
#![allow(dead_code)]

use ftwall::engine::{Action, Decision, Engine, Packet, Path};
use ftwall::time::Millis;
use std::net::IpAddr;

/// A UDP packet from `src` to `dst` (both `ip:port`, IPv4 or `[v6]:port`).
pub fn udp(src: &str, dst: &str, payload: &[u8]) -> Vec<u8> {
    let (s, d) = (ep(src), ep(dst));
    let b = ip_builder(s.ip, d.ip).udp(s.port, d.port);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).expect("build udp");
    out
}

/// A TCP packet; `syn` makes it a connection request, otherwise it carries ACK+PSH.
pub fn tcp(src: &str, dst: &str, syn: bool, payload: &[u8]) -> Vec<u8> {
    let (s, d) = (ep(src), ep(dst));
    let mut b = ip_builder(s.ip, d.ip).tcp(s.port, d.port, 1000, 64240);
    b = if syn { b.syn() } else { b.ack(1).psh() };
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).expect("build tcp");
    out
}

fn ip_builder(src: IpAddr, dst: IpAddr) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => etherparse::PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => panic!("mixed address families"),
    }
}

pub fn ep(s: &str) -> ftwall::addr::Endpoint {
    s.parse().unwrap_or_else(|e| panic!("bad endpoint {s}: {e}"))
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("bad address {s}: {e}"))
}

/// Runs one packet through the engine at `secs` seconds and returns the decision and
/// the actions it asked for.
pub fn run(engine: &mut Engine, path: Path, bytes: &[u8], secs: f64) -> (Decision, Vec<Action>) {
    let mut actions = Vec::new();
    let d = engine.process(&Packet { bytes, path, mac: None }, at(secs), &mut |a| actions.push(a));
    (d, actions)
}

/// Runs the engine's clock at `secs` seconds.
pub fn tick(engine: &mut Engine, secs: f64) -> Vec<Action> {
    let mut actions = Vec::new();
    engine.tick(at(secs), &mut |a| actions.push(a));
    actions
}

pub fn at(secs: f64) -> Millis {
    Millis((secs * 1000.0) as u64)
}

/// FastTrack messages built from the specification (p2p-signatures.md 2.1), not from
/// ftwall's own builders, so the tests check the engine against the spec.
pub mod fasttrack {
    /// 0x27 ping: 27, enc type BE32, 80, network name, 00.
    pub fn ping(enc: u32, network: &str) -> Vec<u8> {
        let mut v = vec![0x27];
        v.extend_from_slice(&enc.to_be_bytes());
        v.push(0x80);
        v.extend_from_slice(network.as_bytes());
        v.push(0);
        v
    }

    /// 0x28 pong: 28, enc type, 00, counter, 2 unknown, load %, unknown, name, 00.
    pub fn pong(enc: u32, network: &str, load: u8) -> Vec<u8> {
        let mut v = vec![0x28];
        v.extend_from_slice(&enc.to_be_bytes());
        v.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, load, 0x00]);
        v.extend_from_slice(network.as_bytes());
        v.push(0);
        v
    }

    pub fn http_get(supernode: &str) -> Vec<u8> {
        format!(
            "GET /.hash=4f2d8e0c1b3a5f7e9d8c7b6a5f4e3d2c1b0a9f8e HTTP/1.1\r\n\
             Host: 203.0.113.20:1214\r\n\
             UserAgent: KazaaClient Nov  3 2002 20:29:03\r\n\
             X-Kazaa-Username: pupil\r\n\
             X-Kazaa-Network: KaZaA\r\n\
             X-Kazaa-IP: 192.168.50.10:1214\r\n\
             X-Kazaa-SupernodeIP: {supernode}\r\n\
             X-Kazaa-XferUid: 0a1b2c3d\r\n\r\n"
        )
        .into_bytes()
    }
}

/// DNS messages built from RFC 1035 section 4.1, without compression.
pub mod dns {
    /// One answer record's data.
    pub enum Rdata<'a> {
        A(&'a str),
        Aaaa(&'a str),
        Cname(&'a str),
    }

    pub fn name(n: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for label in n.split('.').filter(|l| !l.is_empty()) {
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
        out.push(0);
        out
    }

    fn header(id: u16, flags: u16, questions: u16, answers: u16) -> Vec<u8> {
        [id, flags, questions, answers, 0, 0].iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    /// A query (recursion desired) for `qname`, type A (1) or AAAA (28).
    pub fn query(qname: &str, qtype: u16) -> Vec<u8> {
        let mut m = header(0x4242, 0x0100, 1, 0);
        m.extend(name(qname));
        m.extend(qtype.to_be_bytes());
        m.extend(1u16.to_be_bytes());
        m
    }

    /// A response to an A query for `qname` holding `answers` (owner, ttl, data).
    pub fn response(qname: &str, answers: &[(&str, u32, Rdata<'_>)]) -> Vec<u8> {
        let mut m = header(0x4242, 0x8180, 1, answers.len() as u16);
        m.extend(name(qname));
        m.extend([0, 1, 0, 1]);
        for (owner, ttl, data) in answers {
            let (rtype, rdata): (u16, Vec<u8>) = match data {
                Rdata::A(ip) => (1, ip.parse::<std::net::Ipv4Addr>().expect("IPv4").octets().to_vec()),
                Rdata::Aaaa(ip) => (28, ip.parse::<std::net::Ipv6Addr>().expect("IPv6").octets().to_vec()),
                Rdata::Cname(target) => (5, name(target)),
            };
            m.extend(name(owner));
            m.extend(rtype.to_be_bytes());
            m.extend(1u16.to_be_bytes());
            m.extend(ttl.to_be_bytes());
            m.extend((rdata.len() as u16).to_be_bytes());
            m.extend(rdata);
        }
        m
    }
}

/// The test PRNGs: the same file the crate's unit tests use.
#[path = "../../src/test_rng.rs"]
pub mod prng;
