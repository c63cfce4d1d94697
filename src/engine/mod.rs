//! The decision engine: packet bytes and the time in, a verdict and actions out.
//!
//! For every packet the engine finds the LAN client and the remote side, lets the
//! detectors look at the first payloads of the flow, learns peers and time-locks clients
//! on evidence, and decides:
//!
//! 1. evidence of a peer-to-peer protocol: drop (and, for a UDP probe, spoof the peer's
//!    answer so the client stays in its UDP discovery mode); a client's packet to an
//!    address learned from a DNS answer for a configured name pattern counts as evidence
//!    (see `dnslearn`);
//! 2. a packet to or from a known peer (or a DNS-learned address): drop;
//! 3. a packet from a time-locked client to the internet: drop;
//! 4. anything else: accept.
//!
//! Exempt clients are never blocked; monitor mode decides everything and accepts
//! everything. [`Engine::tick`] ends locks and sends probes at half the lock, so a lock
//! lasts while the client's program runs and ends at most one lock length after it stops.

mod action;
mod config;
mod counters;
mod dnslearn;
mod state;
pub mod table;

pub use action::*;
pub use config::*;
pub use counters::Counters;
pub use dnslearn::LEARNED_ADDRESS;
pub use state::{Capacities, ClientStatus, DnsStatus, INSPECT_PAYLOADS};

use std::net::IpAddr;

use crate::addr::{Endpoint, MacAddr};
use crate::detect::{Hit, Prefix, Proto, Protocol, ReplyBytes, Segment, DETECTORS};
use crate::time::Millis;
use crate::wire::{IpPacket, Transport};
use counters::bump;
use state::*;
use table::Table;

/// One packet handed to the engine.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// The packet, starting at its IP header.
    pub bytes: &'a [u8],
    pub path: Path,
    /// The sender's MAC address, when the caller knows it.
    pub mac: Option<MacAddr>,
}

/// The engine. Its memory is fixed when it is made.
pub struct Engine {
    config: Config,
    clients: Table<IpAddr, Client, CLIENT_WAYS>,
    peers: Table<IpAddr, Peer, PEER_WAYS>,
    flows: Table<FlowKey, Flow, FLOW_WAYS>,
    /// Addresses learned from DNS answers (see `dnslearn`).
    dns: Table<IpAddr, DnsEntry, DNS_WAYS>,
    counters: Counters,
}

/// Evidence found in a packet: a new detector hit, or a flow already recognised.
struct Found {
    protocol: Protocol,
    what: &'static str,
    hit: Option<Hit>,
}

/// Who is who in a packet, from the LAN client's point of view.
#[derive(Clone, Copy)]
struct Sides {
    client: Endpoint,
    remote: Endpoint,
    /// The packet goes from the client to the remote.
    from_client: bool,
    /// The remote is the router itself.
    remote_is_router: bool,
    mac: Option<MacAddr>,
}

impl Engine {
    pub fn new(config: Config) -> Engine {
        let seed = config.seed;
        Engine {
            clients: Table::new(CLIENT_BUCKETS, seed),
            peers: Table::new(PEER_BUCKETS, seed.rotate_left(11)),
            flows: Table::new(FLOW_BUCKETS, seed.rotate_left(22)),
            dns: Table::new(DNS_BUCKETS, seed.rotate_left(5)),
            config,
            counters: Counters::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces the settings (SIGHUP), keeping what was learned.
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn capacities(&self) -> Capacities {
        Capacities {
            clients: self.clients.capacity(),
            peers: self.peers.capacity(),
            flows: self.flows.capacity(),
            dns: self.dns.capacity(),
        }
    }

    /// Clients with evidence, with the time left on their lock.
    pub fn clients(&self, now: Millis) -> impl Iterator<Item = ClientStatus> + '_ {
        let enforcing = self.enforcing();
        self.clients.iter().map(move |(&ip, c)| ClientStatus {
            ip,
            mac: c.mac,
            protocol: c.protocol,
            secs_left: now.secs_until(c.until),
            locked: enforcing && c.until > now,
        })
    }

    /// Known peers: address, the port it was learned on, protocol.
    pub fn peers(&self) -> impl Iterator<Item = (Endpoint, Protocol)> + '_ {
        self.peers.iter().map(|(&ip, p)| (Endpoint::new(ip, p.port), p.protocol))
    }

