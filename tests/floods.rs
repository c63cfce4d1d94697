//! Saturation: a million packets from distinct spoofed LAN sources to distinct internet
//! peers, with DNS answers teaching distinct addresses, through one engine. The tables
//! stay at their fixed size (nothing is allocated during the flood), evictions are
//! counted, every peer learned is still handed to the storefile, the most recent locks
//! survive, and a LAN host that never ran P2P keeps working throughout.
//!
//! One test in this binary: the counting allocator counts every thread.

mod alloc_counter;
mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::dns::{response, Rdata};
use common::fasttrack::ping;
use common::{tcp, udp};
use ftwall::dns::PatternSet;
use ftwall::engine::{Action, Config, Engine, Packet, Path, Reason, Verdict};
use ftwall::time::Millis;

#[global_allocator]
static GLOBAL: alloc_counter::Counting = alloc_counter::Counting;

const FLOOD: u32 = 1_000_000;
/// The legitimate host's packets and the clock tick come once per this many flood packets.
const EVERY: u32 = 1_000;

/// The i-th spoofed LAN source and internet peer: even i IPv6, odd i IPv4, all distinct
/// (IPv4 peers come from the 198.18.0.0/15 benchmarking range and repeat after 2^17).
fn v6_client(i: u32) -> Ipv6Addr {
    Ipv6Addr::from((0x2001_0db8_0001u128 << 80) | u128::from(i))
}
fn v6_peer(i: u32) -> Ipv6Addr {
    Ipv6Addr::from((0x2001_0db8_8000u128 << 80) | u128::from(i))
}
fn v4_client(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0x0a00_0000 | (i & 0x00ff_ffff))
}
fn v4_peer(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(0xc612_0000 | (i / 2 % 0x2_0000))
}
/// Addresses DNS answers teach: 203.0.113.0/24 is too small, so the benchmarking range's
/// upper half, distinct for 65536 answers.
fn dns_addr(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(0xc613_0000 | (n & 0xffff))
}
fn client_of(i: u32) -> IpAddr {
    if i % 2 == 0 {
        IpAddr::V6(v6_client(i))
    } else {
        IpAddr::V4(v4_client(i))
    }
}

/// What the engine asked for during the flood, counted without allocating.
#[derive(Default, Debug)]
struct Tally {
    store: u64,
    block: u64,
    lock: u64,
    unlock: u64,
    online: u64,
    offline: u64,
    spoof: u64,
    other: u64,
}

impl Tally {
    fn add(&mut self, a: &Action) {
        match a {
            Action::StorePeer { .. } => self.store += 1,
            Action::BlockPeer { .. } => self.block += 1,
            Action::Lock { .. } => self.lock += 1,
            Action::Unlock { .. } => self.unlock += 1,
            Action::ClientOnline { .. } => self.online += 1,
            Action::ClientOffline { .. } => self.offline += 1,
            Action::Spoof { .. } => self.spoof += 1,
            _ => self.other += 1,
        }
    }
}

