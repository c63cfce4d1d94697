//! Hostile DNS answers through the DNS view and through the engine on its three answer
//! paths: hundreds of records, compression loops and pointer chains, names at the length
//! limits (255 octets on the wire, 63-octet labels, 127 labels). Each answer passes (DNS
//! is never dropped), teaches exactly what a well-formed answer would, and a message the
//! view refuses teaches nothing at all.

mod common;

use common::*;
use ftwall::dns::{self, DnsError, PatternSet, MAX_ANSWERS};
use ftwall::engine::*;

const CLIENT: &str = "192.168.80.10:40001";
const ROUTER_LAN: &str = "192.168.80.1";
const ROUTER_WAN: &str = "192.0.2.1";
const UPSTREAM: &str = "203.0.113.53";
const PATHS: [Path; 3] = [Path::RouterToLan, Path::WanToRouter, Path::WanToLan];

fn config() -> Config {
    let mut patterns = PatternSet::new();
    patterns.add("*.winmx.com").unwrap();
    Config {
        patterns,
        never_block: vec!["192.168.80.0/24".parse().unwrap(), format!("{ROUTER_WAN}/32").parse().unwrap()],
        log: LogMask::parse("pa").unwrap(),
        ..Config::default()
    }
}

/// `msg` as a UDP datagram (or, with `tcp`, a framed TCP segment) on `path`.
fn on_path(path: Path, msg: &[u8], tcp_framed: bool) -> Vec<u8> {
    let (src, dst) = match path {
        Path::RouterToLan => (format!("{ROUTER_LAN}:53"), CLIENT.to_string()),
        Path::WanToRouter => (format!("{UPSTREAM}:53"), format!("{ROUTER_WAN}:31000")),
        Path::WanToLan => (format!("{UPSTREAM}:53"), CLIENT.to_string()),
        other => panic!("no answers on {other:?}"),
    };
    if tcp_framed {
        let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(msg);
        tcp(&src, &dst, false, &framed)
    } else {
        udp(&src, &dst, msg)
    }
}

/// A response with one question (`qname`, uncompressed) and `answers` given as raw
/// owner-name bytes, type and data. Offset 12 is the question name, for pointers.
fn message(qname: &[u8], answers: &[(Vec<u8>, u16, Vec<u8>)]) -> Vec<u8> {
    let mut m = vec![0x42, 0x42, 0x81, 0x80, 0, 1];
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(qname);
    m.extend_from_slice(&[0, 1, 0, 1]);
    for (owner, rtype, data) in answers {
        m.extend_from_slice(owner);
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
        m.extend_from_slice(&(data.len() as u16).to_be_bytes());
        m.extend_from_slice(data);
    }
    m
}

fn a(n: u32) -> Vec<u8> {
    (0xc633_6400u32 | (n & 0xff)).to_be_bytes().to_vec() // 198.51.100.n
}

fn addr(n: u32) -> std::net::IpAddr {
    std::net::IpAddr::V4(std::net::Ipv4Addr::from(0xc633_6400u32 | (n & 0xff)))
}

/// A name of labels `len` octets long each, then "winmx.com", on the wire.
fn long_name(labels: &[usize]) -> Vec<u8> {
    let mut n = Vec::new();
    for (i, &len) in labels.iter().enumerate() {
        n.push(len as u8);
        n.extend(std::iter::repeat(b'a' + (i % 26) as u8).take(len));
    }
    n.extend_from_slice(b"\x05winmx\x03com\x00");
    n
}

/// What the view says, and what one engine learned from the message on each path (UDP
/// and TCP): the addresses blocked, and whether the engine counted it unreadable.
fn through_everything(msg: &[u8], expect: &[std::net::IpAddr]) -> Result<dns::Summary, DnsError> {
    let view = dns::answers(msg, |n| config().patterns.matches(n), |_| {});
    for path in PATHS {
        for framed in [false, true] {
            let mut e = Engine::new(config());
            let (d, _) = run(&mut e, path, &on_path(path, msg, framed), 1.0);
            assert_eq!(d.verdict, Verdict::Accept, "{path:?}: a DNS answer is never dropped");
            let blocked: Vec<_> = e.dns_blocked(at(1.0)).map(|s| s.ip).collect();
            assert_eq!(blocked.len(), expect.len(), "{path:?} framed {framed}: learned {blocked:?}");
            for ip in expect {
                assert!(e.is_dns_blocked(*ip, at(1.0)), "{path:?}: {ip} not learned");
            }
            let c = e.counters();
            assert_eq!((c.dns_answers, c.dns_unreadable), if view.is_ok() { (1, 0) } else { (0, 1) }, "{path:?}");
        }
    }
    view
}

