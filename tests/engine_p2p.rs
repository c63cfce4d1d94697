//! The engine with the BitTorrent, eDonkey, Gnutella, Direct Connect, Ares and Soulseek
//! detectors: evidence has the same consequences as FastTrack (peer learned and blocked,
//! client time-locked), multi-packet rules see what they need (server-first NMDC, uTP
//! confirmed by the reply, encrypted BitTorrent after the host ran DHT), and each
//! protocol can be switched off with `--protocols`. Bytes are built from
//! p2p-signatures.md 2.4-2.9, not with ftwall's own code.

mod common;

use common::prng::XorShift32;
use common::*;
use ftwall::cli::{Request, Settings};
use ftwall::detect::Protocol;
use ftwall::engine::*;

fn engine() -> Engine {
    Engine::new(Config::default())
}

fn engine_with(args: &str) -> Engine {
    let args: Vec<String> = args.split_whitespace().map(String::from).collect();
    let settings: Settings = match ftwall::cli::settings::parse(&args).expect("settings") {
        Request::Run(s) => *s,
        other => panic!("{other:?}"),
    };
    Engine::new(settings.engine)
}

fn assert_caught(e: &Engine, d: &Decision, actions: &[Action], protocol: Protocol, client: &str, peer: &str, secs: f64) {
    assert_eq!(d.verdict, Verdict::Drop, "{d:?}");
    assert!(matches!(d.reason, Reason::Detected(p, _) if p == protocol), "{d:?}");
    assert!(actions.contains(&Action::BlockPeer { ip: ip(peer) }), "{actions:?}");
    assert!(actions.contains(&Action::Lock { client: ip(client), secs: DEFAULT_LOCK_SECS }), "{actions:?}");
    assert!(e.is_peer(ip(peer)) && e.is_locked(ip(client), at(secs)));
}

fn handshake() -> Vec<u8> {
    let mut v = vec![19];
    v.extend_from_slice(b"BitTorrent protocol");
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&[0x11; 20]);
    v.extend_from_slice(b"-TR3000-000000000000");
    v
}

fn dht_ping() -> Vec<u8> {
    let mut v = b"d1:ad2:id20:".to_vec();
    v.extend_from_slice(&[0x42; 20]);
    v.extend_from_slice(b"e1:q4:ping1:t2:aa1:y1:qe");
    v
}

#[test]
fn each_protocol_locks_its_client_and_blocks_its_peer() {
    let hello = {
        let mut d = vec![16];
        d.extend_from_slice(&[0x5a; 16]);
        d.extend_from_slice(&[10, 0, 0, 2, 0x36, 0x12]);
        d.extend_from_slice(&0u32.to_le_bytes());
        let mut v = vec![0xe3];
        v.extend_from_slice(&(1 + d.len() as u32).to_le_bytes());
        v.push(0x01);
        v.extend(d);
        v
    };
    let cases: [(Protocol, Vec<u8>); 6] = [
        (Protocol::BitTorrent, handshake()),
        (Protocol::EDonkey, hello),
        (Protocol::Gnutella, b"GNUTELLA CONNECT/0.6\r\nUser-Agent: LimeWire/4.8\r\n\r\n".to_vec()),
        (Protocol::DirectConnect, b"$MyNick alice|$Lock EXTENDEDPROTOCOLABC Pk=DCPLUSPLUS0.868|".to_vec()),
        (Protocol::Ares, vec![0x03, 0x00, 0x5a, 0x8d, 0x38, 0x05]),
        (Protocol::Soulseek, {
            // PierceFirewall: LE32 length 5, code 0, token
            vec![5, 0, 0, 0, 0, 0x10, 0x20, 0x30, 0x40]
        }),
    ];
    for (n, (protocol, payload)) in cases.into_iter().enumerate() {
        for (client_ip, peer_ip) in [("192.168.90.10", "203.0.113.90"), ("fd00:90::10", "2001:db8:90::90")] {
            let fmt = |ip: &str, port: u16| if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") };
            let (client, peer) = (fmt(client_ip, 40000 + n as u16), fmt(peer_ip, 6000 + n as u16));
            let mut e = engine();
            let bytes = tcp(&client, &peer, false, &payload);
            run(&mut e, Path::LanToWan, &tcp(&client, &peer, true, b""), 1.0);
            let (d, actions) = run(&mut e, Path::LanToWan, &bytes, 1.1);
            assert_caught(&e, &d, &actions, protocol, client_ip, peer_ip, 1.1);
            assert!(actions.iter().any(|a| matches!(a, Action::ClientOnline { protocol: p, .. } if *p == protocol)), "{protocol}: {actions:?}");
            // the rest of the flow is dropped as that protocol, and a new flow of the client too
            let (d, _) = run(&mut e, Path::WanToLan, &tcp(&peer, &client, false, b"anything"), 1.2);
            assert_eq!((d.verdict, d.reason.protocol()), (Verdict::Drop, Some(protocol)));
            let web = if client_ip.contains(':') { fmt("2001:db8:443::1", 443) } else { fmt("198.51.100.1", 443) };
            let (d, _) = run(&mut e, Path::LanToWan, &tcp(&fmt(client_ip, 45000), &web, true, b""), 1.3);
            assert_eq!(d.reason, Reason::Locked(protocol));
        }
    }
}

