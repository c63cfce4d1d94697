//! The engine's FastTrack behaviour (ftwall-1 parity), driven by packets built byte by
//! byte from the specification, with the time under the test's control.

mod common;

use common::fasttrack::{http_get, ping, pong};
use common::*;
use ftwall::addr::MacAddr;
use ftwall::detect::Protocol;
use ftwall::engine::*;

const CLIENT: &str = "192.168.50.10:1214";
const OTHER_HOST: &str = "192.168.50.11:40000";
const SUPERNODE: &str = "203.0.113.20:1214";
const WEB: &str = "198.51.100.80:80";
const ROUTER: &str = "192.168.50.1:33333";

fn engine(lock_secs: u32) -> Engine {
    Engine::new(Config { lock_secs, never_block: vec!["192.168.50.0/24".parse().unwrap()], ..Config::default() })
}

fn kazaa_ping() -> Vec<u8> {
    udp(CLIENT, SUPERNODE, &ping(0x29, "KaZaA"))
}

#[test]
fn ping_is_dropped_answered_and_teaches_peer_and_client() {
    let mut e = engine(120);
    let (d, actions) = run(&mut e, Path::LanToWan, &kazaa_ping(), 10.0);
    assert_eq!(d.verdict, Verdict::Drop);
    assert_eq!(d.reason, Reason::Detected(Protocol::FastTrack, "udp ping"));

    let spoof = actions.iter().find_map(|a| match a {
        Action::Spoof { from, to, payload } => Some((*from, *to, payload.clone())),
        _ => None,
    });
    let (from, to, payload) = spoof.expect("a spoofed pong");
    assert_eq!((from, to), (ep(SUPERNODE), ep(CLIENT)));
    // 0x28 pong of 17 bytes with the ping's encryption type and network name.
    assert_eq!(payload.len(), 17);
    assert_eq!(&payload[..5], &[0x28, 0, 0, 0, 0x29]);
    assert_eq!(&payload[11..], b"KaZaA\0");

    assert!(actions.contains(&Action::StorePeer { peer: ep(SUPERNODE), protocol: Protocol::FastTrack }));
    assert!(actions.contains(&Action::BlockPeer { ip: ip("203.0.113.20") }));
    assert!(actions.contains(&Action::ClientOnline { client: ip("192.168.50.10"), protocol: Protocol::FastTrack, mac: None }));
    assert!(actions.contains(&Action::Lock { client: ip("192.168.50.10"), secs: 120 }));
    assert!(e.is_peer(ip("203.0.113.20")));
    assert!(e.is_locked(ip("192.168.50.10"), at(10.0)));
}

#[test]
fn each_client_family_is_recognised() {
    for network in ["KaZaA", "fileshare", "Grokster"] {
        let mut e = engine(120);
        let (d, _) = run(&mut e, Path::LanToWan, &udp(CLIENT, SUPERNODE, &ping(0x29, network)), 1.0);
        assert_eq!(d.verdict, Verdict::Drop, "{network}");
        assert!(e.is_locked(ip("192.168.50.10"), at(1.0)), "{network}");
    }
}

#[test]
fn no_udp_blocking_accepts_the_ping_but_still_learns() {
    let mut e = Engine::new(Config { drop_udp: false, ..Config::default() });
    let (d, actions) = run(&mut e, Path::LanToWan, &kazaa_ping(), 1.0);
    assert_eq!(d.verdict, Verdict::Accept);
    assert!(!actions.iter().any(|a| matches!(a, Action::Spoof { .. })), "no spoof when the real peer may answer");
    assert!(e.is_peer(ip("203.0.113.20")));
    assert!(e.is_locked(ip("192.168.50.10"), at(1.0)));
}