    pub fn is_peer(&self, ip: IpAddr) -> bool {
        self.peers.contains(&ip)
    }

    /// True if the client is time-locked now (whether or not monitor mode enforces it).
    pub fn is_locked(&self, ip: IpAddr, now: Millis) -> bool {
        self.config.lock_secs > 0 && self.clients.get(&ip).is_some_and(|c| c.until > now)
    }

    /// Adds a peer read from the storefile. Returns false if it is refused (an address
    /// that may never be blocked) or already known. Produces no actions: the caller is
    /// reading the storefile and syncs the kernel itself.
    pub fn preload_peer(&mut self, peer: Endpoint, protocol: Protocol, now: Millis) -> bool {
        if !self.config.may_block(peer.ip) || self.peers.contains(&peer.ip) {
            return false;
        }
        let p = Peer { port: peer.port, protocol, learned: now, last_hit: now };
        if self.peers.insert(peer.ip, p, |p| p.last_hit.0).is_some() {
            bump(&mut self.counters.peers_evicted);
        }
        true
    }

    fn enforcing(&self) -> bool {
        !self.config.monitor
    }

    /// Decides one packet. Actions are handed to `out` as they arise.
    pub fn process(&mut self, pkt: &Packet<'_>, now: Millis, out: &mut impl FnMut(Action)) -> Decision {
        self.process_dyn(pkt, now, out)
    }

    // The engine behind a `dyn` callback: one copy of it in the binary, not one per caller
    // (daemon, inspect, DNS training), which cost about 25 KB per copy on MIPS. An action
    // is rare next to a packet, so the indirect call costs nothing measurable.
    fn process_dyn(&mut self, pkt: &Packet<'_>, now: Millis, out: &mut dyn FnMut(Action)) -> Decision {
        bump(&mut self.counters.packets);
        let d = self.decide(pkt, now, out);
        match d.verdict {
            Verdict::Accept => bump(&mut self.counters.accepted),
            Verdict::Drop => bump(&mut self.counters.dropped),
        }
        if d.wanted == Verdict::Drop && d.verdict == Verdict::Accept {
            bump(&mut self.counters.would_drop);
        }
        d
    }

    fn decide(&mut self, pkt: &Packet<'_>, now: Millis, out: &mut dyn FnMut(Action)) -> Decision {
        let Ok(ip) = IpPacket::parse(pkt.bytes) else {
            bump(&mut self.counters.malformed);
            return Decision::accept(Reason::Malformed);
        };
        self.dns_traffic(&ip, pkt.path, now, out);
        let (client_ip, remote_ip, from_client, remote_is_router) = match pkt.path {
            Path::LanToWan => (ip.src, ip.dst, true, false),
            Path::LanToRouter => (ip.src, ip.dst, true, true),
            Path::WanToLan => (ip.dst, ip.src, false, false),
            Path::RouterToLan | Path::WanToRouter | Path::RouterToWan => {
                bump(&mut self.counters.not_inspected);
                return Decision::accept(Reason::NotInspected);
            }
        };
        let exempt = self.config.is_exempt(client_ip, if from_client { pkt.mac } else { None });
        let (proto, ports, payload) = match ip.transport {
            Transport::Tcp { src_port, dst_port, payload, .. } => (Proto::Tcp, (src_port, dst_port), payload),
            Transport::Udp { src_port, dst_port, payload } => (Proto::Udp, (src_port, dst_port), payload),
            Transport::Other => {
                // Nothing to inspect, but address blocks still hold (a locked client's
                // ICMP or fragments must not slip through).
                bump(&mut self.counters.not_inspected);
                let blocked = self.blocked(client_ip, remote_ip, from_client, remote_is_router, now);
                return match blocked {
                    Some(reason) if !exempt => self.verdict_drop(reason),
                    _ => Decision::accept(Reason::NotInspected),
                };
            }
        };
        let (client_port, remote_port) = if from_client { ports } else { (ports.1, ports.0) };
        let s = Sides {
            client: Endpoint::new(client_ip, client_port),
            remote: Endpoint::new(remote_ip, remote_port),
            from_client,
            remote_is_router,
            mac: if from_client { pkt.mac } else { None },
        };

        let found = if payload.is_empty() { None } else { self.inspect(proto, &s, payload, now) };
        let d = match found {
            Some(f) => self.on_evidence(proto, &s, f, exempt, now, out),
            None if exempt => Decision::accept(if self.blocked(client_ip, remote_ip, from_client, remote_is_router, now).is_some() {
                Reason::Exempt
            } else {
                Reason::Clean
            }),
            None => match self.dns_connect(&s, now, out) {
                Some(d) => d,
                None => match self.blocked(client_ip, remote_ip, from_client, remote_is_router, now) {
                    Some(reason) => self.verdict_drop(reason),
                    None => Decision::accept(Reason::Clean),
                },
            },
        };
        self.log_packet(proto, &s, &d, out);
        d
    }