#[test]
fn a_million_spoofed_sources_and_peers_stay_in_fixed_memory() {
    let mut patterns = PatternSet::new();
    patterns.add("*.winmx.com").unwrap();
    let config = Config { patterns, never_block: vec!["192.168.1.0/24".parse().unwrap()], ..Config::default() };
    let mut e = Engine::new(config);
    let caps = e.capacities();

    // Templates, built before counting; the flood patches addresses in place.
    let p = ping(0x29, "KaZaA");
    let mut ping4 = udp("10.0.0.1:1214", "198.18.0.1:1214", &p);
    let mut ping6 = udp("[2001:db8:1::1]:1214", "[2001:db8:8000::1]:1214", &p);
    let answer = response("cache0.winmx.com", &[("cache0.winmx.com", 30, Rdata::A("198.19.0.1"))]);
    let mut dns = udp("192.168.1.1:53", "192.168.1.60:5353", &answer);
    let dns_rdata = dns.len() - 4;
    const HOST: &str = "192.168.1.50";
    let legit = [
        (tcp(&format!("{HOST}:40000"), "198.51.100.80:443", true, b""), Path::LanToWan),
        (tcp(&format!("{HOST}:40000"), "198.51.100.80:443", false, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), Path::LanToWan),
        (tcp("198.51.100.80:443", &format!("{HOST}:40000"), false, b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03"), Path::WanToLan),
        (udp(&format!("{HOST}:5000"), "198.51.100.53:53", b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"), Path::LanToWan),
    ];
    let mut tally = Tally::default();
    let mut legit_accepted = 0u64;
    let mut dns_answers = 0u32;
    let mut now = Millis(1_000);

    alloc_counter::start();
    for i in 0..FLOOD {
        now = now.plus(1);
        let bytes: &[u8] = if i % 2 == 0 {
            ping6[8..24].copy_from_slice(&v6_client(i).octets());
            ping6[24..40].copy_from_slice(&v6_peer(i).octets());
            &ping6
        } else {
            ping4[12..16].copy_from_slice(&v4_client(i).octets());
            ping4[16..20].copy_from_slice(&v4_peer(i).octets());
            &ping4
        };
        let d = e.process(&Packet { bytes, path: Path::LanToWan, mac: None }, now, &mut |a| tally.add(&a));
        assert_eq!(d.verdict, Verdict::Drop, "packet {i}: a FastTrack ping is dropped");
        if i % 16 == 0 {
            dns[dns_rdata..].copy_from_slice(&dns_addr(dns_answers).octets());
            dns_answers += 1;
            let d = e.process(&Packet { bytes: &dns, path: Path::RouterToLan, mac: None }, now, &mut |a| tally.add(&a));
            assert_eq!(d.verdict, Verdict::Accept, "answers always pass");
        }
        if i % EVERY == 0 {
            for (bytes, path) in &legit {
                let d = e.process(&Packet { bytes, path: *path, mac: None }, now, &mut |a| tally.add(&a));
                assert_eq!((d.verdict, d.reason), (Verdict::Accept, Reason::Clean), "packet {i}: the legitimate host was hit");
                legit_accepted += 1;
            }
            e.tick(now, &mut |a| tally.add(&a));
        }
    }
    let allocations = alloc_counter::stop();

    let c = *e.counters();
    let clients = e.clients(now).count();
    let peers = e.peers().count();
    let dns_blocked = e.dns_blocked(now).count();
    eprintln!("capacities {caps:?}");
    eprintln!("after {FLOOD} flood packets: {clients} clients, {peers} peers, {dns_blocked} DNS-learned addresses held");
    eprintln!(
        "evicted: {} clients, {} peers, {} flows, {} DNS; {} DNS answers learned; actions {tally:?}",
        c.clients_evicted, c.peers_evicted, c.flows_evicted, c.dns_evicted, c.dns_learned
    );

    // Fixed memory: not one allocation, and no table beyond its capacity.
    assert_eq!(allocations, 0, "{allocations} heap allocations during the flood");
    assert!(clients <= caps.clients && peers <= caps.peers && dns_blocked <= caps.dns);
    assert_eq!((clients, peers, dns_blocked), (caps.clients, caps.peers, caps.dns), "the flood fills every table");
    assert!(c.clients_evicted > 0 && c.peers_evicted > 0 && c.flows_evicted > 0 && c.dns_evicted > 0);

    // Nothing learned is lost: every peer learned went to the storefile and the kernel
    // set before memory let it go; every client that came online went offline again
    // unless it is still held.
    let distinct_peers = u64::from(FLOOD / 2) + 0x2_0000;
    assert!(tally.store >= distinct_peers, "{} peers stored, {distinct_peers} distinct learned", tally.store);
    assert_eq!(tally.store, tally.block);
    assert!(tally.store >= c.peers_evicted + peers as u64);
    assert_eq!(tally.online, u64::from(FLOOD), "each spoofed source is a new client");
    assert_eq!(tally.online, tally.offline + clients as u64);
    // Only locks that ran out unlock; an eviction forgets the client but leaves its
    // kernel lock to time out, or a flood could free real locked clients.
    assert_eq!(tally.unlock, tally.offline - c.clients_evicted);
    assert!(c.clients_evicted > 0);
    assert_eq!(c.dns_learned, u64::from(dns_answers));

    // Eviction keeps the most recent locks: the last hundred sources are all still locked,
    // while the first ones are long gone.
    for i in FLOOD - 100..FLOOD {
        assert!(e.is_locked(client_of(i), now), "recent client {i} ({}) lost its lock", client_of(i));
    }
    assert!(!e.is_locked(client_of(0), now) && !e.is_locked(client_of(1), now));
    assert!(e.is_dns_blocked(IpAddr::V4(dns_addr(dns_answers - 1)), now), "the latest DNS-learned address is held");

    // The legitimate host was never touched: every packet accepted, never a client, its
    // servers never peers.
    assert_eq!(legit_accepted, u64::from(FLOOD / EVERY) * legit.len() as u64);
    assert!(!e.is_locked(common::ip(HOST), now) && e.clients(now).all(|s| s.ip != common::ip(HOST)));
    assert!(!e.is_peer(common::ip("198.51.100.80")) && !e.is_peer(common::ip("198.51.100.53")));
    assert_eq!(c.packets, c.accepted + c.dropped, "one verdict per packet");
}
