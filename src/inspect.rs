//! `ftwall inspect`: replays a pcap or pcapng file through the engine, with the capture's
//! own timestamps, and prints one line per flow and a summary.
//!
//! The engine needs to know which side is the LAN. With `--lan` networks that is told;
//! otherwise the host that sent a flow's first packet is taken as the LAN client, which
//! is right for captures taken next to the clients (all the public P2P captures are).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::BufReader;
use std::net::IpAddr;

use crate::addr::{Endpoint, IpNet};
use crate::capture::{ip_bytes, CaptureReader};
use crate::cli::Settings;
use crate::detect::Protocol;
use crate::engine::{Action, Decision, Engine, Packet, Path, Reason, Verdict};
use crate::time::Millis;
use crate::wire::{IpPacket, Transport};

/// A flow as `inspect` reports it.
#[derive(Clone, Debug)]
pub struct FlowReport {
    pub transport: &'static str,
    pub client: Endpoint,
    pub remote: Endpoint,
    pub first_ms: u64,
    pub packets: u64,
    pub dropped: u64,
    /// The protocol the engine named for this flow, if any.
    pub protocol: Option<Protocol>,
    /// The first reason that was not "clean", or "clean".
    pub reason: Reason,
    /// The first detector hit on this flow's own packets (protocol and what was seen),
    /// as opposed to a label from a known peer: what accuracy tests score.
    pub detected: Option<(Protocol, &'static str)>,
    /// What the engine wanted for the flow's most severe packet.
    pub wanted: Verdict,
}

/// Everything a replay found.
#[derive(Debug, Default)]
pub struct Report {
    pub packets: u64,
    pub skipped: u64,
    pub flows: Vec<FlowReport>,
    pub spoofed: u64,
    pub peers: usize,
    /// Clients identified during the replay (locks may have ended since).
    pub clients: usize,
    /// Set if the capture could not be read to its end.
    pub error: Option<String>,
}

impl Report {
    /// Flows per protocol, in the order of [`Protocol::ALL`].
    pub fn per_protocol(&self) -> Vec<(Protocol, usize)> {
        Protocol::ALL
            .iter()
            .map(|&p| (p, self.flows.iter().filter(|f| f.protocol == Some(p)).count()))
            .filter(|&(_, n)| n > 0)
            .collect()
    }
}

/// Flow identity regardless of direction: the two endpoints in a fixed order.
type Undirected = (u8, Endpoint, Endpoint);

fn undirected(t: u8, a: Endpoint, b: Endpoint) -> Undirected {
    if (a.ip, a.port) <= (b.ip, b.port) {
        (t, a, b)
    } else {
        (t, b, a)
    }
}

/// Replays a capture through a new engine built from `settings`.
pub fn replay(reader: impl std::io::Read, settings: &Settings) -> Result<Report, String> {
    let mut capture = CaptureReader::new(reader).map_err(|e| e.to_string())?;
    let mut engine = Engine::new(settings.engine.clone());
    let mut report = Report::default();
    let mut index: HashMap<Undirected, usize> = HashMap::new();
    let mut last_tick = None;
    let mut spoofed = 0u64;
    let mut clients = 0usize;
    let lan = &settings.lan_nets;
    let routers = &settings.router_addrs;

    loop {
        let record = match capture.next_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                report.error = Some(e.to_string());
                break;
            }
        };
        report.packets += 1;
        let now = Millis(record.ts_ms);
        if last_tick.is_none_or(|t: Millis| now.since(t) >= 1000) {
            engine.tick(now, &mut |_| {});
            last_tick = Some(now);
        }
        let Some(frame) = ip_bytes(record.link, record.data) else {
            report.skipped += 1;
            continue;
        };
        let Ok(ip) = IpPacket::parse(frame.ip) else {
            report.skipped += 1;
            continue;
        };
        let (t, name, sp, dp) = match ip.transport {
            Transport::Tcp { src_port, dst_port, .. } => (6, "tcp", src_port, dst_port),
            Transport::Udp { src_port, dst_port, .. } => (17, "udp", src_port, dst_port),
            Transport::Other => (0, "ip", 0, 0),
        };
        let (src, dst) = (Endpoint::new(ip.src, sp), Endpoint::new(ip.dst, dp));
        let key = undirected(t, src, dst);
        let known = index.get(&key).map(|&i| report.flows[i].client);
        let Some(path) = path_of(src.ip, dst.ip, known.map(|c| c == src), lan, routers) else {
            report.skipped += 1;
            continue;
        };
        let from_lan = matches!(path, Path::LanToWan | Path::LanToRouter);
        let (client, remote) = if from_lan { (src, dst) } else { (dst, src) };
        let i = *index.entry(key).or_insert_with(|| {
            report.flows.push(FlowReport {
                transport: name,
                client,
                remote,
                first_ms: record.ts_ms,
                packets: 0,
                dropped: 0,
                protocol: None,
                reason: Reason::Clean,
                detected: None,
                wanted: Verdict::Accept,
            });
            report.flows.len() - 1
        });
        let d = engine.process(&Packet { bytes: frame.ip, path, mac: frame.src_mac }, now, &mut |a| {
            match a {
                Action::Spoof { .. } => spoofed += 1,
                Action::ClientOnline { .. } => clients += 1,
                _ => {}
            }
        });
        note(&mut report.flows[i], &d);
    }
    report.spoofed = spoofed;
    report.peers = engine.peers().count();
    report.clients = clients;
    Ok(report)
}

