//! iptables backend (IPCop-style systems, OpenWrt 21.02 fw3): `ftwall_*` chains in the
//! mangle table, jumped to from the top of FORWARD, INPUT and OUTPUT, with the sets in
//! ipset.
//!
//! Why mangle: it runs before the filter table, so the locks and peer blocks act before
//! fw3's accept rules, and a packet the daemon lets through still meets every filter
//! rule afterwards (a verdict or a queue bypass ends only the current table's chain; in
//! filter, fail-open would let queued packets skip the firewall). fw3's `reload` keeps
//! rules it did not make, so ours survive it; `fw3 restart` needs a re-apply (a fw3
//! `include` with `reload '1'`).
//!
//! Applying is done per family with `iptables-restore --noflush`: declaring our chains
//! flushes them, the old jumps are deleted and new ones inserted, all in one atomic
//! restore, after an `--test` run of the same input. A failure after a change undoes it.

use core::fmt::Write;
use std::net::IpAddr;

use super::policy::{self, Chain, Dir, Family, Match, Rule, Target};
use super::{Backend, Exec, Inspect, RuleSpec, RulesError, PASS_MARK, SET_LOCKED4, SET_LOCKED6, SET_PEERS4, SET_PEERS6};

/// iptables-restore waits this long for the xtables lock (fw3 may hold it) instead of
/// failing at once.
const WAIT: &str = "--wait=10";

const ALL_SETS: [&str; 4] = [SET_LOCKED4, SET_PEERS4, SET_LOCKED6, SET_PEERS6];

/// The tools of one family of one iptables flavour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tools {
    pub restore: &'static str,
    pub save: &'static str,
}

pub fn tools(backend: Backend, f: Family) -> Tools {
    match (backend, f) {
        (Backend::IptablesLegacy, Family::V4) => Tools { restore: "iptables-legacy-restore", save: "iptables-legacy-save" },
        (Backend::IptablesLegacy, Family::V6) => Tools { restore: "ip6tables-legacy-restore", save: "ip6tables-legacy-save" },
        (_, Family::V4) => Tools { restore: "iptables-restore", save: "iptables-save" },
        (_, Family::V6) => Tools { restore: "ip6tables-restore", save: "ip6tables-save" },
    }
}

fn ipset_family(f: Family) -> &'static str {
    match f {
        Family::V4 => "inet",
        Family::V6 => "inet6",
    }
}

fn dir_kw(d: Dir) -> (&'static str, &'static str) {
    match d {
        Dir::Original => ("ORIGINAL", "original"),
        Dir::Reply => ("REPLY", "reply"),
    }
}

/// The built-in chain that jumps to each of our base chains.
fn builtin_of(c: Chain) -> Option<&'static str> {
    match c {
        Chain::Forward => Some("FORWARD"),
        Chain::Input => Some("INPUT"),
        Chain::Output => Some("OUTPUT"),
        Chain::LanWan | Chain::WanLan => None,
    }
}

fn jump_rule(c: Chain) -> Option<String> {
    builtin_of(c).map(|b| format!("{b} -j {}", c.ipt_name()))
}

fn rule_text(spec: &RuleSpec, r: &Rule) -> String {
    let mut parts: Vec<String> = vec![format!("-A {}", r.chain.ipt_name())];
    for m in &r.matches {
        parts.push(match m {
            Match::InIf(i) => format!("-i {}", i.ipt()),
            Match::OutIf(i) => format!("-o {}", i.ipt()),
            Match::Proto(p) => format!("-p {}", p.name()),
            Match::SrcIn(set) => format!("-m set --match-set {set} src"),
            Match::DstIn(set) => format!("-m set --match-set {set} dst"),
            Match::Sport(p) => format!("--sport {p}"),
            Match::CtDir(d) => format!("-m conntrack --ctdir {}", dir_kw(*d).0),
            Match::CtPackets(d, n) => format!("-m connbytes --connbytes 1:{n} --connbytes-dir {} --connbytes-mode packets", dir_kw(*d).1),
            Match::Passed => format!("-m mark --mark {PASS_MARK:#x}/{PASS_MARK:#x}"),
            Match::NotPassed => format!("-m mark --mark 0x0/{PASS_MARK:#x}"),
        });
    }
    match r.target {
        Target::Jump(c) => parts.push(format!("-j {}", c.ipt_name())),
        Target::Drop => parts.push("-j DROP".into()),
        Target::Return => parts.push("-j RETURN".into()),
        Target::Inspect => match spec.inspect {
            Inspect::Queue if spec.fail_closed => parts.push(format!("-j NFQUEUE --queue-num {}", spec.queue)),
            Inspect::Queue => parts.push(format!("-j NFQUEUE --queue-num {} --queue-bypass", spec.queue)),
            // A rule without a target only counts.
            Inspect::CountOnly => {}
        },
        Target::InspectLocked => match spec.inspect {
            Inspect::Queue => parts.push(format!("-j NFQUEUE --queue-num {}", spec.queue)),
            Inspect::CountOnly => {}
        },
    }
    parts.join(" ")
}

