//! Hostile and broken packets: truncated, random, fragmented, odd flags and IPv6
//! extension chains. Every one gets exactly one verdict and nothing panics.

mod common;

use common::fasttrack::{http_get, ping};
use common::prng::XorShift32;
use common::*;
use ftwall::engine::{Config, Engine, Packet, Path, Reason, Verdict};
use ftwall::time::Millis;

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
    let mut rng = XorShift32(0x1234_5678);
    let mut buf = [0u8; 1600];
    for i in 0..20_000u64 {
        let len = (rng.next_u32() % 1600) as usize;
        for b in buf[..len].iter_mut() {
            *b = rng.next_u32() as u8;
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

// ---- Added for issue 9: every shape of broken or odd packet, one verdict each, and no
// shape that lets a locked client or a P2P payload slip through.

const CLIENT: &str = "192.168.1.2";
const CLIENT6: &str = "2001:db8::2";

/// An engine in which CLIENT and CLIENT6 are time-locked FastTrack clients.
fn locked_engine() -> Engine {
    let mut e = Engine::new(Config::default());
    for (c, peer) in [(format!("{CLIENT}:1214"), "203.0.113.1:1214"), (format!("[{CLIENT6}]:1214"), "[2001:db8:1::1]:1214")] {
        let (d, _) = run(&mut e, Path::LanToWan, &udp(&c, peer, &ping(0x29, "KaZaA")), 1.0);
        assert_eq!(d.verdict, Verdict::Drop);
    }
    assert!(e.is_locked(ip(CLIENT), at(1.0)) && e.is_locked(ip(CLIENT6), at(1.0)));
    e
}

/// Runs one packet and checks the engine gave exactly one verdict for it.
fn one_verdict(e: &mut Engine, path: Path, bytes: &[u8]) -> ftwall::engine::Decision {
    let before = *e.counters();
    let (d, _) = run(e, path, bytes, 2.0);
    let after = e.counters();
    assert_eq!(after.packets, before.packets + 1);
    assert_eq!(after.accepted + after.dropped, before.accepted + before.dropped + 1, "one verdict per packet");
    d
}

/// An IPv6 packet whose UDP or TCP part (`inner`'s bytes after its 40-byte header) sits
/// behind `exts`: (header type, header bytes including its own next-header octet, which
/// is filled in).
fn v6_with_exts(inner: &[u8], exts: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut p = inner[..40].to_vec();
    let transport = inner[6];
    let mut next_slot = 6;
    for (kind, bytes) in exts {
        p[next_slot] = *kind;
        next_slot = p.len();
        p.extend_from_slice(bytes);
    }
    p[next_slot] = transport;
    p.extend_from_slice(&inner[40..]);
    let len = (p.len() - 40) as u16;
    p[4..6].copy_from_slice(&len.to_be_bytes());
    p
}

/// An 8-byte hop-by-hop (0), destination-options (60) or routing (43) header.
fn ext8(kind: u8) -> (u8, Vec<u8>) {
    match kind {
        43 => (43, vec![0, 0, 0, 0, 0, 0, 0, 0]),
        _ => (kind, vec![0, 0, 1, 4, 0, 0, 0, 0]),
    }
}

/// An IPv6 fragment header: offset in 8-byte units, more-fragments flag.
fn frag6(offset: u16, more: bool) -> (u8, Vec<u8>) {
    let field = (offset << 3) | u16::from(more);
    let f = field.to_be_bytes();
    (44, vec![0, 0, f[0], f[1], 0, 0, 0x12, 0x34])
}

#[test]
fn ipv6_extension_chains_neither_hide_p2p_nor_free_a_locked_client() {
    let ping6 = |client: &str| udp(&format!("[{client}]:1214"), "[2001:db8:1::9]:1214", &ping(0x29, "KaZaA"));
    // A ping behind up to 100 destination-options or routing headers is still a ping.
    for kind in [60u8, 43] {
        for n in [1usize, 2, 8, 16, 100] {
            let mut e = Engine::new(Config::default());
            let exts: Vec<_> = (0..n).map(|_| ext8(kind)).collect();
            let d = one_verdict(&mut e, Path::LanToWan, &v6_with_exts(&ping6("2001:db8::77"), &exts));
            assert_eq!((d.verdict, d.reason.protocol()), (Verdict::Drop, Some(ftwall::detect::Protocol::FastTrack)), "{n} x {kind}");
        }
    }
    // Whatever the chain (valid, repeated hop-by-hop, fragments, no next header, cut
    // short in the middle), a locked client's packet is dropped.
    let mut e = locked_engine();
    let web = udp(&format!("[{CLIENT6}]:5000"), "[2001:db8:80::1]:443", b"hello");
    let chains: Vec<Vec<(u8, Vec<u8>)>> = vec![
        vec![ext8(0)],
        vec![ext8(0), ext8(0), ext8(0)],
        (0..100).map(|i| ext8(if i % 2 == 0 { 60 } else { 43 })).collect(),
        vec![ext8(0), ext8(60), frag6(0, true)],
        vec![frag6(0, true)],
        vec![frag6(185, false)],
        vec![frag6(8191, true)],
        vec![ext8(60), (59, vec![0; 8])],
        vec![(51, vec![0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1])],
    ];
    for chain in &chains {
        let p = v6_with_exts(&web, chain);
        for cut in [p.len(), 48, 44, 41] {
            let d = one_verdict(&mut e, Path::LanToWan, &p[..cut.min(p.len())]);
            assert_eq!(d.verdict, Verdict::Drop, "chain {:?} cut at {cut}: {d:?}", chain.iter().map(|c| c.0).collect::<Vec<_>>());
        }
    }
    // A ping that arrives in IPv6 fragments is not judged from a piece.
    let mut e = Engine::new(Config::default());
    let d = one_verdict(&mut e, Path::LanToWan, &v6_with_exts(&ping6("2001:db8::78"), &[frag6(0, true)]));
    assert_eq!(d.reason, Reason::NotInspected);
}

#[test]
fn truncated_transport_headers_and_lying_lengths() {
    let mut e = locked_engine();
    let mut fresh = Engine::new(Config::default());
    let samples = [
        udp(&format!("{CLIENT}:5000"), "198.51.100.9:9000", b"data"),
        tcp(&format!("{CLIENT}:5000"), "198.51.100.9:9000", true, b""),
        tcp(&format!("{CLIENT}:5000"), "198.51.100.9:9000", false, b"GET / HTTP/1.1\r\n\r\n"),
        udp(&format!("[{CLIENT6}]:5000"), "[2001:db8:80::1]:9000", b"data"),
        tcp(&format!("[{CLIENT6}]:5000"), "[2001:db8:80::1]:9000", true, b""),
    ];
    for s in &samples {
        let ip_len = if s[0] >> 4 == 4 { 20 } else { 40 };
        // Every cut of the transport header, with the IP length left as is and with it
        // made to agree with the cut.
        for cut in ip_len..=s.len() {
            let mut p = s[..cut].to_vec();
            for agree in [false, true] {
                if agree {
                    if ip_len == 20 {
                        p[2..4].copy_from_slice(&(cut as u16).to_be_bytes());
                    } else {
                        p[4..6].copy_from_slice(&((cut - 40) as u16).to_be_bytes());
                    }
                }
                assert_eq!(one_verdict(&mut e, Path::LanToWan, &p).verdict, Verdict::Drop, "locked, cut {cut}");
                one_verdict(&mut fresh, Path::LanToWan, &p);
            }
        }
    }
    // TCP data offsets 0..15 (below 5 is invalid, above runs past the packet).
    let syn = tcp(&format!("{CLIENT}:5000"), "198.51.100.9:9000", true, b"");
    for off in 0u8..16 {
        let mut p = syn.clone();
        p[32] = (off << 4) | (p[32] & 0x0f);
        assert_eq!(one_verdict(&mut e, Path::LanToWan, &p).verdict, Verdict::Drop, "data offset {off}");
        one_verdict(&mut fresh, Path::LanToWan, &p);
    }
    // UDP length fields that lie (0, shorter than the header, longer than the packet).
    let u = udp(&format!("{CLIENT}:5000"), "198.51.100.9:9000", &ping(0x29, "KaZaA"));
    for len in [0u16, 1, 7, 8, 9, 65535] {
        let mut p = u.clone();
        p[24..26].copy_from_slice(&len.to_be_bytes());
        assert_eq!(one_verdict(&mut e, Path::LanToWan, &p).verdict, Verdict::Drop, "udp length {len}");
        one_verdict(&mut fresh, Path::LanToWan, &p);
    }
    // IPv4 total lengths that lie, and header lengths from 0 to 15 words.
    for total in [0u16, 1, 19, 20, 27, 65535] {
        let mut p = u.clone();
        p[2..4].copy_from_slice(&total.to_be_bytes());
        one_verdict(&mut e, Path::LanToWan, &p);
        one_verdict(&mut fresh, Path::LanToWan, &p);
    }
    for ihl in 0u8..16 {
        let mut p = u.clone();
        p[0] = 0x40 | ihl;
        one_verdict(&mut e, Path::LanToWan, &p);
        one_verdict(&mut fresh, Path::LanToWan, &p);
    }
}

#[test]
fn zero_and_maximum_length_payloads_on_every_transport() {
    let mut e = locked_engine();
    let mut fresh = Engine::new(Config::default());
    // The largest payloads that fit: IPv4 total length 65535, IPv6 payload length 65535.
    let packets = [
        udp("192.168.1.9:1", "203.0.113.1:2", b""),
        tcp("192.168.1.9:1", "203.0.113.1:2", false, b""),
        udp("[2001:db8::9]:1", "[2001:db8:1::1]:2", b""),
        tcp("[2001:db8::9]:1", "[2001:db8:1::1]:2", false, b""),
        udp("192.168.1.9:1", "203.0.113.1:2", &vec![0x27; 65535 - 28]),
        tcp("192.168.1.9:1", "203.0.113.1:2", false, &vec![b'G'; 65535 - 40]),
        udp("[2001:db8::9]:1", "[2001:db8:1::1]:2", &vec![0x27; 65535 - 8]),
        tcp("[2001:db8::9]:1", "[2001:db8:1::1]:2", false, &vec![b'G'; 65535 - 20]),
    ];
    for p in &packets {
        for path in PATHS {
            one_verdict(&mut fresh, path, p);
        }
    }
    // A locked client's empty and maximum packets are dropped alike.
    for (src, dst) in [(format!("{CLIENT}:1"), "203.0.113.7:2"), (format!("[{CLIENT6}]:1"), "[2001:db8:1::7]:2")] {
        let max = if src.starts_with('[') { 65535 - 8 } else { 65535 - 28 };
        for payload in [vec![], vec![0u8; max]] {
            assert_eq!(one_verdict(&mut e, Path::LanToWan, &udp(&src, dst, &payload)).verdict, Verdict::Drop);
        }
    }
    // A FastTrack HTTP request padded to the maximum is still recognised.
    let mut big = http_get("198.51.100.1:1");
    big.resize(65535 - 40, b'x');
    let d = one_verdict(&mut fresh, Path::LanToWan, &tcp("192.168.1.10:3000", "203.0.113.20:1214", false, &big));
    assert_eq!(d.verdict, Verdict::Drop);
}

#[test]
fn every_tcp_flag_combination_gets_one_verdict_and_hides_nothing() {
    let give = tcp("192.168.1.2:3000", "203.0.113.60:1214", false, b"GIVE 8234761\r\n");
    let web = tcp("192.168.1.3:3000", "198.51.100.80:80", false, b"GET / HTTP/1.1\r\nHost: www.example\r\n\r\n");
    // All nine flag bits (NS in byte 12, CWR..FIN in byte 13).
    for flags in 0u16..512 {
        let set = |p: &[u8]| {
            let mut p = p.to_vec();
            p[32] = (p[32] & 0xf0) | (flags >> 8) as u8;
            p[33] = flags as u8;
            p
        };
        // A P2P payload is recognised whatever the flags (a fresh engine each time, so
        // the verdict comes from the payload, not from an earlier lock).
        let mut e = Engine::new(Config::default());
        let d = one_verdict(&mut e, Path::LanToWan, &set(&give));
        assert_eq!(d.verdict, Verdict::Drop, "flags {flags:#05x}: {d:?}");
        assert!(matches!(d.reason, Reason::Detected(..)), "flags {flags:#05x}: {d:?}");
        // An ordinary request with odd flags passes.
        let mut e = Engine::new(Config::default());
        let d = one_verdict(&mut e, Path::LanToWan, &set(&web));
        assert_eq!((d.verdict, d.reason), (Verdict::Accept, Reason::Clean), "flags {flags:#05x}");
    }
}

#[test]
fn ipv4_options_and_fragments_of_every_kind() {
    // A ping behind IPv4 options (header lengths 6 to 15 words) is still a ping.
    let p = udp("192.168.1.2:1214", "203.0.113.1:1214", &ping(0x29, "KaZaA"));
    for words in 6u8..=15 {
        let extra = usize::from(words - 5) * 4;
        let mut q = p[..20].to_vec();
        q.extend(std::iter::repeat(1u8).take(extra)); // NOP options
        q.extend_from_slice(&p[20..]);
        q[0] = 0x40 | words;
        let total = (q.len() as u16).to_be_bytes();
        q[2..4].copy_from_slice(&total);
        let mut e = Engine::new(Config::default());
        let d = one_verdict(&mut e, Path::LanToWan, &q);
        assert_eq!(d.verdict, Verdict::Drop, "{words} header words");
    }
    // Fragment fields: DF, MF, offsets up to the maximum; a locked client's are dropped,
    // a fresh client's are not judged, and a fragmented DNS answer teaches nothing.
    let mut locked = locked_engine();
    let mut fresh = Engine::new(Config { patterns: winmx(), ..Config::default() });
    let answer = common::dns::response("cache0.winmx.com", &[("cache0.winmx.com", 60, common::dns::Rdata::A("198.51.100.70"))]);
    for (flags_hi, flags_lo) in [(0x20u8, 0u8), (0x60, 0), (0x1f, 0xff), (0x3f, 0xff), (0x00, 0x01), (0x40, 0x01)] {
        let mut q = udp(&format!("{CLIENT}:5000"), "198.51.100.9:9000", b"payload");
        q[6] = flags_hi;
        q[7] = flags_lo;
        assert_eq!(one_verdict(&mut locked, Path::LanToWan, &q).verdict, Verdict::Drop);
        q[12..16].copy_from_slice(&[192, 168, 1, 40]);
        assert_eq!(one_verdict(&mut fresh, Path::LanToWan, &q).reason, Reason::NotInspected);
        let mut a = udp("192.168.1.1:53", "192.168.1.40:5353", &answer);
        a[6] = flags_hi;
        a[7] = flags_lo;
        one_verdict(&mut fresh, Path::RouterToLan, &a);
        assert!(!fresh.is_dns_blocked(ip("198.51.100.70"), at(2.0)), "learned from a fragment");
    }
}

fn winmx() -> ftwall::dns::PatternSet {
    let mut p = ftwall::dns::PatternSet::new();
    p.add("*.winmx.com").unwrap();
    p
}
