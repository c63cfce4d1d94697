//! The status file: what the running daemon knows, rewritten atomically every few
//! seconds and on SIGUSR1, read by `ftwall status` and by the OpenWrt LuCI page.
//!
//! Line format (one record per line, space-separated, unknown lines ignored by readers):
//!
//! ```text
//! pid 1234
//! started 1732480000          (unix seconds)
//! updated 1732480100          (unix seconds; a file not updated for STALE_SECS is stale)
//! mode enforcing|monitor
//! client <ip> <protocol> <secs-left> <mac or ->
//! peer <ip:port> <protocol>
//! dns <ip> <secs-left> <name>
//! counter <name> <value>
//! ```
//!
//! The daemon removes the file when it stops cleanly; a file whose pid is gone or that
//! was not updated for [`STALE_SECS`] belongs to a daemon that died.

use std::fmt::{Display, Write as _};
use std::fs;
use std::io::{self, Write};
use std::path::Path;

/// How often the daemon rewrites the file.
pub const INTERVAL_SECS: u64 = 5;
/// A file older than this is not trusted.
pub const STALE_SECS: u64 = 30;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientLine {
    pub ip: String,
    pub protocol: String,
    pub secs_left: u32,
    pub mac: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DnsLine {
    pub ip: String,
    pub secs_left: u32,
    pub name: String,
}

/// The contents of a status file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub pid: u32,
    pub started: u64,
    pub updated: u64,
    pub monitor: bool,
    pub clients: Vec<ClientLine>,
    /// `ip:port` and protocol.
    pub peers: Vec<(String, String)>,
    pub dns: Vec<DnsLine>,
    pub counters: Vec<(String, u64)>,
}

impl Status {
    pub fn render(&self) -> String {
        let mut l = Lines(Vec::new());
        // Writing to a Vec cannot fail.
        let _ = self.write(&mut l);
        String::from_utf8(l.0).unwrap_or_default()
    }

    fn write<W: Write>(&self, l: &mut Lines<W>) -> io::Result<()> {
        l.head(self.pid, self.started, self.updated, self.monitor)?;
        for c in &self.clients {
            l.client(&c.ip, &c.protocol, c.secs_left, c.mac.as_ref().map(|m| m as &dyn Display))?;
        }
        for (peer, protocol) in &self.peers {
            l.peer(peer, protocol)?;
        }
        for d in &self.dns {
            l.dns(&d.ip, d.secs_left, &d.name)?;
        }
        for (name, value) in &self.counters {
            l.counter(name, *value)?;
        }
        Ok(())
    }

    /// Reads a status file's text. Lines it does not know are skipped, so newer daemons
    /// can add records; a file without a pid is refused.
    pub fn parse(text: &str) -> Result<Status, String> {
        let mut st = Status::default();
        let mut have_pid = false;
        for (n, line) in text.lines().enumerate() {
            let w: Vec<&str> = line.split_whitespace().collect();
            let bad = || format!("line {}: cannot read {:?}", n + 1, line);
            match w.as_slice() {
                ["pid", pid] => {
                    st.pid = pid.parse().map_err(|_| bad())?;
                    have_pid = true;
                }
                ["started", t] => st.started = t.parse().map_err(|_| bad())?,
                ["updated", t] => st.updated = t.parse().map_err(|_| bad())?,
                ["mode", m] => st.monitor = *m == "monitor",
                ["client", ip, protocol, secs, mac] => st.clients.push(ClientLine {
                    ip: ip.to_string(),
                    protocol: protocol.to_string(),
                    secs_left: secs.parse().map_err(|_| bad())?,
                    mac: (*mac != "-").then(|| mac.to_string()),
                }),
                ["peer", peer, protocol] => st.peers.push((peer.to_string(), protocol.to_string())),
                ["dns", ip, secs, name] => {
                    st.dns.push(DnsLine { ip: ip.to_string(), secs_left: secs.parse().map_err(|_| bad())?, name: name.to_string() })
                }
                ["counter", name, value] => st.counters.push((name.to_string(), value.parse().map_err(|_| bad())?)),
                _ => {}
            }
        }
        if !have_pid {
            return Err("no pid line: not an ftwall status file".into());
        }
        Ok(st)
    }
}

