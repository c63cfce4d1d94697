//! `ftwall rules` against the real kernel, in network namespaces (root only; under
//! CI=true a missing root or tool fails the test).
//!
//! For each backend (nft, iptables as installed, iptables-legacy): apply, read the live
//! ruleset back and check it; apply twice gives the same ruleset; set elements survive
//! a re-apply; a wrong interface is refused with no change; a 2 s lock appears and
//! expires by itself; remove leaves nothing behind. Then real traffic through a router
//! namespace: fail-open without a daemon lets traffic through, fail-closed stops
//! queued traffic, a locked client (old connections included) is cut off while another
//! is not, a blocked peer is unreachable, and a long exchange queues only the first
//! packets of its flow. Batched set updates: 500 new locks and 500 new peers reach the
//! kernel sets in a bounded number of commands (counted), and a batch naming a missing
//! set still lands the other sets' changes.

// cross-test: host-only (namespaces and the host's netfilter; see cross/README.md)
mod netns;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ftwall::rules::{self, nft, Backend, CommandSets, Exec, Iface, Inspect, RuleSpec, RulesError, SystemExec};
use ftwall::time::Millis;
use netns::*;

const PORT: u16 = 7000;

fn ifs(names: &[&str]) -> Vec<Iface> {
    names.iter().map(|n| n.parse().unwrap()).collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// The tools a backend needs, or a loud message (and a failure under CI).
fn backend_ready(test: &str, b: Backend) -> bool {
    if !require_root(test) {
        return false;
    }
    let tools: &[&str] = match b {
        Backend::Nft => &["nft"],
        Backend::Iptables => &["iptables-restore", "ip6tables-restore", "ipset"],
        Backend::IptablesLegacy => &["iptables-legacy-restore", "ip6tables-legacy-restore", "ipset"],
    };
    tools.iter().all(|t| require_tool(test, t))
}

/// Whether this kernel can queue from nftables (nft_queue). Many can; the test machines'
/// kernel may not, and then the nft tests check everything but the queue itself.
fn nft_can_queue() -> bool {
    let ns = Ns::new("probe");
    ns.enter(|| nft::usable(&mut SystemExec))
}

fn inspect_mode(test: &str, b: Backend) -> Inspect {
    if b == Backend::Nft && !nft_can_queue() {
        loud(&format!(
            "!!! {test}: this kernel has no nftables queue (nft_queue): the nft rules are tested with their \
             queue statements replaced by counters; the queue path itself is NOT tested with nft here !!!"
        ));
        Inspect::CountOnly
    } else {
        Inspect::Queue
    }
}

fn apply_in(ns: &Ns, spec: &RuleSpec) -> Result<(), RulesError> {
    ns.enter(|| rules::apply(spec, &mut SystemExec))
}

/// Runs kernel set updates inside the namespace.
fn with_sets<T: Send>(ns: &Ns, spec: &RuleSpec, f: impl FnOnce(&mut CommandSets<SystemExec>) -> T + Send) -> T {
    let mut k = CommandSets::new(spec.backend, spec.ipv6, SystemExec);
    ns.enter(move || f(&mut k))
}

fn strip_counters(text: &str) -> String {
    // nft: "counter packets 12 bytes 3456" -> "counter"; iptables-save: "[12:3456]" -> "[0:0]".
    let mut out = String::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let words: Vec<&str> = line.split(' ').collect();
        let mut kept: Vec<String> = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            if w == "counter" && words.get(i + 1) == Some(&"packets") && words.get(i + 3) == Some(&"bytes") {
                kept.push("counter".into());
                i += 5;
                continue;
            }
            let bracketed = w.starts_with('[') && w.ends_with(']') && w[1..w.len() - 1].split(':').all(|n| n.parse::<u64>().is_ok());
            kept.push(if bracketed { "[0:0]".into() } else { w.to_string() });
            i += 1;
        }
        out.push_str(&kept.join(" "));
        out.push('\n');
    }
    out
}

