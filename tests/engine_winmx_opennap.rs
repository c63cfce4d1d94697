//! The engine with the WinMX and OpenNap signatures: a client caught by its handshake or
//! login at an address ftwall never saw in DNS is locked and its peer blocked, as for
//! FastTrack. Real WinMX bytes (l7-filter sample); OpenNap built from the specification.

mod common;

use common::*;
use ftwall::detect::Protocol;
use ftwall::engine::*;

fn engine() -> Engine {
    Engine::new(Config {
        never_block: vec!["192.168.60.0/24".parse().unwrap(), "fd00:60::/64".parse().unwrap()],
        ..Config::default()
    })
}

fn sample(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/l7-filter-data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("WinMX sample {path} is missing ({e}); see tests/data/README.md"))
}

/// Checks the evidence packet's decision and that it locked `client` and blocked `peer`.
fn assert_caught(e: &Engine, d: Decision, actions: &[Action], protocol: Protocol, client: &str, peer: &str, secs: f64) {
    assert_eq!(d.verdict, Verdict::Drop, "{d:?}");
    assert_eq!(d.reason.protocol(), Some(protocol));
    assert!(actions.contains(&Action::BlockPeer { ip: ip(peer) }), "{actions:?}");
    assert!(actions.contains(&Action::Lock { client: ip(client), secs: DEFAULT_LOCK_SECS }), "{actions:?}");
    assert!(e.is_peer(ip(peer)));
    assert!(e.is_locked(ip(client), at(secs)));
}

#[test]
fn real_winmx_handshake_locks_the_client_ipv4_and_ipv6() {
    let (p1, p12) = (sample("winmx-1"), sample("winmx-2"));
    let block = &p12[p1.len()..];
    for (client, primary, client_ip, primary_ip) in [
        ("192.168.60.20:1050", "198.51.100.9:6699", "192.168.60.20", "198.51.100.9"),
        ("[fd00:60::20]:1050", "[2001:db8:9::9]:6699", "fd00:60::20", "2001:db8:9::9"),
    ] {
        let mut e = engine();
        let (d, _) = run(&mut e, Path::LanToWan, &tcp(client, primary, true, b""), 1.0);
        assert_eq!(d.verdict, Verdict::Accept);
        let (d, _) = run(&mut e, Path::WanToLan, &tcp(primary, client, false, &p1), 1.1);
        assert_eq!(d.verdict, Verdict::Accept, "the greeting alone is not evidence");
        let (d, actions) = run(&mut e, Path::LanToWan, &tcp(client, primary, false, block), 1.2);
        assert_eq!(d.reason, Reason::Detected(Protocol::WinMx, "wpn handshake"));
        assert_caught(&e, d, &actions, Protocol::WinMx, client_ip, primary_ip, 1.2);
    }
}

#[test]
fn opennap_login_locks_the_client() {
    let mut e = engine();
    let client = "192.168.60.21:1066";
    let server = "203.0.113.40:8888";
    // LE16 length 29, LE16 type 2, then the specification's example login.
    let mut login = vec![29, 0, 2, 0];
    login.extend_from_slice(b"foo badpass 6699 \"nap v0.8\" 3");
    run(&mut e, Path::LanToWan, &tcp(client, server, true, b""), 5.0);
    let (d, actions) = run(&mut e, Path::LanToWan, &tcp(client, server, false, &login), 5.1);
    assert_eq!(d.reason, Reason::Detected(Protocol::OpenNap, "login"));
    assert_caught(&e, d, &actions, Protocol::OpenNap, "192.168.60.21", "203.0.113.40", 5.1);
    // The locked client's next connection anywhere is dropped.
    let (d, _) = run(&mut e, Path::LanToWan, &tcp(client, "198.51.100.80:80", true, b""), 6.0);
    assert_eq!(d.verdict, Verdict::Drop);
}

#[test]
fn opennap_transfer_needs_both_directions() {
    let mut e = engine();
    let client = "[fd00:60::22]:2001";
    let uploader = "[2001:db8:40::7]:6699";
    let steps: [(Path, &str, &str, &[u8]); 3] = [
        (Path::WanToLan, uploader, client, b"1"),
        (Path::LanToWan, client, uploader, b"GET"),
        (Path::LanToWan, client, uploader, b"downloader \"Song.mp3\" 0"),
    ];
    let mut last = None;
    for (i, (path, src, dst, payload)) in steps.iter().enumerate() {
        let (d, actions) = run(&mut e, *path, &tcp(src, dst, false, payload), 2.0 + i as f64 / 10.0);
        if i < 2 {
            assert_eq!(d.verdict, Verdict::Accept, "step {i} alone is not evidence");
        }
        last = Some((d, actions));
    }
    let (d, actions) = last.unwrap();
    assert_eq!(d.reason, Reason::Detected(Protocol::OpenNap, "transfer GET"));
    assert_caught(&e, d, &actions, Protocol::OpenNap, "fd00:60::22", "2001:db8:40::7", 2.2);

    // Without the "1" greeting, the same client bytes to a web server are left alone.
    let mut e = engine();
    let web = "198.51.100.80:80";
    let client = "192.168.60.23:3000";
    for payload in [&b"GET"[..], b"downloader \"Song.mp3\" 0"] {
        let (d, _) = run(&mut e, Path::LanToWan, &tcp(client, web, false, payload), 3.0);
        assert_eq!(d.verdict, Verdict::Accept);
    }
}
