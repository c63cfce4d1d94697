//! DNS learning inside the engine (ftwall 2's name wildcards): answers teach addresses,
//! a client connecting to one is time-locked, and the safety rules keep an answer from
//! ever getting the router, the LAN or a special address blocked.
//!
//! An answer travels one of three ways on a router, and all three are read:
//! * [`Path::RouterToLan`]: the router's own resolver (OpenWrt's dnsmasq) answering a
//!   LAN client;
//! * [`Path::WanToRouter`]: an upstream server answering that resolver;
//! * [`Path::WanToLan`]: an outside server answering a LAN client that asks it directly.
//!
//! Learned addresses live in the engine's own fixed-size table, not in the kernel's
//! peer set: the kernel keeps queueing new connections to them, so the engine sees who
//! connects, drops the connection and locks that client. An entry lasts for the record's
//! TTL clamped to [`Config::dns_min_secs`]..[`Config::dns_max_secs`], and is refreshed by
//! every later answer.

use std::net::IpAddr;

use super::counters::bump;
use super::state::{DnsEntry, DnsStatus};
use super::{Action, Config, Decision, DnsEvent, DnsOutcome, Engine, Event, Path, Reason, Sides};
use crate::detect::Protocol;
use crate::dns::name::NameTail;
use crate::dns::{self, Message};
use crate::time::Millis;
use crate::wire::{IpPacket, Transport};

const DNS_PORT: u16 = 53;

/// What a client's connection to a DNS-learned address is called in logs.
pub const LEARNED_ADDRESS: &str = "learned address";

/// Addresses a given answer may never teach, beyond the configured ones: the router and
/// the LAN host on the packet's path.
type PathAddrs = [Option<IpAddr>; 2];

/// Where answers are read, and which of the packet's own addresses they may not teach.
fn answer_path(path: Path, ip: &IpPacket<'_>) -> Option<PathAddrs> {
    match path {
        // From the router (src) to a LAN client (dst).
        Path::RouterToLan => Some([Some(ip.src), Some(ip.dst)]),
        // To the router (dst) or to a LAN client (dst).
        Path::WanToRouter | Path::WanToLan => Some([Some(ip.dst), None]),
        // Answers leaving for the internet, or sent to the router from the LAN, are not
        // trusted: a LAN host must not be able to get addresses blocked for everyone.
        Path::LanToWan | Path::LanToRouter | Path::RouterToWan => None,
    }
}

/// Paths on which queries are logged.
fn query_path(path: Path) -> bool {
    matches!(path, Path::LanToRouter | Path::LanToWan | Path::RouterToWan)
}

/// Calls `each` with every DNS message in a UDP datagram or at the start of a TCP segment.
fn messages<'a>(tcp: bool, payload: &'a [u8], mut each: impl FnMut(&'a [u8])) {
    if tcp {
        dns::tcp_messages(payload).for_each(each);
    } else {
        each(payload);
    }
}

/// True if the safety rules let a DNS answer teach `addr`.
fn may_learn(config: &Config, addr: IpAddr, path_addrs: &PathAddrs) -> bool {
    config.may_block(addr) && !path_addrs.contains(&Some(addr))
}

impl Engine {
    /// Reads DNS traffic on any path: answers teach addresses, queries are logged.
    /// Never changes the packet's verdict.
    pub(super) fn dns_traffic(&mut self, ip: &IpPacket<'_>, path: Path, now: Millis, out: &mut dyn FnMut(Action)) {
        if !self.config.protocols.contains(Protocol::DnsName) {
            return;
        }
        let (tcp, src_port, dst_port, payload) = match ip.transport {
            Transport::Udp { src_port, dst_port, payload } => (false, src_port, dst_port, payload),
            Transport::Tcp { src_port, dst_port, payload, .. } => (true, src_port, dst_port, payload),
            Transport::Other => return,
        };
        if payload.is_empty() {
            return;
        }
        if src_port == DNS_PORT {
            if let Some(path_addrs) = answer_path(path, ip) {
                messages(tcp, payload, |m| self.dns_answer(m, ip.src, &path_addrs, now, out));
            }
        } else if dst_port == DNS_PORT && query_path(path) && self.config.log.dns_queries {
            messages(tcp, payload, |m| log_queries(m, ip.src, out));
        }
    }