/// The records of a status file, written one line at a time in the order readers expect:
/// the head, then clients, peers, DNS addresses and counters. The daemon streams its tables
/// through this straight into the file, because a collected copy of full tables (a few
/// strings per address) would take more memory than the tables themselves.
pub struct Lines<W: Write>(pub W);

impl<W: Write> Lines<W> {
    pub fn head(&mut self, pid: u32, started: u64, updated: u64, monitor: bool) -> io::Result<()> {
        writeln!(self.0, "# ftwall status (see `ftwall status`)")?;
        writeln!(self.0, "pid {pid}")?;
        writeln!(self.0, "started {started}")?;
        writeln!(self.0, "updated {updated}")?;
        writeln!(self.0, "mode {}", if monitor { "monitor" } else { "enforcing" })
    }

    pub fn client(&mut self, ip: &dyn Display, protocol: &dyn Display, secs_left: u32, mac: Option<&dyn Display>) -> io::Result<()> {
        match mac {
            Some(mac) => writeln!(self.0, "client {ip} {protocol} {secs_left} {mac}"),
            None => writeln!(self.0, "client {ip} {protocol} {secs_left} -"),
        }
    }

    pub fn peer(&mut self, peer: &dyn Display, protocol: &dyn Display) -> io::Result<()> {
        writeln!(self.0, "peer {peer} {protocol}")
    }

    pub fn dns(&mut self, ip: &dyn Display, secs_left: u32, name: &dyn Display) -> io::Result<()> {
        writeln!(self.0, "dns {ip} {secs_left} {name}")
    }

    pub fn counter(&mut self, name: &str, value: u64) -> io::Result<()> {
        writeln!(self.0, "counter {name} {value}")
    }
}

/// Replaces the file atomically (temporary file in the same directory, then rename), so
/// a reader never sees half a file.
pub fn write_atomic(path: &Path, text: &str) -> io::Result<()> {
    write_atomic_with(path, |out| out.write_all(text.as_bytes()))
}

/// [`write_atomic`] with the contents written by `fill`, through a small buffer.
pub fn write_atomic_with(path: &Path, fill: impl FnOnce(&mut io::BufWriter<fs::File>) -> io::Result<()>) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    {
        let mut out = io::BufWriter::new(fs::File::create(&tmp)?);
        fill(&mut out)?;
        out.flush()?;
    }
    fs::rename(&tmp, path)
}

/// Seconds since the epoch, from the wall clock (for people, not for timers).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Checks that the file belongs to a live daemon. `Err` says why not, for people.
pub fn check_live(st: &Status, path: &Path, now: u64) -> Result<(), String> {
    if !pid_alive(st.pid) {
        return Err(format!("ftwall is not running: the status file {} names pid {}, which is gone", path.display(), st.pid));
    }
    let age = now.saturating_sub(st.updated);
    if age > STALE_SECS {
        return Err(format!(
            "ftwall (pid {}) has not updated {} for {} s: the daemon is stuck or the file is left over",
            st.pid,
            path.display(),
            age
        ));
    }
    Ok(())
}

/// The human-readable report `ftwall status` prints.
pub fn describe(st: &Status, now: u64) -> String {
    let mut s = String::new();
    let up = now.saturating_sub(st.started);
    let mode = if st.monitor { ", monitor mode: nothing is blocked" } else { "" };
    let _ = writeln!(s, "ftwall is running (pid {}, up {}, updated {} s ago{})", st.pid, duration(up), now.saturating_sub(st.updated), mode);
    let _ = writeln!(s);
    let locked = if st.monitor { "Clients seen" } else { "Locked clients" };
    let _ = writeln!(s, "{locked}: {}", st.clients.len());
    for c in &st.clients {
        let mac = c.mac.as_deref().map(|m| format!("  mac {m}")).unwrap_or_default();
        let _ = writeln!(s, "  {:<40} {:<14} {:>6} s left{}", c.ip, c.protocol, c.secs_left, mac);
    }
    let _ = writeln!(s, "Known peers: {}", st.peers.len());
    for (peer, protocol) in &st.peers {
        let _ = writeln!(s, "  {peer:<46} {protocol}");
    }
    if !st.dns.is_empty() {
        let _ = writeln!(s, "Blocked by DNS name: {}", st.dns.len());
        for d in &st.dns {
            let _ = writeln!(s, "  {:<40} {:>6} s left  {}", d.ip, d.secs_left, d.name);
        }
    }
    let _ = writeln!(s, "Counters:");
    for (name, value) in &st.counters {
        let _ = writeln!(s, "  {name:<20} {value}");
    }
    s
}