#[test]
fn nmdc_hub_speaks_first() {
    let mut e = engine();
    let (client, hub) = ("192.168.90.11:40100", "203.0.113.91:411");
    run(&mut e, Path::LanToWan, &tcp(client, hub, true, b""), 1.0);
    let (d, actions) = run(&mut e, Path::WanToLan, &tcp(hub, client, false, b"$Lock EXTENDEDPROTOCOL_hub Pk=version1|$HubName Hub|"), 1.1);
    assert_caught(&e, &d, &actions, Protocol::DirectConnect, "192.168.90.11", "203.0.113.91", 1.1);

    // A hub whose lock has no Pk=: the client's answer decides.
    let mut e = engine();
    run(&mut e, Path::LanToWan, &tcp(client, hub, true, b""), 1.0);
    let (d, _) = run(&mut e, Path::WanToLan, &tcp(hub, client, false, b"$Lock OldHubLock|"), 1.1);
    assert_eq!(d.reason, Reason::Clean);
    let (d, actions) = run(&mut e, Path::LanToWan, &tcp(client, hub, false, b"$Key abcdef|$ValidateNick alice|"), 1.2);
    assert_caught(&e, &d, &actions, Protocol::DirectConnect, "192.168.90.11", "203.0.113.91", 1.2);
}

/// uTP header (BEP 29): type/version, extension, BE16 conn id, BE32 timestamps, window,
/// BE16 seq and ack.
fn utp(kind: u8, conn: u16, tdiff: u32, seq: u16, ack: u16) -> Vec<u8> {
    let mut v = vec![kind << 4 | 1, 0];
    v.extend_from_slice(&conn.to_be_bytes());
    v.extend_from_slice(&0x1122_3344u32.to_be_bytes());
    v.extend_from_slice(&tdiff.to_be_bytes());
    v.extend_from_slice(&0x0010_0000u32.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ack.to_be_bytes());
    v
}

#[test]
fn utp_is_confirmed_by_the_reply() {
    let mut e = engine();
    let (client, peer) = ("192.168.90.12:51413", "203.0.113.92:6881");
    let (d, _) = run(&mut e, Path::LanToWan, &udp(client, peer, &utp(4, 0x7000, 0, 0x0100, 0)), 1.0);
    assert_eq!(d.reason, Reason::Clean, "a SYN alone is not evidence");
    let (d, actions) = run(&mut e, Path::WanToLan, &udp(peer, client, &utp(2, 0x7000, 1234, 0x5000, 0x0100)), 1.1);
    assert_caught(&e, &d, &actions, Protocol::BitTorrent, "192.168.90.12", "203.0.113.92", 1.1);

    // A STATE that answers another SYN is not.
    let mut e = engine();
    run(&mut e, Path::LanToWan, &udp(client, peer, &utp(4, 0x7000, 0, 0x0100, 0)), 1.0);
    let (d, _) = run(&mut e, Path::WanToLan, &udp(peer, client, &utp(2, 0x7001, 1234, 0x5000, 0x0100)), 1.1);
    assert_eq!(d.reason, Reason::Clean);
}

