//! Where the daemon's words go. One [`log::Log`] fans out to syslog (`-l`) and stderr
//! (`-L`, and the daemon's own messages while in the foreground).
//!
//! The engine's events carry ftwall's letters: `u`/`U` UDP dropped/accepted, `t`/`T`
//! TCP dropped/accepted, `c` clients, `p` peers; each sink shows the letters it was
//! given, and `m` in a sink's letters adds the client's MAC address to its lines. The
//! daemon's own messages (start, stop, errors) go to syslog and to stderr (which is
//! /dev/null once the daemon has detached); `-d` adds debug detail.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

use super::syslog::{Severity, Syslog};
use crate::engine::{ClientChange, Disposition, DnsEvent, DnsOutcome, Event, LogMask, PeerSource};

/// How the logs are set up.
#[derive(Clone, Debug, Default)]
pub struct LogSetup {
    pub syslog_events: LogMask,
    pub stderr_events: LogMask,
    /// `-d`: debug detail, and new peers printed on stdout as the original did.
    pub debug: bool,
    /// `-d l` (or `-d A`): every line sent to syslog is copied to stdout, as ftwall 2 did,
    /// so a foreground run shows what the system log will hold.
    pub syslog_to_stdout: bool,
}

pub struct Logger {
    setup: LogSetup,
    syslog: Mutex<Syslog>,
}

impl Logger {
    pub fn new(setup: LogSetup) -> Logger {
        Logger { setup, syslog: Mutex::new(Syslog::new(Path::new("/dev/log"), "ftwall")) }
    }

    /// Installs the logger for the `log` macros and returns it for [`Logger::event`].
    /// If a logger is already installed (tests), the new one is still returned.
    pub fn install(setup: LogSetup) -> &'static Logger {
        let level = if setup.debug { LevelFilter::Debug } else { LevelFilter::Info };
        let logger: &'static Logger = Box::leak(Box::new(Logger::new(setup)));
        if log::set_logger(logger).is_ok() {
            log::set_max_level(level);
        }
        logger
    }

    /// After a fork (new pid) or SIGHUP (syslog restarted).
    pub fn reopen(&self) {
        if let Ok(mut s) = self.syslog.lock() {
            s.set_ident("ftwall");
            s.reconnect();
        }
    }

    /// Logs an engine event to the sinks that asked for its letter.
    pub fn event(&self, e: &Event) {
        let letters = letters(e);
        for (mask, to_syslog) in [(self.setup.syslog_events, true), (self.setup.stderr_events, false)] {
            if !letters.iter().any(|&l| wants(mask, l)) {
                continue;
            }
            let text = describe(e, mask.mac);
            if to_syslog {
                self.to_syslog(Severity::Info, &text);
            } else {
                to_stderr(format_args!("ftwall: {text}\n"));
            }
        }
        if self.setup.debug {
            if let Event::Peer { peer, protocol, .. } = e {
                let _ = writeln!(std::io::stdout(), "{peer} {protocol}");
            }
        }
    }

    fn to_syslog(&self, severity: Severity, text: &str) {
        if let Ok(mut s) = self.syslog.lock() {
            s.send(severity, text);
        }
        if self.setup.syslog_to_stdout {
            let _ = writeln!(std::io::stdout(), "ftwall: {text}");
        }
    }
}

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= if self.setup.debug { Level::Debug } else { Level::Info }
    }

    fn log(&self, r: &Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        let severity = match r.level() {
            Level::Error => Severity::Err,
            Level::Warn => Severity::Warning,
            Level::Info => Severity::Notice,
            Level::Debug | Level::Trace => Severity::Debug,
        };
        let text = r.args().to_string();
        if severity != Severity::Debug {
            self.to_syslog(severity, &text);
        }
        {
            // Once detached, stderr is /dev/null.
            to_stderr(format_args!("ftwall: {}: {text}\n", r.level().as_str().to_ascii_lowercase()));
        }
    }

    fn flush(&self) {}
}

/// Writes one line to stderr in one write call: stderr is unbuffered, and `writeln!`
/// on it makes a system call per piece of the format (three per event line, under a
/// flood of new sources the daemon's most frequent call), and lets lines of two
/// processes sharing the log interleave.
fn to_stderr(line: std::fmt::Arguments<'_>) {
    let mut buf = String::with_capacity(160);
    if std::fmt::Write::write_fmt(&mut buf, line).is_ok() {
        let _ = std::io::stderr().write_all(buf.as_bytes());
    }
}

/// The letters that select an event (any one of them will do).
pub fn letters(e: &Event) -> &'static [char] {
    match *e {
        Event::Packet { tcp: false, disposition: Disposition::Accepted, .. } => &['U'],
        Event::Packet { tcp: false, .. } => &['u'],
        Event::Packet { tcp: true, disposition: Disposition::Accepted, .. } => &['T'],
        Event::Packet { tcp: true, .. } => &['t'],
        Event::Client { .. } => &['c'],
        Event::Peer { .. } => &['p'],
        Event::Dns(DnsEvent::Query { .. }) => &['d'],
        Event::Dns(DnsEvent::Answer { outcome: DnsOutcome::NotMatched, .. } | DnsEvent::Unreadable { .. }) => &['a'],
        // An address learned or refused is news about peers too.
        Event::Dns(DnsEvent::Answer { .. }) => &['a', 'p'],
    }
}

fn wants(m: LogMask, letter: char) -> bool {
    match letter {
        'u' => m.udp_dropped,
        'U' => m.udp_accepted,
        't' => m.tcp_dropped,
        'T' => m.tcp_accepted,
        'c' => m.clients,
        'p' => m.peers,
        'd' => m.dns_queries,
        'a' => m.dns_answers,
        _ => false,
    }
}

