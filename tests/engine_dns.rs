//! DNS learning in the engine (ftwall 2's WinMX/OpenNap name wildcards): answers on the
//! three paths teach addresses, a client connecting to one is time-locked, the safety
//! rules hold whatever a server says, and entries end with their (clamped) TTL.

mod common;

use common::dns::{query, response, Rdata};
use common::prng::XorShift32;
use common::*;
use ftwall::detect::{Protocol, ProtocolSet};
use ftwall::dns::PatternSet;
use ftwall::engine::*;

const CLIENT: &str = "192.168.70.10:40001";
const CLIENT_IP: &str = "192.168.70.10";
const ROUTER_LAN: &str = "192.168.70.1";
const ROUTER_WAN: &str = "192.0.2.1";
const UPSTREAM: &str = "203.0.113.53";
const CACHE: &str = "198.51.100.70";
const WEB: &str = "198.51.100.80";

fn patterns() -> PatternSet {
    let mut p = PatternSet::new();
    for s in ["*.winmx.com", "server.napster.com"] {
        p.add(s).unwrap();
    }
    p
}

fn config() -> Config {
    Config {
        patterns: patterns(),
        never_block: vec![
            "192.168.70.0/24".parse().unwrap(),
            "fd70::/64".parse().unwrap(),
            format!("{ROUTER_WAN}/32").parse().unwrap(),
        ],
        log: LogMask::parse("pcdat").unwrap(),
        ..Config::default()
    }
}

/// The DNS answer packet on `path` (the router's resolver answering the client, upstream
/// answering the router, or an outside server answering the client).
fn answer_on(path: Path, msg: &[u8]) -> Vec<u8> {
    match path {
        Path::RouterToLan => udp(&format!("{ROUTER_LAN}:53"), CLIENT, msg),
        Path::WanToRouter => udp(&format!("{UPSTREAM}:53"), &format!("{ROUTER_WAN}:31000"), msg),
        Path::WanToLan => udp(&format!("{UPSTREAM}:53"), CLIENT, msg),
        other => panic!("no answers on {other:?}"),
    }
}

fn learned(actions: &[Action]) -> Vec<(String, String, DnsOutcome)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Log(Event::Dns(DnsEvent::Answer { name, addr, outcome, .. })) => Some((name.to_string(), addr.to_string(), *outcome)),
            _ => None,
        })
        .collect()
}

fn connect(e: &mut Engine, dst: &str, secs: f64) -> (Decision, Vec<Action>) {
    run(e, Path::LanToWan, &tcp(CLIENT, dst, true, b""), secs)
}

#[test]
fn answers_on_all_three_paths_teach_and_lock_the_next_connection() {
    for path in [Path::RouterToLan, Path::WanToRouter, Path::WanToLan] {
        let mut e = Engine::new(config());
        let msg = response("cache0.winmx.com", &[("cache0.winmx.com", 30, Rdata::A(CACHE))]);
        let (d, actions) = run(&mut e, path, &answer_on(path, &msg), 1.0);
        assert_eq!(d.verdict, Verdict::Accept, "{path:?}: answers always pass");
        assert_eq!(learned(&actions), vec![("cache0.winmx.com".into(), CACHE.into(), DnsOutcome::Learned { secs: DNS_MIN_SECS })]);
        assert!(e.is_dns_blocked(ip(CACHE), at(1.0)));
        // Not a kernel block: the client's connection must still reach the engine.
        assert!(!actions.iter().any(|a| matches!(a, Action::BlockPeer { .. })));

        let (d, actions) = connect(&mut e, &format!("{CACHE}:7950"), 2.0);
        assert_eq!(d.verdict, Verdict::Drop, "{path:?}");
        assert_eq!(d.reason, Reason::Detected(Protocol::DnsName, LEARNED_ADDRESS));
        assert!(actions.contains(&Action::Lock { client: ip(CLIENT_IP), secs: DEFAULT_LOCK_SECS }), "{actions:?}");
        assert!(e.is_locked(ip(CLIENT_IP), at(2.0)));
        assert_eq!(e.counters().dns_learned, 1);
        assert_eq!(e.counters().detections[Protocol::DnsName as usize], 1);
    }
}