fn ipt_tools(b: Backend) -> (&'static str, &'static str) {
    match b {
        Backend::IptablesLegacy => ("iptables-legacy-save", "ip6tables-legacy-save"),
        _ => ("iptables-save", "ip6tables-save"),
    }
}

/// The live ruleset of a backend, without counters, plus (iptables) the ftwall ipsets.
fn live(ns: &Ns, b: Backend) -> String {
    match b {
        Backend::Nft => ns.run(&["nft", "list", "table", "inet", "ftwall"]).map(|t| strip_counters(&t)).unwrap_or_default(),
        _ => {
            let (s4, s6) = ipt_tools(b);
            let mut sets: Vec<String> =
                ns.ok(&["ipset", "list", "-n"]).lines().filter(|l| l.starts_with("ftwall")).map(str::to_string).collect();
            sets.sort();
            format!(
                "{}### v6\n{}### sets\n{}\n",
                strip_counters(&ns.ok(&[s4, "-t", "mangle"])),
                strip_counters(&ns.ok(&[s6, "-t", "mangle"])),
                sets.join("\n")
            )
        }
    }
}

/// True if nothing of ftwall is left in the namespace, for this backend.
fn nothing_left(ns: &Ns, b: Backend) -> Result<(), String> {
    if b == Backend::Nft {
        let tables = ns.ok(&["nft", "list", "tables"]);
        return if tables.contains("ftwall") { Err(format!("tables left: {tables}")) } else { Ok(()) };
    }
    let (s4, s6) = ipt_tools(b);
    for save in [s4, s6] {
        let t = ns.ok(&[save]);
        if t.contains("ftwall") {
            return Err(format!("{save} still shows ftwall:\n{t}"));
        }
    }
    let sets = ns.ok(&["ipset", "list", "-n"]);
    if sets.contains("ftwall") {
        return Err(format!("ipsets left: {sets}"));
    }
    Ok(())
}

fn set_has(ns: &Ns, b: Backend, set: &str, addr: &str) -> bool {
    let listing = match b {
        Backend::Nft => ns.run(&["nft", "list", "set", "inet", "ftwall", set]),
        _ => ns.run(&["ipset", "list", set]),
    };
    listing.is_ok_and(|l| l.split(|c: char| c.is_whitespace() || c == ',' || c == '{' || c == '}').any(|w| w == addr))
}

/// Checks the live ruleset has what the spec asks for.
fn check_live_ruleset(text: &str, spec: &RuleSpec) {
    let (lan, wan) = (spec.lan_ifs[0].to_string(), spec.wan_ifs[0].to_string());
    let expect: Vec<String> = match spec.backend {
        Backend::Nft => {
            let mut v = vec![
                "type filter hook forward priority filter - 5; policy accept;".to_string(),
                "type filter hook input priority filter - 5; policy accept;".into(),
                "type filter hook output priority filter - 5; policy accept;".into(),
                format!("iifname \"{lan}\" oifname \"{wan}\" jump lan_wan"),
                format!("iifname \"{wan}\" oifname \"{lan}\" jump wan_lan"),
                "ip saddr @ftwall_locked4 counter drop".into(),
                "ip6 saddr @ftwall_locked6 counter drop".into(),
                "ip daddr @ftwall_peers4 counter drop".into(),
                "ip saddr @ftwall_peers4 counter drop".into(),
                "ct original packets 1-6".into(),
                "udp sport 53 ct direction reply".into(),
                "set ftwall_locked4 {".into(),
                "set ftwall_peers6 {".into(),
                "flags timeout".into(),
            ];
            if spec.inspect == Inspect::Queue {
                v.push("queue".into());
                assert_eq!(text.contains("bypass"), !spec.fail_closed, "bypass flag iff fail-open:\n{text}");
            }
            v
        }
        _ => {
            let mut v = vec![
                "-A FORWARD -j ftwall_forward".to_string(),
                "-A INPUT -j ftwall_input".into(),
                "-A OUTPUT -j ftwall_output".into(),
                format!("-A ftwall_forward -i {lan} -o {wan} -j ftwall_lan_wan"),
                format!("-A ftwall_forward -i {wan} -o {lan} -j ftwall_wan_lan"),
                "-A ftwall_lan_wan -m set --match-set ftwall_locked4 src -j DROP".into(),
                "-A ftwall_lan_wan -m set --match-set ftwall_locked6 src -j DROP".into(),
                "-A ftwall_wan_lan -m set --match-set ftwall_peers4 src -j DROP".into(),
                "--connbytes 1:6".into(),
                "ftwall_locked4\nftwall_locked6\nftwall_peers4\nftwall_peers6".into(),
            ];
            if spec.inspect == Inspect::Queue {
                v.push(if spec.fail_closed { "-j NFQUEUE --queue-num 0\n".into() } else { "-j NFQUEUE --queue-num 0 --queue-bypass".into() });
            }
            v
        }
    };
    for e in expect {
        assert!(text.contains(&e), "live ruleset lacks {e:?}:\n{text}");
    }
    assert!(!text.contains("REJECT") && !text.contains("reject"), "drop, never reject");
}