/// The `ipset restore -exist` input that creates the sets of the spec's families.
/// `timeout 0` makes per-element timeouts possible; an element added without one
/// never expires.
pub fn render_ipsets(spec: &RuleSpec) -> String {
    let mut out = String::new();
    for &f in policy::families(spec) {
        let (locked, peers) = policy::sets_of(f);
        for set in [locked, peers] {
            let _ = writeln!(out, "create {set} hash:ip family {} timeout 0", ipset_family(f));
        }
    }
    out
}

/// The `iptables-restore --noflush` input for one family (jumps inserted, not yet
/// de-duplicated: see [`apply`]).
pub fn render_table(spec: &RuleSpec, f: Family) -> String {
    render_table_replacing(spec, f, &[])
}

fn render_table_replacing(spec: &RuleSpec, f: Family, old_jumps: &[String]) -> String {
    let mut out = String::from("*mangle\n");
    for c in Chain::ALL {
        // In --noflush mode, declaring an existing chain flushes it.
        let _ = writeln!(out, ":{} - [0:0]", c.ipt_name());
    }
    let mut last_why = "";
    for r in policy::rules(spec).iter().filter(|r| r.family.is_none() || r.family == Some(f)) {
        if r.why != last_why {
            let _ = writeln!(out, "# {}: {}", r.chain.ipt_name(), r.why);
            last_why = r.why;
        }
        let _ = writeln!(out, "{}", rule_text(spec, r));
    }
    for j in old_jumps {
        let _ = writeln!(out, "-D {j}");
    }
    for c in Chain::ALL {
        if let Some(b) = builtin_of(c) {
            let _ = writeln!(out, "-I {b} 1 -j {}", c.ipt_name());
        }
    }
    out.push_str("COMMIT\n");
    out
}

/// Everything `ftwall rules print` shows for iptables: the ipset input, then the
/// iptables-restore input of each family.
pub fn render_all(spec: &RuleSpec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# ftwall rules ({}), from `ftwall rules print`.", spec.backend.name());
    let _ = writeln!(out, "# {}", spec.describe());
    let _ = writeln!(out, "# `ftwall rules apply` also deletes old jumps, so that re-applying is idempotent.");
    let _ = writeln!(out, "### ipset restore -exist");
    out.push_str(&render_ipsets(spec));
    for &f in policy::families(spec) {
        let _ = writeln!(out, "### {} --noflush", tools(spec.backend, f).restore);
        out.push_str(&render_table(spec, f));
    }
    out
}

/// What of ftwall a saved mangle table holds: its jumps (as `CHAIN -j target`, once
/// per occurrence) and its chains.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Present {
    pub jumps: Vec<String>,
    pub chains: Vec<String>,
}

impl Present {
    pub fn is_empty(&self) -> bool {
        self.jumps.is_empty() && self.chains.is_empty()
    }
}

/// Reads `iptables-save -t mangle` output.
pub fn present(saved: &str) -> Present {
    let mut p = Present::default();
    for line in saved.lines() {
        if let Some(decl) = line.strip_prefix(":ftwall_") {
            if let Some(name) = decl.split_whitespace().next() {
                p.chains.push(format!("ftwall_{name}"));
            }
        } else if let Some(rule) = line.strip_prefix("-A ") {
            if let Some(j) = Chain::ALL.iter().filter_map(|c| jump_rule(*c)).find(|j| j == rule.trim_end()) {
                p.jumps.push(j);
            }
        }
    }
    p
}