#[test]
fn a_name_that_does_not_match_resolves_and_connects_normally() {
    let mut e = Engine::new(config());
    let msg = response("www.example.org", &[("www.example.org", 300, Rdata::A(WEB))]);
    let (_, actions) = run(&mut e, Path::RouterToLan, &answer_on(Path::RouterToLan, &msg), 1.0);
    assert_eq!(learned(&actions), vec![("www.example.org".into(), WEB.into(), DnsOutcome::NotMatched)]);
    let (d, _) = connect(&mut e, &format!("{WEB}:443"), 2.0);
    assert_eq!((d.verdict, d.reason), (Verdict::Accept, Reason::Clean));
    assert!(!e.is_locked(ip(CLIENT_IP), at(2.0)));
    // "evilwinmx.com" is not under winmx.com.
    let msg = response("evilwinmx.com", &[("evilwinmx.com", 300, Rdata::A("198.51.100.81"))]);
    run(&mut e, Path::WanToLan, &answer_on(Path::WanToLan, &msg), 3.0);
    assert!(!e.is_dns_blocked(ip("198.51.100.81"), at(3.0)));
}

#[test]
fn cname_chains_and_ipv6() {
    let mut e = Engine::new(config());
    let msg = response(
        "www.winmx.com",
        &[
            ("www.winmx.com", 60, Rdata::Cname("edge.cdn.example")),
            ("edge.cdn.example", 60, Rdata::A("198.51.100.90")),
            ("edge.cdn.example", 60, Rdata::Aaaa("2001:db8:51::90")),
        ],
    );
    run(&mut e, Path::RouterToLan, &answer_on(Path::RouterToLan, &msg), 1.0);
    assert!(e.is_dns_blocked(ip("198.51.100.90"), at(1.0)));
    assert!(e.is_dns_blocked(ip("2001:db8:51::90"), at(1.0)));
    // An IPv6 client connecting to the learned IPv6 address is locked.
    let (d, _) = run(&mut e, Path::LanToWan, &tcp("[fd70::10]:40000", "[2001:db8:51::90]:7950", true, b""), 2.0);
    assert_eq!(d.verdict, Verdict::Drop);
    assert!(e.is_locked(ip("fd70::10"), at(2.0)));
}