    /// Why a packet must be dropped by address alone, if it must.
    fn blocked(&mut self, client: IpAddr, remote: IpAddr, from_client: bool, remote_is_router: bool, now: Millis) -> Option<Reason> {
        if remote_is_router {
            return None;
        }
        if let Some(p) = self.peers.get_mut(&remote) {
            p.last_hit = now;
            return Some(Reason::KnownPeer(p.protocol));
        }
        if self.is_dns_blocked(remote, now) {
            return Some(Reason::KnownPeer(Protocol::DnsName));
        }
        if from_client && self.config.lock_secs > 0 {
            if let Some(c) = self.clients.get(&client) {
                if c.until > now {
                    return Some(Reason::Locked(c.protocol));
                }
            }
        }
        None
    }

    /// A drop, or in monitor mode an accept that remembers it wanted a drop.
    fn verdict_drop(&self, reason: Reason) -> Decision {
        let verdict = if self.enforcing() { Verdict::Drop } else { Verdict::Accept };
        Decision { verdict, wanted: Verdict::Drop, reason }
    }

    /// Runs the detectors over a payload packet of a flow still being inspected.
    fn inspect(&mut self, proto: Proto, s: &Sides, payload: &[u8], now: Millis) -> Option<Found> {
        let key = FlowKey { proto, client: s.client, remote: s.remote };
        let protocols = self.config.protocols;

        let fresh = || Flow { last_seen: now, view: crate::detect::FlowView::NEW, state: FlowState::Inspecting };
        // The table keeps the flows' use times itself (a wrapping millisecond clock), so a
        // new flow in a full bucket does not read all its neighbours to pick one to evict.
        let (flow, evicted) = self.flows.touch_or_insert_with(key, fresh, now.0 as u32);
        if evicted.is_some() {
            bump(&mut self.counters.flows_evicted);
        }
        if now.since(flow.last_seen) >= FLOW_IDLE_MS {
            *flow = fresh();
        }
        flow.last_seen = now;
        let detected = match flow.state {
            FlowState::Detected(protocol, what) if proto == Proto::Udp => Some((protocol, what)),
            FlowState::Detected(protocol, what) => return Some(Found { protocol, what, hit: None }),
            FlowState::Clean => return None,
            FlowState::Inspecting => None,
        };

        // Host state is looked up only for flows still being inspected.
        let mut view = flow.view;
        view.client_known = self.clients.get(&s.client.ip).map(|c| c.protocol);
        view.remote_known = self.peers.contains(&s.remote.ip);
        let seg = Segment {
            proto,
            client: s.client,
            remote: s.remote,
            from_client: s.from_client,
            remote_is_router: s.remote_is_router,
            payload,
            flow: view,
        };
        if let Some((protocol, what)) = detected {
            // UDP discovery repeats on one flow (a client pings the same supernode again):
            // each datagram gets its own answer, so ask the flow's detector again.
            let hit = DETECTORS.iter().find(|d| d.protocol() == protocol).and_then(|d| d.inspect(&seg));
            return Some(Found { protocol, what, hit });
        }
        let hit = DETECTORS
            .iter()
            .filter(|d| protocols.contains(d.protocol()))
            .find_map(|d| d.inspect(&seg).map(|h| (d.protocol(), h)));

        let (count, first) = if s.from_client {
            (&mut flow.view.client_payloads, &mut flow.view.client_first)
        } else {
            (&mut flow.view.remote_payloads, &mut flow.view.remote_first)
        };
        if first.is_none() {
            *first = Prefix::of(payload);
        }
        *count = count.saturating_add(1);

        match hit {
            Some((protocol, hit)) => {
                flow.state = FlowState::Detected(protocol, hit.what);
                Some(Found { protocol, what: hit.what, hit: Some(hit) })
            }
            None => {
                let seen = u16::from(flow.view.client_payloads) + u16::from(flow.view.remote_payloads);
                if seen >= 2 * u16::from(INSPECT_PAYLOADS) {
                    flow.state = FlowState::Clean;
                }
                None
            }
        }
    }