#[test]
fn known_peers_and_locked_clients_are_blocked_others_are_not() {
    let mut e = engine(120);
    run(&mut e, Path::LanToWan, &kazaa_ping(), 0.0);

    // The client's TCP connection to the supernode it pinged: a known peer.
    let (d, _) = run(&mut e, Path::LanToWan, &tcp("192.168.50.10:2000", SUPERNODE, true, b""), 1.0);
    assert_eq!((d.verdict, d.reason), (Verdict::Drop, Reason::KnownPeer(Protocol::FastTrack)));
    // Anything else from the locked client, even plain web browsing.
    let (d, _) = run(&mut e, Path::LanToWan, &tcp("192.168.50.10:2001", WEB, true, b""), 1.0);
    assert_eq!((d.verdict, d.reason), (Verdict::Drop, Reason::Locked(Protocol::FastTrack)));
    let (d, _) = run(&mut e, Path::LanToWan, &udp("192.168.50.10:5353", "198.51.100.53:53", b"\x12\x34\x01\x00"), 1.0);
    assert_eq!(d.verdict, Verdict::Drop);
    // The other LAN host browses freely, but it cannot reach the peer either.
    let (d, _) = run(&mut e, Path::LanToWan, &tcp(OTHER_HOST, WEB, true, b""), 1.0);
    assert_eq!((d.verdict, d.reason), (Verdict::Accept, Reason::Clean));
    let (d, _) = run(&mut e, Path::LanToWan, &tcp(OTHER_HOST, SUPERNODE, true, b""), 1.0);
    assert_eq!(d.verdict, Verdict::Drop);
    // Replies from the peer into the LAN are dropped too (the "limited tunnelling" hole).
    let (d, _) = run(&mut e, Path::WanToLan, &tcp(SUPERNODE, OTHER_HOST, false, b"x"), 1.0);
    assert_eq!(d.verdict, Verdict::Drop);
    // The router itself stays reachable for the locked client (DNS, DHCP, the probe).
    let (d, _) = run(&mut e, Path::LanToRouter, &udp("192.168.50.10:5353", "192.168.50.1:53", b"\x12\x34\x01\x00"), 1.0);
    assert_eq!(d.verdict, Verdict::Accept);
}

fn probes(actions: &[Action]) -> Vec<(ftwall::addr::Endpoint, Vec<u8>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Probe { to, payload } => Some((*to, payload.to_vec())),
            _ => None,
        })
        .collect()
}

#[test]
fn probe_at_half_lock_and_answer_keeps_the_lock() {
    let mut e = engine(120);
    run(&mut e, Path::LanToWan, &kazaa_ping(), 0.0);
    assert!(probes(&tick(&mut e, 59.9)).is_empty(), "no probe before half the lock");
    let sent = probes(&tick(&mut e, 60.0));
    assert_eq!(sent, vec![(ep(CLIENT), ping(0x29, "KaZaA"))], "probe = the client's own ping, to its FastTrack port");
    assert!(probes(&tick(&mut e, 61.0)).is_empty(), "one probe per half period");

    // Kazaa answers the probe with a pong addressed to the router.
    let answer = udp(CLIENT, ROUTER, &pong(0x29, "KaZaA", 40));
    let (d, actions) = run(&mut e, Path::LanToRouter, &answer, 61.5);
    assert_eq!((d.verdict, d.reason), (Verdict::Drop, Reason::ProbeAnswer(Protocol::FastTrack)));
    assert!(actions.contains(&Action::Lock { client: ip("192.168.50.10"), secs: 120 }), "kernel lock extended");
    assert!(!actions.iter().any(|a| matches!(a, Action::StorePeer { .. })), "the router is never a peer");

    // The lock now runs to 61.5 + 120; the next probe is due at 61.5 + 60.
    assert!(tick(&mut e, 120.5).iter().all(|a| !matches!(a, Action::ClientOffline { .. })));
    assert!(e.is_locked(ip("192.168.50.10"), at(150.0)));
    assert_eq!(probes(&tick(&mut e, 121.5)).len(), 1);
}