#[test]
fn answers_can_never_get_the_router_the_lan_or_special_addresses_blocked() {
    let mut e = Engine::new(config());
    let bad = [
        ROUTER_LAN,        // the router (the answer's own source)
        CLIENT_IP,         // the LAN client it is sent to
        "192.168.70.77",   // another LAN host (LAN network, never-block)
        ROUTER_WAN,        // the router's WAN address (never-block)
        "127.0.0.1",       // loopback
        "169.254.10.1",    // link-local
        "224.0.0.251",     // multicast
        "0.0.0.0",
        "255.255.255.255",
    ];
    let answers: Vec<(&str, u32, Rdata<'_>)> = bad.iter().map(|a| ("trap.winmx.com", 300, Rdata::A(a))).collect();
    let mut answers = answers;
    answers.extend([
        ("trap.winmx.com", 300, Rdata::Aaaa("::1")),
        ("trap.winmx.com", 300, Rdata::Aaaa("fe80::1")),
        ("trap.winmx.com", 300, Rdata::Aaaa("ff02::1")),
        ("trap.winmx.com", 300, Rdata::Aaaa("fd70::99")),
        ("trap.winmx.com", 300, Rdata::Aaaa("::ffff:127.0.0.1")),
    ]);
    let msg = response("trap.winmx.com", &answers);
    let (d, actions) = run(&mut e, Path::RouterToLan, &udp(&format!("{ROUTER_LAN}:53"), CLIENT, &msg), 1.0);
    assert_eq!(d.verdict, Verdict::Accept);
    let outcomes = learned(&actions);
    assert_eq!(outcomes.len(), answers.len());
    assert!(outcomes.iter().all(|(_, _, o)| *o == DnsOutcome::Refused), "{outcomes:?}");
    assert_eq!(e.counters().dns_refused, answers.len() as u64);
    assert_eq!(e.dns_blocked(at(1.0)).count(), 0);
    // So the router and the LAN stay reachable and nobody is locked.
    let (d, _) = run(&mut e, Path::LanToRouter, &tcp(CLIENT, &format!("{ROUTER_LAN}:80"), true, b""), 2.0);
    assert_eq!(d.verdict, Verdict::Accept);
    assert!(!e.is_locked(ip(CLIENT_IP), at(2.0)));

    // The WAN-side router address on the upstream path, and an exempt host, likewise.
    let mut cfg = config();
    cfg.never_block.clear();
    cfg.exempt_nets = vec!["198.51.100.200/32".parse().unwrap()];
    let mut e = Engine::new(cfg);
    let msg = response("x.winmx.com", &[("x.winmx.com", 300, Rdata::A(ROUTER_WAN)), ("x.winmx.com", 300, Rdata::A("198.51.100.200"))]);
    run(&mut e, Path::WanToRouter, &answer_on(Path::WanToRouter, &msg), 1.0);
    assert_eq!(e.counters().dns_refused, 2);
    assert_eq!(e.dns_blocked(at(1.0)).count(), 0);
}

#[test]
fn ttl_is_clamped_and_blocks_end() {
    let mut e = Engine::new(config());
    let msg = response(
        "a.winmx.com",
        &[("a.winmx.com", 5, Rdata::A("198.51.100.1")), ("a.winmx.com", 10_000_000, Rdata::A("198.51.100.2")), ("a.winmx.com", 3600, Rdata::A("198.51.100.3"))],
    );
    let (_, actions) = run(&mut e, Path::RouterToLan, &answer_on(Path::RouterToLan, &msg), 0.0);
    let secs: Vec<_> = learned(&actions).into_iter().map(|(_, _, o)| o).collect();
    assert_eq!(
        secs,
        vec![DnsOutcome::Learned { secs: DNS_MIN_SECS }, DnsOutcome::Learned { secs: DNS_MAX_SECS }, DnsOutcome::Learned { secs: 3600 }]
    );
    let mut left: Vec<_> = e.dns_blocked(at(0.0)).map(|s| (s.ip.to_string(), s.secs_left, s.name.to_string())).collect();
    left.sort();
    assert_eq!(left[2], ("198.51.100.3".to_string(), 3600, "a.winmx.com".to_string()));

    // After the minimum, the short one is gone (tick forgets it) and its address is free.
    let t = f64::from(DNS_MIN_SECS) + 1.0;
    tick(&mut e, t);
    assert!(!e.is_dns_blocked(ip("198.51.100.1"), at(t)));
    assert_eq!(e.dns_blocked(at(t)).count(), 2);
    let (d, _) = connect(&mut e, "198.51.100.1:7950", t);
    assert_eq!(d.verdict, Verdict::Accept);
    // A later answer extends a block.
    let again = response("a.winmx.com", &[("a.winmx.com", 7200, Rdata::A("198.51.100.3"))]);
    run(&mut e, Path::RouterToLan, &answer_on(Path::RouterToLan, &again), t);
    assert!(e.is_dns_blocked(ip("198.51.100.3"), at(t + 7000.0)));
}

#[test]
fn inbound_packets_from_a_learned_address_are_dropped_without_locking() {
    let mut e = Engine::new(config());
    let msg = response("server.napster.com", &[("server.napster.com", 600, Rdata::A(CACHE))]);
    run(&mut e, Path::WanToLan, &answer_on(Path::WanToLan, &msg), 1.0);
    let (d, _) = run(&mut e, Path::WanToLan, &tcp(&format!("{CACHE}:8875"), CLIENT, false, b"198.51.100.71:8888\n"), 2.0);
    assert_eq!((d.verdict, d.reason), (Verdict::Drop, Reason::KnownPeer(Protocol::DnsName)));
    assert!(!e.is_locked(ip(CLIENT_IP), at(2.0)));
}

#[test]
fn exempt_clients_monitor_mode_and_the_dns_switch() {
    let msg = response("c.winmx.com", &[("c.winmx.com", 600, Rdata::A(CACHE))]);
    // Exempt client: passes, not locked.
    let mut e = Engine::new(Config { exempt_nets: vec![format!("{CLIENT_IP}/32").parse().unwrap()], ..config() });
    run(&mut e, Path::RouterToLan, &answer_on(Path::RouterToLan, &msg), 1.0);
    let (d, _) = connect(&mut e, &format!("{CACHE}:7950"), 2.0);
    assert_eq!((d.verdict, d.reason), (Verdict::Accept, Reason::Exempt));
    assert!(!e.is_locked(ip(CLIENT_IP), at(2.0)));
    // Monitor mode: would drop, no kernel lock.
    let mut e = Engine::new(Config { monitor: true, ..config() });
    run(&mut e, Path::RouterToLan, &answer_on(Path::RouterToLan, &msg), 1.0);
    let (d, actions) = connect(&mut e, &format!("{CACHE}:7950"), 2.0);
    assert_eq!((d.verdict, d.wanted), (Verdict::Accept, Verdict::Drop));
    assert!(!actions.iter().any(|a| matches!(a, Action::Lock { .. })));
    // --protocols without dns: nothing learned.
    let mut e = Engine::new(Config { protocols: ProtocolSet::all().without(Protocol::DnsName), ..config() });
    run(&mut e, Path::RouterToLan, &answer_on(Path::RouterToLan, &msg), 1.0);
    assert!(!e.is_dns_blocked(ip(CACHE), at(1.0)));
    assert_eq!(connect(&mut e, &format!("{CACHE}:7950"), 2.0).0.verdict, Verdict::Accept);
}

#[test]
fn tcp_dns_and_unreadable_answers() {
    let mut e = Engine::new(config());
    let msg = response("t.winmx.com", &[("t.winmx.com", 600, Rdata::A(CACHE))]);
    let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&msg);
    run(&mut e, Path::RouterToLan, &tcp(&format!("{ROUTER_LAN}:53"), CLIENT, false, &framed), 1.0);
    assert!(e.is_dns_blocked(ip(CACHE), at(1.0)));

    // A truncated answer teaches nothing, is counted and logged, and still passes.
    let mut e = Engine::new(config());
    let (d, actions) = run(&mut e, Path::RouterToLan, &answer_on(Path::RouterToLan, &msg[..msg.len() - 2]), 1.0);
    assert_eq!(d.verdict, Verdict::Accept);
    assert!(!e.is_dns_blocked(ip(CACHE), at(1.0)));
    assert_eq!(e.counters().dns_unreadable, 1);
    assert!(actions.iter().any(|a| matches!(a, Action::Log(Event::Dns(DnsEvent::Unreadable { .. })))));
}

