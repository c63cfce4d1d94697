//! Every capture in ../shared/captures replays through `inspect` without error, and the
//! generated FastTrack session is judged as the specification says.

use std::path::{Path, PathBuf};
use std::process::Command;

use ftwall::cli::{Request, Settings};
use ftwall::detect::Protocol;
use ftwall::engine::{Reason, Verdict};
use ftwall::inspect::{replay, Report};

mod shared_dir;
use shared_dir::captures_dir as shared_captures;

fn settings(args: &str) -> Settings {
    let args: Vec<String> = args.split_whitespace().map(String::from).collect();
    match ftwall::cli::settings::parse(&args).expect("settings") {
        Request::Run(s) => *s,
        other => panic!("{other:?}"),
    }
}

fn replay_file(path: &Path, s: &Settings) -> Report {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    replay(std::io::BufReader::new(f), s).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_shared_capture_replays_cleanly() {
    let mut files = Vec::new();
    for dir in ["ndpi", "zeek"] {
        let d = shared_captures().join(dir);
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("the shared captures must be at {}: {e}", d.display()));
        for e in entries {
            let p = e.unwrap().path();
            if matches!(p.extension().and_then(|x| x.to_str()), Some("pcap" | "pcapng")) {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 7, "expected the shared pcaps, found {files:?}");
    for f in &files {
        let r = replay_file(f, &Settings::default());
        assert!(r.error.is_none(), "{}: {:?}", f.display(), r.error);
        assert!(r.packets > 0 && !r.flows.is_empty(), "{}: nothing read", f.display());
        let counted: u64 = r.flows.iter().map(|fl| fl.packets).sum();
        assert_eq!(counted + r.skipped, r.packets, "{}: every packet is in one flow or skipped", f.display());
    }
}

fn generated_fasttrack_capture() -> PathBuf {
    // One file per call: tests run in parallel and each removes its own.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("ftwall-ft-{}-{n}.pcap", std::process::id()));
    let status = Command::new(env!("CARGO"))
        .args(["run", "-q", "--example", "fasttrack_session", "--"])
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run the capture generator");
    assert!(status.success());
    out
}

#[test]
fn generated_fasttrack_session_is_judged_by_the_spec() {
    let pcap = generated_fasttrack_capture();
    let r = replay_file(&pcap, &settings("--lan 192.168.1.0/24 --lan 2001:db8:1::/48"));
    std::fs::remove_file(&pcap).ok();
    assert!(r.error.is_none());
    let flow = |client: &str, remote: &str| {
        r.flows
            .iter()
            .find(|f| f.client.to_string() == client && f.remote.to_string() == remote)
            .unwrap_or_else(|| panic!("no flow {client} -> {remote}"))
    };
    for n in 1..=5 {
        let ping = flow("192.168.1.10:1214", &format!("203.0.113.{n}:1214"));
        assert_eq!((ping.protocol, ping.dropped), (Some(Protocol::FastTrack), 1));
        let syn = flow(&format!("192.168.1.10:{}", 3000 + n), &format!("203.0.113.{n}:1214"));
        assert_eq!(syn.reason, Reason::KnownPeer(Protocol::FastTrack));
    }
    assert_eq!(flow("192.168.1.10:3100", "198.51.100.80:80").reason, Reason::Locked(Protocol::FastTrack));
    assert_eq!(flow("192.168.1.11:40000", "198.51.100.80:80").wanted, Verdict::Accept);
    let http = flow("192.168.1.12:3200", "203.0.113.50:2100");
    assert_eq!(http.reason, Reason::Detected(Protocol::FastTrack, "http transfer"));
    assert_eq!(flow("192.168.1.13:3300", "203.0.113.60:1214").reason, Reason::Detected(Protocol::FastTrack, "push GIVE"));
    assert_eq!(flow("[2001:db8:1::20]:1214", "[2001:db8:ff::1]:1214").dropped, 1);
    assert_eq!(flow("[2001:db8:1::21]:1214", "[2001:db8:ff::2]:1214").dropped, 1);
    // After the lock ran out, the first client browses again.
    assert_eq!(flow("192.168.1.10:3400", "198.51.100.80:80").wanted, Verdict::Accept);
    // Peers: 5 supernodes, the HTTP peer and the supernode it named, the GIVE target, 2 IPv6.
    assert_eq!(r.peers, 10);
    // Pings, TCP to pinged supernodes (the encrypted session, known by address), HTTP,
    // GIVE, the IPv6 pings; the locked client's browsing is not FastTrack.
    assert_eq!(r.per_protocol(), vec![(Protocol::FastTrack, 14)]);
    // 192.168.1.10, .12, .13 and the two IPv6 hosts.
    assert_eq!(r.clients, 5);
    assert_eq!(r.spoofed, 7, "one spoofed pong per dropped ping");
}

#[test]
fn broken_captures_give_errors_not_panics() {
    let pcap = generated_fasttrack_capture();
    let bytes = std::fs::read(&pcap).unwrap();
    std::fs::remove_file(&pcap).ok();
    // Not a capture at all.
    assert!(replay(&b"hello, world"[..], &Settings::default()).is_err());
    // Cut at every length: either an error up front or a report that names the damage.
    for len in 0..bytes.len() {
        match replay(&bytes[..len], &Settings::default()) {
            Err(e) => assert!(!e.is_empty()),
            Ok(r) => {
                let whole_records = r.error.is_none();
                assert!(whole_records || r.error.as_deref().is_some_and(|e| !e.is_empty()));
            }
        }
    }
}

#[test]
fn the_binary_reports_errors_with_exit_status() {
    if let Some(emulator) = std::env::var_os("FTWALL_TEST_EMULATED") {
        // qemu-user cannot exec a target binary; cross/check.sh runs these cases under qemu.
        eprintln!("NOT RUN under {emulator:?}: needs to exec the target binary (see cross/README.md)");
        return;
    }
    let exe = env!("CARGO_BIN_EXE_ftwall");
    let out = Command::new(exe).args(["inspect", "/nonexistent.pcap"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
    let junk = std::env::temp_dir().join(format!("ftwall-junk-{}.pcap", std::process::id()));
    std::fs::write(&junk, b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00garbage").unwrap();
    let out = Command::new(exe).arg("inspect").arg(&junk).output().unwrap();
    std::fs::remove_file(&junk).ok();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(exe).args(["inspect"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(exe).args(["--frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
}