#[test]
fn unanswered_probes_let_the_lock_end_on_time() {
    let mut e = engine(120);
    run(&mut e, Path::LanToWan, &kazaa_ping(), 5.0);
    assert_eq!(probes(&tick(&mut e, 65.0)).len(), 1);
    assert_eq!(probes(&tick(&mut e, 95.0)).len(), 1, "a second probe at three quarters");
    assert!(probes(&tick(&mut e, 110.0)).is_empty(), "no more than two");
    let before = tick(&mut e, 124.9);
    assert!(!before.iter().any(|a| matches!(a, Action::ClientOffline { .. })));
    assert!(e.is_locked(ip("192.168.50.10"), at(124.9)));
    let after = tick(&mut e, 125.0);
    assert!(after.contains(&Action::ClientOffline { client: ip("192.168.50.10") }));
    assert!(after.contains(&Action::Unlock { client: ip("192.168.50.10") }));
    assert!(!e.is_locked(ip("192.168.50.10"), at(125.0)));
    // Unlocked, the client browses again; the peer stays blocked.
    let (d, _) = run(&mut e, Path::LanToWan, &tcp("192.168.50.10:2001", WEB, true, b""), 126.0);
    assert_eq!(d.verdict, Verdict::Accept);
    let (d, _) = run(&mut e, Path::LanToWan, &tcp("192.168.50.10:2002", SUPERNODE, true, b""), 126.0);
    assert_eq!(d.verdict, Verdict::Drop);
}

#[test]
fn new_evidence_refreshes_the_lock() {
    let mut e = engine(120);
    run(&mut e, Path::LanToWan, &kazaa_ping(), 0.0);
    let (_, actions) = run(&mut e, Path::LanToWan, &udp(CLIENT, "203.0.113.21:1214", &ping(0x29, "KaZaA")), 100.0);
    assert!(actions.contains(&Action::Lock { client: ip("192.168.50.10"), secs: 120 }));
    assert!(tick(&mut e, 121.0).iter().all(|a| !matches!(a, Action::ClientOffline { .. })));
    assert!(e.is_locked(ip("192.168.50.10"), at(219.0)));
    assert!(tick(&mut e, 220.0).contains(&Action::ClientOffline { client: ip("192.168.50.10") }));
}

#[test]
fn http_transfer_to_an_unknown_peer_blocks_it_and_its_supernode() {
    let mut e = engine(120);
    let peer = "203.0.113.30:3000";
    // The connection was allowed: nothing was known yet.
    let (d, _) = run(&mut e, Path::LanToWan, &tcp("192.168.50.10:2100", peer, true, b""), 0.0);
    assert_eq!(d.verdict, Verdict::Accept);
    let (d, actions) = run(&mut e, Path::LanToWan, &tcp("192.168.50.10:2100", peer, false, &http_get("198.51.100.7:2323")), 0.1);
    assert_eq!((d.verdict, d.reason), (Verdict::Drop, Reason::Detected(Protocol::FastTrack, "http transfer")));
    assert!(actions.contains(&Action::BlockPeer { ip: ip("203.0.113.30") }));
    assert!(actions.contains(&Action::BlockPeer { ip: ip("198.51.100.7") }), "the supernode named in the header");
    assert!(actions.contains(&Action::StorePeer { peer: ep("198.51.100.7:2323"), protocol: Protocol::FastTrack }));
    assert!(e.is_locked(ip("192.168.50.10"), at(0.1)));
    // Later packets of that connection are dropped too.
    let (d, _) = run(&mut e, Path::LanToWan, &tcp("192.168.50.10:2100", peer, false, b"more"), 0.2);
    assert_eq!(d.verdict, Verdict::Drop);
}

#[test]
fn push_give_locks_the_uploader() {
    let mut e = engine(120);
    let (d, _) = run(&mut e, Path::LanToWan, &tcp("192.168.50.10:2200", "203.0.113.40:1214", false, b"GIVE 8234761\r\n"), 3.0);
    assert_eq!(d.reason, Reason::Detected(Protocol::FastTrack, "push GIVE"));
    assert!(e.is_locked(ip("192.168.50.10"), at(3.0)));
}