#[test]
fn encrypted_bittorrent_after_dht() {
    // 96..608 bytes of key material: xorshift noise stands in for a Diffie-Hellman key.
    let ya = XorShift32(0x9e37_79b9).noise(230);
    let (client, peer) = ("192.168.90.13:50500", "203.0.113.93:51413");

    // Without host state the same bytes pass (exactly what the reference warns about).
    let mut e = engine_with("-t 0");
    run(&mut e, Path::LanToWan, &tcp(client, peer, true, b""), 1.0);
    let (d, _) = run(&mut e, Path::LanToWan, &tcp(client, peer, false, &ya), 1.1);
    assert_eq!(d.reason, Reason::Clean);

    // After the host spoke DHT, its encrypted connection is BitTorrent and the peer is learned.
    let mut e = engine_with("-t 0");
    let (d, _) = run(&mut e, Path::LanToWan, &udp("192.168.90.13:51413", "198.51.100.93:6881", &dht_ping()), 1.0);
    assert_eq!(d.reason, Reason::Detected(Protocol::BitTorrent, "dht query"));
    run(&mut e, Path::LanToWan, &tcp(client, peer, true, b""), 2.0);
    let (d, actions) = run(&mut e, Path::LanToWan, &tcp(client, peer, false, &ya), 2.1);
    assert_eq!(d.reason, Reason::Detected(Protocol::BitTorrent, "encrypted connection (mse)"));
    assert!(actions.contains(&Action::BlockPeer { ip: ip("203.0.113.93") }));
    // ...but not its TLS: an HTTPS server must never be learned as a peer.
    let mut hello = vec![0x16, 0x03, 0x01, 0x00, 0xe0, 0x01, 0x00, 0x00, 0xdc, 0x03, 0x03];
    hello.extend_from_slice(&ya[..0xe0 - 6]);
    run(&mut e, Path::LanToWan, &tcp("192.168.90.13:50501", "198.51.100.94:8443", true, b""), 3.0);
    let (d, _) = run(&mut e, Path::LanToWan, &tcp("192.168.90.13:50501", "198.51.100.94:8443", false, &hello), 3.1);
    assert_eq!(d.reason, Reason::Clean);
    assert!(!e.is_peer(ip("198.51.100.94")));
}

#[test]
fn every_protocol_can_be_switched_off() {
    let samples: [(Protocol, &str, Vec<u8>); 6] = [
        (Protocol::BitTorrent, "bittorrent", handshake()),
        (Protocol::EDonkey, "edonkey", vec![0xe3, 0x96, 1, 2, 3, 4]),
        (Protocol::Gnutella, "gnutella", b"GNUTELLA CONNECT/0.6\r\n\r\n".to_vec()),
        (Protocol::DirectConnect, "directconnect", b"HSUP ADBASE ADTIGR\n".to_vec()),
        (Protocol::Ares, "ares", vec![0x03, 0x00, 0x5d, 1, 2, 0x05]),
        (Protocol::Soulseek, "soulseek", vec![5, 0, 0, 0, 0, 1, 2, 3, 4]),
    ];
    for (protocol, name, payload) in samples {
        let (client, peer) = ("192.168.90.14:40500", "203.0.113.94:40600");
        let bytes = if protocol == Protocol::EDonkey { udp(client, peer, &payload) } else { tcp(client, peer, false, &payload) };
        let (d, _) = run(&mut engine_with(&format!("--protocols -{name}")), Path::LanToWan, &bytes, 1.0);
        assert_eq!(d.reason, Reason::Clean, "{name} switched off");
        let (d, _) = run(&mut engine_with(&format!("--protocols {name}")), Path::LanToWan, &bytes, 1.0);
        assert_eq!(d.reason.protocol(), Some(protocol), "{name} alone");
        let (d, _) = run(&mut engine(), Path::LanToWan, &bytes, 1.0);
        assert_eq!(d.reason.protocol(), Some(protocol), "{name} by default");
    }
}
