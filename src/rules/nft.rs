//! nftables backend: everything lives in ftwall's own `table inet ftwall`, which fw4
//! never touches (fw4 flushes only `table inet fw4` on reload).
//!
//! The base chains hook at `priority filter - 5`: before fw4's (and any other
//! `filter`-priority) accept rules and before fw4's `flow add`, so the kernel-side drops
//! and the queue see every packet that is still on the slow path. An accept in our table
//! does not end the packet's journey: fw4's own chains still judge it afterwards.

use core::fmt::Write;
use std::net::IpAddr;

use super::policy::{self, Chain, Dir, Family, Match, Rule, Target};
use super::{Exec, Inspect, RuleSpec, RulesError, PASS_MARK, SET_LOCKED6, SET_PEERS6};

pub const TABLE: &str = "inet ftwall";
/// Base chain priority, as nft writes it.
pub const PRIORITY: &str = "filter - 5";

/// Makes a script replace whatever table is there (and lose the sets' elements): used
/// when the live table cannot be updated in place (e.g. a different chain priority).
pub const FRESH_PREFIX: &str = "add table inet ftwall\ndelete table inet ftwall\n";

fn family_set_type(f: Family) -> &'static str {
    match f {
        Family::V4 => "ipv4_addr",
        Family::V6 => "ipv6_addr",
    }
}

fn addr_kw(f: Family) -> &'static str {
    match f {
        Family::V4 => "ip",
        Family::V6 => "ip6",
    }
}

fn dir_kw(d: Dir) -> &'static str {
    match d {
        Dir::Original => "original",
        Dir::Reply => "reply",
    }
}

/// The set declarations (every set of every family, so that re-applying with IPv6
/// turned off can delete the IPv6 ones in the same transaction).
fn set_decls(out: &mut String) {
    for f in [Family::V4, Family::V6] {
        let (locked, peers) = policy::sets_of(f);
        for set in [locked, peers] {
            // `flags timeout`: locks always carry a timeout; peers may (elements added
            // without one never expire).
            let _ = writeln!(out, "add set {TABLE} {set} {{ type {}; flags timeout; }}", family_set_type(f));
        }
    }
}

fn rule_text(spec: &RuleSpec, r: &Rule) -> String {
    let mut parts: Vec<String> = Vec::new();
    let has_set = r.matches.iter().any(|m| matches!(m, Match::SrcIn(_) | Match::DstIn(_)));
    if let (Some(f), false) = (r.family, has_set) {
        parts.push(format!("meta nfproto {}", if f == Family::V4 { "ipv4" } else { "ipv6" }));
    }
    let fam = r.family.unwrap_or(Family::V4);
    for m in &r.matches {
        parts.push(match m {
            Match::InIf(i) => format!("iifname {}", i.nft()),
            Match::OutIf(i) => format!("oifname {}", i.nft()),
            Match::Proto(p) => format!("meta l4proto {}", p.name()),
            Match::SrcIn(set) => format!("{} saddr @{set}", addr_kw(fam)),
            Match::DstIn(set) => format!("{} daddr @{set}", addr_kw(fam)),
            Match::Sport(p) => format!("th sport {p}"),
            Match::CtDir(d) => format!("ct direction {}", dir_kw(*d)),
            Match::CtPackets(d, n) => format!("ct {} packets 1-{n}", dir_kw(*d)),
            Match::Passed => format!("meta mark & {PASS_MARK:#010x} == {PASS_MARK:#010x}"),
            Match::NotPassed => format!("meta mark & {PASS_MARK:#010x} == 0x00000000"),
        });
    }
    parts.push(match r.target {
        Target::Jump(c) => format!("jump {}", c.nft_name()),
        Target::Drop => "counter drop".to_string(),
        Target::Return => "return".to_string(),
        Target::Inspect => match spec.inspect {
            Inspect::Queue if spec.fail_closed => format!("counter queue num {}", spec.queue),
            Inspect::Queue => format!("counter queue num {} bypass", spec.queue),
            Inspect::CountOnly => "counter".to_string(),
        },
        Target::InspectLocked => match spec.inspect {
            Inspect::Queue => format!("counter queue num {}", spec.queue),
            Inspect::CountOnly => "counter".to_string(),
        },
    });
    parts.join(" ")
}

