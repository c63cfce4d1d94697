//! Writes a pcap (raw IP link type) of a FastTrack session built byte by byte from the
//! protocol specification: a Kazaa client's UDP ping burst to its supernodes, a parallel
//! TCP fallback, an HTTP transfer naming a supernode, a push GIVE, IPv6 pings, and a
//! second LAN host that only browses. `make demo` replays it through `ftwall inspect`.
//!
//! Usage: cargo run --example fasttrack_session -- OUT.pcap

use std::io::Write;

#[path = "support/packet.rs"]
mod support;
use support::packet;

/// 0x27 ping: 27, encryption type (big-endian), 80, network name, 00.
fn ping(network: &str) -> Vec<u8> {
    let mut v = vec![0x27, 0, 0, 0, 0x29, 0x80];
    v.extend_from_slice(network.as_bytes());
    v.push(0);
    v
}

fn main() {
    let out = std::env::args().nth(1).expect("usage: fasttrack_session OUT.pcap");
    let client = "192.168.1.10";
    let mut packets: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut t = 1_000u64; // milliseconds
    // 1. The UDP ping burst to five supernodes from the client's FastTrack port.
    for n in 1..=5 {
        packets.push((t, packet(&format!("{client}:1214"), &format!("203.0.113.{n}:1214"), None, &ping("KaZaA"))));
        t += 2;
    }
    // 2. Parallel TCP connects to the same supernodes (dropped: known peers).
    for n in 1..=5 {
        packets.push((t, packet(&format!("{client}:{}", 3000 + n), &format!("203.0.113.{n}:1214"), Some(true), b"")));
        t += 1;
    }
    // 3. The locked client tries to browse; the other LAN host browses freely.
    packets.push((t + 500, packet(&format!("{client}:3100"), "198.51.100.80:80", Some(true), b"")));
    packets.push((t + 600, packet("192.168.1.11:40000", "198.51.100.80:80", Some(true), b"")));
    packets.push((t + 650, packet("192.168.1.11:40000", "198.51.100.80:80", Some(false), b"GET / HTTP/1.1\r\nHost: www.example\r\n\r\n")));
    // 4. A laptop with UDP blocked goes straight to an HTTP transfer from a peer.
    let get = "GET /.hash=4f2d8e0c1b3a5f7e9d8c7b6a5f4e3d2c1b0a9f8e HTTP/1.1\r\nHost: 203.0.113.50:2100\r\nUserAgent: KazaaClient Nov  3 2002 20:29:03\r\nX-Kazaa-Username: pupil\r\nX-Kazaa-Network: KaZaA\r\nX-Kazaa-IP: 192.168.1.12:1214\r\nX-Kazaa-SupernodeIP: 198.51.100.7:2323\r\n\r\n";
    packets.push((t + 1000, packet("192.168.1.12:3200", "203.0.113.50:2100", Some(true), b"")));
    packets.push((t + 1020, packet("192.168.1.12:3200", "203.0.113.50:2100", Some(false), get.as_bytes())));
    // 5. A push request from a third host.
    packets.push((t + 2000, packet("192.168.1.13:3300", "203.0.113.60:1214", Some(false), b"GIVE 8234761\r\n")));
    // 6. iMesh and Grokster over IPv6.
    packets.push((t + 3000, packet("[2001:db8:1::20]:1214", "[2001:db8:ff::1]:1214", None, &ping("fileshare"))));
    packets.push((t + 3001, packet("[2001:db8:1::21]:1214", "[2001:db8:ff::2]:1214", None, &ping("Grokster"))));
    // 7. Three minutes later the first client's lock has ended: it browses again.
    packets.push((t + 200_000, packet(&format!("{client}:3400"), "198.51.100.80:80", Some(true), b"")));

    let mut f = std::fs::File::create(&out).expect("create output");
    // Classic pcap header: magic, version 2.4, zone 0, sigfigs 0, snaplen, link type 101 (raw IP).
    let mut head = Vec::new();
    head.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    head.extend_from_slice(&2u16.to_le_bytes());
    head.extend_from_slice(&4u16.to_le_bytes());
    head.extend_from_slice(&[0; 8]);
    head.extend_from_slice(&65535u32.to_le_bytes());
    head.extend_from_slice(&101u32.to_le_bytes());
    f.write_all(&head).unwrap();
    let epoch = 1_700_000_000u64;
    for (ms, p) in &packets {
        let mut rec = Vec::new();
        rec.extend_from_slice(&((epoch + ms / 1000) as u32).to_le_bytes());
        rec.extend_from_slice(&(((ms % 1000) * 1000) as u32).to_le_bytes());
        rec.extend_from_slice(&(p.len() as u32).to_le_bytes());
        rec.extend_from_slice(&(p.len() as u32).to_le_bytes());
        rec.extend_from_slice(p);
        f.write_all(&rec).unwrap();
    }
    eprintln!("wrote {} packets to {out}", packets.len());
}
