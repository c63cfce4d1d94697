//! Keeps the storefile (`-f`) in step with what the daemon learns.
//!
//! At start the file is read (bad lines reported with their number and skipped), its
//! peers are handed to the engine and the kernel, and the file is opened for appending;
//! every new peer is then one line, written and flushed at once, so a power cut loses at
//! most the line being written. A file with bad lines, duplicates or a torn last line is
//! first rewritten atomically with exactly its good entries, so nothing already learned
//! is ever lost by a rewrite.
//!
//! Writing never stops the firewall: if the disk is full or read-only, peers that could
//! not be written are kept in memory (and blocked), retried from time to time, and the
//! problem is logged at most once a minute.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::storefile::{self, Entry, Loaded};

/// How often a failing storefile is retried and complained about.
pub const RETRY_MS: u64 = 60_000;

/// At most this many addresses are remembered to keep duplicate lines out of the file.
/// The engine asks to store only peers it does not hold (8192 of them), so this matters
/// only for a peer the engine forgot and learned again. Bounded, so that a flood of
/// distinct peers cannot grow the daemon: when full, the set starts afresh. A duplicate
/// line that may slip in then is dropped, and the file rewritten, at the next start.
pub const KNOWN_MAX: usize = 1024;

pub struct PeerStore {
    path: PathBuf,
    file: Option<File>,
    /// Peers learned but not yet written (the last write failed).
    pending: Vec<Entry>,
    /// Addresses the file holds (or will hold once `pending` is written): the last
    /// [`KNOWN_MAX`] at most.
    known: HashSet<IpAddr>,
}

/// What reading the file found, for the log.
#[derive(Debug, Default)]
pub struct Report {
    pub loaded: Loaded,
    /// The file was rewritten to drop bad lines, duplicates or a torn tail.
    pub rewritten: bool,
    /// Why the file could not be read or opened for writing, if it could not.
    pub problem: Option<String>,
}

