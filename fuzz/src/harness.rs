//! What each fuzz target does with its input bytes, and the properties it checks beyond
//! "does not panic". Pure std + ftwall, so that plain `cargo test` can replay any input
//! (tests/fuzz_regressions.rs) and the seed writer can encode inputs (examples/fuzz_seeds.rs).
//!
//! The engine input is a small program: a config header, then packets on paths, clock
//! ticks and storefile preloads, each with a time step. [`EngineInput`] writes one, so the
//! seeds are real sessions rather than random bytes.
#![allow(dead_code)]

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ftwall::addr::{Endpoint, IpNet, MacAddr};
use ftwall::capture::{ip_bytes, CaptureReader, MAX_RECORD_LEN};
use ftwall::detect::{Protocol, ProtocolSet};
use ftwall::dns::name::{Name, NameTail, MAX_TEXT_LEN};
use ftwall::dns::pattern::{Kind, PatternSet, MAX_PATTERNS};
use ftwall::dns::{self, MAX_ANSWERS};
use ftwall::engine::{Action, Config, Engine, LogMask, Packet, Path, Reason, Verdict};
use ftwall::time::Millis;
use ftwall::wire::IpPacket;

/// The fuzz targets, by name (fuzz_targets/NAME.rs, fuzz/corpus/NAME, fuzz/seeds/NAME).
pub const TARGETS: [&str; 7] = ["engine", "dns", "capture", "storefile", "training", "patterns", "cli"];

/// Runs the target called `target` on `data`.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "engine" => engine(data),
        "dns" => dns(data),
        "capture" => capture(data),
        "storefile" => storefile(data),
        "training" => training(data),
        "patterns" => patterns(data),
        "cli" => cli(data),
        other => panic!("no fuzz target called {other}"),
    }
}

/// The six paths, in the order the engine input numbers them.
pub const PATHS: [Path; 6] = [Path::LanToWan, Path::WanToLan, Path::LanToRouter, Path::RouterToLan, Path::WanToRouter, Path::RouterToWan];

/// Engine config header flags (first byte of an engine input).
pub mod flag {
    pub const MONITOR: u8 = 1;
    pub const NO_UDP_DROP: u8 = 2;
    pub const LOCK_OFF: u8 = 4;
    pub const SHORT_LOCK: u8 = 8;
    pub const EXEMPT: u8 = 16;
    pub const PATTERNS: u8 = 32;
    pub const NEVER_BLOCK: u8 = 64;
    pub const SOME_PROTOCOLS: u8 = 128;
}

/// Length of the engine input's config header.
pub const ENGINE_HEADER: usize = 5;
/// Record kinds beyond the six paths.
const OP_TICK: u8 = 6;
const OP_PRELOAD: u8 = 7;
/// Op bit: the packet comes with a MAC address.
const OP_MAC: u8 = 8;

/// The exempt network and MAC of [`flag::EXEMPT`], and the never-block networks.
pub const EXEMPT_NET: &str = "192.168.1.0/28";
pub const EXEMPT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x11];
pub const NEVER_BLOCK: [&str; 2] = ["10.0.0.0/8", "2001:db8:ffff::/48"];
pub const PATTERNS: [&str; 3] = ["*.winmx.com", "server.napster.com", "*napigator.com"];

/// Writes engine inputs (used by the seed writer and the tests).
pub struct EngineInput(pub Vec<u8>);

impl EngineInput {
    /// `flags` from [`flag`]; `protocols` is a bit set of `Protocol as usize` used with
    /// [`flag::SOME_PROTOCOLS`]; `log` a bit set of the letters "uUtTcpmD"; `epoch` the
    /// top byte of the starting time (0 starts at 0).
    pub fn new(flags: u8, protocols: u16, log: u8, epoch: u8) -> EngineInput {
        let p = protocols.to_le_bytes();
        EngineInput(vec![flags, p[0], p[1], log, epoch])
    }

    fn step(&mut self, op: u8, ms: u64) {
        self.0.push(op);
        // Milliseconds up to 32767, whole seconds above (top bit set).
        let dt: u16 = if ms < 0x8000 { ms as u16 } else { 0x8000 | (ms / 1000).min(0x7fff) as u16 };
        self.0.extend_from_slice(&dt.to_le_bytes());
    }

