//! A tiny syslog client: one datagram per message to `/dev/log`, facility daemon, in the
//! classic BSD form (`<PRI>Mmm dd hh:mm:ss ftwall[pid]: text`) that syslogd, rsyslog,
//! journald and OpenWrt's logd all read. No syslog daemon is not an error: messages are
//! then dropped, as syslog(3) does.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

/// Facility "daemon" (3), shifted into place.
const FACILITY_DAEMON: u8 = 3 << 3;

/// Syslog severities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

pub struct Syslog {
    path: PathBuf,
    sock: Option<UnixDatagram>,
    tag: String,
}

impl Syslog {
    pub fn new(path: &Path, ident: &str) -> Syslog {
        let mut s = Syslog { path: path.to_path_buf(), sock: None, tag: String::new() };
        s.set_ident(ident);
        s.reconnect();
        s
    }

    /// Sets the tag; the pid in it changes when the daemon forks.
    pub fn set_ident(&mut self, ident: &str) {
        self.tag = format!("{}[{}]", ident, std::process::id());
    }

    /// Connects again (after SIGHUP, or when the syslog daemon was restarted).
    pub fn reconnect(&mut self) {
        self.sock = UnixDatagram::unbound().ok().filter(|s| s.connect(&self.path).is_ok());
    }

    pub fn send(&mut self, severity: Severity, text: &str) {
        let line = format_line(severity, &timestamp(), &self.tag, text);
        let sent = self.sock.as_ref().is_some_and(|s| s.send(line.as_bytes()).is_ok());
        if !sent {
            // The daemon may have been restarted: one more try on a fresh socket.
            self.reconnect();
            if let Some(s) = &self.sock {
                let _ = s.send(line.as_bytes());
            }
        }
    }
}

/// One syslog line.
pub fn format_line(severity: Severity, stamp: &str, tag: &str, text: &str) -> String {
    let pri = FACILITY_DAEMON | severity as u8;
    // Control characters would split or garble the line in the log: replace them.
    let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    format!("<{pri}>{stamp} {tag}: {clean}")
}

/// Local time as `Mmm dd hh:mm:ss`.
fn timestamp() -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    // SAFETY: time(NULL) and localtime_r into a zeroed tm we own.
    let tm = unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        tm
    };
    let month = MONTHS.get(usize::try_from(tm.tm_mon).unwrap_or(0)).copied().unwrap_or("Jan");
    format!("{} {:2} {:02}:{:02}:{:02}", month, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_priority_tag_and_no_control_characters() {
        let l = format_line(Severity::Info, "Nov 24 20:32:00", "ftwall[7]", "new peer\n203.0.113.5:1214");
        assert_eq!(l, "<30>Nov 24 20:32:00 ftwall[7]: new peer 203.0.113.5:1214");
        assert!(format_line(Severity::Err, "x", "t", "y").starts_with("<27>"));
        assert_eq!(timestamp().len(), 15);
    }

    #[test]
    fn messages_reach_a_listening_socket() {
        let dir = std::env::temp_dir().join(format!("ftwall-syslog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log");
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        let mut s = Syslog::new(&path, "ftwall");
        s.send(Severity::Warning, "storefile is read-only");
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        assert!(got.starts_with("<28>"), "{got}");
        assert!(got.ends_with(&format!("ftwall[{}]: storefile is read-only", std::process::id())), "{got}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
