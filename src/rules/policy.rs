//! The ruleset, written once as abstract rules that both backends render.
//!
//! Shape (the same for nftables and iptables):
//!
//! * `forward` (hooked before the firewall's own filter rules) sends LAN->WAN packets to
//!   `lan_wan` and WAN->LAN packets to `wan_lan`; LAN<->LAN traffic is never touched.
//! * `lan_wan` / `wan_lan` first drop everything of a time-locked client (both
//!   directions, old connections included) and everything to or from a blocked peer,
//!   in the kernel, before any queueing. Then packets the daemon already passed
//!   ([`PASS_MARK`](super::PASS_MARK)) leave, and only the packets that must be
//!   inspected are queued: the first few packets of each direction of a flow (TCP
//!   handshake and first payloads; first UDP datagrams), and all DNS answers. Bulk
//!   traffic of a decided connection never reaches userspace.
//! * `input` queues UDP answers from the LAN to the router's own flows (the daemon's
//!   probes) and upstream DNS answers (UDP, and the first packets of TCP) from the WAN
//!   to the router's resolver.
//! * `output` queues the router's resolver answering the LAN (UDP, and TCP's first packets).

use super::{Iface, RuleSpec, SET_LOCKED4, SET_LOCKED6, SET_PEERS4, SET_PEERS6, TCP_INSPECT_PACKETS, UDP_INSPECT_PACKETS};

/// The chains of the ruleset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chain {
    Forward,
    Input,
    Output,
    LanWan,
    WanLan,
}

impl Chain {
    pub const ALL: [Chain; 5] = [Chain::Forward, Chain::Input, Chain::Output, Chain::LanWan, Chain::WanLan];

    /// The netfilter hook a base chain hangs on (`None` for the jump targets).
    pub fn hook(self) -> Option<&'static str> {
        match self {
            Chain::Forward => Some("forward"),
            Chain::Input => Some("input"),
            Chain::Output => Some("output"),
            Chain::LanWan | Chain::WanLan => None,
        }
    }

    /// The chain's name inside `table inet ftwall`.
    pub fn nft_name(self) -> &'static str {
        match self {
            Chain::Forward => "forward",
            Chain::Input => "input",
            Chain::Output => "output",
            Chain::LanWan => "lan_wan",
            Chain::WanLan => "wan_lan",
        }
    }

    /// The chain's name among iptables' chains (which share one namespace per table).
    pub fn ipt_name(self) -> &'static str {
        match self {
            Chain::Forward => "ftwall_forward",
            Chain::Input => "ftwall_input",
            Chain::Output => "ftwall_output",
            Chain::LanWan => "ftwall_lan_wan",
            Chain::WanLan => "ftwall_wan_lan",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    V4,
    V6,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Tcp,
    Udp,
}

impl L4 {
    pub fn name(self) -> &'static str {
        match self {
            L4::Tcp => "tcp",
            L4::Udp => "udp",
        }
    }
}

/// Conntrack direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Original,
    Reply,
}