/// The complete `nft -f` script. Applying it creates the table, sets and chains if
/// needed, replaces every rule, and keeps the sets' elements (locks and peers survive
/// a re-apply).
pub fn render(spec: &RuleSpec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "#!/usr/sbin/nft -f");
    let _ = writeln!(out, "# ftwall rules (nftables), from `ftwall rules print`.");
    let _ = writeln!(out, "# {}", spec.describe());
    let _ = writeln!(out, "# Re-applying replaces every rule and keeps the sets' elements.");
    let _ = writeln!(out, "add table {TABLE}");
    set_decls(&mut out);
    for c in Chain::ALL {
        match c.hook() {
            Some(hook) => {
                let _ = writeln!(out, "add chain {TABLE} {} {{ type filter hook {hook} priority {PRIORITY}; policy accept; }}", c.nft_name());
            }
            None => {
                let _ = writeln!(out, "add chain {TABLE} {}", c.nft_name());
            }
        }
    }
    for c in Chain::ALL {
        let _ = writeln!(out, "flush chain {TABLE} {}", c.nft_name());
    }
    if !spec.ipv6 {
        // Declared above, so these deletes cannot fail; the chains referring to them
        // were flushed just before.
        for set in [SET_LOCKED6, SET_PEERS6] {
            let _ = writeln!(out, "delete set {TABLE} {set}");
        }
        for c in Chain::ALL.iter().filter(|c| c.hook().is_some()) {
            let _ = writeln!(out, "add rule {TABLE} {} meta nfproto ipv6 return", c.nft_name());
        }
    }
    let mut last_why = "";
    for r in policy::rules(spec) {
        if r.why != last_why {
            let _ = writeln!(out, "# {}: {}", r.chain.nft_name(), r.why);
            last_why = r.why;
        }
        let _ = writeln!(out, "add rule {TABLE} {} {}", r.chain.nft_name(), rule_text(spec, &r));
    }
    out
}

/// Does the live ruleset have ftwall's table?
pub fn table_exists(exec: &mut dyn Exec) -> Result<bool, RulesError> {
    let tables = exec.run("nft", &["list", "tables"], None)?;
    Ok(tables.lines().any(|l| l.trim() == "table inet ftwall"))
}

/// Adds a hint to errors that come from a kernel without nftables queue support.
fn explain(e: RulesError) -> RulesError {
    match e {
        RulesError::Tool { what, detail } if detail.contains("No such file or directory") && detail.contains("queue") => RulesError::Tool {
            what,
            detail: format!(
                "{detail}\nhint: the kernel has no nftables queue support (module nft_queue, OpenWrt package kmod-nft-queue); load it or use --backend iptables"
            ),
        },
        other => other,
    }
}

pub fn apply(spec: &RuleSpec, exec: &mut dyn Exec) -> Result<(), RulesError> {
    let script = render(spec);
    // `nft -f` is one transaction: on failure nothing changed.
    match exec.run("nft", &["-f", "-"], Some(&script)) {
        Ok(_) => Ok(()),
        Err(RulesError::MissingTool(t)) => Err(RulesError::MissingTool(t)),
        Err(first) => {
            if !table_exists(exec)? {
                return Err(explain(first));
            }
            // The live table may be of another shape (an older ftwall, a hand edit):
            // replace it whole.
            let fresh = format!("{FRESH_PREFIX}{script}");
            exec.run("nft", &["-f", "-"], Some(&fresh)).map(|_| ()).map_err(explain)
        }
    }
}

pub fn remove(exec: &mut dyn Exec) -> Result<(), RulesError> {
    if table_exists(exec)? {
        exec.run("nft", &["delete", "table", "inet", "ftwall"], None)?;
    }
    Ok(())
}

/// True if `nft` runs and the kernel accepts a queue rule (checked with `nft -c`,
/// which changes nothing).
pub fn usable(exec: &mut dyn Exec) -> bool {
    let probe = "add table inet ftwall_probe\nadd chain inet ftwall_probe c { type filter hook forward priority 0; }\nadd rule inet ftwall_probe c queue num 0 bypass\n";
    exec.run("nft", &["-c", "-f", "-"], Some(probe)).is_ok()
}

