//! Bad configuration, option by option, through the real binary: every invalid value,
//! a missing value, an option given twice where it may appear once, a value given to a
//! flag, unknown options and contradictory settings. Each gives exactly one line on
//! stderr naming the culprit, nothing on stdout, and exit status 2, under every command
//! (the daemon, inspect, rules, status), so nothing starts and nothing is changed. A good
//! value of each option runs `inspect` to exit status 0, so the 2 comes from the value.
//! Runtime errors (an unreadable capture) give one line and exit status 1, as ftwall(8)
//! documents. In a network namespace with ftwall's rules in place (root), `rules apply`
//! and `rules remove` with any bad configuration leave every rule and set as it was.

// cross-test: host-only (runs the ftwall binary and namespaces; cross/check.sh covers the binary)
mod common;
mod netns;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ftwall");

/// One option: long name, short letter, whether it takes a value (None: a flag), good
/// values, bad values, and whether it may be repeated.
struct Opt {
    long: &'static str,
    short: Option<char>,
    good: &'static [&'static str],
    bad: &'static [&'static str],
    takes_value: bool,
    repeatable: bool,
}

const fn flag(long: &'static str, short: Option<char>) -> Opt {
    Opt { long, short, good: &[], bad: &[], takes_value: false, repeatable: false }
}