#[test]
fn hundreds_of_records() {
    // The most records read from one message, every one learned.
    let q = long_name(&[5]);
    let recs: Vec<_> = (0..u32::from(MAX_ANSWERS)).map(|i| (vec![0xc0, 0x0c], 1u16, a(i))).collect();
    let expect: Vec<_> = (0..u32::from(MAX_ANSWERS)).map(|i| addr(i)).collect::<std::collections::HashSet<_>>().into_iter().collect();
    let s = through_everything(&message(&q, &recs), &expect).unwrap();
    assert_eq!((s.addresses, s.matched), (MAX_ANSWERS, MAX_ANSWERS));
    // One more, or hundreds more, and the message is refused whole.
    for n in [u32::from(MAX_ANSWERS) + 1, 300, 1000] {
        let recs: Vec<_> = (0..n).map(|i| (vec![0xc0, 0x0c], 1u16, a(i))).collect();
        assert_eq!(through_everything(&message(&q, &recs), &[]).unwrap_err(), DnsError::TooManyRecords, "{n} records");
    }
    // Hundreds of non-address records claimed in the authority and additional sections
    // are not read at all.
    let mut m = message(&q, &[(vec![0xc0, 0x0c], 1, a(7))]);
    m[8..12].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    through_everything(&m, &[addr(7)]).unwrap();
}

#[test]
fn the_largest_message_full_of_the_longest_names() {
    // 128 answers whose owners are 253-character names written out in full: a 34 KB
    // message, over TCP and in one large UDP datagram.
    let owner = long_name(&[63, 63, 63, 51]);
    assert_eq!(owner.len(), 255);
    let recs: Vec<_> = (0..u32::from(MAX_ANSWERS)).map(|i| (owner.clone(), 1u16, a(i))).collect();
    let m = message(&owner, &recs);
    assert!(m.len() > 34_000);
    let expect: Vec<_> = (0..u32::from(MAX_ANSWERS)).map(addr).collect::<std::collections::HashSet<_>>().into_iter().collect();
    let s = through_everything(&m, &expect).unwrap();
    assert_eq!(s.matched, MAX_ANSWERS);
    // The log shows the end of such a name, marked as cut.
    let mut e = Engine::new(config());
    let (_, actions) = run(&mut e, Path::RouterToLan, &on_path(Path::RouterToLan, &m, false), 1.0);
    let shown = actions.iter().find_map(|x| match x {
        Action::Log(Event::Dns(DnsEvent::Answer { name, .. })) => Some(name.to_string()),
        _ => None,
    });
    let shown = shown.expect("answers are logged with letter a");
    assert!(shown.starts_with("..") && shown.ends_with(".winmx.com"), "{shown}");
}