    /// Evidence of a protocol: learn, lock, and decide the packet.
    fn on_evidence(&mut self, proto: Proto, s: &Sides, f: Found, exempt: bool, now: Millis, out: &mut dyn FnMut(Action)) -> Decision {
        self.counters.detected(f.protocol);
        if !s.remote_is_router {
            self.learn_peer(s.remote, f.protocol, PeerSource::Traffic, now, out);
        }
        let (probe, reply) = match f.hit {
            Some(hit) => {
                if let Some(named) = hit.also_block {
                    self.learn_peer(named, f.protocol, PeerSource::Named, now, out);
                }
                (hit.probe, hit.reply)
            }
            None => (None, None),
        };
        if exempt {
            return Decision::accept(Reason::Exempt);
        }
        self.note_evidence(s.client.ip, s.mac, f.protocol, f.what, probe, now, out);

        if s.remote_is_router {
            // An answer to our probe (or P2P traffic aimed at the router): ours to eat.
            return self.verdict_drop(Reason::ProbeAnswer(f.protocol));
        }
        let reason = Reason::Detected(f.protocol, f.what);
        if proto == Proto::Udp && !self.config.drop_udp {
            return Decision::accept(reason);
        }
        let d = self.verdict_drop(reason);
        if let (Some(payload), Verdict::Drop, true) = (reply, d.verdict, s.from_client) {
            bump(&mut self.counters.spoofed);
            out(Action::Spoof { from: s.remote, to: s.client, payload });
        }
        d
    }

    /// Adds a peer to the block list (and the storefile) unless it may never be blocked.
    fn learn_peer(&mut self, peer: Endpoint, protocol: Protocol, source: PeerSource, now: Millis, out: &mut dyn FnMut(Action)) {
        if !self.config.may_block(peer.ip) {
            return;
        }
        if let Some(p) = self.peers.get_mut(&peer.ip) {
            p.last_hit = now;
            return;
        }
        let p = Peer { port: peer.port, protocol, learned: now, last_hit: now };
        if self.peers.insert(peer.ip, p, |p| p.last_hit.0).is_some() {
            // Only memory forgets it: the storefile and the kernel set keep it.
            bump(&mut self.counters.peers_evicted);
        }
        out(Action::StorePeer { peer, protocol });
        if self.enforcing() {
            out(Action::BlockPeer { ip: peer.ip });
        }
        if self.config.log.peers {
            out(Action::Log(Event::Peer { peer, protocol, source }));
        }
    }