    /// A packet on `path`, `ms` after the previous record.
    pub fn packet(&mut self, path: Path, ms: u64, mac: Option<u8>, bytes: &[u8]) -> &mut Self {
        let p = PATHS.iter().position(|&x| x == path).unwrap_or(0) as u8;
        let op = match mac {
            Some(m) => p | OP_MAC | (m << 4),
            None => p,
        };
        self.step(op, ms);
        let len = bytes.len().min(usize::from(u16::MAX));
        self.0.extend_from_slice(&(len as u16).to_le_bytes());
        self.0.extend_from_slice(&bytes[..len]);
        self
    }

    pub fn tick(&mut self, ms: u64) -> &mut Self {
        self.step(OP_TICK, ms);
        self
    }

    /// A storefile peer (`dns` false) or training-file address (`dns` true) loaded at
    /// this time.
    pub fn preload(&mut self, ms: u64, dns: bool, ip: Ipv4Addr, port: u16) -> &mut Self {
        self.step(OP_PRELOAD, ms);
        self.0.push(u8::from(dns));
        self.0.extend_from_slice(&ip.octets());
        self.0.extend_from_slice(&port.to_le_bytes());
        self
    }
}

/// Takes `n` bytes off the front of `data` (fewer if it is shorter).
fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = data.split_at(n.min(data.len()));
    *data = tail;
    head
}

fn le16(b: &[u8]) -> u16 {
    match b {
        [a, b, ..] => u16::from_le_bytes([*a, *b]),
        [a] => u16::from(*a),
        [] => 0,
    }
}

/// The engine config an input's header asks for.
pub fn engine_config(header: &[u8]) -> Config {
    let byte = |i: usize| header.get(i).copied().unwrap_or(0);
    let flags = byte(0);
    let mut c = Config { seed: 0x5eed, ..Config::default() };
    c.monitor = flags & flag::MONITOR != 0;
    c.drop_udp = flags & flag::NO_UDP_DROP == 0;
    c.lock_secs = if flags & flag::LOCK_OFF != 0 {
        0
    } else if flags & flag::SHORT_LOCK != 0 {
        2
    } else {
        120
    };
    if flags & flag::EXEMPT != 0 {
        c.exempt_nets.push(EXEMPT_NET.parse().expect("net"));
        c.exempt_macs.push(MacAddr(EXEMPT_MAC));
    }
    if flags & flag::PATTERNS != 0 {
        for p in PATTERNS {
            c.patterns.add(p).expect("pattern");
        }
    }
    if flags & flag::NEVER_BLOCK != 0 {
        c.never_block.extend(NEVER_BLOCK.iter().map(|n| n.parse::<IpNet>().expect("net")));
    }
    if flags & flag::SOME_PROTOCOLS != 0 {
        let bits = u16::from_le_bytes([byte(1), byte(2)]);
        c.protocols = Protocol::ALL.iter().filter(|&&p| bits & (1 << p as u16) != 0).fold(ProtocolSet::EMPTY, |s, &p| s.with(p));
    }
    let letters: String = "uUtTcpmD".chars().enumerate().filter(|&(i, _)| byte(3) & (1 << i) != 0).map(|(_, c)| c).collect();
    c.log = LogMask::parse(&letters).expect("letters");
    c
}

/// Checks what one action says against the promises of the config.
fn check_action(c: &Config, a: &Action) {
    match a {
        // Nothing the router, the LAN (never-block), an exempt host or a special
        // address is ever blocked or stored as a peer.
        Action::BlockPeer { ip } => {
            assert!(!c.monitor, "monitor mode blocks nothing");
            assert!(c.may_block(*ip), "blocked an address that may never be blocked: {ip}");
        }
        Action::StorePeer { peer, .. } => assert!(c.may_block(peer.ip), "stored a peer that may never be blocked: {peer}"),
        Action::Lock { client, secs } => {
            assert!(!c.monitor && c.lock_secs > 0, "lock sent in monitor mode or with -t 0");
            assert_eq!(*secs, c.lock_secs);
            assert!(!c.exempt_nets.iter().any(|n| n.contains(*client)), "exempt client {client} locked");
        }
        Action::Spoof { payload, .. } | Action::Probe { payload, .. } => assert!(!payload.is_empty()),
        _ => {}
    }
    // Every action can be written out (the daemon logs them); the sink allocates nothing.
    let _ = write!(std::io::sink(), "{a:?}");
    if let Action::Log(ftwall::engine::Event::Packet { reason, .. }) = a {
        let _ = write!(std::io::sink(), "{reason}");
    }
}