const fn once(long: &'static str, short: Option<char>, good: &'static [&'static str], bad: &'static [&'static str]) -> Opt {
    Opt { long, short, good, bad, takes_value: true, repeatable: false }
}

const fn multi(long: &'static str, short: Option<char>, good: &'static [&'static str], bad: &'static [&'static str]) -> Opt {
    Opt { long, short, good, bad, takes_value: true, repeatable: true }
}

/// Every option of `ftwall --help`. `good` values that name files are filled in at run
/// time ("@patterns" is the shipped pattern list, "@tmp" a path in a temporary directory,
/// "@missing" a file that does not exist, "@dir" a directory, "@binary" a file that is
/// not text).
const OPTIONS: &[Opt] = &[
    Opt { long: "debug", short: Some('d'), good: &["A", "-", "datD", "hpl"], bad: &["X", "Aq", "A b", "\u{1b}"], takes_value: true, repeatable: false },
    flag("foreground", Some('s')),
    flag("no-udp-block", Some('n')),
    once("buffer", Some('b'), &["256", "2048", "65535"], &["0", "10", "255", "65536", "abc", "-1", "", "4096k", "1e3", "99999999999999999999"]),
    once("storefile", Some('f'), &["@tmp"], &[]),
    once("lock-time", Some('t'), &["0", "120", "604800"], &["604801", "abc", "-5", "1.5", "", "99999999999999999999"]),
    once("client-dir", Some('c'), &["@tmp"], &[]),
    multi("syslog", Some('l'), &["uUtTcpm", "", "daD", "x"], &["utxk", "y", " ", "U T"]),
    multi("stderr", Some('L'), &["uUtTcpm", "p"], &["q", "-", "pp!"]),
    multi("router-addr", Some('a'), &["192.168.1.1", "2001:db8::1"], &["notanip", "192.168.1.256", "192.168.1.0/24", "", "1.2.3"]),
    once("dns-training", Some('D'), &["@tmp"], &[]),
    multi("pattern", Some('w'), &["*.winmx.com", "server.napster.com", "*napigator.com"], &["", "win mx.com", LONG_NAME_PLUS, "*.com", "*", "www.*.com", "winmx..com"]),
    multi("pattern-file", None, &["@patterns"], &["@missing", "@dir", "@binary", "", "/dev/zero"]),
    once("queue", Some('q'), &["0", "65535"], &["65536", "-1", "x", "", "0x10"]),
    multi("lan-if", None, &["br-lan", "eth0.1"], &["", "a/b", "0123456789abcdef", "eth 0", "a:b", ".", ".."]),
    multi("wan-if", None, &["wan", "pppoe-wan"], &["", "a/b", "0123456789abcdef", "eth\t0"]),
    multi("lan", None, &["192.168.1.0/24", "2001:db8:1::/64", "192.168.1.1"], &["10.0.0.0/33", "300.0.0.0/8", "2001:db8::/129", "x", "", "10.0.0.0/"]),
    flag("monitor", None),
    multi("exempt", None, &["192.168.1.5", "192.168.1.0/28", "02:00:00:00:00:01", "2001:db8::5"], &["zz:zz", "192.168.1.0/33", "host", "", "02:00:00:00:00"]),
    multi("never-block", None, &["198.51.100.0/24", "2001:db8::/32"], &["198.51.100.0/99", "x", ""]),
    once("protocols", None, &["all", "fasttrack,winmx", "-bittorrent", "dns"], &["kazaa", "fasttrack,,winmx", "", "-", "all,napster"]),
    flag("fail-closed", None),
    flag("no-ipv6", None),
    once("backend", None, &["auto", "nft", "nftables", "iptables", "iptables-legacy"], &["pf", "", " nft", "NFT", "legacy"]),
    flag("allow-missing-if", None),
    once("status-file", None, &["@tmp"], &[]),
    once("pidfile", None, &["@tmp"], &[]),
    flag("summary", None),
    flag("help", Some('h')),
    flag("version", Some('V')),
];

/// A 254-character pattern (one more than any DNS name has).
const LONG_NAME_PLUS: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A temporary directory with a one-packet capture, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ftwall-bad-config-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let packet = common::udp("192.168.1.2:5000", "198.51.100.9:53", b"\x12\x34\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00");
        let mut pcap = Vec::new();
        for v in [0xa1b2_c3d4u32] {
            pcap.extend_from_slice(&v.to_le_bytes());
        }
        pcap.extend_from_slice(&2u16.to_le_bytes());
        pcap.extend_from_slice(&4u16.to_le_bytes());
        for v in [0u32, 0, 65535, 101, 1_700_000_000, 0, packet.len() as u32, packet.len() as u32] {
            pcap.extend_from_slice(&v.to_le_bytes());
        }
        pcap.extend_from_slice(&packet);
        std::fs::write(dir.join("one.pcap"), pcap).expect("write capture");
        std::fs::write(dir.join("binary"), b"*.winmx.com\n\xff\xfe\x00\n").expect("write binary");
        Scratch(dir)
    }

    fn capture(&self) -> String {
        self.0.join("one.pcap").display().to_string()
    }

    fn fill(&self, value: &str) -> String {
        match value {
            "@tmp" => self.0.join("file").display().to_string(),
            "@missing" => self.0.join("missing/patterns").display().to_string(),
            "@dir" => self.0.display().to_string(),
            "@binary" => self.0.join("binary").display().to_string(),
            "@patterns" => Path::new(env!("CARGO_MANIFEST_DIR")).join("files/ftwall.patterns").display().to_string(),
            v => v.to_string(),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one run of ftwall gave.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn ftwall(args: &[String]) -> Outcome {
    let out = Command::new(BIN).args(args).output().expect("run ftwall");
    Outcome { code: out.status.code(), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() }
}

/// The command forms every bad option is tried under.
fn commands(s: &Scratch) -> Vec<Vec<String>> {
    vec![vec![], vec!["inspect".into(), s.capture()], vec!["rules".into(), "print".into()], vec!["status".into()]]
}

/// Runs one command line and checks: exit status 2, nothing on stdout, one line on
/// stderr that names one of `culprits`.
fn check_refused(cmd: &[String], culprits: &[String]) {
    let (program, args) = cmd.split_first().expect("a command");
    let out = Command::new(program).args(args).output().expect("run ftwall");
    let o = Outcome { code: out.status.code(), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() };
    let all = cmd;
    assert_eq!(o.code, Some(2), "{all:?}: exit status (stderr {:?})", o.stderr);
    assert!(o.stdout.is_empty(), "{all:?}: printed {:?}", o.stdout);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{all:?}: not one line: {:?}", o.stderr);
    assert!(lines[0].starts_with("ftwall: ") && lines[0].len() > 20, "{all:?}: {:?}", lines[0]);
    assert!(!lines[0].chars().any(char::is_control), "{all:?}: control characters in {:?}", lines[0]);
    assert!(culprits.iter().any(|c| !c.is_empty() && lines[0].contains(c.as_str())), "{all:?}: {:?} names none of {culprits:?}", lines[0]);
}

/// Runs `args` under every command and checks: exit status 2, nothing on stdout, one
/// line on stderr that names one of `culprits`.
fn refused(s: &Scratch, args: &[String], culprits: &[String]) {
    for cmd in commands(s) {
        let all: Vec<String> = std::iter::once(BIN.to_string()).chain(cmd).chain(args.iter().cloned()).collect();
        check_refused(&all, culprits);
    }
}

/// The ways to give `value` to an option: `--long VALUE`, `--long=VALUE`, `-x VALUE`.
/// An optional value (`-d`) only counts when joined: `--debug=VALUE`, `-dVALUE`.
fn forms(o: &Opt, value: &str) -> Vec<Vec<String>> {
    let optional = o.long == "debug";
    let mut f = vec![vec![format!("--{}={value}", o.long)]];
    if !optional {
        f.push(vec![format!("--{}", o.long), value.to_string()]);
    }
    if let Some(x) = o.short {
        f.push(if optional { vec![format!("-{x}{value}")] } else { vec![format!("-{x}"), value.to_string()] });
    }
    f
}

/// How an option is written in an error message: its long name, `-x`, or the value.
fn culprits(o: &Opt, value: &str) -> Vec<String> {
    let mut c = vec![o.long.to_string(), format!("--{}", o.long)];
    if let Some(x) = o.short {
        c.push(format!("-{x}"));
        c.push(format!("'{x}'"));
    }
    if !value.chars().any(char::is_control) {
        c.push(format!("'{value}'"));
    }
    c
}

#[test]
fn every_option_in_the_help_is_in_the_table() {
    let usage = ftwall::cli::settings::options().usage("");
    let listed: BTreeSet<String> = usage
        .lines()
        .filter(|l| l.trim_start().starts_with('-'))
        .flat_map(|l| l.split_whitespace().take(3).map(str::to_string).collect::<Vec<_>>())
        .filter_map(|w| w.strip_prefix("--").map(|n| n.trim_end_matches(',').split(['=', '[']).next().unwrap_or("").to_string()))
        .collect();
    let table: BTreeSet<String> = OPTIONS.iter().map(|o| o.long.to_string()).collect();
    assert!(listed.len() > 25, "usage parsed badly: {listed:?}");
    assert_eq!(listed, table, "options without a bad-configuration case, or cases for options that are gone");
}

#[test]
fn good_values_run() {
    let s = Scratch::new("good");
    for o in OPTIONS {
        let values: Vec<Option<&str>> = if o.takes_value { o.good.iter().map(|v| Some(*v)).collect() } else { vec![None] };
        assert!(!values.is_empty(), "--{}: no good value in the table", o.long);
        for v in values {
            let arg_forms = match v {
                Some(v) => forms(o, &s.fill(v)),
                None => vec![vec![format!("--{}", o.long)]].into_iter().chain(o.short.map(|x| vec![format!("-{x}")])).collect(),
            };
            for form in arg_forms {
                let args: Vec<String> = ["inspect".to_string(), s.capture()].into_iter().chain(form).collect();
                let out = ftwall(&args);
                assert_eq!(out.code, Some(0), "{args:?}: {:?}", out.stderr);
            }
        }
    }
}

#[test]
fn every_bad_value_of_every_option_is_one_line_and_status_2() {
    let s = Scratch::new("bad");
    let mut cases = 0;
    for o in OPTIONS {
        for bad in o.bad {
            let bad = s.fill(bad);
            for form in forms(o, &bad) {
                refused(&s, &form, &culprits(o, &bad));
            }
            cases += 1;
        }
    }
    assert!(cases > 70, "only {cases} bad values");
}

#[test]
fn missing_values_repeats_and_values_given_to_flags() {
    let s = Scratch::new("shape");
    for o in OPTIONS {
        let c = culprits(o, "");
        if o.takes_value {
            if o.long != "debug" {
                // A value-taking option at the end of the line, with nothing after it.
                refused(&s, &[format!("--{}", o.long)], &c);
            }
            if !o.repeatable {
                let v = s.fill(o.good[0]);
                refused(&s, &[format!("--{}", o.long), v.clone(), format!("--{}", o.long), v], &c);
            }
        } else {
            refused(&s, &[format!("--{}=yes", o.long)], &c);
        }
    }
}

#[test]
fn unknown_options_and_contradictions() {
    let s = Scratch::new("unknown");
    for unknown in ["--frobnicate", "--lan-iff", "--moni", "-z", "-j", "--help-me", "--LAN"] {
        let name = unknown.trim_start_matches('-');
        refused(&s, &[unknown.to_string()], &[format!("'{name}'")]);
    }
    // The same interface on both sides.
    refused(&s, &["--lan-if".into(), "eth0".into(), "--wan-if".into(), "eth0".into()], &["'eth0'".into()]);
    refused(&s, &["--wan-if".into(), "br-lan".into(), "--lan-if".into(), "wan".into(), "--lan-if".into(), "br-lan".into()], &["'br-lan'".into()]);
}

#[test]
fn runtime_errors_are_one_line_and_status_1() {
    let s = Scratch::new("runtime");
    let not_a_capture = s.0.join("not-a-capture");
    std::fs::write(&not_a_capture, b"hello, world\n").expect("write");
    let missing = s.0.join("missing.pcap");
    for (file, says) in [(missing.display().to_string(), "cannot open"), (not_a_capture.display().to_string(), "not a pcap")] {
        let o = ftwall(&["inspect".into(), file.clone()]);
        assert_eq!(o.code, Some(1), "{file}: {:?}", o.stderr);
        assert_eq!(o.stderr.lines().count(), 1, "{:?}", o.stderr);
        assert!(o.stderr.contains(says) && o.stderr.contains(&file), "{:?}", o.stderr);
    }
    // A usage error of inspect itself: no capture, or two.
    for args in [vec!["inspect".to_string()], vec!["inspect".into(), s.capture(), s.capture()]] {
        let o = ftwall(&args);
        assert_eq!((o.code, o.stderr.lines().count()), (Some(2), 1), "{args:?}: {:?}", o.stderr);
    }
}

/// Every bad command line of this file, each with the words that may name its culprit.
fn bad_lines(s: &Scratch) -> Vec<(Vec<String>, Vec<String>)> {
    let mut lines = Vec::new();
    for o in OPTIONS {
        for bad in o.bad {
            let bad = s.fill(bad);
            lines.extend(forms(o, &bad).into_iter().map(|f| (f, culprits(o, &bad))));
        }
        if o.takes_value && o.long != "debug" {
            lines.push((vec![format!("--{}", o.long)], culprits(o, "")));
        } else if !o.takes_value {
            lines.push((vec![format!("--{}=yes", o.long)], culprits(o, "")));
        }
    }
    for unknown in ["--frobnicate", "-z"] {
        lines.push((vec![unknown.to_string()], vec![format!("'{}'", unknown.trim_start_matches('-'))]));
    }
    lines.push((vec!["--lan-if".into(), "wan0".into()], vec!["'wan0'".into()]));
    lines
}

/// Everything netfilter holds in the namespace: nftables (iptables-nft's tables too),
/// iptables and ip6tables, ipset; comment lines (dates) left out.
fn firewall_state(ns: &netns::Ns) -> String {
    let mut all = String::new();
    for cmd in [&["nft", "list", "ruleset"][..], &["iptables-save"], &["ip6tables-save"], &["ipset", "list"]] {
        let text = ns.run(cmd).unwrap_or_else(|e| format!("{cmd:?} failed: {e}"));
        all.push_str(&format!("### {cmd:?}\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            all.push_str(line);
            all.push('\n');
        }
    }
    all
}

#[test]
fn bad_configuration_changes_no_firewall_rule() {
    let test = "bad_configuration_changes_no_firewall_rule";
    if !netns::require_root(test) || !["nft", "iptables-save", "ip6tables-save", "ipset"].iter().all(|t| netns::require_tool(test, t)) {
        return;
    }
    let s = Scratch::new("rules");
    let ns = netns::Ns::new("badcfg");
    ns.ok(&["ip", "link", "add", "lan0", "type", "veth", "peer", "name", "wan0"]);
    // ftwall's rules and sets in place (iptables: this kernel may lack nftables' queue).
    let ok = ns.run(&[BIN, "rules", "apply", "--backend", "iptables", "--lan-if", "lan0", "--wan-if", "wan0"]);
    assert!(ok.is_ok(), "good rules apply: {ok:?}");
    let before = firewall_state(&ns);
    assert!(before.contains("ftwall_locked4") && before.contains("ftwall_peers6"), "rules missing: {before}");

    let mut runs = 0;
    for backend in ["iptables", "nft"] {
        for verb in ["apply", "remove"] {
            for (bad, culprits) in bad_lines(&s) {
                let base = ["ip", "netns", "exec", ns.name.as_str(), BIN, "rules", verb, "--lan-if", "lan0", "--wan-if", "wan0"];
                let mut cmd: Vec<String> = base.iter().map(|w| w.to_string()).collect();
                if !bad.iter().any(|w| w.starts_with("--backend")) {
                    cmd.extend(["--backend".to_string(), backend.to_string()]);
                }
                cmd.extend(bad);
                check_refused(&cmd, &culprits);
                runs += 1;
            }
            let after = firewall_state(&ns);
            assert_eq!(after, before, "a refused `rules {verb}` (--backend {backend}) changed the firewall");
        }
    }
    assert!(runs > 300, "only {runs} bad command lines");
    netns::loud(&format!("{test}: {runs} refused `rules apply/remove` command lines, firewall unchanged"));
}
