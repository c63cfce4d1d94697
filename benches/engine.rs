//! Engine throughput: packets per second through `Engine::process` against a parse-only
//! baseline (IP/TCP/UDP headers decoded, nothing decided), over the shared captures and
//! over a large synthetic mix (many hosts, many flows, mostly ordinary traffic). Also
//! writes the synthetic mix as a pcap for the process-level comparison with ndpiReader.
//!
//! Run with `cargo bench --bench engine -- OUT_DIR`; prints one `bench` line per figure,
//! which `make bench` turns into BENCHMARKS.md (`engine_vs_parse`: the ratio of each
//! interleaved pair of runs). Numbers, never assertions.

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ftwall::capture::{ip_bytes, CaptureReader};
use ftwall::engine::{Config, Engine, Packet, Path as Dir};
use ftwall::time::Millis;
use ftwall::wire::IpPacket;

const RUNS: usize = 7;

struct Pkt {
    bytes: Vec<u8>,
    dir: Dir,
}

#[path = "../examples/support/packet.rs"]
mod support;
use support::packet as build;

/// 2,000 LAN hosts, 20,000 remote addresses; per flow a SYN, a TLS-like first payload, a
/// reply and a few bulk packets; DNS; QUIC-like UDP; one flow in fifty is FastTrack.
fn synthetic() -> Vec<Pkt> {
    let hello = {
        let mut h = vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
        h.resize(517, 0x5a);
        h
    };
    let bulk = vec![0x17u8; 1400];
    let mut v = Vec::new();
    for n in 0..40_000u32 {
        let host = format!("10.{}.{}.{}", (n % 2000) / 250, (n % 2000) % 250 + 1, 1);
        let remote = format!("198.51.{}.{}", (n / 250) % 100, n % 250 + 1);
        let (c, r) = (format!("{host}:{}", 20_000 + n % 40_000), format!("{remote}:443"));
        v.push(Pkt { bytes: build(&c, &r, Some(true), b""), dir: Dir::LanToWan });
        v.push(Pkt { bytes: build(&c, &r, Some(false), &hello), dir: Dir::LanToWan });
        v.push(Pkt { bytes: build(&r, &c, Some(false), &bulk), dir: Dir::WanToLan });
        for _ in 0..3 {
            v.push(Pkt { bytes: build(&r, &c, Some(false), &bulk), dir: Dir::WanToLan });
        }
        let dns = format!("{host}:{}", 30_000 + n % 20_000);
        v.push(Pkt { bytes: build(&dns, "192.0.2.53:53", None, b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03org\x00\x00\x01\x00\x01"), dir: Dir::LanToWan });
        v.push(Pkt { bytes: build(&format!("{host}:{}", 40_000 + n % 20_000), &format!("{remote}:443"), None, &[0x4c; 1200]), dir: Dir::LanToWan });
        if n % 50 == 0 {
            v.push(Pkt { bytes: build(&format!("{host}:1214"), &format!("203.0.113.{}:1214", n % 250 + 1), None, b"\x27\x00\x00\x00\x29\x80KaZaA\x00"), dir: Dir::LanToWan });
        }
    }
    v
}

fn load_capture(path: &Path) -> Vec<Pkt> {
    let mut r = CaptureReader::new(std::io::BufReader::new(std::fs::File::open(path).unwrap())).unwrap();
    let mut v = Vec::new();
    let mut first_src = std::collections::HashMap::new();
    while let Ok(Some(rec)) = r.next_record() {
        let Some(frame) = ip_bytes(rec.link, rec.data) else { continue };
        let Ok(ip) = IpPacket::parse(frame.ip) else { continue };
        // As inspect does without --lan: whoever spoke first is the LAN side.
        let key = if ip.src <= ip.dst { (ip.src, ip.dst) } else { (ip.dst, ip.src) };
        let client = *first_src.entry(key).or_insert(ip.src);
        let dir = if client == ip.src { Dir::LanToWan } else { Dir::WanToLan };
        v.push(Pkt { bytes: frame.ip.to_vec(), dir });
    }
    v
}

/// Packets per second of one pass of `f` over `pkts` (repeated to about two million
/// packets). `f` returns the seconds its measured part took, so set-up (a fresh engine for
/// every pass, as a daemon builds it once at start) stays outside the figure.
fn rate(pkts: &[Pkt], f: &mut impl FnMut(&[Pkt]) -> f64) -> f64 {
    let repeat = (2_000_000 / pkts.len().max(1)).max(1);
    let secs: f64 = (0..repeat).map(|_| f(pkts)).sum();
    (pkts.len() * repeat) as f64 / secs
}

fn engine_pass(pkts: &[Pkt]) -> f64 {
    let mut e = Engine::new(Config::default());
    let t = Instant::now();
    for (i, p) in pkts.iter().enumerate() {
        let d = e.process(&Packet { bytes: &p.bytes, path: p.dir, mac: None }, Millis(i as u64), &mut |a| {
            black_box(a);
        });
        black_box(d);
    }
    t.elapsed().as_secs_f64()
}

fn parse_pass(pkts: &[Pkt]) -> f64 {
    let t = Instant::now();
    for p in pkts {
        let _ = black_box(IpPacket::parse(black_box(&p.bytes)));
    }
    t.elapsed().as_secs_f64()
}

/// (min, median, max) of RUNS values.
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn write_pcap(pkts: &[Pkt], out: &Path) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    f.write_all(&0xa1b2_c3d4u32.to_le_bytes()).unwrap();
    f.write_all(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
    f.write_all(&65535u32.to_le_bytes()).unwrap();
    f.write_all(&101u32.to_le_bytes()).unwrap();
    for (i, p) in pkts.iter().enumerate() {
        let us = i as u64 * 10;
        f.write_all(&((1_700_000_000 + us / 1_000_000) as u32).to_le_bytes()).unwrap();
        f.write_all(&((us % 1_000_000) as u32).to_le_bytes()).unwrap();
        f.write_all(&(p.bytes.len() as u32).to_le_bytes()).unwrap();
        f.write_all(&(p.bytes.len() as u32).to_le_bytes()).unwrap();
        f.write_all(&p.bytes).unwrap();
    }
}

/// Engine and baseline passes alternate, so that a machine busy with other work slows
/// both alike; the ratio of each pair is reported too.
fn report(name: &str, pkts: &[Pkt]) {
    let (mut engine, mut parse, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let e = rate(pkts, &mut engine_pass);
        let p = rate(pkts, &mut parse_pass);
        engine.push(e);
        parse.push(p);
        ratio.push(e / p);
    }
    let (e, p, r) = (spread(engine), spread(parse), spread(ratio));
    println!("bench engine_pps {name} {} {:.0} {:.0} {:.0}", pkts.len(), e.0, e.1, e.2);
    println!("bench parse_pps {name} {} {:.0} {:.0} {:.0}", pkts.len(), p.0, p.1, p.2);
    println!("bench engine_vs_parse {name} {} {:.4} {:.4} {:.4}", pkts.len(), r.0, r.1, r.2);
}

fn main() {
    // cargo bench passes "--bench"; the first other argument is the output directory.
    let out = std::env::args().skip(1).find(|a| !a.starts_with("--")).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/bench"));
    std::fs::create_dir_all(&out).unwrap();
    // Beside the repository in CI, one level further in a worktree (see tests/shared_dir).
    let candidates = [Path::new("../shared/captures"), Path::new("../../shared/captures")];
    match candidates.into_iter().find(|d| d.join("ndpi").is_dir()) {
        Some(shared) => {
            let mut all = Vec::new();
            for name in ["bittorrent.pcap", "gnutella.pcap", "edonkey.pcap", "bt-http.pcapng", "bt_search.pcap"] {
                all.extend(load_capture(&shared.join("ndpi").join(name)));
            }
            report("shared-captures", &all);
        }
        // Said, not fatal: the synthetic mix is still measured.
        None => println!("bench missing shared-captures: not found in {candidates:?}"),
    }
    let syn = synthetic();
    report("synthetic-mix", &syn);
    write_pcap(&syn, &out.join("synthetic.pcap"));
    println!("bench wrote {}", out.join("synthetic.pcap").display());
}
