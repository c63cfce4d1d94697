//! Command-line options to [`Settings`]: ftwall(8)'s classic letters with their original
//! meaning, plus long options for everything new. Every subcommand reads the same
//! options, so an init script can pass one argument list to `rules` and to the daemon.

use std::net::IpAddr;
use std::path::PathBuf;

use getopts::{Matches, Options};

use crate::addr::{IpNet, MacAddr};
use crate::detect::{Protocol, ProtocolSet};
use crate::dns::PatternSet;
use crate::engine::{Config, LogMask, DEFAULT_LOCK_SECS};

/// Longest time-lock accepted: a week. Longer is surely a typo.
pub const MAX_LOCK_SECS: u32 = 7 * 24 * 3600;

/// Which netfilter front end the rules use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// nftables if `nft` works, otherwise iptables.
    Auto,
    Nft,
    Iptables,
    /// `iptables-legacy` explicitly, on machines that have both flavours.
    IptablesLegacy,
}

/// Everything the command line says.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// What the engine decides with (time-lock, -n, monitor, protocols, exemptions, ...).
    pub engine: Config,
    /// `-d [WHAT]`: debug output selection (v2 letters); implies foreground.
    pub debug: Option<String>,
    /// `-s` / `-d`: stay in the foreground.
    pub foreground: bool,
    /// `-b`: bytes of each packet copied from the kernel.
    pub buffer: u32,
    /// `-f`: the storefile.
    pub storefile: Option<PathBuf>,
    /// `-c`: the client directory.
    pub client_dir: Option<PathBuf>,
    /// `-l` and `-L`: events to syslog and to stderr.
    pub syslog: LogMask,
    pub stderr: LogMask,
    /// `-a`: the router's own addresses (the original's "localhost address").
    pub router_addrs: Vec<IpAddr>,
    /// `-D`: the DNS training file.
    pub dns_training: Option<PathBuf>,
    /// DNS name patterns and files of them.
    pub patterns: Vec<String>,
    pub pattern_files: Vec<PathBuf>,
    pub queue: u16,
    pub lan_ifs: Vec<String>,
    pub wan_ifs: Vec<String>,
    /// LAN networks: never blocked as peers; `inspect` uses them to tell the sides apart.
    pub lan_nets: Vec<IpNet>,
    pub fail_closed: bool,
    pub ipv6: bool,
    pub backend: Backend,
    /// `rules apply`: accept interface names that do not exist (yet).
    pub allow_missing_ifs: bool,
    pub status_file: PathBuf,
    pub pidfile: Option<PathBuf>,
    /// Problems that are reported but not fatal (bad lines of a pattern file).
    pub warnings: Vec<String>,
    /// Operands left after the options (the capture file of `inspect`, the verb of `rules`).
    pub free: Vec<String>,
    /// `inspect --summary`.
    pub summary: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            engine: Config::default(),
            debug: None,
            foreground: false,
            buffer: 2048,
            storefile: None,
            client_dir: None,
            syslog: LogMask::default(),
            stderr: LogMask::default(),
            router_addrs: Vec::new(),
            dns_training: None,
            patterns: Vec::new(),
            pattern_files: Vec::new(),
            queue: 0,
            lan_ifs: Vec::new(),
            wan_ifs: Vec::new(),
            lan_nets: Vec::new(),
            fail_closed: false,
            ipv6: true,
            backend: Backend::Auto,
            allow_missing_ifs: false,
            status_file: PathBuf::from("/var/run/ftwall/status"),
            pidfile: None,
            free: Vec::new(),
            summary: false,
            warnings: Vec::new(),
        }
    }
}

