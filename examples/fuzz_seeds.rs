//! Writes the fuzzers' seed corpora: real sessions from the shared captures and payload
//! samples, and protocol-faithful messages from the test builders, one directory per
//! fuzz target (engine, dns, capture, storefile, training, patterns, cli).
//!
//! Usage: cargo run --example fuzz_seeds -- [OUT_DIR]   (default: fuzz/corpus)
//! `make fuzz-seeds` runs it; the corpus is git-ignored and regrown at will.

#[path = "../fuzz/src/harness.rs"]
mod harness;
#[path = "../tests/common/mod.rs"]
mod common;

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path as FsPath, PathBuf};

use common::dns::{query, response, Rdata};
use common::fasttrack::{http_get, ping, pong};
use common::{tcp, udp};
use ftwall::capture::{ip_bytes, CaptureReader};
use ftwall::engine::Path;
use ftwall::wire::IpPacket;
use harness::{flag, EngineInput};

/// Largest seed written for the engine (libFuzzer's -max_len in `make fuzz` is 16 KiB).
const MAX_SEED: usize = 16 * 1024;

struct Out {
    root: PathBuf,
    count: usize,
}

impl Out {
    fn put(&mut self, target: &str, name: &str, bytes: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        self.count += 1;
    }
}

fn shared_captures() -> PathBuf {
    let root = FsPath::new(env!("CARGO_MANIFEST_DIR"));
    [root.join("../shared/captures"), root.join("../../shared/captures")]
        .into_iter()
        .find(|d| d.join("ndpi").is_dir())
        .expect("shared captures not found (../shared/captures beside the repository)")
}

fn capture_files() -> Vec<PathBuf> {
    let dir = shared_captures();
    let mut files: Vec<PathBuf> = ["ndpi", "zeek"]
        .iter()
        .flat_map(|sub| fs::read_dir(dir.join(sub)).map(|r| r.flatten().map(|e| e.path()).collect::<Vec<_>>()).unwrap_or_default())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    files
}

/// Engine seeds from a capture: the first sender is the LAN client; packets from it go
/// LAN to WAN, the rest WAN to LAN; cut into inputs of at most [`MAX_SEED`] bytes.
fn engine_from_capture(out: &mut Out, path: &FsPath) {
    let stem = path.file_name().and_then(|n| n.to_str()).unwrap_or("capture").to_string();
    let Ok(mut reader) = CaptureReader::open(path) else { return };
    let mut client: Option<IpAddr> = None;
    let mut seed = EngineInput::new(flag::PATTERNS, 0, 0, 0);
    let mut last_ms = None;
    let mut n = 0;
    while let Ok(Some(rec)) = reader.next_record() {
        let Some(frame) = ip_bytes(rec.link, rec.data) else { continue };
        let Ok(ip) = IpPacket::parse(frame.ip) else { continue };
        let lan = *client.get_or_insert(ip.src);
        let path = if ip.src == lan { Path::LanToWan } else { Path::WanToLan };
        let dt = last_ms.map_or(0, |l| rec.ts_ms.saturating_sub(l));
        last_ms = Some(rec.ts_ms);
        seed.packet(path, dt, None, frame.ip);
        if seed.0.len() >= MAX_SEED {
            out.put("engine", &format!("{stem}-{n}"), &seed.0);
            n += 1;
            seed = EngineInput::new(flag::PATTERNS, 0, 0, 0);
            if n >= 12 {
                return;
            }
        }
    }
    if seed.0.len() > harness::ENGINE_HEADER {
        out.put("engine", &format!("{stem}-{n}"), &seed.0);
    }
}

/// The payloads of packet 1..N of an l7-filter sample ("-N" holds the first N packets).
fn l7_packets(name: &str, n: usize) -> Vec<Vec<u8>> {
    let dir = shared_captures().join("l7-filter-data");
    let mut prev = Vec::new();
    let mut packets = Vec::new();
    for i in 1..=n {
        let Ok(all) = fs::read(dir.join(format!("{name}-{i}"))) else { break };
        packets.push(all.get(prev.len()..).unwrap_or(&[]).to_vec());
        prev = all;
    }
    packets
}