/// A router namespace with a LAN (lan0) and a WAN (wan0) link to another namespace.
fn router_with_links(router: &str, other: &str) -> (Ns, Ns) {
    let (router, other) = (Ns::new(router), Ns::new(other));
    veth(&router, "lan0", &other, "c0");
    veth(&router, "wan0", &other, "s0");
    (router, other)
}

fn lifecycle(test: &str, b: Backend) {
    if !backend_ready(test, b) {
        return;
    }
    let (router, _other) = router_with_links("rt", "ot");
    let mut spec = RuleSpec::new(b, ifs(&["lan0"]), ifs(&["wan0"]));
    spec.inspect = inspect_mode(test, b);

    if b == Backend::Nft && spec.inspect == Inspect::CountOnly {
        // Without kernel support the real thing must fail cleanly, with the hint.
        let mut real = spec.clone();
        real.inspect = Inspect::Queue;
        let e = apply_in(&router, &real).unwrap_err().to_string();
        assert!(e.contains("kmod-nft-queue"), "{e}");
        assert!(nothing_left(&router, b).is_ok(), "a failed apply must change nothing");
    }

    apply_in(&router, &spec).unwrap();
    let first = live(&router, b);
    check_live_ruleset(&first, &spec);
    if b != Backend::Nft {
        assert_eq!(first.matches("-A FORWARD -j ftwall_forward").count(), 2, "one jump per family:\n{first}");
    }

    apply_in(&router, &spec).unwrap();
    assert_eq!(live(&router, b), first, "applying twice must give the same ruleset");

    // Set elements survive a re-apply (the daemon's peers and locks stay in force).
    with_sets(&router, &spec, |k| k.block_peers(&[ip("198.51.100.77"), ip("2001:db8::77")])).unwrap();
    apply_in(&router, &spec).unwrap();
    assert!(set_has(&router, b, "ftwall_peers4", "198.51.100.77"));
    assert!(set_has(&router, b, "ftwall_peers6", "2001:db8::77"));
    with_sets(&router, &spec, |k| k.unblock_peer(ip("198.51.100.77"))).unwrap();
    assert!(!set_has(&router, b, "ftwall_peers4", "198.51.100.77"));

    // A wrong interface is refused and changes nothing, through the API and the command.
    let before = live(&router, b);
    let mut typo = spec.clone();
    typo.wan_ifs = ifs(&["wan9"]);
    match apply_in(&router, &typo) {
        Err(RulesError::Spec(m)) => assert!(m.contains("no such interface 'wan9'"), "{m}"),
        other => panic!("a missing interface must be refused: {other:?}"),
    }
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &router.name, env!("CARGO_BIN_EXE_ftwall"), "rules", "apply", "--backend", b.name()])
        .args(["--lan-if", "lan0", "--wan-if", "wan9", "--queue", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("wan9"));
    assert_eq!(live(&router, b), before, "a refused apply must not change the ruleset");

    // A 2 s lock is there, then gone by itself.
    with_sets(&router, &spec, |k| {
        k.lock(ip("192.0.2.50"), 2)?;
        k.lock(ip("2001:db8::50"), 2)
    })
    .unwrap();
    assert!(set_has(&router, b, "ftwall_locked4", "192.0.2.50"), "lock missing: {}", live(&router, b));
    assert!(set_has(&router, b, "ftwall_locked6", "2001:db8::50"));
    assert!(
        wait_for(Duration::from_secs(15), || !set_has(&router, b, "ftwall_locked4", "192.0.2.50")
            && !set_has(&router, b, "ftwall_locked6", "2001:db8::50")),
        "the lock did not expire"
    );

    // Turning IPv6 off takes its rules and sets away.
    let mut v4only = spec.clone();
    v4only.ipv6 = false;
    apply_in(&router, &v4only).unwrap();
    let text = live(&router, b);
    assert!(!text.contains("locked6") && !text.contains("peers6"), "{text}");
    if b != Backend::Nft {
        let v6 = text.split("### v6").nth(1).and_then(|t| t.split("### sets").next()).unwrap_or("");
        assert!(!v6.contains("ftwall_"), "{text}");
    }
    apply_in(&router, &spec).unwrap();
    check_live_ruleset(&live(&router, b), &spec);

    router.enter(|| rules::remove(b, &mut SystemExec)).unwrap();
    nothing_left(&router, b).unwrap();
    router.enter(|| rules::remove(b, &mut SystemExec)).unwrap();
}