/// The option table, shared by `--help` and the parser.
pub fn options() -> Options {
    let mut o = Options::new();
    o.optflagopt("d", "debug", "debug output, stay in the foreground (WHAT: A all, - none, d a D dns, t lock, h http, p probes, l syslog copy)", "WHAT");
    o.optflag("s", "foreground", "stay in the foreground (do not daemonise)");
    o.optflag("n", "no-udp-block", "do not drop recognised peer-to-peer UDP packets (still learn and lock)");
    o.optopt("b", "buffer", "bytes of each queued packet copied to ftwall (256-65535, default 2048)", "BYTES");
    o.optopt("f", "storefile", "file of learned peers, kept across restarts", "FILE");
    o.optopt("t", "lock-time", "time-lock in seconds, 0 turns it off (default 120)", "SECS");
    o.optopt("c", "client-dir", "directory with one file per locked client", "DIR");
    o.optmulti("l", "syslog", "events to log to syslog: u U t T c p m, d a D (DNS queries, answers, both)", "LETTERS");
    o.optmulti("L", "stderr", "events to log to stderr: u U t T c p m, d a D (DNS queries, answers, both)", "LETTERS");
    o.optmulti("a", "router-addr", "an address of the router itself (repeatable)", "IP");
    o.optopt("D", "dns-training", "file of addresses learned from DNS, kept across restarts", "FILE");
    o.optmulti("w", "pattern", "block addresses of DNS names matching PATTERN, e.g. *.winmx.com (repeatable)", "PATTERN");
    o.optmulti("", "pattern-file", "file of DNS name patterns, one per line (repeatable)", "FILE");
    o.optopt("q", "queue", "NFQUEUE number (default 0, what -j QUEUE feeds)", "N");
    o.optmulti("", "lan-if", "LAN interface (repeatable)", "IFACE");
    o.optmulti("", "wan-if", "WAN interface (repeatable)", "IFACE");
    o.optmulti("", "lan", "LAN network (repeatable); never blocked, and tells inspect the sides", "CIDR");
    o.optflag("", "monitor", "log what would be blocked, block nothing");
    o.optmulti("", "exempt", "never block this address, network or MAC address (repeatable)", "ADDR|CIDR|MAC");
    o.optmulti("", "never-block", "never learn or block this network as a peer (repeatable)", "CIDR");
    o.optopt("", "protocols", "detectors to run: all, or names separated by commas; -NAME removes one", "LIST");
    o.optflag("", "fail-closed", "drop queued traffic when ftwall is not running (default: let it pass)");
    o.optflag("", "no-ipv6", "leave IPv6 alone");
    o.optopt("", "backend", "netfilter front end: nft, iptables, iptables-legacy or auto (default auto)", "NAME");
    o.optflag("", "allow-missing-if", "rules: accept interface names that do not exist yet (a trailing + matches a prefix)");
    o.optopt("", "status-file", "where the daemon keeps its status (default /var/run/ftwall/status)", "FILE");
    o.optopt("", "pidfile", "write the daemon's pid here", "FILE");
    o.optflag("", "summary", "inspect: print only the per-protocol summary");
    o.optflag("h", "help", "print this help");
    o.optflag("V", "version", "print the version");
    o
}

/// What the command line asked for besides settings.
#[derive(Debug, PartialEq)]
pub enum Request {
    Run(Box<Settings>),
    Help,
    Version,
}

/// Reads the arguments after the program name (and after the subcommand, if any). An
/// error is one line of text, whatever the arguments hold.
pub fn parse(args: &[String]) -> Result<Request, String> {
    let m = options().parse(args).map_err(|e| one_line(&e.to_string()))?;
    if m.opt_present("help") {
        return Ok(Request::Help);
    }
    if m.opt_present("version") {
        return Ok(Request::Version);
    }
    settings(&m).map(|s| Request::Run(Box::new(s))).map_err(|e| one_line(&e))
}