fn engine_seeds(out: &mut Out) {
    const C: &str = "192.168.1.20";
    // A FastTrack client: ping burst, pong, HTTP naming a supernode, probe answer, ticks
    // through the probe times and the end of the lock. Under several configs.
    let session = |flags: u8, log: u8| {
        let mut s = EngineInput::new(flags, 0, log, 0);
        for n in 1..=3 {
            s.packet(Path::LanToWan, 2, Some(1), &udp(&format!("{C}:1214"), &format!("203.0.113.{n}:1214"), &ping(0x29, "KaZaA")));
        }
        s.packet(Path::WanToLan, 30, None, &udp("203.0.113.1:1214", &format!("{C}:1214"), &pong(0x29, "KaZaA", 5)));
        s.packet(Path::LanToWan, 10, None, &tcp(&format!("{C}:3000"), "203.0.113.9:1214", true, b""));
        s.packet(Path::LanToWan, 10, None, &tcp(&format!("{C}:3000"), "203.0.113.9:1214", false, &http_get("198.51.100.7:2323")));
        s.packet(Path::LanToWan, 10, None, &tcp(&format!("{C}:3001"), "203.0.113.60:1214", false, b"GIVE 8234761\r\n"));
        s.packet(Path::LanToWan, 500, None, &tcp(&format!("{C}:3100"), "198.51.100.80:80", true, b""));
        s.packet(Path::LanToWan, 1, None, &tcp("192.168.1.21:4000", "198.51.100.80:80", true, b""));
        s.tick(61_000);
        s.packet(Path::LanToRouter, 5, None, &udp(&format!("{C}:1214"), "192.168.1.1:5000", &pong(0x29, "KaZaA", 3)));
        s.tick(30_000).tick(200_000);
        s.packet(Path::LanToWan, 1, None, &tcp(&format!("{C}:3400"), "198.51.100.80:80", true, b""));
        s.0
    };
    out.put("engine", "fasttrack", &session(0, 0));
    out.put("engine", "fasttrack-monitor-log", &session(flag::MONITOR, 0xff));
    out.put("engine", "fasttrack-short-lock", &session(flag::SHORT_LOCK | flag::NO_UDP_DROP, 0x3f));
    out.put("engine", "fasttrack-exempt", &session(flag::EXEMPT | flag::NEVER_BLOCK | flag::LOCK_OFF, 0x30));
    out.put("engine", "fasttrack-far-future", &{
        let mut s = session(0, 0);
        s[4] = 0xff;
        s
    });

    // DNS: answers on the three answer paths, a CNAME chain, a query, then connections.
    let mut s = EngineInput::new(flag::PATTERNS, 0, 0xff, 0);
    let a = response("cache0.winmx.com", &[("cache0.winmx.com", 30, Rdata::A("198.51.100.70"))]);
    s.packet(Path::RouterToLan, 1, None, &udp("192.168.1.1:53", &format!("{C}:5353"), &a));
    let c = response("www.winmx.com", &[("www.winmx.com", 60, Rdata::Cname("edge.example")), ("edge.example", 60, Rdata::Aaaa("2001:db8:77::1"))]);
    s.packet(Path::WanToRouter, 1, None, &udp("203.0.113.53:53", "192.0.2.1:31000", &c));
    let n = response("server.napster.com", &[("server.napster.com", 900, Rdata::A("198.51.100.71"))]);
    s.packet(Path::WanToLan, 1, None, &udp("203.0.113.53:53", &format!("{C}:5353"), &n));
    let mut framed = (n.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&n);
    s.packet(Path::WanToLan, 1, None, &tcp("203.0.113.53:53", &format!("{C}:5354"), false, &framed));
    s.packet(Path::LanToRouter, 1, None, &udp(&format!("{C}:5353"), "192.168.1.1:53", &query("cache0.winmx.com", 1)));
    s.packet(Path::LanToWan, 5, None, &tcp(&format!("{C}:20000"), "198.51.100.70:7950", true, b""));
    s.packet(Path::LanToWan, 5, None, &tcp("[2001:db8:1::5]:20001", "[2001:db8:77::1]:80", true, b""));
    s.preload(1, true, Ipv4Addr::new(198, 51, 100, 99), 3600).preload(1, false, Ipv4Addr::new(203, 0, 113, 99), 1214);
    s.packet(Path::LanToWan, 5, None, &udp(&format!("{C}:1"), "203.0.113.99:1214", b"x"));
    s.tick(700_000);
    out.put("engine", "dns-learning", &s.0);

    // Sessions from the l7-filter payload samples: the connector is the LAN client.
    for (name, n, tcp_proto) in [
        ("winmx", 3, true),
        ("edonkey-tcp-a", 2, true),
        ("edonkey-tcp-b", 2, true),
        ("bittorrent-a", 2, true),
        ("gnutella-connect", 2, true),
        ("gnutella", 2, true),
        ("edonkey-udp-a", 1, false),
        ("gnutella-udp-a", 1, false),
        ("gnutella-udp-b", 1, false),
    ] {
        let packets = l7_packets(name, n);
        if packets.is_empty() {
            continue;
        }
        let mut s = EngineInput::new(0, 0, 0, 0);
        for (i, p) in packets.iter().enumerate() {
            let (src, dst, path) = if i % 2 == 0 { ("192.168.1.30:4000", "203.0.113.40:6699", Path::LanToWan) } else { ("203.0.113.40:6699", "192.168.1.30:4000", Path::WanToLan) };
            let bytes = if tcp_proto { tcp(src, dst, false, p) } else { udp(src, dst, p) };
            s.packet(path, 20, None, &bytes);
        }
        out.put("engine", &format!("l7-{name}"), &s.0);
    }

    for file in capture_files() {
        engine_from_capture(out, &file);
    }
}