#[test]
fn nft_ruleset_lifecycle() {
    lifecycle("nft_ruleset_lifecycle", Backend::Nft);
}

#[test]
fn iptables_ruleset_lifecycle() {
    lifecycle("iptables_ruleset_lifecycle", Backend::Iptables);
}

#[test]
fn iptables_legacy_ruleset_lifecycle() {
    lifecycle("iptables_legacy_ruleset_lifecycle", Backend::IptablesLegacy);
}

#[test]
fn nft_replaces_a_table_of_another_shape() {
    if !backend_ready("nft_replaces_a_table_of_another_shape", Backend::Nft) {
        return;
    }
    let (router, _other) = router_with_links("rt", "ot");
    router.ok(&["nft", "add table inet ftwall; add chain inet ftwall forward { type filter hook forward priority 10; }"]);
    let mut spec = RuleSpec::new(Backend::Nft, ifs(&["lan0"]), ifs(&["wan0"]));
    spec.inspect = inspect_mode("nft_replaces_a_table_of_another_shape", Backend::Nft);
    apply_in(&router, &spec).unwrap();
    check_live_ruleset(&live(&router, Backend::Nft), &spec);
    router.enter(|| rules::remove(Backend::Nft, &mut SystemExec)).unwrap();
    nothing_left(&router, Backend::Nft).unwrap();
}

#[test]
fn iptables_apply_collapses_duplicate_jumps() {
    if !backend_ready("iptables_apply_collapses_duplicate_jumps", Backend::Iptables) {
        return;
    }
    let (router, _other) = router_with_links("rt", "ot");
    let spec = RuleSpec::new(Backend::Iptables, ifs(&["lan0"]), ifs(&["wan0"]));
    apply_in(&router, &spec).unwrap();
    router.ok(&["iptables", "-t", "mangle", "-A", "FORWARD", "-j", "ftwall_forward"]);
    router.ok(&["iptables", "-t", "mangle", "-I", "FORWARD", "1", "-i", "lan0", "-j", "ACCEPT"]);
    apply_in(&router, &spec).unwrap();
    let text = live(&router, Backend::Iptables);
    assert_eq!(text.matches("-A FORWARD -j ftwall_forward").count(), 2, "one per family:\n{text}");
    let v4 = text.split("### v6").next().unwrap();
    let fwd: Vec<&str> = v4.lines().filter(|l| l.starts_with("-A FORWARD")).collect();
    assert_eq!(fwd, ["-A FORWARD -j ftwall_forward", "-A FORWARD -i lan0 -j ACCEPT"], "our jump comes first, others stay");
    router.enter(|| rules::remove(Backend::Iptables, &mut SystemExec)).unwrap();
    nothing_left(&router, Backend::Iptables).unwrap();
    assert!(router.ok(&["iptables-save", "-t", "mangle"]).contains("-A FORWARD -i lan0 -j ACCEPT"), "remove keeps other rules");
}