/// Appends to `out` the script lines of one batch of changes to `set` (one family):
/// `removes` leave the set if they are there, `adds` enter it, those with a timeout with
/// a fresh one (an element already there is taken out first: `add` alone would keep its
/// old timeout). At most three statements, however many elements; the batch is one
/// transaction, and adding what is there or removing what is not is no error.
pub fn batch_script(set: &str, removes: &[IpAddr], adds: &[(IpAddr, Option<u32>)], out: &mut String) {
    use std::fmt::Write;
    let renewed = || adds.iter().filter(|(_, t)| t.is_some()).map(|(ip, _)| *ip);
    if !removes.is_empty() || renewed().next().is_some() {
        let mut list = String::new();
        for ip in removes.iter().copied().chain(renewed()) {
            let sep = if list.is_empty() { "" } else { ", " };
            let _ = write!(list, "{sep}{ip}");
        }
        let _ = write!(out, "add element {TABLE} {set} {{ {list} }}\ndelete element {TABLE} {set} {{ {list} }}\n");
    }
    if !adds.is_empty() {
        let _ = write!(out, "add element {TABLE} {set} {{ ");
        for (i, (ip, timeout)) in adds.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            let _ = match timeout {
                Some(secs) => write!(out, "{sep}{ip} timeout {secs}s"),
                None => write!(out, "{sep}{ip}"),
            };
        }
        out.push_str(" }\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::exec::fake::FakeExec;
    use crate::rules::Backend;

    fn spec() -> RuleSpec {
        RuleSpec::new(Backend::Nft, vec!["br-lan".parse().unwrap()], vec!["wan".parse().unwrap(), "ppp+".parse().unwrap()])
    }

    fn rule_lines(script: &str) -> Vec<&str> {
        script.lines().filter(|l| l.starts_with("add rule ")).collect()
    }

    #[test]
    fn script_has_table_sets_hooks_and_rules() {
        let s = render(&spec());
        let expect = [
            "add table inet ftwall",
            "add set inet ftwall ftwall_locked4 { type ipv4_addr; flags timeout; }",
            "add set inet ftwall ftwall_peers6 { type ipv6_addr; flags timeout; }",
            "add chain inet ftwall forward { type filter hook forward priority filter - 5; policy accept; }",
            "add chain inet ftwall input { type filter hook input priority filter - 5; policy accept; }",
            "add chain inet ftwall output { type filter hook output priority filter - 5; policy accept; }",
            "flush chain inet ftwall lan_wan",
            "add rule inet ftwall forward iifname \"br-lan\" oifname \"wan\" jump lan_wan",
            "add rule inet ftwall forward iifname \"br-lan\" oifname \"ppp*\" jump lan_wan",
            "add rule inet ftwall forward iifname \"ppp*\" oifname \"br-lan\" jump wan_lan",
            "add rule inet ftwall lan_wan ip saddr @ftwall_locked4 counter drop",
            "add rule inet ftwall lan_wan ip6 saddr @ftwall_locked6 counter drop",
            "add rule inet ftwall lan_wan ip daddr @ftwall_peers4 counter drop",
            "add rule inet ftwall wan_lan ip daddr @ftwall_locked4 counter drop",
            "add rule inet ftwall wan_lan ip6 saddr @ftwall_peers6 counter drop",
            "add rule inet ftwall lan_wan meta mark & 0x10000000 == 0x10000000 return",
            "add rule inet ftwall lan_wan meta l4proto tcp ct direction original ct original packets 1-6 counter queue num 0 bypass",
            "add rule inet ftwall lan_wan meta l4proto udp ct direction reply ct reply packets 1-3 counter queue num 0 bypass",
            "add rule inet ftwall wan_lan meta l4proto udp th sport 53 ct direction reply counter queue num 0 bypass",
            "add rule inet ftwall input iifname \"br-lan\" meta l4proto udp ct direction reply counter queue num 0 bypass",
            "add rule inet ftwall input iifname \"wan\" meta l4proto udp th sport 53 ct direction reply counter queue num 0 bypass",
            "add rule inet ftwall output oifname \"br-lan\" meta l4proto udp th sport 53 ct direction reply counter queue num 0 bypass",
        ];
        for line in expect {
            assert!(s.lines().any(|l| l == line), "missing line {line:?} in\n{s}");
        }
        assert!(!s.contains("delete"), "a normal apply keeps the table and its sets:\n{s}");
        assert!(!s.contains("reject"), "drop, never reject");
    }

    #[test]
    fn flushes_come_before_rules_and_declarations_before_flushes() {
        let s = render(&spec());
        let lines: Vec<&str> = s.lines().collect();
        let pos = |p: &str| lines.iter().position(|l| l.starts_with(p)).unwrap();
        let last = |p: &str| lines.iter().rposition(|l| l.starts_with(p)).unwrap();
        assert!(last("add set") < pos("add chain"));
        assert!(last("add chain") < pos("flush chain"));
        assert!(last("flush chain") < pos("add rule"));
    }

    #[test]
    fn queue_number_fail_closed_and_count_only() {
        let mut sp = spec();
        sp.queue = 7;
        sp.fail_closed = true;
        let s = render(&sp);
        let queued: Vec<&str> = rule_lines(&s).into_iter().filter(|l| l.contains("queue")).collect();
        // 14 inspection rules (DNS over TCP: one per WAN and one per LAN interface) plus,
        // for each family, the new-UDP rules of a locked client and to a blocked peer.
        assert_eq!(queued.len(), 18);
        assert!(queued.iter().all(|l| l.ends_with("counter queue num 7")), "{queued:?}");
        sp.inspect = Inspect::CountOnly;
        let s = render(&sp);
        assert!(!rule_lines(&s).iter().any(|l| l.contains("queue")), "{s}");
        assert!(rule_lines(&s).iter().filter(|l| l.ends_with(" counter")).count() == 18);
    }

    #[test]
    fn no_ipv6_drops_the_v6_sets_and_passes_v6() {
        let mut sp = spec();
        sp.ipv6 = false;
        let s = render(&sp);
        assert!(s.contains("delete set inet ftwall ftwall_locked6\n") && s.contains("delete set inet ftwall ftwall_peers6\n"));
        assert!(!rule_lines(&s).iter().any(|l| l.contains("ip6 ") || l.contains("locked6") || l.contains("peers6")));
        for c in ["forward", "input", "output"] {
            let first = rule_lines(&s).into_iter().find(|l| l.starts_with(&format!("add rule inet ftwall {c} "))).unwrap();
            assert_eq!(first, format!("add rule inet ftwall {c} meta nfproto ipv6 return"));
        }
    }

    #[test]
    fn a_batch_is_at_most_three_statements_per_set() {
        let ip = |s: &str| -> IpAddr { s.parse().unwrap() };
        let mut out = String::new();
        batch_script("ftwall_locked4", &[ip("192.0.2.1")], &[(ip("192.0.2.2"), Some(120)), (ip("192.0.2.3"), Some(60))], &mut out);
        assert_eq!(
            out,
            "add element inet ftwall ftwall_locked4 { 192.0.2.1, 192.0.2.2, 192.0.2.3 }\n\
             delete element inet ftwall ftwall_locked4 { 192.0.2.1, 192.0.2.2, 192.0.2.3 }\n\
             add element inet ftwall ftwall_locked4 { 192.0.2.2 timeout 120s, 192.0.2.3 timeout 60s }\n"
        );
        let mut out = String::new();
        batch_script("ftwall_peers6", &[], &[(ip("2001:db8::1"), None), (ip("2001:db8::2"), None)], &mut out);
        assert_eq!(out, "add element inet ftwall ftwall_peers6 { 2001:db8::1, 2001:db8::2 }\n", "plain adds need no delete");
        let mut out = String::new();
        batch_script("ftwall_peers4", &[ip("198.51.100.1")], &[], &mut out);
        assert_eq!(
            out,
            "add element inet ftwall ftwall_peers4 { 198.51.100.1 }\ndelete element inet ftwall ftwall_peers4 { 198.51.100.1 }\n",
            "removing what may not be there: add it first"
        );
    }

    #[test]
    fn apply_falls_back_to_a_fresh_table_only_when_one_is_there() {
        let mut x = FakeExec::default();
        x.answer("nft -f -", Err("Error: Could not process rule: Operation not supported"));
        x.answer("nft list tables", Ok("table inet fw4\ntable inet ftwall\n"));
        let e = apply(&spec(), &mut x).unwrap_err();
        assert!(e.to_string().contains("Operation not supported"));
        let inputs: Vec<&str> = x.calls.iter().filter(|(c, _)| c == "nft -f -").map(|(_, i)| i.as_deref().unwrap()).collect();
        assert_eq!(inputs.len(), 2);
        assert!(!inputs[0].contains("delete table"));
        assert!(inputs[1].starts_with(FRESH_PREFIX));

        let mut x = FakeExec::default();
        x.answer("nft -f -", Err("Error: Could not process rule: No such file or directory\nadd rule ... queue num 0 bypass"));
        x.answer("nft list tables", Ok("table inet fw4\n"));
        let e = apply(&spec(), &mut x).unwrap_err().to_string();
        assert!(e.contains("kmod-nft-queue"), "{e}");
        assert_eq!(x.commands(), ["nft -f -", "nft list tables"]);
    }

    #[test]
    fn remove_deletes_only_an_existing_table() {
        let mut x = FakeExec::default();
        x.answer("nft list tables", Ok("table inet fw4\n"));
        remove(&mut x).unwrap();
        assert_eq!(x.commands(), ["nft list tables"]);
        let mut x = FakeExec::default();
        x.answer("nft list tables", Ok("table inet ftwall\n"));
        remove(&mut x).unwrap();
        assert_eq!(x.commands(), ["nft list tables", "nft delete table inet ftwall"]);
    }
}