fn removal_script(p: &Present) -> String {
    let mut out = String::from("*mangle\n");
    for j in &p.jumps {
        let _ = writeln!(out, "-D {j}");
    }
    // Flush all before deleting any: our chains jump to each other.
    for c in &p.chains {
        let _ = writeln!(out, "-F {c}");
    }
    for c in &p.chains {
        let _ = writeln!(out, "-X {c}");
    }
    out.push_str("COMMIT\n");
    out
}

fn save(exec: &mut dyn Exec, t: Tools) -> Result<String, RulesError> {
    exec.run(t.save, &["-t", "mangle"], None)
}

fn existing_sets(exec: &mut dyn Exec) -> Result<Vec<String>, RulesError> {
    Ok(exec.run("ipset", &["list", "-n"], None)?.lines().map(|l| l.trim().to_string()).collect())
}

/// Removes ftwall's chains and jumps of one family; returns whether there were any.
fn remove_family(exec: &mut dyn Exec, t: Tools) -> Result<bool, RulesError> {
    let saved = match save(exec, t) {
        Ok(s) => s,
        // No such tool: nothing of ours can be there either.
        Err(RulesError::MissingTool(_)) => return Ok(false),
        Err(e) => return Err(e),
    };
    let p = present(&saved);
    if p.is_empty() {
        return Ok(false);
    }
    exec.run(t.restore, &[WAIT, "--noflush"], Some(&removal_script(&p)))?;
    Ok(true)
}