/// Two LAN clients, a router, and a server on the "internet".
struct Lab {
    router: Ns,
    c1: Ns,
    c2: Ns,
    server: Ns,
}

const C1: &str = "192.0.2.2";
const C1_6: &str = "2001:db8:1::2";
const C2: &str = "192.0.2.66";
const SRV: &str = "198.51.100.2";
const SRV_6: &str = "2001:db8:100::2";

impl Lab {
    fn new() -> Lab {
        let lab = Lab { router: Ns::new("rt"), c1: Ns::new("c1"), c2: Ns::new("c2"), server: Ns::new("sv") };
        veth(&lab.router, "lan1", &lab.c1, "eth0");
        veth(&lab.router, "lan2", &lab.c2, "eth0");
        veth(&lab.router, "wan0", &lab.server, "eth0");
        for (ns, dev, mine, gw4, gw6) in [
            (&lab.router, "lan1", &["192.0.2.1/26", "2001:db8:1::1/64"], None, None),
            (&lab.router, "lan2", &["192.0.2.65/26", "2001:db8:2::1/64"], None, None),
            (&lab.router, "wan0", &["198.51.100.1/24", "2001:db8:100::1/64"], None, None),
            (&lab.c1, "eth0", &["192.0.2.2/26", "2001:db8:1::2/64"], Some("192.0.2.1"), Some("2001:db8:1::1")),
            (&lab.c2, "eth0", &["192.0.2.66/26", "2001:db8:2::2/64"], Some("192.0.2.65"), Some("2001:db8:2::1")),
            (&lab.server, "eth0", &["198.51.100.2/24", "2001:db8:100::2/64"], Some("198.51.100.1"), Some("2001:db8:100::1")),
        ] {
            for a in mine {
                addr(ns, dev, a);
            }
            if let (Some(g4), Some(g6)) = (gw4, gw6) {
                ns.ok(&["ip", "route", "add", "default", "via", g4]);
                ns.ok(&["ip", "-6", "route", "add", "default", "via", g6]);
            }
        }
        lab.router.ok(&["sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
        // Resolve every neighbour first: IPv6 loses the first packet of a new path,
        // which would cost a TCP retransmission (1 s) in the checks.
        for (ns, to) in [(&lab.c1, SRV), (&lab.c1, SRV_6), (&lab.c2, SRV), (&lab.c2, SRV_6)] {
            assert!(wait_for(Duration::from_secs(10), || ping(ns, to)), "lab: {} cannot reach {to}", ns.name);
        }
        lab
    }
}

fn sock(ip: &str) -> SocketAddr {
    SocketAddr::new(ip.parse().unwrap(), PORT)
}

const SHORT: Duration = Duration::from_millis(1500);

/// TCP connect + echo, UDP echo and ping from `ns` to `to`: (tcp, udp, ping).
fn reach(ns: &Ns, to: &str) -> (bool, bool, bool) {
    let tcp = tcp_connect(ns, sock(to), SHORT).is_some_and(|mut s| tcp_echo(&mut s, 1000, SHORT));
    (tcp, udp_echo(ns, sock(to), SHORT), ping(ns, to))
}

/// Packets that hit the inspection (queue or count) rules so far.
fn inspected(ns: &Ns, spec: &RuleSpec) -> u64 {
    let mut total = 0;
    match spec.backend {
        Backend::Nft => {
            for line in ns.ok(&["nft", "list", "table", "inet", "ftwall"]).lines() {
                let l = line.trim();
                if l.contains("counter packets") && !l.contains("drop") {
                    let n = l.split("counter packets ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse::<u64>().ok());
                    total += n.expect("counter");
                }
            }
        }
        b => {
            let (s4, s6) = ipt_tools(b);
            for save in [s4, s6] {
                for l in ns.ok(&[save, "-c", "-t", "mangle"]).lines() {
                    let is_inspect = l.contains("-A ftwall_") && (l.contains("NFQUEUE") || (!l.contains(" -j ") && l.contains("-p ")));
                    if l.starts_with('[') && is_inspect {
                        let n = l[1..].split(':').next().and_then(|n| n.parse::<u64>().ok());
                        total += n.expect("counter");
                    }
                }
            }
        }
    }
    total
}

fn traffic(test: &str, b: Backend) {
    if !backend_ready(test, b) || !require_tool(test, "ping") {
        return;
    }
    let lab = Lab::new();
    let _echo = Echo::start(&lab.server, PORT);
    let mut spec = RuleSpec::new(b, ifs(&["lan1", "lan2"]), ifs(&["wan0"]));
    spec.inspect = inspect_mode(test, b);
    apply_in(&lab.router, &spec).unwrap();

    // Fail-open with no daemon: everything passes, both families, both clients.
    for (ns, to) in [(&lab.c1, SRV), (&lab.c1, SRV_6), (&lab.c2, SRV), (&lab.c2, SRV_6)] {
        assert_eq!(reach(ns, to), (true, true, true), "{} -> {to} with fail-open rules and no daemon", ns.name);
    }

    // A long exchange queues only the first packets of its flows: 200 TCP round trips
    // and 50 UDP round trips (each at least one packet per direction).
    apply_in(&lab.router, &spec).unwrap(); // resets the counters
    let mut conn = tcp_connect(&lab.c1, sock(SRV), SHORT).expect("connect");
    for _ in 0..200 {
        assert!(tcp_echo(&mut conn, 100, SHORT));
    }
    drop(conn);
    let udp_rounds = lab.c1.enter(|| {
        let u = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        u.set_read_timeout(Some(SHORT)).unwrap();
        let mut buf = [0u8; 16];
        (0..50).filter(|_| u.send_to(b"x", sock(SRV)).is_ok() && u.recv_from(&mut buf).is_ok()).count()
    });
    assert_eq!(udp_rounds, 50);
    let n = inspected(&lab.router, &spec);
    assert!(n > 0 && n <= 2 * 6 + 2 * 3, "{n} packets inspected for 250 round trips: bulk traffic must not be queued");

    // The time-lock: client 1's open connection and new ones die; client 2 is unaffected.
    let mut old1 = tcp_connect(&lab.c1, sock(SRV), SHORT).expect("connect c1");
    let mut old2 = tcp_connect(&lab.c2, sock(SRV), SHORT).expect("connect c2");
    assert!(tcp_echo(&mut old1, 1000, SHORT) && tcp_echo(&mut old2, 1000, SHORT));
    with_sets(&lab.router, &spec, |k| {
        k.lock(ip(C1), 60)?;
        k.lock(ip(C1_6), 60)
    })
    .unwrap();
    assert!(!tcp_echo(&mut old1, 1000, SHORT), "a locked client's open connection must stop");
    assert_eq!(reach(&lab.c1, SRV), (false, false, false), "locked client, IPv4");
    assert_eq!(reach(&lab.c1, SRV_6), (false, false, false), "locked client, IPv6");
    assert!(tcp_echo(&mut old2, 1000, SHORT), "another client's connection goes on");
    assert_eq!(reach(&lab.c2, SRV), (true, true, true), "another client is not locked");
    with_sets(&lab.router, &spec, |k| {
        k.unlock(ip(C1))?;
        k.unlock(ip(C1_6))
    })
    .unwrap();
    assert_eq!(reach(&lab.c1, SRV), (true, true, true), "unlocked again");

    // A blocked peer is unreachable for everyone, in both directions.
    with_sets(&lab.router, &spec, |k| k.block_peer(ip(SRV))).unwrap();
    assert_eq!(reach(&lab.c2, SRV), (false, false, false), "blocked peer");
    assert!(!ping(&lab.server, C2), "nothing from a blocked peer reaches the LAN");
    assert_eq!(reach(&lab.c2, SRV_6), (true, true, true), "the peer's other address is not blocked");
    with_sets(&lab.router, &spec, |k| k.unblock_peer(ip(SRV))).unwrap();
    assert!(reach(&lab.c2, SRV).0);

    // Fail-closed with no daemon: queued traffic stops, the rest (ICMP) passes.
    if spec.inspect == Inspect::Queue {
        let mut closed = spec.clone();
        closed.fail_closed = true;
        apply_in(&lab.router, &closed).unwrap();
        check_live_ruleset(&live(&lab.router, b), &closed);
        assert_eq!(reach(&lab.c1, SRV), (false, false, true), "fail-closed, IPv4");
        assert_eq!(reach(&lab.c2, SRV_6), (false, false, true), "fail-closed, IPv6");
        apply_in(&lab.router, &spec).unwrap();
        assert_eq!(reach(&lab.c1, SRV), (true, true, true), "fail-open again");
    } else {
        loud(&format!("!!! {test}: fail-open/fail-closed NOT tested for {} on this kernel (no queue) !!!", b.name()));
    }

    lab.router.enter(|| rules::remove(b, &mut SystemExec)).unwrap();
    nothing_left(&lab.router, b).unwrap();
}

#[test]
fn nft_traffic() {
    traffic("nft_traffic", Backend::Nft);
}

#[test]
fn iptables_traffic() {
    traffic("iptables_traffic", Backend::Iptables);
}

#[test]
fn iptables_legacy_traffic() {
    traffic("iptables_legacy_traffic", Backend::IptablesLegacy);
}

/// Counts the processes a [`CommandSets`] starts (and runs them for real).
#[derive(Clone, Default)]
struct Counting {
    runs: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Counting {
    fn runs(&self) -> usize {
        self.runs.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Exec for Counting {
    fn run(&mut self, prog: &str, args: &[&str], input: Option<&str>) -> Result<String, RulesError> {
        self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        SystemExec.run(prog, args, input)
    }
}

/// Every address a set lists.
fn members(ns: &Ns, b: Backend, set: &str) -> std::collections::HashSet<IpAddr> {
    let listing = match b {
        Backend::Nft => ns.ok(&["nft", "list", "set", "inet", "ftwall", set]),
        _ => ns.ok(&["ipset", "list", set]),
    };
    listing.split(|c: char| c.is_whitespace() || c == ',' || c == '{' || c == '}').filter_map(|w| w.parse().ok()).collect()
}

/// A burst of 500 new locked clients and 500 new blocked peers, as the daemon queues
/// them, reaches the kernel in one command; a batch that names a missing set still
/// lands the other sets' changes.
fn batches(test: &str, b: Backend) {
    if !backend_ready(test, b) {
        return;
    }
    let (router, _other) = router_with_links("bt", "bo");
    let mut spec = RuleSpec::new(b, ifs(&["lan0"]), ifs(&["wan0"]));
    spec.inspect = Inspect::CountOnly;
    apply_in(&router, &spec).unwrap();

    let clients: Vec<IpAddr> = (0..500u32)
        .map(|i| if i % 2 == 0 { ip(&format!("192.0.2.{}", 1 + i / 2)) } else { ip(&format!("2001:db8:1::{i:x}")) })
        .collect();
    let peers: Vec<IpAddr> = (0..500u32)
        .map(|i| match i % 4 {
            0 => ip(&format!("198.51.100.{}", 1 + i / 4)),
            1 => ip(&format!("203.0.113.{}", 1 + i / 4)),
            _ => ip(&format!("2001:db8:2::{i:x}")),
        })
        .collect();
    let counting = Counting::default();
    let exec = counting.clone();
    let (stats, failures) = router.enter(|| {
        let mut k = CommandSets::new(b, true, exec);
        let start = Millis(1_000);
        let mut failures = Vec::new();
        for (c, p) in clients.iter().zip(&peers) {
            k.queue_lock(*c, 120, start).unwrap();
            k.queue_peer(*p, start).unwrap();
            // As the daemon's loop does: flush when due. Within one burst only the
            // first lock is due at once; the rest wait for the gap after that batch.
            if k.next_flush().is_some_and(|due| due <= start) {
                failures.extend(k.flush(start));
            }
        }
        let later = start.plus(rules::sets::LOCK_GAP_MS);
        assert_eq!(k.next_flush(), Some(later));
        failures.extend(k.flush(later));
        // Again, with new timeouts: everything is there already, which is no error.
        k.forget_locks();
        for (c, p) in clients.iter().zip(&peers) {
            k.queue_lock(*c, 60, later).unwrap();
            k.queue_peer(*p, later).unwrap();
        }
        failures.extend(k.flush(later.plus(1_000)));
        (k.stats(), failures)
    });
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(counting.runs(), 3, "the first lock at once, the rest of the burst in one batch, the repeat in one");
    assert_eq!((stats.commands, stats.changes, stats.failed), (3, 2000, 0));
    let locked: std::collections::HashSet<IpAddr> =
        members(&router, b, "ftwall_locked4").into_iter().chain(members(&router, b, "ftwall_locked6")).collect();
    let blocked: std::collections::HashSet<IpAddr> =
        members(&router, b, "ftwall_peers4").into_iter().chain(members(&router, b, "ftwall_peers6")).collect();
    assert_eq!(locked, clients.iter().copied().collect(), "every client locked, nothing else");
    assert_eq!(blocked, peers.iter().copied().collect(), "every peer blocked, nothing else");

    // Without the IPv6 sets (rules applied with IPv6 off) a mixed batch fails as a whole,
    // and is sent again set by set: the IPv4 changes land, the IPv6 ones are reported.
    let mut v4only = spec.clone();
    v4only.ipv6 = false;
    apply_in(&router, &v4only).unwrap();
    let counting = Counting::default();
    let exec = counting.clone();
    let (stats, failures) = router.enter(|| {
        let mut k = CommandSets::new(b, true, exec);
        let now = Millis(5);
        k.queue_peer(ip("198.51.100.201"), now).unwrap();
        k.queue_peer(ip("2001:db8:3::1"), now).unwrap();
        k.queue_lock(ip("192.0.2.201"), 60, now).unwrap();
        let failures = k.flush(now);
        (k.stats(), failures)
    });
    assert_eq!(failures.iter().map(|f| (f.set, f.changes)).collect::<Vec<_>>(), [("ftwall_peers6", 1)], "{failures:?}");
    assert_eq!((counting.runs(), stats.commands, stats.changes, stats.failed), (4, 4, 2, 1));
    assert!(members(&router, b, "ftwall_peers4").contains(&ip("198.51.100.201")));
    assert!(members(&router, b, "ftwall_locked4").contains(&ip("192.0.2.201")));

    router.enter(|| rules::remove(b, &mut SystemExec)).unwrap();
    nothing_left(&router, b).unwrap();
}

#[test]
fn nft_set_updates_are_batched() {
    batches("nft_set_updates_are_batched", Backend::Nft);
}

#[test]
fn iptables_set_updates_are_batched() {
    batches("iptables_set_updates_are_batched", Backend::Iptables);
}