/// One condition of a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match<'a> {
    InIf(&'a Iface),
    OutIf(&'a Iface),
    Proto(L4),
    /// Source address is in the named set (the rule's family says which address type).
    SrcIn(&'static str),
    DstIn(&'static str),
    Sport(u16),
    /// The packet travels in this conntrack direction.
    CtDir(Dir),
    /// The connection has carried 1..=n packets in this direction (this one included).
    CtPackets(Dir, u32),
    /// The daemon has passed this packet already.
    Passed,
    /// The daemon has not passed this packet (yet).
    NotPassed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Jump(Chain),
    Drop,
    /// Leave the chain (in a base chain: go on to the rest of the firewall).
    Return,
    /// Queue (or only count, see [`super::Inspect`]).
    Inspect,
    /// Queue without the bypass flag, whatever the failure mode: for a time-locked
    /// client's packets, which must be dropped, never passed, when no daemon listens.
    InspectLocked,
}

/// One rule; `family` restricts it to IPv4 or IPv6 packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule<'a> {
    pub chain: Chain,
    pub family: Option<Family>,
    pub matches: Vec<Match<'a>>,
    pub target: Target,
    /// Why the rule exists, for the printed script.
    pub why: &'static str,
}

/// The families the spec covers.
pub fn families(spec: &RuleSpec) -> &'static [Family] {
    if spec.ipv6 {
        &[Family::V4, Family::V6]
    } else {
        &[Family::V4]
    }
}

/// The locked-clients and blocked-peers sets of a family.
pub fn sets_of(f: Family) -> (&'static str, &'static str) {
    match f {
        Family::V4 => (SET_LOCKED4, SET_PEERS4),
        Family::V6 => (SET_LOCKED6, SET_PEERS6),
    }
}

/// The whole ruleset, in order, chain by chain.
pub fn rules(spec: &RuleSpec) -> Vec<Rule<'_>> {
    use Match::*;
    let mut out = Vec::new();
    let mut add = |chain, family, matches, target, why| out.push(Rule { chain, family, matches, target, why });

    for l in &spec.lan_ifs {
        for w in &spec.wan_ifs {
            add(Chain::Forward, None, vec![InIf(l), OutIf(w)], Target::Jump(Chain::LanWan), "LAN to WAN");
        }
    }
    for w in &spec.wan_ifs {
        for l in &spec.lan_ifs {
            add(Chain::Forward, None, vec![InIf(w), OutIf(l)], Target::Jump(Chain::WanLan), "WAN to LAN");
        }
    }

    // A locked client's first UDP packets of each new flow still reach the daemon, which
    // drops them too, but first answers P2P discovery (FastTrack's ping burst goes on
    // after the first ping locked the client) and learns the peers they name. Without a
    // daemon they are dropped, never passed. A packet the daemon passed anyway (a daemon
    // restarted since the lock does not know it) comes back marked and meets the drop
    // below: the kernel's lock holds whatever the daemon says.
    for &f in families(spec) {
        let m = vec![SrcIn(sets_of(f).0), Proto(L4::Udp), CtDir(Dir::Original), CtPackets(Dir::Original, UDP_INSPECT_PACKETS), NotPassed];
        add(Chain::LanWan, Some(f), m, Target::InspectLocked, "a time-locked client's new UDP flows: answered and learned from, then dropped");
    }
    // The kernel-side blocks come before anything else, so that they hold even when the
    // daemon is not running and cover connections opened before the lock.
    for &f in families(spec) {
        add(Chain::LanWan, Some(f), vec![SrcIn(sets_of(f).0)], Target::Drop, "a time-locked client is off-line");
    }
    // A LAN host's first UDP packets to a blocked peer reach the daemon too: a new client
    // that pings only supernodes ftwall knows (all of them, after a restart with a full
    // storefile) gets its spoofed pongs and is found and locked, instead of meeting a
    // silent drop and falling back to TCP. Never fail-open; what the daemon passed (an
    // exempt client) skips this and meets the drop, as all its later packets do.
    for &f in families(spec) {
        let m = vec![DstIn(sets_of(f).1), NotPassed, Proto(L4::Udp), CtDir(Dir::Original), CtPackets(Dir::Original, UDP_INSPECT_PACKETS)];
        add(Chain::LanWan, Some(f), m, Target::InspectLocked, "new UDP flows to a blocked peer: answered and learned from, then dropped");
    }
    for &f in families(spec) {
        add(Chain::LanWan, Some(f), vec![DstIn(sets_of(f).1)], Target::Drop, "blocked peer");
    }
    add(Chain::LanWan, None, vec![Passed], Target::Return, "passed by the daemon already");
    for (l4, n) in [(L4::Tcp, TCP_INSPECT_PACKETS), (L4::Udp, UDP_INSPECT_PACKETS)] {
        // Both directions: the LAN host may be the one that opened the flow or the one
        // that answers it.
        for d in [Dir::Original, Dir::Reply] {
            add(Chain::LanWan, None, vec![Proto(l4), CtDir(d), CtPackets(d, n)], Target::Inspect, "first packets of a flow");
        }
    }

    for &f in families(spec) {
        add(Chain::WanLan, Some(f), vec![DstIn(sets_of(f).0)], Target::Drop, "a time-locked client is off-line");
    }
    for &f in families(spec) {
        add(Chain::WanLan, Some(f), vec![SrcIn(sets_of(f).1)], Target::Drop, "blocked peer");
    }
    add(Chain::WanLan, None, vec![Passed], Target::Return, "passed by the daemon already");
    add(Chain::WanLan, None, vec![Proto(L4::Udp), Sport(53), CtDir(Dir::Reply)], Target::Inspect, "DNS answers");
    // Only answers to flows the LAN opened: what the internet sends unasked is the
    // firewall's business, and queueing it would let a flood reach the daemon.
    for (l4, n) in [(L4::Tcp, TCP_INSPECT_PACKETS), (L4::Udp, UDP_INSPECT_PACKETS)] {
        add(Chain::WanLan, None, vec![Proto(l4), CtDir(Dir::Reply), CtPackets(Dir::Reply, n)], Target::Inspect, "first answers of a flow");
    }

    add(Chain::Input, None, vec![Passed], Target::Return, "passed by the daemon already");
    for l in &spec.lan_ifs {
        add(Chain::Input, None, vec![InIf(l), Proto(L4::Udp), CtDir(Dir::Reply)], Target::Inspect, "answers to the daemon's probes");
    }
    for w in &spec.wan_ifs {
        add(Chain::Input, None, vec![InIf(w), Proto(L4::Udp), Sport(53), CtDir(Dir::Reply)], Target::Inspect, "upstream DNS answers to the router's resolver");
        // Over TCP (a truncated UDP answer is asked again over TCP): the answer rides in
        // the connection's first packets, so only those are queued.
        let m = vec![InIf(w), Proto(L4::Tcp), Sport(53), CtDir(Dir::Reply), CtPackets(Dir::Reply, TCP_INSPECT_PACKETS)];
        add(Chain::Input, None, m, Target::Inspect, "upstream DNS answers over TCP to the router's resolver");
    }

    add(Chain::Output, None, vec![Passed], Target::Return, "the daemon's own packets and packets it passed");
    for l in &spec.lan_ifs {
        add(Chain::Output, None, vec![OutIf(l), Proto(L4::Udp), Sport(53), CtDir(Dir::Reply)], Target::Inspect, "the router's resolver answering the LAN");
        let m = vec![OutIf(l), Proto(L4::Tcp), Sport(53), CtDir(Dir::Reply), CtPackets(Dir::Reply, TCP_INSPECT_PACKETS)];
        add(Chain::Output, None, m, Target::Inspect, "the router's resolver answering the LAN over TCP");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Backend;

    fn spec(ipv6: bool) -> RuleSpec {
        let mut s = RuleSpec::new(Backend::Nft, vec!["br-lan".parse().unwrap(), "wlan0".parse().unwrap()], vec!["wan".parse().unwrap()]);
        s.ipv6 = ipv6;
        s
    }

    #[test]
    fn blocks_come_before_the_pass_mark_and_the_queue() {
        let s = spec(true);
        let rules = rules(&s);
        for chain in [Chain::LanWan, Chain::WanLan] {
            let targets: Vec<Target> = rules.iter().filter(|r| r.chain == chain).map(|r| r.target).collect();
            let last_drop = targets.iter().rposition(|t| *t == Target::Drop).unwrap();
            let first_return = targets.iter().position(|t| *t == Target::Return).unwrap();
            let first_inspect = targets.iter().position(|t| *t == Target::Inspect).unwrap();
            assert_eq!(targets.iter().filter(|t| **t == Target::Drop).count(), 4, "{chain:?}: locked and peers, v4 and v6");
            assert!(last_drop < first_return && first_return < first_inspect, "{chain:?}: {targets:?}");
        }
    }

    #[test]
    fn locked_clients_reach_the_daemon_only_with_new_udp_and_never_fail_open() {
        for fail_closed in [false, true] {
            let mut s = spec(true);
            s.fail_closed = fail_closed;
            let rules = rules(&s);
            let lan_wan: Vec<&Rule> = rules.iter().filter(|r| r.chain == Chain::LanWan).collect();
            let locked: Vec<&&Rule> = lan_wan
                .iter()
                .filter(|r| r.target == Target::InspectLocked && r.matches.iter().any(|m| matches!(m, Match::SrcIn(_))))
                .collect();
            assert_eq!(locked.len(), 2, "one per family");
            for r in &locked {
                assert!(r.matches.contains(&Match::Proto(L4::Udp)));
                // A packet passed by a daemon that does not know the lock (restarted since)
                // must fall through to the lock's drop, not come back to the queue.
                assert!(r.matches.contains(&Match::NotPassed), "{r:?}");
                assert!(r.matches.iter().any(|m| matches!(m, Match::CtPackets(Dir::Original, n) if *n == UDP_INSPECT_PACKETS)));
            }
            // They come right before the lock drops, and render without a bypass.
            let first_drop = lan_wan.iter().position(|r| r.target == Target::Drop).unwrap();
            assert!(lan_wan[..first_drop].iter().all(|r| r.target == Target::InspectLocked));
            let nft = crate::rules::nft::render(&s);
            let ipt = crate::rules::ipt::render_all(&s);
            for text in [&nft, &ipt] {
                let lines: Vec<&str> = text.lines().filter(|l| l.contains("ftwall_locked") && (l.contains("queue") || l.contains("NFQUEUE"))).collect();
                assert!(!lines.is_empty(), "{text}");
                for l in lines {
                    assert!(!l.contains("bypass"), "a locked client must never fail open: {l}");
                }
            }
        }
    }

    #[test]
    fn new_udp_to_blocked_peers_reaches_the_daemon_unless_passed_and_never_fails_open() {
        let s = spec(true);
        let rules = rules(&s);
        let lan_wan: Vec<&Rule> = rules.iter().filter(|r| r.chain == Chain::LanWan).collect();
        let to_peers: Vec<usize> = (0..lan_wan.len())
            .filter(|&i| lan_wan[i].target == Target::InspectLocked && lan_wan[i].matches.iter().any(|m| matches!(m, Match::DstIn(_))))
            .collect();
        assert_eq!(to_peers.len(), 2, "one per family");
        let drop_of = |i: usize| lan_wan[i].matches.iter().find_map(|m| if let Match::DstIn(set) = m { Some(*set) } else { None });
        let peer_drops: Vec<usize> = (0..lan_wan.len()).filter(|&i| lan_wan[i].target == Target::Drop && drop_of(i).is_some()).collect();
        let lock_drops: Vec<usize> = (0..lan_wan.len())
            .filter(|&i| lan_wan[i].target == Target::Drop && lan_wan[i].matches.iter().any(|m| matches!(m, Match::SrcIn(_))))
            .collect();
        for &i in &to_peers {
            let r = lan_wan[i];
            assert!(r.matches.contains(&Match::NotPassed) && r.matches.contains(&Match::Proto(L4::Udp)), "{r:?}");
            assert!(r.matches.contains(&Match::CtPackets(Dir::Original, UDP_INSPECT_PACKETS)), "{r:?}");
            // After the lock drops (a locked client is handled above), before the peer drops.
            assert!(lock_drops.iter().all(|&d| d < i) && peer_drops.iter().all(|&d| i < d), "{lan_wan:?}");
        }
        let nft = crate::rules::nft::render(&s);
        assert!(nft.contains("ip daddr @ftwall_peers4 meta mark & 0x10000000 == 0x00000000 meta l4proto udp"), "{nft}");
        let ipt = crate::rules::ipt::render_all(&s);
        assert!(ipt.contains("-m set --match-set ftwall_peers4 dst -m mark --mark 0x0/0x10000000 -p udp"), "{ipt}");
        for text in [&nft, &ipt] {
            for l in text.lines().filter(|l| l.contains("ftwall_peers") && (l.contains("queue") || l.contains("NFQUEUE"))) {
                assert!(!l.contains("bypass"), "traffic to a blocked peer must never fail open: {l}");
            }
        }
    }

    #[test]
    fn every_inspected_packet_is_bounded_or_an_answer() {
        let s = spec(true);
        for r in rules(&s).iter().filter(|r| r.target == Target::Inspect) {
            let bounded = r.matches.iter().any(|m| matches!(m, Match::CtPackets(_, n) if *n <= TCP_INSPECT_PACKETS));
            let answer = r.matches.contains(&Match::CtDir(Dir::Reply));
            assert!(bounded || answer, "unbounded queue rule: {r:?}");
            assert!(r.matches.iter().any(|m| matches!(m, Match::Proto(_))), "only TCP/UDP is queued: {r:?}");
        }
    }

    #[test]
    fn forward_jumps_pair_every_lan_with_every_wan_and_nothing_else() {
        let s = spec(true);
        let rules = rules(&s);
        let fwd: Vec<&Rule> = rules.iter().filter(|r| r.chain == Chain::Forward).collect();
        assert_eq!(fwd.len(), 4);
        for r in fwd {
            match (&r.matches[..], r.target) {
                ([Match::InIf(i), Match::OutIf(o)], Target::Jump(Chain::LanWan)) => {
                    assert!(s.lan_ifs.contains(i) && s.wan_ifs.contains(o))
                }
                ([Match::InIf(i), Match::OutIf(o)], Target::Jump(Chain::WanLan)) => {
                    assert!(s.wan_ifs.contains(i) && s.lan_ifs.contains(o))
                }
                other => panic!("unexpected forward rule {other:?}"),
            }
        }
    }

    #[test]
    fn no_ipv6_means_no_ipv6_rules() {
        let s = spec(false);
        assert!(rules(&s).iter().all(|r| r.family != Some(Family::V6)));
        assert_eq!(rules(&s).iter().filter(|r| r.target == Target::Drop).count(), 4);
    }
}