    /// Learns from one answer message.
    fn dns_answer(&mut self, msg: &[u8], server: IpAddr, path_addrs: &PathAddrs, now: Millis, out: &mut dyn FnMut(Action)) {
        let config = &self.config;
        let table = &mut self.dns;
        let counters = &mut self.counters;
        let log = config.log;
        let result = dns::answers(
            msg,
            |name| config.patterns.matches(name),
            |l| {
                let outcome = if !l.matched {
                    DnsOutcome::NotMatched
                } else if !may_learn(config, l.addr, path_addrs) {
                    bump(&mut counters.dns_refused);
                    DnsOutcome::Refused
                } else {
                    // max then min, not clamp: a bad configuration must not panic.
                    let secs = l.ttl.max(config.dns_min_secs).min(config.dns_max_secs);
                    let until = now.plus_secs(secs);
                    let name = NameTail::from(l.name);
                    match table.get_mut(&l.addr) {
                        Some(e) => {
                            e.until = e.until.max(until);
                            e.name = name;
                        }
                        None => {
                            if table.insert(l.addr, DnsEntry { until, name }, |e| e.until.0).is_some() {
                                bump(&mut counters.dns_evicted);
                            }
                        }
                    }
                    bump(&mut counters.dns_learned);
                    DnsOutcome::Learned { secs }
                };
                let wanted = log.dns_answers || (log.peers && outcome != DnsOutcome::NotMatched);
                if wanted {
                    out(Action::Log(Event::Dns(DnsEvent::Answer { name: NameTail::from(l.name), addr: l.addr, ttl: l.ttl, outcome })));
                }
            },
        );
        match result {
            Ok(_) => bump(&mut self.counters.dns_answers),
            Err(error) => {
                bump(&mut self.counters.dns_unreadable);
                if log.dns_answers {
                    out(Action::Log(Event::Dns(DnsEvent::Unreadable { server, error })));
                }
            }
        }
    }

    /// True if `ip` is blocked because a DNS answer taught it.
    pub fn is_dns_blocked(&self, ip: IpAddr, now: Millis) -> bool {
        self.dns.get(&ip).is_some_and(|e| e.until > now)
    }

    /// A client's packet to a DNS-learned address: evidence against the client (it is
    /// time-locked like a FastTrack client) and a drop. `None` if that is not the case.
    pub(super) fn dns_connect(&mut self, s: &Sides, now: Millis, out: &mut dyn FnMut(Action)) -> Option<Decision> {
        if !s.from_client || s.remote_is_router || !self.is_dns_blocked(s.remote.ip, now) {
            return None;
        }
        self.counters.detected(Protocol::DnsName);
        self.note_evidence(s.client.ip, s.mac, Protocol::DnsName, LEARNED_ADDRESS, None, now, out);
        Some(self.verdict_drop(Reason::Detected(Protocol::DnsName, LEARNED_ADDRESS)))
    }

    /// Addresses blocked by DNS name now, with the time left.
    pub fn dns_blocked(&self, now: Millis) -> impl Iterator<Item = DnsStatus> + '_ {
        self.dns
            .iter()
            .filter(move |(_, e)| e.until > now)
            .map(move |(&ip, e)| DnsStatus { ip, name: e.name, secs_left: now.secs_until(e.until) })
    }

    /// Adds an address read from the DNS training file, blocked for `secs_left` more
    /// seconds (at most the configured maximum). Returns false if the safety rules refuse
    /// it or no time is left. Produces no actions.
    pub fn preload_dns(&mut self, ip: IpAddr, name: NameTail, secs_left: u32, now: Millis) -> bool {
        let secs = secs_left.min(self.config.dns_max_secs);
        if secs == 0 || !may_learn(&self.config, ip, &[None, None]) {
            return false;
        }
        let entry = DnsEntry { until: now.plus_secs(secs), name };
        if self.dns.insert(ip, entry, |e| e.until.0).is_some() {
            bump(&mut self.counters.dns_evicted);
        }
        true
    }

    /// Forgets DNS-learned addresses whose time is up (called by `tick`).
    pub(super) fn expire_dns(&mut self, now: Millis) {
        self.dns.retain(|_, e| e.until > now, |_, _| ());
    }
}

/// Logs the questions of a query (letter d).
fn log_queries(msg: &[u8], client: IpAddr, out: &mut dyn FnMut(Action)) {
    // Only queries: responses going the same way belong to a server on this side.
    if !Message::new_checked(msg).is_ok_and(|m| !m.is_response()) {
        return;
    }
    // An unreadable query is the client's problem: nothing to log.
    let _ = dns::questions(msg, |name, qtype| {
        out(Action::Log(Event::Dns(DnsEvent::Query { client, name: NameTail::from(name), qtype })));
    });
}