#[test]
fn names_at_and_past_the_length_limits() {
    let q = long_name(&[5]);
    // 255 octets on the wire (253 characters): the longest name, learned.
    let max = long_name(&[63, 63, 63, 51]);
    assert_eq!(max.len(), 255);
    through_everything(&message(&q, &[(max, 1, a(1))]), &[addr(1)]).unwrap();
    // 256 octets: refused whole, even with a good record beside it.
    let over = long_name(&[63, 63, 63, 52]);
    let m = message(&q, &[(vec![0xc0, 0x0c], 1, a(2)), (over, 1, a(3))]);
    assert_eq!(through_everything(&m, &[]).unwrap_err(), DnsError::NameTooLong);
    // The same limits reached through a pointer: labels, then a pointer to the
    // question's 17-octet "aaaaa.winmx.com".
    let via_pointer = |labels: &[usize]| {
        let mut n = long_name(labels);
        n.truncate(n.len() - 11); // drop "winmx.com" and the root
        n.extend_from_slice(&[0xc0, 0x0c]);
        n
    };
    through_everything(&message(&q, &[(via_pointer(&[63, 63, 63, 45]), 1, a(4))]), &[addr(4)]).unwrap();
    let m = message(&q, &[(via_pointer(&[63, 63, 63, 46]), 1, a(4))]);
    assert_eq!(through_everything(&m, &[]).unwrap_err(), DnsError::NameTooLong);
    // A 63-octet label is fine; a length octet of 64 or more is not a label.
    through_everything(&message(&q, &[(long_name(&[63]), 1, a(5))]), &[addr(5)]).unwrap();
    for bad in [64u8, 0x7f, 0x80, 0xbf] {
        let mut owner = long_name(&[63]);
        owner[0] = bad;
        assert_eq!(through_everything(&message(&q, &[(owner, 1, a(6))]), &[]).unwrap_err(), DnsError::BadLabel, "length octet {bad:#x}");
    }
    // The most labels a matching name can have (122 one-octet labels, then winmx.com:
    // 255 octets): fine; one label more: refused.
    through_everything(&message(&q, &[(long_name(&[1; 122]), 1, a(8))]), &[addr(8)]).unwrap();
    let err = through_everything(&message(&q, &[(long_name(&[1; 123]), 1, a(9))]), &[]).unwrap_err();
    assert_eq!(err, DnsError::NameTooLong);
    // 128 labels (past the 127 any name can have) are refused before their length is.
    let many: Vec<u8> = b"\x01a".repeat(128).into_iter().chain([0]).collect();
    let err = through_everything(&message(&q, &[(many, 1, a(10))]), &[]).unwrap_err();
    assert_eq!(err, DnsError::TooManyLabels);
}

#[test]
fn compression_loops_and_pointer_chains() {
    let q = long_name(&[5]); // offset 12, 17 octets; the question ends at 33
    let first = 33; // where the first answer's owner starts
    let loops: Vec<(&str, Vec<(Vec<u8>, u16, Vec<u8>)>)> = vec![
        ("pointer to itself", vec![(vec![0xc0, first as u8], 1, a(1))]),
        ("pointer forwards", vec![(vec![0xc0, (first + 40) as u8], 1, a(1))]),
        ("pointer into the header", vec![(vec![0xc0, 0x02], 1, a(1))]),
        ("pointer past the end", vec![(vec![0xff, 0xff], 1, a(1))]),
        // A label, then a pointer back to that label's own start.
        ("label then pointer to itself", vec![(vec![1, b'x', 0xc0, first as u8], 1, a(1))]),
        // A CNAME whose target points at the answer's own owner, which points back.
        ("cname loop through pointers", vec![(vec![0xc0, (first + 12) as u8], 5, vec![0xc0, first as u8])]),
    ];
    for (what, recs) in loops {
        let err = through_everything(&message(&q, &recs), &[]).expect_err(what);
        assert!(matches!(err, DnsError::BadPointer | DnsError::Truncated), "{what}: {err:?}");
    }

    // A staircase of pointers, each to the one before: up to 16 hops is a name, 17 is
    // refused. The chain sits in the answer section as CNAME records whose data is one
    // pointer; the last record's owner is the pointer chain under test.
    for hops in [1usize, 8, 16, 17, 40] {
        let mut recs = Vec::new();
        // Record k's data (2 octets) sits at a known offset: 33 + k * 14 + 2 + 10.
        let data_at = |k: usize| first + k * 14 + 12;
        for k in 0..hops.saturating_sub(1) {
            let target = if k == 0 { 12 } else { data_at(k - 1) };
            recs.push((vec![0xc0, 0x0c], 99u16, vec![0xc0 | (target >> 8) as u8, target as u8]));
        }
        let last_target = if hops == 1 { 12 } else { data_at(hops - 2) };
        recs.push((vec![0xc0 | (last_target >> 8) as u8, last_target as u8], 1, a(1)));
        let m = message(&q, &recs);
        let learned = [addr(1)];
        let r = through_everything(&m, if hops <= 16 { &learned[..] } else { &[] });
        if hops <= 16 {
            assert_eq!(r.unwrap().matched, 1, "{hops} hops");
        } else {
            assert_eq!(r.unwrap_err(), DnsError::TooManyPointers, "{hops} hops");
        }
    }
}