/// Engine target: a config header, then records until the input ends:
/// `op u8, dt u16le` then, for ops 0..=5 (a path, +8 with a MAC in the top nibble),
/// `len u16le, bytes`; op 6 ticks; op 7 preloads `dns u8, ipv4 [4], port u16le`.
/// `dt` is milliseconds, or seconds with the top bit set.
pub fn engine(data: &[u8]) {
    let mut data = data;
    let header = take(&mut data, ENGINE_HEADER);
    let config = engine_config(header);
    let monitor = config.monitor;
    let epoch = u64::from(header.get(4).copied().unwrap_or(0)) << 56;
    let mut engine = Engine::new(config.clone());
    let caps = engine.capacities();
    let mut now = Millis(epoch);
    let mut out = |a: Action| check_action(&config, &a);

    while !data.is_empty() {
        let op = take(&mut data, 1)[0];
        let dt = le16(take(&mut data, 2));
        let step = if dt & 0x8000 != 0 { u64::from(dt & 0x7fff) * 1000 } else { u64::from(dt) };
        now = now.plus(step);
        match op & 7 {
            OP_TICK => engine.tick(now, &mut out),
            OP_PRELOAD => {
                let rec = take(&mut data, 7);
                let mut b = [0u8; 7];
                b[..rec.len()].copy_from_slice(rec);
                let ip = IpAddr::V4(Ipv4Addr::new(b[1], b[2], b[3], b[4]));
                let port = u16::from_le_bytes([b[5], b[6]]);
                if b[0] & 1 == 0 {
                    let ok = engine.preload_peer(Endpoint::new(ip, port), Protocol::FastTrack, now);
                    assert!(!ok || engine.is_peer(ip), "a preloaded peer is known at once");
                } else {
                    let ok = engine.preload_dns(ip, NameTail::of(b"cache0.winmx.com"), u32::from(port), now);
                    assert!(!ok || engine.is_dns_blocked(ip, now));
                }
            }
            p => {
                let len = usize::from(le16(take(&mut data, 2)));
                let bytes = take(&mut data, len);
                let mac = (op & OP_MAC != 0).then(|| MacAddr([2, 0, 0, 0, 0, op >> 4 | 0x10]));
                let path = PATHS[usize::from(p)];
                let d = engine.process(&Packet { bytes, path, mac }, now, &mut out);
                // One verdict, consistent with what the engine wanted and with the mode.
                assert!(d.verdict == Verdict::Accept || d.wanted == Verdict::Drop, "{d:?}");
                assert!(!(monitor && d.verdict == Verdict::Drop), "monitor mode dropped: {d:?}");
                if d.reason == Reason::Malformed {
                    assert!(IpPacket::parse(bytes).is_err() && d.verdict == Verdict::Accept);
                }
                let _ = write!(std::io::sink(), "{}", d.reason);
            }
        }
    }

    // Tables never exceed their fixed size.
    assert!(engine.clients(now).count() <= caps.clients);
    assert!(engine.peers().count() <= caps.peers);
    assert!(engine.dns_blocked(now).count() <= caps.dns);
    // Every lock and DNS block ends: a week and a day later nothing is left of them.
    let later = now.plus(8 * 86_400 * 1000);
    engine.tick(later, &mut out);
    assert_eq!(engine.clients(later).count(), 0, "a client outlived the longest lock");
    assert_eq!(engine.dns_blocked(later).count(), 0, "a DNS block outlived its maximum");
}

/// The pattern set the DNS target matches with.
fn dns_patterns() -> PatternSet {
    let mut s = PatternSet::new();
    for p in PATTERNS {
        s.add(p).expect("pattern");
    }
    s
}

