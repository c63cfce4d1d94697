//! Peak memory of the engine with every table full, then after a flood of a million
//! distinct sources. Prints `memory <stage> <VmHWM kB> <VmRSS kB>` lines for `make bench`.
//!
//! Usage: cargo run --release --example memory_probe

use ftwall::engine::{Config, Engine, Packet, Path};
use ftwall::time::Millis;

fn status(stage: &str) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?")
            .to_string()
    };
    println!("memory {stage} {} {}", field("VmHWM:"), field("VmRSS:"));
}

/// An IPv4 UDP packet carrying a FastTrack ping from `src` to `dst` (so each one
/// identifies a client, learns a peer and opens a flow).
fn ping(src: u32, dst: u32, port: u16) -> [u8; 40] {
    let mut p = [0u8; 40];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&40u16.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src.to_be_bytes());
    p[16..20].copy_from_slice(&dst.to_be_bytes());
    p[20..22].copy_from_slice(&port.to_be_bytes());
    p[22..24].copy_from_slice(&1214u16.to_be_bytes());
    p[24..26].copy_from_slice(&20u16.to_be_bytes());
    p[28..40].copy_from_slice(b"\x27\x00\x00\x00\x29\x80KaZaA\x00");
    p
}

fn main() {
    status("start");
    let mut e = Engine::new(Config::default());
    let caps = e.capacities();
    status("engine-built");
    let mut t = 0u64;
    // Fill every table: twice the capacity of the largest one in distinct clients/peers.
    let fill = 2 * caps.clients.max(caps.peers).max(caps.flows) as u32;
    for n in 0..fill {
        let pkt = ping(0x0a00_0000 | n, 0xcb00_7100 ^ (n << 8), (n % 60_000) as u16 + 1024);
        e.process(&Packet { bytes: &pkt, path: Path::LanToWan, mac: None }, Millis(t), &mut |_| {});
        t += 1;
    }
    status("tables-full");
    for n in 0..1_000_000u32 {
        let pkt = ping(0x0b00_0000 ^ n.wrapping_mul(2_654_435_761), 0xc633_6400 ^ n, (n % 60_000) as u16 + 1024);
        e.process(&Packet { bytes: &pkt, path: Path::LanToWan, mac: None }, Millis(t), &mut |_| {});
        t += 1;
        if n % 1000 == 0 {
            e.tick(Millis(t), &mut |_| {});
        }
    }
    status("after-million-flood");
    println!(
        "capacity clients={} peers={} flows={} held clients={} peers={}",
        caps.clients,
        caps.peers,
        caps.flows,
        e.clients(Millis(t)).count(),
        e.peers().count()
    );
}