/// Which way a packet travels. `src_is_client` is known once a flow has been seen.
fn path_of(src: IpAddr, dst: IpAddr, src_is_client: Option<bool>, lan: &[IpNet], routers: &[IpAddr]) -> Option<Path> {
    let in_lan = |ip: IpAddr| lan.iter().any(|n| n.contains(ip));
    if routers.contains(&dst) {
        return Some(Path::LanToRouter);
    }
    if routers.contains(&src) {
        return Some(Path::RouterToLan);
    }
    match (in_lan(src), in_lan(dst)) {
        (true, false) => Some(Path::LanToWan),
        (false, true) => Some(Path::WanToLan),
        // LAN to LAN is none of ftwall's business.
        (true, true) => None,
        (false, false) => Some(if src_is_client.unwrap_or(true) { Path::LanToWan } else { Path::WanToLan }),
    }
}

fn note(flow: &mut FlowReport, d: &Decision) {
    flow.packets += 1;
    if d.verdict == Verdict::Drop {
        flow.dropped += 1;
    }
    // A flow is labelled by its own evidence, or by going to a known peer (how the
    // encrypted sessions are recognised); a locked client's other traffic is not P2P.
    if flow.protocol.is_none() && !matches!(d.reason, Reason::Locked(_)) {
        flow.protocol = d.reason.protocol();
    }
    if let (None, Reason::Detected(p, what)) = (flow.detected, d.reason) {
        flow.detected = Some((p, what));
    }
    let first_finding = flow.reason == Reason::Clean || flow.reason == Reason::NotInspected;
    if first_finding && !matches!(d.reason, Reason::Clean) {
        flow.reason = d.reason;
    }
    if d.wanted == Verdict::Drop {
        flow.wanted = Verdict::Drop;
    }
}

/// The report as text: one line per flow (unless `summary_only`), then the summary.
pub fn render(report: &Report, summary_only: bool, monitor: bool) -> String {
    let mut out = String::new();
    if !summary_only {
        for f in &report.flows {
            let verdict = match (f.wanted, f.dropped > 0, monitor) {
                (Verdict::Drop, _, true) => "WOULD-DROP",
                (Verdict::Drop, true, false) => "DROP",
                _ => "ACCEPT",
            };
            let label = f.protocol.map_or("-", Protocol::name);
            let _ = writeln!(
                out,
                "{}.{:03} {} {} -> {} {} {} ({}) packets={} dropped={}",
                f.first_ms / 1000,
                f.first_ms % 1000,
                f.transport,
                f.client,
                f.remote,
                label,
                verdict,
                f.reason,
                f.packets,
                f.dropped
            );
        }
    }
    let dropped: u64 = report.flows.iter().map(|f| f.dropped).sum();
    let blocked = report.flows.iter().filter(|f| f.wanted == Verdict::Drop).count();
    let _ = writeln!(out, "summary: {} packets, {} flows, {} flows blocked, {} packets dropped, {} not IP", report.packets, report.flows.len(), blocked, dropped, report.skipped);
    let _ = writeln!(out, "summary: {} clients identified, {} peers learned, {} spoofed replies", report.clients, report.peers, report.spoofed);
    let per: Vec<String> = report.per_protocol().iter().map(|(p, n)| format!("{p}={n}")).collect();
    let _ = writeln!(out, "protocols: {}", if per.is_empty() { "none".to_string() } else { per.join(" ") });
    out
}

/// `ftwall inspect CAPTURE [options]`.
pub fn main(settings: &Settings) -> i32 {
    let [path] = settings.free.as_slice() else {
        return crate::cli::usage_error("inspect takes exactly one capture file");
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("ftwall: cannot open {path}: {e}");
            return 1;
        }
    };
    match replay(BufReader::new(file), settings) {
        Ok(report) => {
            print!("{}", render(&report, settings.summary, settings.engine.monitor));
            match report.error {
                Some(e) => {
                    eprintln!("ftwall: {path}: {e} (after {} packets)", report.packets);
                    1
                }
                None => 0,
            }
        }
        Err(e) => {
            eprintln!("ftwall: {path}: {e}");
            1
        }
    }
}