fn settings(m: &Matches) -> Result<Settings, String> {
    let mut s = Settings::default();
    s.debug = m.opt_default("d", "A");
    s.foreground = m.opt_present("s") || s.debug.is_some();
    if let Some(what) = &s.debug {
        if let Some(bad) = what.chars().find(|c| !"Adat hplD-".contains(*c) || *c == ' ') {
            return Err(format!("-d: unknown debug letter '{bad}' (use A, -, d, a, D, t, h, p, l)"));
        }
    }
    s.engine.drop_udp = !m.opt_present("n");
    if let Some(v) = m.opt_str("b") {
        s.buffer = number(&v, "-b", 256, 65535)?;
    }
    s.storefile = m.opt_str("f").map(PathBuf::from);
    s.engine.lock_secs = match m.opt_str("t") {
        Some(v) => number(&v, "-t", 0, u64::from(MAX_LOCK_SECS))?,
        None => DEFAULT_LOCK_SECS,
    };
    s.client_dir = m.opt_str("c").map(PathBuf::from);
    s.syslog = letters(&m.opt_strs("l"), "-l", &mut s.warnings)?;
    s.stderr = letters(&m.opt_strs("L"), "-L", &mut s.warnings)?;
    // -d's DNS letters (ftwall 2's debug classes) show DNS events on stderr.
    if let Some(what) = &s.debug {
        s.stderr.dns_queries |= what.contains(['A', 'd', 'D']);
        s.stderr.dns_answers |= what.contains(['A', 'a', 'D']);
    }
    s.engine.log = s.syslog.union(s.stderr);
    for a in m.opt_strs("a") {
        s.router_addrs.push(a.parse().map_err(|_| format!("-a: '{a}' is not an IP address"))?);
    }
    s.dns_training = m.opt_str("D").map(PathBuf::from);
    s.patterns = m.opt_strs("w");
    s.pattern_files = m.opt_strs("pattern-file").into_iter().map(PathBuf::from).collect();
    s.engine.patterns = patterns(&s.patterns, &s.pattern_files, &mut s.warnings)?;
    if let Some(v) = m.opt_str("q") {
        s.queue = number(&v, "--queue", 0, 65535)?;
    }
    s.lan_ifs = interfaces(m.opt_strs("lan-if"), "--lan-if")?;
    s.wan_ifs = interfaces(m.opt_strs("wan-if"), "--wan-if")?;
    if let Some(shared) = s.lan_ifs.iter().find(|i| s.wan_ifs.contains(i)) {
        return Err(format!("interface '{shared}' cannot be both LAN and WAN"));
    }
    for n in m.opt_strs("lan") {
        s.lan_nets.push(n.parse().map_err(|e| format!("--lan: '{n}': {e}"))?);
    }
    s.engine.monitor = m.opt_present("monitor");
    for x in m.opt_strs("exempt") {
        if let Ok(mac) = x.parse::<MacAddr>() {
            s.engine.exempt_macs.push(mac);
        } else {
            let net: IpNet = x.parse().map_err(|e| format!("--exempt: '{x}' is not an address, network or MAC address ({e})"))?;
            s.engine.exempt_nets.push(net);
        }
    }
    for n in m.opt_strs("never-block") {
        s.engine.never_block.push(n.parse().map_err(|e| format!("--never-block: '{n}': {e}"))?);
    }
    // The LAN and the router itself are never peers, whatever a packet says.
    s.engine.never_block.extend(s.lan_nets.iter().copied());
    s.engine.never_block.extend(s.router_addrs.iter().map(|&a| IpNet::host(a)));
    if let Some(list) = m.opt_str("protocols") {
        s.engine.protocols = protocols(&list)?;
    }
    s.fail_closed = m.opt_present("fail-closed");
    s.ipv6 = !m.opt_present("no-ipv6");
    s.backend = match m.opt_str("backend").as_deref() {
        None | Some("auto") => Backend::Auto,
        Some("nft") | Some("nftables") => Backend::Nft,
        Some("iptables") => Backend::Iptables,
        Some("iptables-legacy") => Backend::IptablesLegacy,
        Some(other) => return Err(format!("--backend: '{other}' is not nft, iptables, iptables-legacy or auto")),
    };
    s.allow_missing_ifs = m.opt_present("allow-missing-if");
    if let Some(f) = m.opt_str("status-file") {
        s.status_file = PathBuf::from(f);
    }
    s.pidfile = m.opt_str("pidfile").map(PathBuf::from);
    s.summary = m.opt_present("summary");
    s.free = m.free.clone();
    Ok(s)
}

/// The DNS name patterns of `--pattern` (a bad one is an error) and `--pattern-file`
/// (an unreadable file is an error; a bad line is a warning and is skipped). The daemon
/// calls it again on SIGHUP.
pub fn patterns(args: &[String], files: &[PathBuf], warnings: &mut Vec<String>) -> Result<PatternSet, String> {
    let mut set = PatternSet::new();
    for p in args {
        set.add(p).map_err(|e| format!("--pattern: '{p}': {e}"))?;
    }
    for f in files {
        let text = read_pattern_file(f)?;
        set.add_file(&text, |line, content, e| {
            warnings.push(format!("{}: line {line}: '{}' skipped: {e}", f.display(), content.trim()));
        });
    }
    Ok(set)
}

/// Largest pattern file read: far more than a set can hold (4096 bytes of patterns, plus
/// comments), and a bound on what a wrong path (a device such as /dev/zero, a log file)
/// can make ftwall read into memory, at start and on every SIGHUP.
const MAX_PATTERN_FILE: u64 = 1 << 20;

fn read_pattern_file(f: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| format!("--pattern-file: cannot read {}: {e}", f.display());
    let mut bytes = Vec::new();
    std::fs::File::open(f).and_then(|file| file.take(MAX_PATTERN_FILE + 1).read_to_end(&mut bytes)).map_err(cannot)?;
    if bytes.len() as u64 > MAX_PATTERN_FILE {
        return Err(format!("--pattern-file: {} is larger than {MAX_PATTERN_FILE} bytes, not a pattern file", f.display()));
    }
    String::from_utf8(bytes).map_err(|_| format!("--pattern-file: {} is not text (not UTF-8)", f.display()))
}