impl PeerStore {
    /// Reads the file and opens it for appending. Never fails: problems are reported
    /// and the store works from memory until the file can be written.
    pub fn open(path: &Path) -> (PeerStore, Report) {
        let mut s = PeerStore { path: path.to_path_buf(), file: None, pending: Vec::new(), known: HashSet::new() };
        let report = s.read();
        (s, report)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file (SIGHUP): returns what it holds now, including lines an admin
    /// added. Peers not yet written stay pending and are written after the reload.
    pub fn reload(&mut self) -> Report {
        self.file = None;
        self.read()
    }

    fn read(&mut self) -> Report {
        let mut report = Report::default();
        match storefile::load(&self.path) {
            Ok(loaded) => report.loaded = loaded,
            Err(e) => {
                report.problem = Some(format!("cannot read {}: {e}", self.path.display()));
                self.known.extend(self.pending.iter().map(|e| e.peer.ip));
                return report;
            }
        }
        // The file's last lines are its most recently learned peers.
        self.known = report.loaded.entries.iter().rev().take(KNOWN_MAX).map(|e| e.peer.ip).collect();
        // Pending peers that an admin or an earlier write already put in the file are done.
        self.pending.retain(|e| !report.loaded.entries.iter().any(|f| f.peer.ip == e.peer.ip));
        self.known.extend(self.pending.iter().map(|e| e.peer.ip));
        if report.loaded.needs_rewrite() {
            match storefile::rewrite(&self.path, &report.loaded.entries) {
                Ok(()) => report.rewritten = true,
                Err(e) => report.problem = Some(format!("cannot rewrite {}: {e}", self.path.display())),
            }
        }
        if let Err(e) = self.reopen() {
            report.problem.get_or_insert(format!("cannot open {} for writing: {e}", self.path.display()));
        }
        report
    }

    fn reopen(&mut self) -> io::Result<()> {
        let f = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.file = Some(f);
        self.flush_pending()
    }

    /// Records a newly learned peer. `Err` means it stays pending (still blocked).
    pub fn add(&mut self, e: Entry) -> io::Result<()> {
        if self.known.contains(&e.peer.ip) {
            return Ok(());
        }
        if self.known.len() >= KNOWN_MAX {
            self.known.clear();
        }
        self.known.insert(e.peer.ip);
        self.pending.push(e);
        self.flush_pending()
    }

    /// Writes pending peers, oldest first; stops at the first failure.
    fn flush_pending(&mut self) -> io::Result<()> {
        let Some(f) = self.file.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "the storefile is not open"));
        };
        while let Some(e) = self.pending.first() {
            if let Err(err) = storefile::append(f, e) {
                // A partial line may be in the file now: close it, so the retry reads
                // the file again (rewriting away the torn line) before appending.
                self.file = None;
                return Err(err);
            }
            self.pending.remove(0);
        }
        Ok(())
    }

    /// Tries again to write what is pending (the main loop calls it every RETRY_MS).
    pub fn retry(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            let r = self.read();
            return match r.problem {
                Some(p) => Err(io::Error::other(p)),
                None if self.pending.is_empty() => Ok(()),
                None => Err(io::Error::other("peers are still waiting to be written")),
            };
        }
        self.flush_pending()
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Flushes everything to the disk (at a clean stop).
    pub fn sync(&mut self) -> io::Result<()> {
        let r = self.retry();
        if let Some(f) = &self.file {
            f.sync_all()?;
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Protocol;
    use std::fs;

    fn entry(s: &str) -> Entry {
        Entry { peer: s.parse().unwrap(), protocol: Protocol::FastTrack }
    }

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ftwall-peerstore-{}-{}", name, std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_missing_file_is_created_and_peers_are_appended_once() {
        let dir = temp("append");
        let path = dir.join("peers");
        let (mut s, r) = PeerStore::open(&path);
        assert!(r.problem.is_none() && r.loaded.entries.is_empty());
        s.add(entry("203.0.113.1:1214")).unwrap();
        s.add(entry("203.0.113.1:1215")).unwrap();
        s.add(entry("[2001:db8::1]:1214")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "203.0.113.1:1214 fasttrack\n[2001:db8::1]:1214 fasttrack\n");
        let (_, r) = PeerStore::open(&path);
        assert_eq!(r.loaded.entries, vec![entry("203.0.113.1:1214"), entry("[2001:db8::1]:1214")]);
        assert!(!r.rewritten);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_flood_of_distinct_peers_writes_every_one_and_remembers_a_bounded_few() {
        let dir = temp("flood");
        let path = dir.join("peers");
        let (mut s, _) = PeerStore::open(&path);
        let n = 3 * KNOWN_MAX + 7;
        let peer = |i: usize| entry(&format!("[2001:db8:8000::{:x}:{:x}]:1214", i >> 16, i & 0xffff));
        for i in 0..n {
            s.add(peer(i)).unwrap();
            assert!(s.known.len() <= KNOWN_MAX);
        }
        let capacity = s.known.capacity();
        for i in n..2 * n {
            s.add(peer(i)).unwrap();
        }
        assert_eq!(s.known.capacity(), capacity, "the set's memory stays as it was");
        s.add(peer(2 * n - 1)).unwrap();
        let lines = fs::read_to_string(&path).unwrap();
        assert_eq!(lines.lines().count(), 2 * n, "every peer once, the recent one not again");
        let (_, r) = PeerStore::open(&path);
        assert_eq!((r.loaded.entries.len(), r.loaded.duplicates), (2 * n, 0));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_file_is_rewritten_with_every_good_entry() {
        let dir = temp("rewrite");
        let path = dir.join("peers");
        fs::write(&path, "# mine\n203.0.113.1:1214\nrubbish\n203.0.113.1:9\n198.51.100.2 fasttrack\n203.0.113.7:12").unwrap();
        let (mut s, r) = PeerStore::open(&path);
        assert!(r.rewritten);
        assert_eq!(r.loaded.errors.len(), 1);
        assert_eq!(r.loaded.errors[0].line, 3);
        assert_eq!(r.loaded.duplicates, 1);
        s.add(entry("203.0.113.9:1214")).unwrap();
        let (_, again) = PeerStore::open(&path);
        assert!(!again.rewritten, "the rewritten file is clean");
        let ips: Vec<String> = again.loaded.entries.iter().map(|e| e.peer.ip.to_string()).collect();
        assert_eq!(ips, ["203.0.113.1", "198.51.100.2", "203.0.113.7", "203.0.113.9"]);
        let leftovers: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn peers_survive_an_unwritable_file_and_are_written_later() {
        let dir = temp("unwritable");
        // A directory where the file should be: opening it for writing fails, as on a
        // full or read-only disk (and also for root, unlike permission bits).
        let path = dir.join("peers");
        fs::create_dir(&path).unwrap();
        let (mut s, r) = PeerStore::open(&path);
        assert!(r.problem.is_some());
        assert!(s.add(entry("203.0.113.1:1214")).is_err());
        assert!(s.add(entry("203.0.113.2:1214")).is_err());
        assert_eq!(s.pending(), 2);
        assert!(s.retry().is_err());
        fs::remove_dir(&path).unwrap();
        s.retry().unwrap();
        assert_eq!(s.pending(), 0);
        assert_eq!(fs::read_to_string(&path).unwrap(), "203.0.113.1:1214 fasttrack\n203.0.113.2:1214 fasttrack\n");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reload_sees_lines_added_by_hand_and_keeps_pending_peers() {
        let dir = temp("reload");
        let path = dir.join("peers");
        let (mut s, _) = PeerStore::open(&path);
        s.add(entry("203.0.113.1:1214")).unwrap();
        // An admin adds a line, and a write is pending (the file was briefly unwritable).
        fs::write(&path, "203.0.113.1:1214 fasttrack\n198.51.100.5:1214 fasttrack\n").unwrap();
        s.pending.push(entry("203.0.113.3:1214"));
        let r = s.reload();
        assert!(r.problem.is_none());
        assert_eq!(r.loaded.entries.len(), 2);
        assert_eq!(s.pending(), 0, "written on reopening");
        let (_, after) = PeerStore::open(&path);
        let ips: Vec<String> = after.loaded.entries.iter().map(|e| e.peer.to_string()).collect();
        assert_eq!(ips, ["203.0.113.1:1214", "198.51.100.5:1214", "203.0.113.3:1214"]);
        s.sync().unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