/// One log line for an event, in the original's words.
pub fn describe(e: &Event, with_mac: bool) -> String {
    let (mut text, mac) = match *e {
        Event::Packet { tcp, disposition, client, remote, outbound, reason, mac } => {
            let what = match disposition {
                Disposition::Accepted => "accepted",
                Disposition::Dropped => "dropped",
                Disposition::WouldDrop => "would drop",
            };
            let proto = if tcp { "TCP" } else { "UDP" };
            let (src, dst) = if outbound { (client, remote) } else { (remote, client) };
            (format!("{what} {proto} {src} -> {dst} ({reason})"), mac)
        }
        Event::Client { client, change, protocol, what, mac } => {
            let t = match change {
                ClientChange::Identified => format!("new client {client} ({protocol}: {what})"),
                ClientChange::AlsoRuns => format!("client {client} also runs {protocol} ({what})"),
                ClientChange::Vanished => format!("client {client} vanished ({protocol}: {what})"),
            };
            (t, mac)
        }
        Event::Peer { peer, protocol, source } => {
            let how = match source {
                PeerSource::Traffic => "",
                PeerSource::Named => ", named in a payload",
            };
            (format!("new peer {peer} ({protocol}{how})"), None)
        }
        Event::Dns(d) => (describe_dns(&d), None),
    };
    if let (true, Some(mac)) = (with_mac, mac) {
        text.push_str(&format!(" mac {mac}"));
    }
    text
}

fn describe_dns(d: &DnsEvent) -> String {
    match *d {
        DnsEvent::Query { client, name, qtype } => format!("DNS query from {client}: {name} type {qtype}"),
        DnsEvent::Answer { name, addr, ttl, outcome } => match outcome {
            DnsOutcome::Learned { secs } => format!("DNS {name} -> {addr}: blocked for {secs} s"),
            DnsOutcome::Refused => format!("DNS {name} -> {addr}: matches a pattern, but may never be blocked"),
            DnsOutcome::NotMatched => format!("DNS {name} -> {addr} (ttl {ttl})"),
        },
        DnsEvent::Unreadable { server, error } => format!("unreadable DNS answer from {server}: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Protocol;
    use crate::engine::Reason;

    fn ep(s: &str) -> crate::addr::Endpoint {
        s.parse().unwrap()
    }

    #[test]
    fn packets_read_like_the_original() {
        let e = Event::Packet {
            tcp: false,
            disposition: Disposition::Dropped,
            client: ep("192.168.50.10:1214"),
            remote: ep("203.0.113.20:1214"),
            outbound: true,
            reason: Reason::Detected(Protocol::FastTrack, "udp ping"),
            mac: Some("02:00:00:00:00:0a".parse().unwrap()),
        };
        assert_eq!(letters(&e), ['u']);
        assert_eq!(describe(&e, false), "dropped UDP 192.168.50.10:1214 -> 203.0.113.20:1214 (fasttrack udp ping)");
        assert_eq!(
            describe(&e, true),
            "dropped UDP 192.168.50.10:1214 -> 203.0.113.20:1214 (fasttrack udp ping) mac 02:00:00:00:00:0a"
        );
        let inbound = Event::Packet {
            tcp: true,
            disposition: Disposition::Accepted,
            client: ep("192.168.50.11:40000"),
            remote: ep("198.51.100.80:80"),
            outbound: false,
            reason: Reason::Clean,
            mac: None,
        };
        assert_eq!(letters(&inbound), ['T']);
        assert_eq!(describe(&inbound, true), "accepted TCP 198.51.100.80:80 -> 192.168.50.11:40000 (clean)");
    }

    #[test]
    fn clients_and_peers() {
        let c = Event::Client {
            client: "192.168.50.10".parse().unwrap(),
            change: ClientChange::Identified,
            protocol: Protocol::FastTrack,
            what: "udp ping",
            mac: None,
        };
        assert_eq!((letters(&c), describe(&c, true)), (&['c'][..], "new client 192.168.50.10 (fasttrack: udp ping)".to_string()));
        let p = Event::Peer { peer: ep("[2001:db8::5]:1214"), protocol: Protocol::FastTrack, source: PeerSource::Named };
        assert_eq!((letters(&p), describe(&p, false)), (&['p'][..], "new peer [2001:db8::5]:1214 (fasttrack, named in a payload)".to_string()));
    }

    #[test]
    fn sinks_take_only_their_letters() {
        let m = LogMask::parse("up").unwrap();
        assert!(wants(m, 'u') && wants(m, 'p'));
        assert!(!wants(m, 'U') && !wants(m, 't') && !wants(m, 'T') && !wants(m, 'c') && !wants(m, 'd') && !wants(m, 'a'));
        let d = LogMask::parse("D").unwrap();
        assert!(wants(d, 'd') && wants(d, 'a') && !wants(d, 'p'));
    }

    #[test]
    fn dns_answers_that_block_are_peer_news_too() {
        let addr: std::net::IpAddr = "198.51.100.9".parse().unwrap();
        let name = crate::dns::name::NameTail::of(b"www.winmx.com");
        let learned = Event::Dns(DnsEvent::Answer { name, addr, ttl: 300, outcome: DnsOutcome::Learned { secs: 300 } });
        assert_eq!(letters(&learned), ['a', 'p']);
        assert_eq!(describe(&learned, true), "DNS www.winmx.com -> 198.51.100.9: blocked for 300 s");
        let plain = Event::Dns(DnsEvent::Answer { name, addr, ttl: 60, outcome: DnsOutcome::NotMatched });
        assert_eq!(letters(&plain), ['a']);
    }
}