fn dns_seeds(out: &mut Out) {
    let plain = response("cache0.winmx.com", &[("cache0.winmx.com", 30, Rdata::A("198.51.100.70"))]);
    let chain = response(
        "www.winmx.com",
        &[
            ("www.winmx.com", 60, Rdata::Cname("a.example")),
            ("a.example", 60, Rdata::Cname("b.example")),
            ("b.example", 60, Rdata::A("198.51.100.72")),
            ("b.example", 60, Rdata::Aaaa("2001:db8:77::1")),
            ("other.example", 60, Rdata::A("198.51.100.73")),
        ],
    );
    for (name, msg) in [("plain", &plain), ("chain", &chain)] {
        out.put("dns", name, &[&[0u8][..], msg].concat());
        out.put("dns", &format!("{name}-all"), &[&[2u8][..], msg].concat());
        let mut framed = vec![1u8];
        framed.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        framed.extend_from_slice(msg);
        framed.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        framed.extend_from_slice(msg);
        out.put("dns", &format!("{name}-tcp"), &framed);
    }
    out.put("dns", "query", &[&[0u8][..], &query("cache0.winmx.com", 28)].concat());
    // Compressed: the answer's owner points back at the question name, and a CNAME
    // target is a label plus a pointer.
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
    m.extend_from_slice(b"\x03www\x05winmx\x03com\x00\x00\x01\x00\x01");
    m.extend_from_slice(b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x07\x04edge\xc0\x10");
    m.extend_from_slice(b"\xc0\x2b\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc6\x33\x64\x4a");
    out.put("dns", "compressed", &[&[0u8][..], &m].concat());
}

fn capture_seeds(out: &mut Out) {
    for file in capture_files() {
        let bytes = fs::read(&file).unwrap_or_default();
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("capture");
        // The head of each file: headers, interface blocks and the first records.
        out.put("capture", name, &bytes[..bytes.len().min(4096)]);
    }
    // A raw-IP pcap of builder packets, in both byte orders.
    let packets = [
        udp("192.168.1.20:1214", "203.0.113.1:1214", &ping(0x29, "KaZaA")),
        tcp("[2001:db8::2]:2000", "[2001:db8:1::1]:1214", false, b"GIVE 1\r\n"),
    ];
    for big in [false, true] {
        let w32 = |v: u32| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let w16 = |v: u16| if big { v.to_be_bytes() } else { v.to_le_bytes() };
        let mut f = w32(0xa1b2_c3d4).to_vec();
        f.extend_from_slice(&w16(2));
        f.extend_from_slice(&w16(4));
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&w32(65535));
        f.extend_from_slice(&w32(101));
        for (i, p) in packets.iter().enumerate() {
            f.extend_from_slice(&w32(1_700_000_000 + i as u32));
            f.extend_from_slice(&w32(0));
            f.extend_from_slice(&w32(p.len() as u32));
            f.extend_from_slice(&w32(p.len() as u32));
            f.extend_from_slice(p);
        }
        out.put("capture", if big { "built-be.pcap" } else { "built-le.pcap" }, &f);
    }
}