fn destroy_sets(exec: &mut dyn Exec, sets: &[&str]) -> Result<(), RulesError> {
    let live = match existing_sets(exec) {
        Ok(l) => l,
        Err(RulesError::MissingTool(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    for s in sets.iter().filter(|s| live.iter().any(|l| l == *s)) {
        exec.run("ipset", &["destroy", s], None)?;
    }
    Ok(())
}

pub fn apply(spec: &RuleSpec, exec: &mut dyn Exec) -> Result<(), RulesError> {
    let fams = policy::families(spec);
    let before = existing_sets(exec)?;
    let created: Vec<&str> = ALL_SETS
        .iter()
        .copied()
        .filter(|s| render_ipsets(spec).lines().any(|l| l.split_whitespace().nth(1) == Some(*s)))
        .filter(|s| !before.iter().any(|b| b == s))
        .collect();
    exec.run("ipset", &["restore", "-exist"], Some(&render_ipsets(spec))).map_err(|e| match e {
        RulesError::Tool { what, detail } => RulesError::Tool {
            what,
            detail: format!("{detail}\nhint: an ftwall set exists with other settings; `ftwall rules remove` first"),
        },
        other => other,
    })?;
    // Sets made by this apply go again if it fails (best effort: the error that
    // made us undo is the one to report).
    let undo_sets = |exec: &mut dyn Exec| {
        for s in &created {
            let _ = exec.run("ipset", &["destroy", s], None);
        }
    };

    // Render and test every family before changing any.
    let mut plans = Vec::new();
    for &f in fams {
        let t = tools(spec.backend, f);
        let saved = match save(exec, t) {
            Ok(s) => s,
            Err(e) => {
                undo_sets(exec);
                return Err(e);
            }
        };
        let script = render_table_replacing(spec, f, &present(&saved).jumps);
        if let Err(e) = exec.run(t.restore, &[WAIT, "--test", "--noflush"], Some(&script)) {
            undo_sets(exec);
            return Err(e);
        }
        plans.push((t, saved, script));
    }
    for i in 0..plans.len() {
        let (t, _, script) = &plans[i];
        if let Err(e) = exec.run(t.restore, &[WAIT, "--noflush"], Some(script)) {
            // Put back the tables already changed, as they were.
            for (t, saved, _) in &plans[..i] {
                let _ = exec.run(t.restore, &[WAIT], Some(saved));
            }
            undo_sets(exec);
            return Err(e);
        }
    }
    if !spec.ipv6 {
        // IPv6 turned off since the last apply: take its rules and sets away.
        remove_family(exec, tools(spec.backend, Family::V6))?;
        destroy_sets(exec, &[SET_LOCKED6, SET_PEERS6])?;
    }
    Ok(())
}

pub fn remove(backend: Backend, exec: &mut dyn Exec) -> Result<(), RulesError> {
    for f in [Family::V4, Family::V6] {
        remove_family(exec, tools(backend, f))?;
    }
    destroy_sets(exec, &ALL_SETS)
}

/// True if this flavour of iptables and ipset are installed and answer.
pub fn usable(backend: Backend, exec: &mut dyn Exec) -> bool {
    save(exec, tools(backend, Family::V4)).is_ok() && exec.run("ipset", &["version"], None).is_ok()
}

/// Appends to `out` the `ipset restore` lines of one batch of changes to `set`:
/// `removes` leave it, `adds` enter it (a timeout replaces the element's old one).
/// `-exist` on every line: adding what is there or removing what is not is no error.
pub fn batch_lines(set: &str, removes: &[IpAddr], adds: &[(IpAddr, Option<u32>)], out: &mut String) {
    use std::fmt::Write;
    for ip in removes {
        let _ = writeln!(out, "del {set} {ip} -exist");
    }
    for (ip, timeout) in adds {
        let _ = match timeout {
            Some(secs) => writeln!(out, "add {set} {ip} timeout {secs} -exist"),
            None => writeln!(out, "add {set} {ip} -exist"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::exec::fake::FakeExec;

    fn spec() -> RuleSpec {
        RuleSpec::new(Backend::Iptables, vec!["br-lan".parse().unwrap()], vec!["wan".parse().unwrap(), "ppp+".parse().unwrap()])
    }

    const EMPTY: &str = "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n";
    const APPLIED: &str = "*mangle\n:PREROUTING ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:ftwall_forward - [0:0]\n:ftwall_lan_wan - [0:0]\n-A FORWARD -j ftwall_forward\n-A FORWARD -j ftwall_forward\n-A FORWARD -i x -j ACCEPT\n-A INPUT -j ftwall_input\n-A ftwall_forward -i br-lan -o wan -j ftwall_lan_wan\nCOMMIT\n";

    #[test]
    fn v4_table_rules() {
        let s = render_table(&spec(), Family::V4);
        let expect = [
            "*mangle",
            ":ftwall_forward - [0:0]",
            ":ftwall_wan_lan - [0:0]",
            "-A ftwall_forward -i br-lan -o wan -j ftwall_lan_wan",
            "-A ftwall_forward -i br-lan -o ppp+ -j ftwall_lan_wan",
            "-A ftwall_forward -i ppp+ -o br-lan -j ftwall_wan_lan",
            "-A ftwall_lan_wan -m set --match-set ftwall_locked4 src -j DROP",
            "-A ftwall_lan_wan -m set --match-set ftwall_peers4 dst -j DROP",
            "-A ftwall_wan_lan -m set --match-set ftwall_locked4 dst -j DROP",
            "-A ftwall_wan_lan -m set --match-set ftwall_peers4 src -j DROP",
            "-A ftwall_lan_wan -m mark --mark 0x10000000/0x10000000 -j RETURN",
            "-A ftwall_lan_wan -p tcp -m conntrack --ctdir ORIGINAL -m connbytes --connbytes 1:6 --connbytes-dir original --connbytes-mode packets -j NFQUEUE --queue-num 0 --queue-bypass",
            "-A ftwall_lan_wan -p udp -m conntrack --ctdir REPLY -m connbytes --connbytes 1:3 --connbytes-dir reply --connbytes-mode packets -j NFQUEUE --queue-num 0 --queue-bypass",
            "-A ftwall_wan_lan -p udp --sport 53 -m conntrack --ctdir REPLY -j NFQUEUE --queue-num 0 --queue-bypass",
            "-A ftwall_input -i br-lan -p udp -m conntrack --ctdir REPLY -j NFQUEUE --queue-num 0 --queue-bypass",
            "-A ftwall_input -i ppp+ -p udp --sport 53 -m conntrack --ctdir REPLY -j NFQUEUE --queue-num 0 --queue-bypass",
            "-A ftwall_output -o br-lan -p udp --sport 53 -m conntrack --ctdir REPLY -j NFQUEUE --queue-num 0 --queue-bypass",
            "-I FORWARD 1 -j ftwall_forward",
            "-I INPUT 1 -j ftwall_input",
            "-I OUTPUT 1 -j ftwall_output",
            "COMMIT",
        ];
        for line in expect {
            assert!(s.lines().any(|l| l == line), "missing {line:?} in\n{s}");
        }
        assert!(!s.contains("locked6") && !s.contains("REJECT"));
        assert_eq!(s.lines().last(), Some("COMMIT"));
    }

    #[test]
    fn v6_table_uses_v6_sets_only() {
        let s = render_table(&spec(), Family::V6);
        assert!(s.contains("--match-set ftwall_locked6 src -j DROP") && s.contains("--match-set ftwall_peers6 dst -j DROP"));
        assert!(!s.contains("locked4") && !s.contains("peers4"));
    }

    #[test]
    fn ipsets_and_print() {
        let mut sp = spec();
        assert_eq!(
            render_ipsets(&sp),
            "create ftwall_locked4 hash:ip family inet timeout 0\ncreate ftwall_peers4 hash:ip family inet timeout 0\n\
             create ftwall_locked6 hash:ip family inet6 timeout 0\ncreate ftwall_peers6 hash:ip family inet6 timeout 0\n"
        );
        let all = render_all(&sp);
        assert!(all.contains("### iptables-restore --noflush") && all.contains("### ip6tables-restore --noflush"));
        sp.ipv6 = false;
        sp.backend = Backend::IptablesLegacy;
        let all = render_all(&sp);
        assert!(all.contains("### iptables-legacy-restore --noflush") && !all.contains("ip6tables") && !all.contains("inet6"));
    }

    #[test]
    fn fail_closed_and_count_only_targets() {
        let mut sp = spec();
        sp.fail_closed = true;
        sp.queue = 3;
        let s = render_table(&sp, Family::V4);
        let q: Vec<&str> = s.lines().filter(|l| l.contains("NFQUEUE")).collect();
        // 14 inspection rules (DNS over TCP: one per WAN and one per LAN interface) plus
        // the new-UDP rules of a locked client and to a blocked peer.
        assert_eq!(q.len(), 16);
        assert!(q.iter().all(|l| l.ends_with("-j NFQUEUE --queue-num 3")), "{q:?}");
        sp.inspect = Inspect::CountOnly;
        let s = render_table(&sp, Family::V4);
        assert!(!s.contains("NFQUEUE"));
        assert!(s.contains("-A ftwall_lan_wan -p tcp -m conntrack --ctdir ORIGINAL -m connbytes --connbytes 1:6 --connbytes-dir original --connbytes-mode packets\n"));
    }

    #[test]
    fn present_finds_our_jumps_and_chains_only() {
        let p = present(APPLIED);
        assert_eq!(p.jumps, ["FORWARD -j ftwall_forward", "FORWARD -j ftwall_forward", "INPUT -j ftwall_input"]);
        assert_eq!(p.chains, ["ftwall_forward", "ftwall_lan_wan"]);
        assert!(present(EMPTY).is_empty());
        assert_eq!(
            removal_script(&p),
            "*mangle\n-D FORWARD -j ftwall_forward\n-D FORWARD -j ftwall_forward\n-D INPUT -j ftwall_input\n\
             -F ftwall_forward\n-F ftwall_lan_wan\n-X ftwall_forward\n-X ftwall_lan_wan\nCOMMIT\n"
        );
    }

    #[test]
    fn reapply_deletes_old_jumps_in_the_same_restore() {
        let mut x = FakeExec::default();
        x.answer("ipset list -n", Ok("ftwall_locked4\nftwall_peers4\nftwall_locked6\nftwall_peers6\n"));
        x.answer("iptables-save", Ok(APPLIED));
        x.answer("ip6tables-save", Ok(EMPTY));
        apply(&spec(), &mut x).unwrap();
        let v4: Vec<&String> = x.calls.iter().filter(|(c, _)| c == "iptables-restore --wait=10 --noflush").filter_map(|(_, i)| i.as_ref()).collect();
        assert_eq!(v4.len(), 1);
        let s = v4[0];
        assert_eq!(s.matches("-D FORWARD -j ftwall_forward\n").count(), 2);
        assert_eq!(s.matches("-D INPUT -j ftwall_input\n").count(), 1);
        assert!(!s.contains("-D OUTPUT"));
        assert!(s.find("-D FORWARD").unwrap() < s.find("-I FORWARD 1").unwrap());
        assert_eq!(
            x.commands(),
            [
                "ipset list -n",
                "ipset restore -exist",
                "iptables-save -t mangle",
                "iptables-restore --wait=10 --test --noflush",
                "ip6tables-save -t mangle",
                "ip6tables-restore --wait=10 --test --noflush",
                "iptables-restore --wait=10 --noflush",
                "ip6tables-restore --wait=10 --noflush",
            ]
        );
    }

    #[test]
    fn a_failed_test_changes_nothing_and_drops_new_sets() {
        let mut x = FakeExec::default();
        x.answer("ipset list -n", Ok("ftwall_locked4\n"));
        x.answer("iptables-save", Ok(EMPTY));
        x.answer("ip6tables-save", Ok(EMPTY));
        x.answer("ip6tables-restore --wait=10 --test", Err("ip6tables-restore: line 7 failed"));
        let e = apply(&spec(), &mut x).unwrap_err();
        assert!(e.to_string().contains("line 7 failed"));
        let cmds = x.commands();
        assert!(!cmds.iter().any(|c| c.contains("restore --wait=10 --noflush")), "{cmds:?}");
        // ftwall_locked4 was there before: kept. The three created now are destroyed.
        let destroyed: Vec<&str> = cmds.iter().filter_map(|c| c.strip_prefix("ipset destroy ")).collect();
        assert_eq!(destroyed, ["ftwall_peers4", "ftwall_locked6", "ftwall_peers6"]);
    }

    #[test]
    fn a_failed_second_commit_restores_the_first_table() {
        let mut x = FakeExec::default();
        x.answer("ipset list -n", Ok("ftwall_locked4\nftwall_peers4\nftwall_locked6\nftwall_peers6\n"));
        x.answer("iptables-save", Ok(APPLIED));
        x.answer("ip6tables-save", Ok(EMPTY));
        x.answer("ip6tables-restore --wait=10 --noflush", Err("boom"));
        assert!(apply(&spec(), &mut x).is_err());
        let undo: Vec<&(String, Option<String>)> = x.calls.iter().filter(|(c, _)| c == "iptables-restore --wait=10").collect();
        assert_eq!(undo.len(), 1, "{:?}", x.commands());
        assert_eq!(undo[0].1.as_deref(), Some(APPLIED));
        assert!(!x.commands().iter().any(|c| c.starts_with("ipset destroy")), "the sets existed before");
    }

    #[test]
    fn no_ipv6_cleans_old_v6_state() {
        let mut sp = spec();
        sp.ipv6 = false;
        let mut x = FakeExec::default();
        x.answer("ipset list -n", Ok("ftwall_locked4\nftwall_peers4\nftwall_locked6\nftwall_peers6\n"));
        x.answer("iptables-save", Ok(EMPTY));
        x.answer("ip6tables-save", Ok(APPLIED));
        apply(&sp, &mut x).unwrap();
        let cmds = x.commands();
        assert!(!cmds.contains(&"ip6tables-restore --wait=10 --test --noflush"));
        assert!(cmds.contains(&"ip6tables-restore --wait=10 --noflush"));
        assert!(cmds.contains(&"ipset destroy ftwall_locked6") && cmds.contains(&"ipset destroy ftwall_peers6"));
        assert!(!cmds.contains(&"ipset destroy ftwall_locked4"));
    }

    #[test]
    fn remove_takes_everything_and_tolerates_absence() {
        let mut x = FakeExec::default();
        x.answer("ipset list -n", Ok("other\nftwall_peers4\n"));
        x.answer("iptables-save", Ok(APPLIED));
        x.answer("ip6tables-save", Err("ip6tables-save: mangle table missing"));
        assert!(remove(Backend::Iptables, &mut x).is_err(), "a failing save is reported");

        let mut x = FakeExec::default();
        x.answer("ipset list -n", Ok("other\nftwall_peers4\n"));
        x.answer("iptables-save", Ok(APPLIED));
        x.answer("ip6tables-save", Ok(EMPTY));
        remove(Backend::Iptables, &mut x).unwrap();
        assert_eq!(
            x.commands(),
            ["iptables-save -t mangle", "iptables-restore --wait=10 --noflush", "ip6tables-save -t mangle", "ipset list -n", "ipset destroy ftwall_peers4"]
        );
    }

    #[test]
    fn ipset_arguments() {
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let mut out = String::new();
        batch_lines("ftwall_locked4", &["192.0.2.8".parse().unwrap()], &[(ip, Some(60)), ("192.0.2.10".parse().unwrap(), None)], &mut out);
        assert_eq!(out, "del ftwall_locked4 192.0.2.8 -exist\nadd ftwall_locked4 192.0.2.9 timeout 60 -exist\nadd ftwall_locked4 192.0.2.10 -exist\n");
    }
}