#[test]
fn exempt_clients_pass_by_address_and_by_mac() {
    let mac: MacAddr = "02:00:00:00:00:0a".parse().unwrap();
    let mut e = Engine::new(Config { exempt_nets: vec!["192.168.50.10/32".parse().unwrap()], exempt_macs: vec![mac], ..Config::default() });
    let (d, actions) = run(&mut e, Path::LanToWan, &kazaa_ping(), 1.0);
    assert_eq!((d.verdict, d.reason), (Verdict::Accept, Reason::Exempt));
    assert!(!actions.iter().any(|a| matches!(a, Action::Lock { .. } | Action::Spoof { .. })));
    assert!(!e.is_locked(ip("192.168.50.10"), at(1.0)));

    let pkt = udp(OTHER_HOST, SUPERNODE, &ping(0x29, "KaZaA"));
    let d = e.process(&Packet { bytes: &pkt, path: Path::LanToWan, mac: Some(mac) }, at(2.0), &mut |_| {});
    assert_eq!(d.verdict, Verdict::Accept);
    let d = e.process(&Packet { bytes: &pkt, path: Path::LanToWan, mac: None }, at(3.0), &mut |_| {});
    assert_eq!(d.verdict, Verdict::Drop, "without the exempt MAC the same host is blocked");
}

#[test]
fn monitor_mode_decides_everything_and_blocks_nothing() {
    let mut e = Engine::new(Config { monitor: true, log: LogMask::parse("utcp").unwrap(), ..Config::default() });
    let (d, actions) = run(&mut e, Path::LanToWan, &kazaa_ping(), 1.0);
    assert_eq!((d.verdict, d.wanted), (Verdict::Accept, Verdict::Drop));
    assert_eq!(d.reason, Reason::Detected(Protocol::FastTrack, "udp ping"));
    for a in &actions {
        assert!(!matches!(a, Action::Spoof { .. } | Action::BlockPeer { .. } | Action::Lock { .. }), "monitor mode sent {a:?}");
    }
    assert!(actions.iter().any(|a| matches!(a, Action::Log(Event::Packet { disposition: Disposition::WouldDrop, .. }))));
    assert!(actions.iter().any(|a| matches!(a, Action::Log(Event::Client { change: ClientChange::Identified, .. }))));
    let (d, _) = run(&mut e, Path::LanToWan, &tcp("192.168.50.10:2001", WEB, true, b""), 2.0);
    assert_eq!((d.verdict, d.wanted, d.reason), (Verdict::Accept, Verdict::Drop, Reason::Locked(Protocol::FastTrack)));
    assert_eq!(e.counters().would_drop, 2);
    assert_eq!(e.counters().dropped, 0);
}

#[test]
fn lock_time_zero_turns_the_lock_and_probes_off() {
    let mut e = engine(0);
    let (d, actions) = run(&mut e, Path::LanToWan, &kazaa_ping(), 0.0);
    assert_eq!(d.verdict, Verdict::Drop, "the ping itself is still dropped");
    assert!(actions.iter().any(|a| matches!(a, Action::Spoof { .. })));
    assert!(!actions.iter().any(|a| matches!(a, Action::Lock { .. })));
    let (d, _) = run(&mut e, Path::LanToWan, &tcp("192.168.50.10:2001", WEB, true, b""), 1.0);
    assert_eq!(d.verdict, Verdict::Accept);
    assert!(probes(&tick(&mut e, 100.0)).is_empty());
}

#[test]
fn lan_and_special_addresses_are_never_learned_as_peers() {
    let mut e = engine(120);
    for dst in ["192.168.50.77:1214", "127.0.0.1:1214", "224.0.0.9:1214", "[ff02::1]:1214"] {
        let src = if dst.starts_with('[') { "[2001:db8:50::10]:1214" } else { CLIENT };
        run(&mut e, Path::LanToWan, &udp(src, dst, &ping(0x29, "KaZaA")), 0.0);
    }
    assert_eq!(e.peers().count(), 0);
}

#[test]
fn ipv6_works_the_same() {
    let mut e = engine(60);
    let client = "[2001:db8:50::10]:1214";
    let peer = "[2001:db8:ffff::20]:1214";
    let (d, actions) = run(&mut e, Path::LanToWan, &udp(client, peer, &ping(0x29, "KaZaA")), 0.0);
    assert_eq!(d.verdict, Verdict::Drop);
    assert!(actions.iter().any(|a| matches!(a, Action::Spoof { from, to, .. } if *from == ep(peer) && *to == ep(client))));
    assert!(e.is_peer(ip("2001:db8:ffff::20")));
    let (d, _) = run(&mut e, Path::LanToWan, &tcp("[2001:db8:50::10]:4000", "[2001:db8:80::80]:443", true, b""), 1.0);
    assert_eq!(d.reason, Reason::Locked(Protocol::FastTrack));
    assert_eq!(probes(&tick(&mut e, 30.0)), vec![(ep(client), ping(0x29, "KaZaA"))]);
}

