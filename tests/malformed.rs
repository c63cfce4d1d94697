//! Hostile and broken packets: truncated, random, fragmented, odd flags and IPv6
//! extension chains. Every one gets exactly one verdict and nothing panics.

mod common;

use common::fasttrack::{http_get, ping};
use common::*;
use ftwall::engine::{Config, Engine, Packet, Path, Reason, Verdict};
use ftwall::time::Millis;

/// A small deterministic PRNG (xorshift32), so failures reproduce.
struct Rng(u32);
impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0
    }
}

const PATHS: [Path; 6] = [Path::LanToWan, Path::WanToLan, Path::LanToRouter, Path::RouterToLan, Path::WanToRouter, Path::RouterToWan];

fn feed(engine: &mut Engine, bytes: &[u8], t: u64) {
    for path in PATHS {
        // One verdict, whatever the bytes.
        let d = engine.process(&Packet { bytes, path, mac: None }, Millis(t), &mut |_| {});
        assert!(matches!(d.verdict, Verdict::Accept | Verdict::Drop));
    }
}

#[test]
fn every_truncation_of_real_packets_is_handled() {
    let samples = [
        udp("192.168.1.2:1214", "203.0.113.1:1214", &ping(0x29, "KaZaA")),
        tcp("192.168.1.2:2000", "203.0.113.1:1214", false, &http_get("198.51.100.1:1")),
        tcp("[2001:db8::2]:2000", "[2001:db8:1::1]:1214", false, b"GIVE 123\r\n"),
        udp("[2001:db8::2]:1214", "[2001:db8:1::1]:1214", &ping(0x29, "Grokster")),
    ];
    let mut e = Engine::new(Config::default());
    for s in &samples {
        for len in 0..=s.len() {
            feed(&mut e, &s[..len], len as u64);
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut e = Engine::new(Config::default());
    let mut rng = Rng(0x1234_5678);
    let mut buf = [0u8; 1600];
    for i in 0..20_000u64 {
        let len = (rng.next() % 1600) as usize;
        for b in buf[..len].iter_mut() {
            *b = rng.next() as u8;
        }
        // Make most of them look like IP so the deeper layers get exercised.
        if len > 0 && i % 3 != 0 {
            buf[0] = if i % 2 == 0 { 0x45 } else { 0x60 };
        }
        feed(&mut e, &buf[..len], i);
    }
    assert!(e.counters().malformed > 0);
}

#[test]
fn fragments_are_not_inspected_but_locks_hold() {
    let mut e = Engine::new(Config::default());
    let ping_pkt = udp("192.168.1.2:1214", "203.0.113.1:1214", &ping(0x29, "KaZaA"));
    // Mark the ping as a first fragment (MF set): it must not be judged from a piece.
    let mut frag = ping_pkt.clone();
    frag[6] |= 0x20;
    let d = e.process(&Packet { bytes: &frag, path: Path::LanToWan, mac: None }, Millis(0), &mut |_| {});
    assert_eq!(d.reason, Reason::NotInspected);
    // Now lock the client, and check its fragments are dropped by address.
    e.process(&Packet { bytes: &ping_pkt, path: Path::LanToWan, mac: None }, Millis(1), &mut |_| {});
    let mut later = udp("192.168.1.2:5000", "198.51.100.9:9000", &[0u8; 100]);
    later[6] = 0x00;
    later[7] = 0x10; // fragment offset 16, no transport header
    let d = e.process(&Packet { bytes: &later, path: Path::LanToWan, mac: None }, Millis(2), &mut |_| {});
    assert_eq!(d.verdict, Verdict::Drop);
}

#[test]
fn odd_tcp_flags_and_extension_chains() {
    let mut e = Engine::new(Config::default());
    let base = tcp("192.168.1.2:2000", "203.0.113.1:80", true, b"");
    for flags in 0u8..=255 {
        let mut p = base.clone();
        p[20 + 13] = flags;
        feed(&mut e, &p, u64::from(flags));
    }
    // IPv6 with a chain of hop-by-hop / destination-options headers before UDP.
    let inner = udp("[2001:db8::2]:1214", "[2001:db8:1::1]:1214", &ping(0x29, "KaZaA"));
    let mut chain = inner[..40].to_vec();
    chain[6] = 0; // next header: hop-by-hop
    for i in 0..8 {
        let next = if i == 7 { 17 } else { 60 };
        chain.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
    }
    chain.extend_from_slice(&inner[40..]);
    let payload_len = (chain.len() - 40) as u16;
    chain[4..6].copy_from_slice(&payload_len.to_be_bytes());
    let d = e.process(&Packet { bytes: &chain, path: Path::LanToWan, mac: None }, Millis(0), &mut |_| {});
    assert!(matches!(d.verdict, Verdict::Accept | Verdict::Drop));
    // Zero-length and maximum-length payloads.
    feed(&mut e, &udp("192.168.1.2:1", "203.0.113.1:2", b""), 1);
    feed(&mut e, &udp("192.168.1.2:1", "203.0.113.1:2", &vec![0x27; 65_000]), 2);
}