fn number<T: TryFrom<u64>>(v: &str, opt: &str, min: u64, max: u64) -> Result<T, String> {
    let n: u64 = v.parse().map_err(|_| format!("{opt}: '{v}' is not a number"))?;
    if n < min || n > max {
        return Err(format!("{opt}: {n} is outside {min}..{max}"));
    }
    T::try_from(n).map_err(|_| format!("{opt}: {n} is too large"))
}

fn letters(sets: &[String], opt: &str, warnings: &mut Vec<String>) -> Result<LogMask, String> {
    sets.iter().try_fold(LogMask::default(), |acc, set| {
        // ftwall 2's `x` logged its external command packets. Those do not exist here
        // (signals and `ftwall status` replace them), so an old command line keeps working
        // and is told so, rather than being refused.
        if set.contains('x') {
            warnings.push(format!("{opt}: letter 'x' (ftwall 2's external command packets) has no effect: there are no command packets"));
        }
        LogMask::parse(&set.replace('x', ""))
            .map(|m| acc.union(m))
            .map_err(|c| format!("{opt}: unknown event letter '{c}' (use {}, or x, which does nothing)", LogMask::LETTERS))
    })
}

/// Interface names as the kernel allows them: 1 to 15 bytes, no '/', whitespace or ':'.
fn interfaces(names: Vec<String>, opt: &str) -> Result<Vec<String>, String> {
    for n in &names {
        let ok = !n.is_empty() && n.len() <= 15 && n != "." && n != ".." && !n.contains(['/', ':']) && !n.contains(char::is_whitespace);
        if !ok {
            return Err(format!("{opt}: '{n}' is not a valid interface name"));
        }
    }
    Ok(names)
}

/// `all`, or names separated by commas; a name with a leading `-` removes it (starting
/// from all protocols if the list begins with a removal).
pub fn protocols(list: &str) -> Result<ProtocolSet, String> {
    let mut set = ProtocolSet::EMPTY;
    for (i, item) in list.split(',').map(str::trim).enumerate() {
        if item.eq_ignore_ascii_case("all") {
            set = ProtocolSet::all();
        } else if let Some(name) = item.strip_prefix('-') {
            if i == 0 {
                set = ProtocolSet::all();
            }
            set = set.without(protocol(name)?);
        } else {
            set = set.with(protocol(item)?);
        }
    }
    Ok(set)
}

fn protocol(name: &str) -> Result<Protocol, String> {
    Protocol::from_name(name).ok_or_else(|| {
        let known: Vec<_> = Protocol::ALL.iter().map(|p| p.name()).collect();
        format!("--protocols: unknown protocol '{name}' (known: {})", known.join(", "))
    })
}