/// DNS target: byte 0 chooses how the rest is read (bit 0: TCP framing; bit 1: every
/// name matches, which drives the CNAME-chain logic hardest); the rest is the message(s).
pub fn dns(data: &[u8]) {
    let Some((&mode, msg)) = data.split_first() else { return };
    let patterns = dns_patterns();
    let all = mode & 2 != 0;
    let matches = |n: &[u8]| all || patterns.matches(n);
    let mut one = |m: &[u8]| {
        let mut reported = 0u16;
        let result = dns::answers(m, matches, |l| {
            let name = l.name.as_bytes();
            assert!(name.len() <= MAX_TEXT_LEN);
            assert!(!name.iter().any(u8::is_ascii_uppercase), "names are lower case");
            if matches(name) {
                assert!(l.matched, "a matching name reported as not matching");
            }
            let _ = write!(std::io::sink(), "{} {}", l.name, NameTail::from(l.name));
            reported += 1;
        });
        if let Ok(s) = result {
            assert_eq!(s.addresses, reported);
            assert!(s.matched <= s.addresses && s.addresses <= MAX_ANSWERS);
        }
        let _ = dns::questions(m, |n, _| {
            assert!(n.as_bytes().len() <= MAX_TEXT_LEN);
        });
        // Names at every offset: a bad pointer or length anywhere is an error, not a panic,
        // and a good name ends inside the message, after where it starts.
        let mut name = Name::root();
        for at in 0..m.len().min(300) {
            if let Ok(end) = name.decode(m, at) {
                assert!(end > at && end <= m.len(), "name at {at} ends at {end}");
            }
        }
    };
    if mode & 1 != 0 {
        dns::tcp_messages(msg).take(64).for_each(&mut one);
    } else {
        one(msg);
    }
}

/// Capture target: the bytes are a capture file; every record is stripped to IP and
/// viewed as a packet, then the file is replayed as `ftwall inspect` would.
pub fn capture(data: &[u8]) {
    let Ok(mut reader) = CaptureReader::new(data) else { return };
    let _ = (reader.format(), reader.snaplen());
    let mut records = 0u64;
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => {
                records += 1;
                assert!(rec.data.len() <= MAX_RECORD_LEN && rec.data.len() <= data.len());
                if let Some(frame) = ip_bytes(rec.link, rec.data) {
                    let _ = IpPacket::parse(frame.ip);
                }
                let _ = write!(std::io::sink(), "{}", rec.link);
            }
            Ok(None) => break,
            Err(e) => {
                let _ = write!(std::io::sink(), "{e}");
                assert!(matches!(reader.next_record(), Ok(None)), "a reader gives nothing after an error");
                break;
            }
        }
    }
    assert_eq!(reader.packets(), records);
    // The same bytes through `ftwall inspect`: capture, engine and report together.
    let settings = ftwall::cli::Settings::default();
    if let Ok(report) = ftwall::inspect::replay(data, &settings) {
        assert_eq!(report.packets, records);
        assert!(report.skipped <= report.packets);
        let _ = ftwall::inspect::render(&report, false, false);
    }
}

/// Storefile target: the bytes are a storefile.
pub fn storefile(data: &[u8]) {
    let loaded = ftwall::storefile::parse(data);
    let lines = data.split(|&b| b == b'\n').count();
    let mut seen = std::collections::HashSet::new();
    for e in &loaded.entries {
        assert!(seen.insert(e.peer.ip), "an address kept twice");
        // What the daemon writes back reads as the same entry.
        let line = ftwall::storefile::format_line(e);
        assert_eq!(ftwall::storefile::parse_line(&line), Ok(Some(*e)), "{line}");
    }
    let mut last = 0;
    for err in &loaded.errors {
        assert!(err.line > last && err.line <= lines, "line numbers in order and in the file");
        last = err.line;
    }
    assert_eq!(loaded.torn_tail, !data.is_empty() && !data.ends_with(b"\n"));
    if !loaded.needs_rewrite() {
        assert!(loaded.errors.is_empty() && loaded.duplicates == 0);
    }
}

