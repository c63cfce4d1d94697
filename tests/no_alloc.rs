//! Processing a packet allocates nothing: a counting global allocator watches 100,000+
//! mixed packets (and clock ticks) through a warmed-up engine.

mod alloc_counter;
mod common;

use common::fasttrack::{http_get, ping, pong};
use common::*;
use ftwall::engine::{Action, Config, Engine, LogMask, Packet, Path};
use ftwall::time::Millis;

#[global_allocator]
static GLOBAL: alloc_counter::Counting = alloc_counter::Counting;

/// A mix of what a router sees: mostly ordinary traffic, some FastTrack, some garbage,
/// IPv4 and IPv6, many hosts (so tables fill and evict).
fn mixed_packets() -> Vec<(Vec<u8>, Path)> {
    let mut v = Vec::new();
    for n in 0..400u32 {
        let host = format!("10.1.{}.{}", n / 200, n % 200 + 1);
        let peer = format!("203.0.113.{}", n % 250 + 1);
        let web = format!("198.51.100.{}", n % 250 + 1);
        v.push((tcp(&format!("{host}:{}", 30000 + n), &format!("{web}:443"), true, b""), Path::LanToWan));
        v.push((tcp(&format!("{host}:{}", 30000 + n), &format!("{web}:443"), false, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), Path::LanToWan));
        v.push((udp(&format!("{host}:{}", 40000 + n), &format!("{web}:53"), b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"), Path::LanToWan));
        v.push((tcp(&format!("{web}:443"), &format!("{host}:{}", 30000 + n), false, b"HTTP/1.1 200 OK\r\n\r\n"), Path::WanToLan));
        if n % 10 == 0 {
            v.push((udp(&format!("{host}:1214"), &format!("{peer}:1214"), &ping(0x29, "KaZaA")), Path::LanToWan));
            v.push((udp(&format!("{host}:1214"), "10.1.0.254:5000", &pong(0x29, "KaZaA", 3)), Path::LanToRouter));
            v.push((tcp(&format!("{host}:2000"), &format!("{peer}:1214"), false, &http_get("198.51.100.7:2323")), Path::LanToWan));
        }
        if n % 7 == 0 {
            let v6host = format!("[2001:db8:1::{:x}]:{}", n + 1, 50000 + n);
            v.push((udp(&v6host, &format!("[2001:db8:ff::{:x}]:1214", n + 1), &ping(0x29, "fileshare")), Path::LanToWan));
            v.push((tcp(&v6host, "[2001:db8:80::1]:80", true, b""), Path::LanToWan));
        }
        v.push((vec![0x45, 0, 0, (n % 40) as u8], Path::LanToWan));
        if n % 5 == 0 {
            // DNS: a matching answer from the router's resolver, an upstream one with a
            // CNAME chain, a query, and the client's connection to the learned address.
            use common::dns::{query, response, Rdata};
            let cache = format!("198.51.100.{}", n % 200 + 20);
            let a = response("cache0.winmx.com", &[("cache0.winmx.com", 30, Rdata::A(&cache))]);
            v.push((udp("10.1.0.254:53", &format!("{host}:5353"), &a), Path::RouterToLan));
            let c = response("www.winmx.com", &[("www.winmx.com", 60, Rdata::Cname("edge.example")), ("edge.example", 60, Rdata::Aaaa("2001:db8:77::1"))]);
            v.push((udp("203.0.113.53:53", "192.0.2.1:31000", &c), Path::WanToRouter));
            v.push((udp(&format!("{host}:5353"), "10.1.0.254:53", &query("cache0.winmx.com", 1)), Path::LanToRouter));
            v.push((tcp(&format!("{host}:{}", 20000 + n), &format!("{cache}:7950"), true, b""), Path::LanToWan));
        }
    }
    v
}

#[test]
fn a_warm_engine_allocates_nothing_per_packet() {
    let packets = mixed_packets();
    let mut patterns = ftwall::dns::PatternSet::new();
    patterns.add("*.winmx.com").unwrap();
    let mut engine = Engine::new(Config { log: LogMask::parse("uUtTcpmD").unwrap(), patterns, ..Config::default() });
    let mut actions = 0usize;
    let mut sink = |a: Action| {
        // Touch the action so it is not optimised away; dropping it frees nothing.
        if !matches!(a, Action::Log(_)) {
            actions += 1;
        }
    };
    // Warm up: one pass, so any lazy one-time initialisation happens outside the count.
    for (bytes, path) in &packets {
        engine.process(&Packet { bytes, path: *path, mac: None }, Millis(0), &mut sink);
    }

    let mut processed = 0u64;
    let mut now = 1_000u64;
    alloc_counter::start();
    while processed < 120_000 {
        for (bytes, path) in &packets {
            engine.process(&Packet { bytes, path: *path, mac: None }, Millis(now), &mut sink);
            processed += 1;
            now += 3;
            if processed % 1000 == 0 {
                engine.tick(Millis(now), &mut sink);
            }
        }
    }
    let allocs = alloc_counter::stop();
    assert!(processed >= 100_000);
    assert!(actions > 0, "the mix must make the engine act, or the test proves little");
    assert!(engine.counters().dropped > 0 && engine.counters().accepted > 0);
    assert!(engine.counters().dns_learned > 0 && engine.counters().detections[ftwall::detect::Protocol::DnsName as usize] > 0);
    assert_eq!(allocs, 0, "{allocs} heap allocations while processing {processed} packets");
}

#[test]
fn the_counter_sees_allocations_on_its_thread() {
    alloc_counter::start();
    let v = std::hint::black_box(vec![1u8; 64]);
    let seen = alloc_counter::stop();
    drop(v);
    assert_eq!(seen, 1, "the counting allocator must notice an allocation, or the zero above proves nothing");
}