fn duration(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s / 60 % 60),
        s => format!("{}d{:02}h", s / 86_400, s / 3600 % 24),
    }
}

/// `ftwall status [--status-file F]`: prints the report, or says why it cannot.
/// Exit status 0 when the daemon is running, 1 when it is not.
pub fn command(path: &Path) -> i32 {
    match report(path, unix_now()) {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(why) => {
            eprintln!("{why}");
            1
        }
    }
}

/// The report for the file at `path`, or why there is none.
pub fn report(path: &Path, now: u64) -> Result<String, String> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(format!("ftwall is not running (no status file {})", path.display()));
        }
        Err(e) => return Err(format!("cannot read the status file {}: {e}", path.display())),
    };
    let st = Status::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    check_live(&st, path, now)?;
    Ok(describe(&st, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            pid: std::process::id(),
            started: 1_000,
            updated: 1_100,
            monitor: false,
            clients: vec![
                ClientLine { ip: "192.168.50.10".into(), protocol: "fasttrack".into(), secs_left: 118, mac: Some("02:00:00:00:00:0a".into()) },
                ClientLine { ip: "2001:db8:50::10".into(), protocol: "gnutella".into(), secs_left: 3, mac: None },
            ],
            peers: vec![("203.0.113.20:1214".into(), "fasttrack".into()), ("[2001:db8:ff::1]:6346".into(), "gnutella".into())],
            dns: vec![DnsLine { ip: "198.51.100.9".into(), secs_left: 50, name: "www.winmx.com".into() }],
            counters: vec![("packets".into(), 12), ("dropped".into(), 3)],
        }
    }

    #[test]
    fn the_file_round_trips_and_has_the_documented_lines() {
        let st = sample();
        let text = st.render();
        assert!(text.contains("\nclient 192.168.50.10 fasttrack 118 02:00:00:00:00:0a\n"));
        assert!(text.contains("\nclient 2001:db8:50::10 gnutella 3 -\n"));
        assert!(text.contains("\npeer 203.0.113.20:1214 fasttrack\n"));
        assert!(text.contains("\ndns 198.51.100.9 50 www.winmx.com\n"));
        assert!(text.contains("\ncounter packets 12\n"));
        assert_eq!(Status::parse(&text).unwrap(), st);
    }

    #[test]
    fn readers_skip_unknown_lines_and_refuse_garbage() {
        let st = Status::parse("pid 5\nfuture thing here\nupdated 9\n").unwrap();
        assert_eq!((st.pid, st.updated), (5, 9));
        assert!(Status::parse("updated 9\n").is_err());
        assert!(Status::parse("pid 5\ncounter packets many\n").is_err());
    }

    #[test]
    fn report_says_when_the_daemon_is_not_running() {
        let dir = std::env::temp_dir().join(format!("ftwall-status-{}", std::process::id()));
        let path = dir.join("status");
        let _ = fs::remove_dir_all(&dir);
        let err = report(&path, 2_000).unwrap_err();
        assert!(err.contains("not running") && err.contains("no status file"), "{err}");

        let mut st = sample();
        write_atomic(&path, &st.render()).unwrap();
        let text = report(&path, 1_105).unwrap();
        assert!(text.contains("Locked clients: 2"), "{text}");
        assert!(text.contains("192.168.50.10") && text.contains("118 s left") && text.contains("mac 02:00:00:00:00:0a"), "{text}");
        assert!(text.contains("Known peers: 2") && text.contains("203.0.113.20:1214"), "{text}");
        assert!(text.contains("packets") && text.contains("12"), "{text}");

        let err = report(&path, 1_100 + STALE_SECS + 1).unwrap_err();
        assert!(err.contains("has not updated"), "{err}");

        // A pid that cannot exist (beyond pid_max) is a dead daemon.
        st.pid = 0x7fff_fff0;
        write_atomic(&path, &st.render()).unwrap();
        let err = report(&path, 1_100).unwrap_err();
        assert!(err.contains("not running") && err.contains("2147483632"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(5), "5s");
        assert_eq!(duration(125), "2m05s");
        assert_eq!(duration(3 * 3600 + 60), "3h01m");
        assert_eq!(duration(2 * 86_400 + 3600), "2d01h");
    }
}