/// Training-file target: 8 bytes of wall-clock time (little-endian), then a DNS training
/// file; its entries are preloaded into an engine under the safety rules.
pub fn training(data: &[u8]) {
    let mut data = data;
    let mut clock = [0u8; 8];
    let head = take(&mut data, 8);
    clock[..head.len()].copy_from_slice(head);
    let now_unix = u64::from_le_bytes(clock);
    let loaded = ftwall::training::parse(data, now_unix);
    for e in &loaded.entries {
        assert!(e.expires > now_unix, "an expired entry kept");
        // What the daemon writes back reads as the same address and time (names are
        // written escaped for people, so only plain ones read back byte for byte).
        let line = ftwall::training::format_line(e);
        let back = ftwall::training::parse_line(&line).unwrap_or_else(|r| panic!("{line:?}: {r}")).expect("an entry");
        assert_eq!((back.ip, back.expires), (e.ip, e.expires), "{line}");
        if e.name.as_bytes().iter().all(|b| b.is_ascii_graphic() && *b != b'\\') {
            assert_eq!(back.name, e.name, "{line}");
        }
    }
    let mut config = Config { seed: 1, ..Config::default() };
    config.never_block.push("192.168.0.0/16".parse().expect("net"));
    let mut engine = Engine::new(config.clone());
    let now = Millis(1_000);
    let (accepted, refused) = ftwall::training::preload(&mut engine, &loaded, now, now_unix);
    assert_eq!(accepted + refused, loaded.entries.len());
    let held: Vec<_> = engine.dns_blocked(now).collect();
    assert!(held.len() <= engine.capacities().dns && held.len() <= accepted);
    for s in &held {
        assert!(config.may_block(s.ip), "the training file got {} blocked", s.ip);
        assert!(s.secs_left <= config.dns_max_secs);
    }
    let saved = ftwall::training::snapshot(&engine, now, now_unix);
    assert_eq!(saved.len(), held.len());
}

/// Pattern-file target: the bytes (as text) are a pattern file.
pub fn patterns(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut set = PatternSet::new();
    let mut bad_lines = 0;
    let good = set.add_file(text, |line, _, e| {
        assert!(line >= 1);
        let _ = write!(std::io::sink(), "{e}");
        bad_lines += 1;
    });
    assert!(set.len() <= good && set.len() <= MAX_PATTERNS);
    // Each pattern, written out, reads back as itself and matches its own name.
    let mut again = PatternSet::new();
    for p in set.iter() {
        let shown = p.to_string();
        again.add(&shown).unwrap_or_else(|e| panic!("{shown}: {e}"));
        assert!(p.matches(p.text), "{shown} does not match its own text");
        let upper = p.text.to_ascii_uppercase();
        assert!(p.matches(&upper), "{shown}: case matters");
        let mut sub = b"x.".to_vec();
        sub.extend_from_slice(p.text);
        assert_eq!(p.matches(&sub), p.kind != Kind::Exact, "{shown} on a sub-name");
    }
    assert_eq!(again, set, "patterns do not round-trip through their text");
    // Matching any line of the input as a name never panics.
    for line in text.lines().take(64) {
        let _ = set.matches(line.as_bytes());
    }
}

/// Command-line target: NUL-separated arguments (after the program name) into
/// `cli::settings::parse`. Inputs naming device or proc files are skipped: reading one
/// (a pattern file of /dev/zero) is not a parser question.
pub fn cli(data: &[u8]) {
    let args: Vec<String> = data.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
    if args.iter().any(|a| ["dev/", "proc/", "sys/", "fd/"].iter().any(|d| a.contains(d))) {
        return;
    }
    match ftwall::cli::settings::parse(&args) {
        Err(msg) => {
            assert!(!msg.is_empty() && !msg.contains('\n'), "not a one-line error: {msg:?}");
        }
        Ok(ftwall::cli::Request::Run(s)) => {
            assert!(s.engine.lock_secs <= ftwall::cli::settings::MAX_LOCK_SECS);
            assert!((256..=65535).contains(&s.buffer));
            assert!(!s.lan_ifs.iter().any(|i| s.wan_ifs.contains(i)), "an interface both LAN and WAN");
            for n in &s.lan_nets {
                assert!(!s.engine.may_block(n.addr()), "a LAN network may be blocked");
            }
            for a in &s.router_addrs {
                assert!(!s.engine.may_block(*a), "a router address may be blocked");
            }
        }
        Ok(_) => {}
    }
}

/// An IPv6 address, for the seed writer.
pub fn v6(s: &str) -> Ipv6Addr {
    s.parse().expect("IPv6")
}