    /// Records evidence against a client: identify it, start or refresh its lock.
    #[allow(clippy::too_many_arguments)]
    fn note_evidence(
        &mut self,
        ip: IpAddr,
        mac: Option<MacAddr>,
        protocol: Protocol,
        what: &'static str,
        probe: Option<(u16, ReplyBytes)>,
        now: Millis,
        out: &mut dyn FnMut(Action),
    ) {
        let lock_secs = self.config.lock_secs;
        // With -t 0 nothing is locked, but clients are still listed for a default time.
        let presence = if lock_secs > 0 { lock_secs } else { DEFAULT_LOCK_SECS };
        let until = now.plus_secs(presence);
        let enforcing_lock = lock_secs > 0 && self.enforcing();
        let resync_ms = (u64::from(lock_secs) * 1000 / 4).min(5_000);
        let log_clients = self.config.log.clients;

        let mut change = None;
        let mut tell_kernel = false;
        match self.clients.get_mut(&ip) {
            Some(c) => {
                if c.protocol != protocol {
                    change = Some(ClientChange::AlsoRuns);
                    c.protocol = protocol;
                }
                c.last_evidence = now;
                c.until = c.until.max(until);
                c.probes_sent = 0;
                c.mac = mac.or(c.mac);
                if probe.is_some() {
                    c.probe = probe;
                }
                if c.until.since(c.kernel_until) >= resync_ms.max(1) {
                    c.kernel_until = c.until;
                    tell_kernel = true;
                }
            }
            None => {
                let c = Client { mac, protocol, first_seen: now, last_evidence: now, until, kernel_until: until, probe, probes_sent: 0 };
                if let Some((gone_ip, _)) = self.clients.insert(ip, c, |c| c.until.0) {
                    // Memory forgets the client, the kernel does not: its lock runs out on
                    // its own timeout. Unlocking here would let a flood of spoofed sources
                    // free real locked clients.
                    bump(&mut self.counters.clients_evicted);
                    out(Action::ClientOffline { client: gone_ip });
                }
                out(Action::ClientOnline { client: ip, protocol, mac });
                change = Some(ClientChange::Identified);
                tell_kernel = true;
            }
        }
        if tell_kernel && enforcing_lock {
            out(Action::Lock { client: ip, secs: lock_secs });
        }
        if let (Some(change), true) = (change, log_clients) {
            out(Action::Log(Event::Client { client: ip, change, protocol, what, mac }));
        }
    }

    fn log_packet(&self, proto: Proto, s: &Sides, d: &Decision, out: &mut dyn FnMut(Action)) {
        let log = self.config.log;
        let tcp = proto == Proto::Tcp;
        let disposition = match (d.verdict, d.wanted) {
            (Verdict::Drop, _) => Disposition::Dropped,
            (Verdict::Accept, Verdict::Drop) => Disposition::WouldDrop,
            (Verdict::Accept, Verdict::Accept) => Disposition::Accepted,
        };
        let wanted = match (tcp, disposition) {
            (false, Disposition::Accepted) => log.udp_accepted,
            (false, _) => log.udp_dropped,
            (true, Disposition::Accepted) => log.tcp_accepted,
            (true, _) => log.tcp_dropped,
        };
        if wanted {
            out(Action::Log(Event::Packet {
                tcp,
                disposition,
                client: s.client,
                remote: s.remote,
                outbound: s.from_client,
                reason: d.reason,
                mac: s.mac,
            }));
        }
    }

    /// Runs the clock: ends locks whose time is up and sends probes at half the lock
    /// (and again at three quarters, in case the first is lost). Call it at least once a
    /// second, packets or not.
    pub fn tick(&mut self, now: Millis, out: &mut impl FnMut(Action)) {
        self.tick_dyn(now, out)
    }

    fn tick_dyn(&mut self, now: Millis, out: &mut dyn FnMut(Action)) {
        self.expire_dns(now);
        let enforcing_lock = self.config.lock_secs > 0 && self.enforcing();
        let log_clients = self.config.log.clients;
        self.clients.retain(
            |_, c| c.until > now,
            |ip, c| {
                out(Action::ClientOffline { client: ip });
                if enforcing_lock {
                    out(Action::Unlock { client: ip });
                }
                if log_clients {
                    out(Action::Log(Event::Client {
                        client: ip,
                        change: ClientChange::Vanished,
                        protocol: c.protocol,
                        what: "no evidence for the lock's length",
                        mac: c.mac,
                    }));
                }
            },
        );
        let lock_ms = u64::from(self.config.lock_secs) * 1000;
        if lock_ms == 0 {
            return;
        }
        for (&ip, c) in self.clients.iter_mut() {
            let Some((port, payload)) = &c.probe else { continue };
            let due = match c.probes_sent {
                0 => c.last_evidence.plus(lock_ms / 2),
                1 => c.last_evidence.plus(lock_ms * 3 / 4),
                _ => continue,
            };
            if now >= due {
                c.probes_sent += 1;
                bump(&mut self.counters.probes);
                out(Action::Probe { to: Endpoint::new(ip, *port), payload: payload.clone() });
            }
        }
    }
}