/// Escapes control characters (newlines, escape sequences) that an argument quoted in
/// an error message may carry, so that the message stays one line and cannot forge or
/// rewrite other lines of a log or terminal.
fn one_line(msg: &str) -> String {
    msg.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run(s: &str) -> Settings {
        match parse(&args(s)).unwrap() {
            Request::Run(s) => *s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn classic_options_keep_their_meaning() {
        let s = run("-s -n -b 4096 -f /tmp/peers -t 300 -c /tmp/clients -l utc -L pT -a 192.168.1.1 -D /tmp/dns");
        assert!(s.foreground && !s.engine.drop_udp);
        assert_eq!((s.buffer, s.engine.lock_secs), (4096, 300));
        assert_eq!(s.storefile, Some(PathBuf::from("/tmp/peers")));
        assert!(s.syslog.udp_dropped && s.syslog.tcp_dropped && s.syslog.clients && !s.syslog.peers);
        assert!(s.stderr.peers && s.stderr.tcp_accepted);
        assert!(s.engine.log.peers && s.engine.log.clients);
        assert!(s.engine.never_block.iter().any(|n| n.contains("192.168.1.1".parse().unwrap())));
        let d = run("-d");
        assert_eq!(d.debug.as_deref(), Some("A"));
        assert!(d.foreground);
        assert_eq!(run("-d-").debug.as_deref(), Some("-"));
        let def = run("");
        assert_eq!(def.engine.lock_secs, 120);
        assert!(!def.foreground && def.engine.drop_udp);
    }

    #[test]
    fn long_options() {
        let s = run("--queue 3 --lan-if br-lan --wan-if wan --lan 192.168.1.0/24 --monitor --exempt 192.168.1.5 --exempt 02:00:00:00:00:01 --never-block 198.51.100.0/24 --protocols fasttrack,winmx --fail-closed --no-ipv6 --backend iptables");
        assert_eq!(s.queue, 3);
        assert_eq!((s.lan_ifs.clone(), s.wan_ifs.clone()), (vec!["br-lan".to_string()], vec!["wan".to_string()]));
        assert!(s.engine.monitor && s.fail_closed && !s.ipv6);
        assert_eq!(s.engine.exempt_macs.len(), 1);
        assert!(s.engine.is_exempt("192.168.1.5".parse().unwrap(), None));
        assert!(!s.engine.may_block("192.168.1.77".parse().unwrap()), "LAN networks are never peers");
        assert!(s.engine.protocols.contains(Protocol::WinMx) && !s.engine.protocols.contains(Protocol::BitTorrent));
        assert_eq!(s.backend, Backend::Iptables);
        let p = protocols("-bittorrent,-dns").unwrap();
        assert!(!p.contains(Protocol::BitTorrent) && !p.contains(Protocol::DnsName) && p.contains(Protocol::FastTrack));
    }

    #[test]
    fn dns_patterns_from_options_and_files() {
        let dir = std::env::temp_dir().join(format!("ftwall-patterns-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("patterns");
        std::fs::write(&file, "# list\n*.winmxgroup.net\nnot a pattern\n*.com\n").unwrap();
        let s = run(&format!("--pattern *.winmx.com -w server.napster.com --pattern-file {}", file.display()));
        assert_eq!(s.engine.patterns.len(), 3);
        assert!(s.engine.patterns.matches(b"cache0.winmx.com") && s.engine.patterns.matches(b"test1.winmxgroup.net"));
        assert!(!s.engine.patterns.matches(b"evilwinmx.com"));
        assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("line 3") && s.warnings[1].contains("line 4"), "{:?}", s.warnings);
        // The shipped list loads cleanly.
        let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/files/ftwall.patterns");
        let s = run(&format!("--pattern-file {shipped}"));
        assert!(s.warnings.is_empty() && s.engine.patterns.matches(b"c3310.z1303.winmx.com"));
        // No options: no patterns.
        assert!(run("").engine.patterns.is_empty());
        // A pattern file is read up to a bound: a device or a huge file is an error, not
        // a read until memory runs out.
        let zero = parse(&args("--pattern-file /dev/zero")).expect_err("/dev/zero");
        assert!(zero.contains("larger than"), "{zero}");
        // A bad --pattern or an unreadable file is an error.
        for bad in ["--pattern *.com", "--pattern www.*.com", &format!("--pattern-file {}", dir.join("missing").display())] {
            let e = parse(&args(bad)).expect_err(bad);
            assert!(!e.contains('\n'), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
        // -d's DNS letters.
        let d = run("-d D");
        assert!(d.stderr.dns_queries && d.stderr.dns_answers && d.engine.log.dns_answers);
        let d = run("-d a");
        assert!(!d.stderr.dns_queries && d.stderr.dns_answers);
        assert!(run("-l a").engine.log.dns_answers);
    }

    #[test]
    fn bad_options_are_one_line_errors() {
        for bad in [
            "-t abc", "-t -5", "-t 999999999", "-b 10", "-l uX", "-L q", "--queue 70000", "-a notanip",
            "--lan 10.0.0.0/40", "--exempt zz:zz", "--protocols kazaa", "--backend pf", "--frobnicate",
            "--lan-if a/b", "--lan-if eth0 --wan-if eth0", "-d X", "--lan-if 0123456789abcdef",
        ] {
            let e = parse(&args(bad)).expect_err(bad);
            assert!(!e.is_empty() && !e.contains('\n'), "{bad}: {e}");
        }
        // Values and option names with newlines or escape sequences are quoted escaped
        // (found by the cli fuzz target).
        for bad in [&["-b", "12\n\nftwall: forged line"][..], &["--x\n\u{1b}[2J"], &["--protocols", "-bitt\r\nor"]] {
            let bad: Vec<String> = bad.iter().map(|s| s.to_string()).collect();
            let e = parse(&bad).expect_err("bad");
            assert!(!e.chars().any(char::is_control), "{e:?}");
        }
        assert!(parse(&["-b".to_string(), "1\n2".to_string()]).unwrap_err().contains("'1\\n2'"));
        assert_eq!(parse(&args("--help")).unwrap(), Request::Help);
        assert_eq!(parse(&args("-V")).unwrap(), Request::Version);
    }

    #[test]
    fn ftwall2_x_letter_is_accepted_with_a_warning() {
        let s = run("-l cpx -L u");
        assert!(s.syslog.clients && s.syslog.peers && s.stderr.udp_dropped);
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].starts_with("-l: letter 'x'"), "{:?}", s.warnings);
        assert!(run("-l cp").warnings.is_empty());
    }
}
