//! Tests of DNS answer learning on messages built byte by byte.

use super::*;

/// Encodes a dotted name in wire form (no compression).
fn enc(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// Builds a response: header, then questions and answers appended as raw bytes.
struct Builder {
    bytes: Vec<u8>,
    questions: u16,
    answers: u16,
}

impl Builder {
    fn response() -> Builder {
        // id 0x1234, QR=1 RD=1 RA=1, rcode 0.
        Builder { bytes: vec![0x12, 0x34, 0x81, 0x80, 0, 0, 0, 0, 0, 0, 0, 0], questions: 0, answers: 0 }
    }

    fn question(mut self, name: &str, qtype: u16) -> Builder {
        self.bytes.extend(enc(name));
        self.bytes.extend(qtype.to_be_bytes());
        self.bytes.extend(CLASS_IN.to_be_bytes());
        self.questions += 1;
        self
    }

    /// An answer whose owner is given in wire form (possibly a pointer).
    fn record_raw(mut self, owner: &[u8], rtype: u16, ttl: u32, data: &[u8]) -> Builder {
        self.bytes.extend_from_slice(owner);
        self.bytes.extend(rtype.to_be_bytes());
        self.bytes.extend(CLASS_IN.to_be_bytes());
        self.bytes.extend(ttl.to_be_bytes());
        self.bytes.extend((data.len() as u16).to_be_bytes());
        self.bytes.extend_from_slice(data);
        self.answers += 1;
        self
    }

    fn a(self, owner: &str, ttl: u32, ip: [u8; 4]) -> Builder {
        self.record_raw(&enc(owner), TYPE_A, ttl, &ip)
    }

    fn aaaa(self, owner: &str, ttl: u32, ip: Ipv6Addr) -> Builder {
        self.record_raw(&enc(owner), TYPE_AAAA, ttl, &ip.octets())
    }

    fn cname(self, owner: &str, target: &str) -> Builder {
        self.record_raw(&enc(owner), TYPE_CNAME, 300, &enc(target))
    }

    fn build(mut self) -> Vec<u8> {
        self.bytes[4..6].copy_from_slice(&self.questions.to_be_bytes());
        self.bytes[6..8].copy_from_slice(&self.answers.to_be_bytes());
        self.bytes
    }
}

fn winmx() -> PatternSet {
    let mut s = PatternSet::new();
    s.add("*.winmx.com").unwrap();
    s.add("server.napster.com").unwrap();
    s
}

/// One reported record: name, address, ttl, matched.
type Seen = (String, IpAddr, u32, bool);

/// Runs `answers` and collects what it reports.
fn learn(msg: &[u8]) -> Result<(Vec<Seen>, Summary), DnsError> {
    let set = winmx();
    let mut got = Vec::new();
    let summary = answers(msg, |n| set.matches(n), |l| got.push((l.name.to_string(), l.addr, l.ttl, l.matched)))?;
    Ok((got, summary))
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

#[test]
fn matching_a_and_aaaa_records_are_learned_with_their_ttl() {
    let v6: Ipv6Addr = "2001:db8::7".parse().unwrap();
    let m = Builder::response()
        .question("Cache0.WinMX.com", TYPE_A)
        .a("cache0.winmx.com", 3600, [192, 0, 2, 7])
        .aaaa("CACHE0.winmx.com", 60, v6)
        .build();
    let (got, s) = learn(&m).unwrap();
    assert_eq!(
        got,
        vec![
            ("cache0.winmx.com".to_string(), v4(192, 0, 2, 7), 3600, true),
            ("cache0.winmx.com".to_string(), IpAddr::V6(v6), 60, true),
        ]
    );
    assert_eq!(s, Summary { addresses: 2, matched: 2, chain_cut: false });
}

#[test]
fn names_that_do_not_match_are_reported_as_such() {
    let m = Builder::response()
        .question("evilwinmx.com", TYPE_A)
        .a("evilwinmx.com", 300, [198, 51, 100, 1])
        .build();
    let (got, s) = learn(&m).unwrap();
    assert_eq!(got, vec![("evilwinmx.com".to_string(), v4(198, 51, 100, 1), 300, false)]);
    assert_eq!(s.matched, 0);
}

#[test]
fn cname_chains_from_a_matching_name_match_in_any_order() {
    // www.winmx.com -> lb.example.net -> edge.cdn.example -> 192.0.2.9, written with the
    // A record first and the chain backwards; plus an unrelated A record.
    let m = Builder::response()
        .question("www.winmx.com", TYPE_A)
        .a("edge.cdn.example", 30, [192, 0, 2, 9])
        .a("unrelated.example", 30, [192, 0, 2, 10])
        .cname("lb.example.net", "edge.cdn.example")
        .cname("www.winmx.com", "lb.example.net")
        .build();
    let (got, s) = learn(&m).unwrap();
    assert_eq!(
        got,
        vec![
            ("edge.cdn.example".to_string(), v4(192, 0, 2, 9), 30, true),
            ("unrelated.example".to_string(), v4(192, 0, 2, 10), 30, false),
        ]
    );
    assert_eq!(s, Summary { addresses: 2, matched: 1, chain_cut: false });
}

#[test]
fn a_cname_into_a_matching_name_matches_but_not_out_of_a_plain_one() {
    // A harmless name aliased to a WinMX cache: the cache's address is blocked.
    let m = Builder::response()
        .question("alias.example", TYPE_A)
        .cname("alias.example", "cache1.winmx.com")
        .a("cache1.winmx.com", 30, [203, 0, 113, 5])
        .build();
    assert!(learn(&m).unwrap().0[0].3);
    // A WinMX name is not reached from the question, and the A record is for the alias.
    let m = Builder::response()
        .question("alias.example", TYPE_A)
        .cname("other.example", "alias.example")
        .a("alias.example", 30, [203, 0, 113, 6])
        .build();
    assert!(!learn(&m).unwrap().0[0].3);
}

#[test]
fn cname_loops_end_and_long_chains_are_cut() {
    let m = Builder::response()
        .question("a.winmx.com", TYPE_A)
        .cname("a.winmx.com", "b.example")
        .cname("b.example", "a.winmx.com")
        .a("b.example", 5, [192, 0, 2, 1])
        .build();
    let (got, s) = learn(&m).unwrap();
    assert!(got[0].3 && !s.chain_cut);

    // A chain of MAX_CHAIN + 2 links: the first MAX_CHAIN targets are followed.
    let mut b = Builder::response().question("start.winmx.com", TYPE_A);
    let link = |i: usize| format!("n{i}.example");
    b = b.cname("start.winmx.com", &link(0));
    for i in 0..MAX_CHAIN + 1 {
        b = b.cname(&link(i), &link(i + 1));
    }
    b = b.a(&link(MAX_CHAIN - 1), 5, [192, 0, 2, 2]).a(&link(MAX_CHAIN + 1), 5, [192, 0, 2, 3]);
    let (got, s) = learn(&b.build()).unwrap();
    assert!(s.chain_cut);
    assert_eq!(got.iter().map(|g| g.3).collect::<Vec<_>>(), vec![true, false]);
}

#[test]
fn compressed_real_shape_response() {
    // What a resolver sends: the answer's owner is a pointer to the question name (at
    // 12), the CNAME target shares "winmx.com" with it (pointer to 18) and the A
    // record's owner points at the CNAME target.
    let mut m = Builder::response().question("www.winmx.com", TYPE_A);
    // CNAME www.winmx.com -> c3310.z1303.winmx.com: target is "c3310" "z1303" + ptr 16.
    let target = b"\x05c3310\x05z1303\xc0\x10";
    let target_at = (m.bytes.len() + 2 + 10) as u8;
    m = m.record_raw(b"\xc0\x0c", TYPE_CNAME, 600, target);
    m = m.record_raw(&[0xc0, target_at], TYPE_A, 600, &[192, 0, 2, 33]);
    let (got, _) = learn(&m.build()).unwrap();
    assert_eq!(got, vec![("c3310.z1303.winmx.com".to_string(), v4(192, 0, 2, 33), 600, true)]);
}

#[test]
fn other_classes_types_and_sections_are_ignored() {
    let mut m = Builder::response().question("x.winmx.com", TYPE_A).a("x.winmx.com", 9, [192, 0, 2, 1]);
    // A CHAOS-class A record with a bad length is not read at all.
    m.bytes.extend(enc("x.winmx.com"));
    m.bytes.extend([0, 1, 0, 3, 0, 0, 0, 9, 0, 1, 0xff]);
    m.answers += 1;
    // An MX record.
    m = m.record_raw(&enc("x.winmx.com"), 15, 9, b"\x00\x0a\x00");
    let mut bytes = m.build();
    // An additional-section A record (count 1) is never reported.
    bytes[11] = 1;
    bytes.extend(enc("y.winmx.com"));
    bytes.extend([0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 192, 0, 2, 99]);
    let (got, s) = learn(&bytes).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(s.addresses, 1);
}

#[test]
fn high_ttls_read_as_zero() {
    let m = Builder::response().question("x.winmx.com", TYPE_A).a("x.winmx.com", 0x8000_0001, [192, 0, 2, 1]).build();
    assert_eq!(learn(&m).unwrap().0[0].2, 0);
}

#[test]
fn queries_and_non_query_opcodes_are_not_answers() {
    let mut m = Builder::response().question("x.winmx.com", TYPE_A).a("x.winmx.com", 9, [192, 0, 2, 1]).build();
    m[2] = 0x01; // QR = 0: a query
    assert_eq!(learn(&m).err(), Some(DnsError::NotAnswer));
    m[2] = 0xa8; // QR = 1, opcode 5 (UPDATE)
    assert_eq!(learn(&m).err(), Some(DnsError::NotAnswer));
}

#[test]
fn record_count_limits() {
    let mut b = Builder::response().question("x.winmx.com", TYPE_A);
    for i in 0..MAX_ANSWERS {
        b = b.a("x.winmx.com", 9, [192, 0, 2, i as u8]);
    }
    let m = b.build();
    assert_eq!(learn(&m).unwrap().1.addresses, MAX_ANSWERS);
    let mut m = m;
    m[6..8].copy_from_slice(&(MAX_ANSWERS + 1).to_be_bytes());
    assert_eq!(learn(&m).err(), Some(DnsError::TooManyRecords));
    m[6..8].copy_from_slice(&1u16.to_be_bytes());
    m[4..6].copy_from_slice(&(MAX_QUESTIONS + 1).to_be_bytes());
    assert_eq!(learn(&m).err(), Some(DnsError::TooManyRecords));
}

#[test]
fn a_bad_record_anywhere_spoils_the_whole_message() {
    // The good record comes first, but nothing is reported because a later one is bad.
    let m = Builder::response()
        .question("x.winmx.com", TYPE_A)
        .a("x.winmx.com", 9, [192, 0, 2, 1])
        .record_raw(&enc("x.winmx.com"), TYPE_A, 9, &[192, 0, 2])
        .build();
    assert_eq!(learn(&m).err(), Some(DnsError::BadRecord));
    let m = Builder::response()
        .question("x.winmx.com", TYPE_A)
        .a("x.winmx.com", 9, [192, 0, 2, 1])
        .record_raw(&enc("x.winmx.com"), TYPE_AAAA, 9, &[0; 4])
        .build();
    assert_eq!(learn(&m).err(), Some(DnsError::BadRecord));
    // A CNAME whose target runs past its record data.
    let mut target = enc("y.example");
    target.pop();
    let m = Builder::response()
        .question("x.winmx.com", TYPE_A)
        .a("x.winmx.com", 9, [192, 0, 2, 1])
        .record_raw(&enc("x.winmx.com"), TYPE_CNAME, 9, &target)
        .a("x.winmx.com", 9, [192, 0, 2, 2])
        .build();
    assert!(learn(&m).is_err());
    // A looping owner name.
    let m = Builder::response()
        .question("x.winmx.com", TYPE_A)
        .a("x.winmx.com", 9, [192, 0, 2, 1])
        .record_raw(b"\x01z\xc0\x1d", TYPE_A, 9, &[192, 0, 2, 3]);
    let mut bytes = m.build();
    // Aim the pointer at itself.
    let at = bytes.len() - 14 - 2;
    bytes[at + 1] = at as u8;
    assert_eq!(learn(&bytes).err(), Some(DnsError::BadPointer));
}

#[test]
fn every_truncation_is_refused_without_reporting() {
    let m = Builder::response()
        .question("www.winmx.com", TYPE_A)
        .cname("www.winmx.com", "c3311.z1302.winmx.com")
        .a("c3311.z1302.winmx.com", 60, [192, 0, 2, 4])
        .aaaa("c3311.z1302.winmx.com", 60, "2001:db8::4".parse().unwrap())
        .build();
    assert_eq!(learn(&m).unwrap().1.matched, 2);
    for cut in 0..m.len() {
        let mut reported = 0;
        let r = answers(&m[..cut], |_| true, |_| reported += 1);
        assert!(r.is_err(), "cut at {cut} accepted");
        assert_eq!(reported, 0, "cut at {cut} reported records");
    }
}

#[test]
fn mutated_messages_never_panic() {
    let base = Builder::response()
        .question("www.winmx.com", TYPE_A)
        .record_raw(b"\xc0\x0c", TYPE_CNAME, 600, b"\x05c3310\x05z1303\xc0\x10")
        .a("c3310.z1303.winmx.com", 60, [192, 0, 2, 4])
        .build();
    let mut rng = crate::test_rng::XorShift32(0x2545_f491);
    let (mut ok, mut refused) = (0u32, 0u32);
    for _ in 0..50_000 {
        let mut m = base.clone();
        for _ in 0..=(rng.next_u32() % 4) {
            let i = rng.next_u32() as usize % m.len();
            m[i] = rng.next_u32() as u8;
        }
        let cut = m.len() - (rng.next_u32() as usize % 3);
        match answers(&m[..cut], |n| n.len() < 300, |l| assert!(l.name.as_bytes().len() <= name::MAX_TEXT_LEN)) {
            Ok(_) => ok += 1,
            Err(_) => refused += 1,
        }
    }
    // Both outcomes must occur, or the mutations are not exercising the parser.
    assert!(ok > 1000 && refused > 1000, "ok {ok}, refused {refused}");
}

#[test]
fn tcp_dns_whole_messages() {
    let m = Builder::response().question("x.winmx.com", TYPE_A).a("x.winmx.com", 9, [192, 0, 2, 1]).build();
    let mut seg = (m.len() as u16).to_be_bytes().to_vec();
    seg.extend_from_slice(&m);
    let msgs: Vec<&[u8]> = tcp_messages(&seg).collect();
    assert_eq!(msgs, vec![&m[..]]);
    assert_eq!(learn(msgs[0]).unwrap().1.matched, 1);
    // Cut short: no message at all.
    assert_eq!(tcp_messages(&seg[..seg.len() - 1]).count(), 0);
}

#[test]
fn questions_are_listed_for_query_logging() {
    let mut q = Builder::response().question("Server.Napster.com", TYPE_A).question("x.example", TYPE_AAAA).build();
    q[2] = 0x01;
    let mut seen = Vec::new();
    assert_eq!(questions(&q, |n, t| seen.push((n.to_string(), t))), Ok(2));
    assert_eq!(seen, vec![("server.napster.com".to_string(), TYPE_A), ("x.example".to_string(), TYPE_AAAA)]);
    assert!(questions(&q[..q.len() - 1], |_, _| ()).is_err());
}