fn text_seeds(out: &mut Out) {
    out.put("storefile", "clean", b"# ftwall storefile\n203.0.113.5:1214 fasttrack\n[2001:db8::5]:6346 gnutella\n198.51.100.1\n");
    out.put("storefile", "damaged", b"203.0.113.1:1214\n\xff\xfe garbage\nnot an address\n[2001:db8::1]:1214 fasttrack\n203.0.113.1:9999\n203.0.113.2:12");
    let clock = 1_700_000_000u64.to_le_bytes();
    let training = b"# ftwall DNS training file\n198.51.100.70 1700003600 cache0.winmx.com\n2001:db8:77::1 1800000000 ..ng.z1303.winmx.com\n192.168.1.1 1800000000 -\n203.0.113.9 1600000000\nbad line\n";
    out.put("training", "sample", &[&clock[..], training].concat());
    let shipped = fs::read(FsPath::new(env!("CARGO_MANIFEST_DIR")).join("files/ftwall.patterns")).unwrap_or_default();
    out.put("patterns", "shipped", &shipped);
    out.put("patterns", "mixed", b"# WinMX\n*.winmx.com\n\n   *.winmxgroup.net   # caches\nbad name here\n*.com\nserver.napster.com\n*napigator.com.\n");
    let cli: &[&[&str]] = &[
        &["-s", "-n", "-b", "4096", "-f", "/tmp/peers", "-t", "300", "-c", "/tmp/clients", "-l", "utc", "-L", "pT", "-a", "192.168.1.1"],
        &["--queue", "3", "--lan-if", "br-lan", "--wan-if", "wan", "--lan", "192.168.1.0/24", "--monitor", "--exempt", "192.168.1.5", "--exempt", "02:00:00:00:00:01"],
        &["--never-block", "198.51.100.0/24", "--protocols", "-bittorrent,-dns", "--fail-closed", "--no-ipv6", "--backend", "iptables"],
        &["-d", "--pattern", "*.winmx.com", "-w", "server.napster.com", "--status-file", "/tmp/s", "--pidfile", "/tmp/p", "--summary", "x.pcap"],
        &["--lan-if", "eth0", "--wan-if", "eth0"],
        &["-t", "99999999999999999999"],
        &["--help"],
    ];
    for (i, args) in cli.iter().enumerate() {
        out.put("cli", &format!("args-{i}"), args.join("\0").as_bytes());
    }
}

fn main() {
    let root = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| FsPath::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus"));
    let mut out = Out { root: root.clone(), count: 0 };
    engine_seeds(&mut out);
    dns_seeds(&mut out);
    capture_seeds(&mut out);
    text_seeds(&mut out);
    // Every seed must pass its own target's checks, or the fuzzer starts from a crash.
    for target in harness::TARGETS {
        let dir = root.join(target);
        for entry in fs::read_dir(&dir).map(|r| r.flatten().collect::<Vec<_>>()).unwrap_or_default() {
            let bytes = fs::read(entry.path()).unwrap_or_default();
            harness::run(target, &bytes);
        }
    }
    eprintln!("wrote {} seeds under {}", out.count, root.display());
}