#[test]
fn log_events_follow_the_letters() {
    let mut e = Engine::new(Config { log: LogMask::parse("uc").unwrap(), ..Config::default() });
    let (_, actions) = run(&mut e, Path::LanToWan, &kazaa_ping(), 0.0);
    let logs: Vec<_> = actions.iter().filter_map(|a| if let Action::Log(ev) = a { Some(*ev) } else { None }).collect();
    assert!(logs.iter().any(|l| matches!(l, Event::Packet { tcp: false, disposition: Disposition::Dropped, .. })));
    assert!(logs.iter().any(|l| matches!(l, Event::Client { change: ClientChange::Identified, .. })));
    assert!(!logs.iter().any(|l| matches!(l, Event::Peer { .. })), "p not asked for");
    let (_, actions) = run(&mut e, Path::LanToWan, &tcp(OTHER_HOST, WEB, true, b""), 1.0);
    assert!(!actions.iter().any(|a| matches!(a, Action::Log(_))), "T not asked for");
    assert_eq!(LogMask::parse("utx"), Err('x'));
}

#[test]
fn preloaded_peers_are_blocked() {
    let mut e = engine(120);
    assert!(e.preload_peer(ep("203.0.113.99:1214"), Protocol::FastTrack, at(0.0)));
    assert!(!e.preload_peer(ep("203.0.113.99:1214"), Protocol::FastTrack, at(0.0)), "already known");
    assert!(!e.preload_peer(ep("192.168.50.5:1214"), Protocol::FastTrack, at(0.0)), "LAN addresses are refused");
    let (d, _) = run(&mut e, Path::LanToWan, &tcp(OTHER_HOST, "203.0.113.99:80", true, b""), 1.0);
    assert_eq!(d.reason, Reason::KnownPeer(Protocol::FastTrack));
}

#[test]
fn eviction_keeps_the_most_recent_locks() {
    let mut e = engine(120);
    let cap = e.capacities().clients;
    // Lock many more clients than fit, one per second.
    for n in 0..(cap * 4) as u32 {
        let client = format!("10.{}.{}.{}:1214", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
        let (_, actions) = run(&mut e, Path::LanToWan, &udp(&client, SUPERNODE, &ping(0x29, "KaZaA")), f64::from(n) * 0.01);
        // An eviction never unlocks anyone in the kernel: a flood must not free locked clients.
        assert!(!actions.iter().any(|a| matches!(a, Action::Unlock { .. })), "packet {n}: {actions:?}");
    }
    let now = at((cap * 4) as f64 * 0.01);
    assert!(e.clients(now).count() <= cap);
    assert!(e.counters().clients_evicted >= (cap * 3) as u64);
    // The newest lock survived.
    let last = (cap * 4 - 1) as u32;
    let newest = format!("10.{}.{}.{}", (last >> 16) & 0xff, (last >> 8) & 0xff, last & 0xff);
    assert!(e.is_locked(ip(&newest), now));
}

#[test]
fn every_ping_of_a_repeated_flow_is_answered() {
    let mut e = engine(120);
    for (i, t) in [0.0, 5.0, 10.0].into_iter().enumerate() {
        let (d, actions) = run(&mut e, Path::LanToWan, &kazaa_ping(), t);
        assert_eq!(d.verdict, Verdict::Drop, "ping {i}");
        assert_eq!(actions.iter().filter(|a| matches!(a, Action::Spoof { .. })).count(), 1, "ping {i} is answered");
    }
    // Ordinary datagrams on that flow are still dropped without an answer.
    let (d, actions) = run(&mut e, Path::LanToWan, &udp(CLIENT, SUPERNODE, b"not a ping"), 11.0);
    assert_eq!(d.verdict, Verdict::Drop);
    assert!(!actions.iter().any(|a| matches!(a, Action::Spoof { .. })));
}