#[test]
fn queries_are_logged_with_letter_d() {
    let mut e = Engine::new(config());
    let (d, actions) = run(&mut e, Path::LanToRouter, &udp(CLIENT, &format!("{ROUTER_LAN}:53"), &query("Cache0.WinMX.com", 1)), 1.0);
    assert_eq!(d.verdict, Verdict::Accept);
    let q: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Log(Event::Dns(DnsEvent::Query { client, name, qtype })) => Some((client.to_string(), name.to_string(), *qtype)),
            _ => None,
        })
        .collect();
    assert_eq!(q, vec![(CLIENT_IP.to_string(), "cache0.winmx.com".to_string(), 1)]);
    // Without the letter, nothing.
    let mut e = Engine::new(Config { log: LogMask::default(), ..config() });
    let (_, actions) = run(&mut e, Path::LanToRouter, &udp(CLIENT, &format!("{ROUTER_LAN}:53"), &query("x.winmx.com", 1)), 1.0);
    assert!(actions.is_empty());
}

#[test]
fn training_preload_obeys_the_safety_rules() {
    let mut e = Engine::new(config());
    let tail = ftwall::dns::name::NameTail::of(b"cache1.winmx.com");
    assert!(e.preload_dns(ip(CACHE), tail, 300, at(0.0)));
    assert!(!e.preload_dns(ip("127.0.0.1"), tail, 300, at(0.0)));
    assert!(!e.preload_dns(ip("192.168.70.5"), tail, 300, at(0.0)));
    assert!(!e.preload_dns(ip("198.51.100.9"), tail, 0, at(0.0)));
    // Capped at the maximum.
    assert!(e.preload_dns(ip("198.51.100.8"), tail, u32::MAX, at(0.0)));
    let mut got: Vec<_> = e.dns_blocked(at(0.0)).map(|s| (s.ip.to_string(), s.secs_left)).collect();
    got.sort();
    assert_eq!(got, vec![("198.51.100.70".to_string(), 300), ("198.51.100.8".to_string(), DNS_MAX_SECS)]);
    let (d, _) = connect(&mut e, &format!("{CACHE}:7950"), 1.0);
    assert_eq!(d.verdict, Verdict::Drop);
}

#[test]
fn mutated_answers_always_pass_and_never_teach_a_forbidden_address() {
    let mut e = Engine::new(config());
    let base = response(
        "www.winmx.com",
        &[
            ("www.winmx.com", 60, Rdata::Cname("c3310.z1303.winmx.com")),
            ("c3310.z1303.winmx.com", 60, Rdata::A("198.51.100.33")),
            ("c3310.z1303.winmx.com", 60, Rdata::Aaaa("2001:db8:51::33")),
        ],
    );
    let mut rng = XorShift32(0x9e37_79b9);
    let mut next = || rng.next_u32();
    for i in 0..20_000u32 {
        let mut m = base.clone();
        for _ in 0..=(next() % 3) {
            let at = next() as usize % m.len();
            m[at] = next() as u8;
        }
        m.truncate(m.len() - (next() as usize % 4));
        let path = [Path::RouterToLan, Path::WanToRouter, Path::WanToLan][(i % 3) as usize];
        let (d, _) = run(&mut e, path, &answer_on(path, &m), f64::from(i) / 1000.0);
        assert_eq!(d.verdict, Verdict::Accept);
    }
    let cfg = config();
    let learned: Vec<_> = e.dns_blocked(at(20.0)).collect();
    assert!(!learned.is_empty(), "some mutations leave the answer readable");
    for s in &learned {
        assert!(cfg.may_block(s.ip) && s.ip != ip(ROUTER_LAN) && s.ip != ip(CLIENT_IP), "{s:?}");
    }
    assert!(e.counters().dns_unreadable > 1000, "{:?}", e.counters());
}
