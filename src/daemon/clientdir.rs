//! The client directory (`-c`): one file per LAN client caught running a peer-to-peer
//! program, named by its address, created when the client is identified and removed when
//! its lock ends, so scripts and web pages can list who runs one now.
//!
//! A file holds `protocol NAME`, `first_seen UNIX-SECONDS` and, when known, `mac MAC`.
//! Files left by an earlier run are removed at start (the new run knows no client yet)
//! and at a clean stop. Only files whose name is an IP address are touched: anything
//! else in the directory belongs to someone else.

use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::addr::MacAddr;
use crate::detect::Protocol;

pub struct ClientDir {
    dir: PathBuf,
}

impl ClientDir {
    /// Creates the directory if needed and removes stale client files. Returns the
    /// directory and how many stale files were removed.
    pub fn open(dir: &Path) -> io::Result<(ClientDir, usize)> {
        fs::create_dir_all(dir)?;
        let d = ClientDir { dir: dir.to_path_buf() };
        let removed = d.remove_all()?;
        Ok((d, removed))
    }

    pub fn path_of(&self, ip: IpAddr) -> PathBuf {
        self.dir.join(ip.to_string())
    }

    /// Writes the client's file (replacing it atomically if it exists).
    pub fn online(&self, ip: IpAddr, protocol: Protocol, mac: Option<MacAddr>, first_seen_unix: u64) -> io::Result<()> {
        let mut text = format!("protocol {protocol}\nfirst_seen {first_seen_unix}\n");
        if let Some(mac) = mac {
            text.push_str(&format!("mac {mac}\n"));
        }
        let path = self.path_of(ip);
        let tmp = self.dir.join(format!(".{ip}.tmp"));
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(text.as_bytes())?;
        }
        fs::rename(&tmp, &path)
    }

    /// Removes the client's file; a file already gone is fine.
    pub fn offline(&self, ip: IpAddr) -> io::Result<()> {
        match fs::remove_file(self.path_of(ip)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes every client file (those named by an IP address). Returns how many.
    pub fn remove_all(&self) -> io::Result<usize> {
        let mut n = 0;
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let is_ours = name.to_str().is_some_and(|s| s.parse::<IpAddr>().is_ok());
            if is_ours && entry.file_type()?.is_file() {
                fs::remove_file(entry.path())?;
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ftwall-clientdir-{}-{}", name, std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn files_come_and_go_with_clients() {
        let dir = temp("cycle");
        let (c, stale) = ClientDir::open(&dir).unwrap();
        assert_eq!(stale, 0);
        let v4: IpAddr = "192.168.50.10".parse().unwrap();
        let v6: IpAddr = "2001:db8:50::10".parse().unwrap();
        c.online(v4, Protocol::FastTrack, Some("02:00:00:00:00:0a".parse().unwrap()), 1_700_000_000).unwrap();
        c.online(v6, Protocol::Gnutella, None, 1_700_000_001).unwrap();
        let text = fs::read_to_string(dir.join("192.168.50.10")).unwrap();
        assert_eq!(text, "protocol fasttrack\nfirst_seen 1700000000\nmac 02:00:00:00:00:0a\n");
        assert_eq!(fs::read_to_string(dir.join("2001:db8:50::10")).unwrap(), "protocol gnutella\nfirst_seen 1700000001\n");
        c.offline(v4).unwrap();
        assert!(!dir.join("192.168.50.10").exists());
        c.offline(v4).unwrap();
        assert!(dir.join("2001:db8:50::10").exists());
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temporary files left");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_client_files_go_at_start_and_others_stay() {
        let dir = temp("stale");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("192.168.50.77"), "protocol fasttrack\n").unwrap();
        fs::write(dir.join("2001:db8::77"), "").unwrap();
        fs::write(dir.join("README"), "not a client").unwrap();
        fs::create_dir(dir.join("10.0.0.1")).unwrap();
        let (_, stale) = ClientDir::open(&dir).unwrap();
        assert_eq!(stale, 2);
        assert!(!dir.join("192.168.50.77").exists());
        assert!(dir.join("README").exists(), "files not named by an address are left alone");
        assert!(dir.join("10.0.0.1").is_dir(), "directories are left alone");
        fs::remove_dir_all(&dir).unwrap();
    }
}
