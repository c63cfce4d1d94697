//! Keeps the storefile (`-f`) in step with what the daemon learns.
//!
//! At start the file is read (bad lines reported with their number and skipped), its
//! peers are handed to the engine and the kernel, and the file is opened for appending;
//! every new peer is then one line, written and flushed at once, so a power cut loses at
//! most the line being written. A file with bad lines, duplicates or a torn last line is
//! first rewritten atomically with exactly its good entries, so nothing already learned
//! is ever lost by a rewrite.
//!
//! The file is bounded by what the engine's peer table holds (`keep`, 8192 peers): it is
//! read with bounded memory (only its newest `keep` peers, and of a huge file only the
//! tail), and when appending has brought it to `2 * keep` peers it is rewritten
//! atomically with its newest `keep`. Older peers would not fit in the engine anyway, so
//! a flood of a million distinct peers leaves a file of at most `2 * keep` lines (at most
//! about 1 MB, usually 600 KB), not one of 35 MB.
//!
//! Writing never stops the firewall: if the disk is full or read-only, peers that could
//! not be written are kept in memory (the newest `keep` of them, all still blocked),
//! retried from time to time, and the problem is logged at most once a minute.

use std::collections::{HashSet, VecDeque};
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
    /// How many peers the file keeps (the engine's peer table); it holds at most twice that.
    keep: usize,
    /// Peers the file holds, as far as we know.
    in_file: usize,
    /// Trim the file when it holds this many peers (`2 * keep`, later after a failure).
    trim_at: usize,
    /// Peers learned but not yet written (the last write failed): the newest `keep`.
    pending: VecDeque<Entry>,
    /// Addresses the file holds (or will hold once `pending` is written): the last
    /// [`KNOWN_MAX`] at most.
    known: HashSet<IpAddr>,
}

/// What reading the file found, for the log.
#[derive(Debug, Default)]
pub struct Report {
    pub loaded: Loaded,
    /// The file was rewritten to drop bad lines, duplicates, a torn tail or old peers.
    pub rewritten: bool,
    /// Why the file could not be read or opened for writing, if it could not.
    pub problem: Option<String>,
}

impl PeerStore {
    /// Reads the file and opens it for appending; the file keeps the newest `keep` peers
    /// (see the module documentation). Never fails: problems are reported and the store
    /// works from memory until the file can be written.
    pub fn open(path: &Path, keep: usize) -> (PeerStore, Report) {
        let keep = keep.max(1);
        let mut s = PeerStore {
            path: path.to_path_buf(),
            file: None,
            keep,
            in_file: 0,
            trim_at: keep.saturating_mul(2),
            pending: VecDeque::new(),
            known: HashSet::new(),
        };
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
        match storefile::load_newest(&self.path, self.keep) {
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
        let in_file: HashSet<IpAddr> = report.loaded.entries.iter().map(|e| e.peer.ip).collect();
        self.pending.retain(|e| !in_file.contains(&e.peer.ip));
        self.known.extend(self.pending.iter().map(|e| e.peer.ip));
        self.in_file = report.loaded.entries.len() + report.loaded.duplicates;
        if report.loaded.needs_rewrite() {
            match storefile::rewrite(&self.path, &report.loaded.entries) {
                Ok(()) => {
                    report.rewritten = true;
                    self.in_file = report.loaded.entries.len();
                }
                Err(e) => report.problem = Some(format!("cannot rewrite {}: {e}", self.path.display())),
            }
        }
        self.trim_at = self.keep.saturating_mul(2).max(self.in_file.saturating_add(self.keep / 4));
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

    /// Records a newly learned peer. `Err` means it stays pending (still blocked), or
    /// that the file could not be trimmed.
    pub fn add(&mut self, e: Entry) -> io::Result<()> {
        if self.known.contains(&e.peer.ip) {
            return Ok(());
        }
        if self.known.len() >= KNOWN_MAX {
            self.known.clear();
        }
        self.known.insert(e.peer.ip);
        if self.pending.len() >= self.keep {
            // The file would keep only the newest `keep` anyway.
            self.pending.pop_front();
        }
        self.pending.push_back(e);
        self.flush_pending()?;
        if self.in_file >= self.trim_at {
            self.trim()?;
        }
        Ok(())
    }

    /// Rewrites the file with its newest `keep` peers.
    fn trim(&mut self) -> io::Result<()> {
        // The file holds only clean lines since it was read (a start, a reload): its
        // last `keep` lines are its newest peers.
        let trimmed = storefile::keep_last_lines(&self.path, self.keep).and_then(|n| {
            self.in_file = n;
            // The old handle appends to the file that was replaced.
            self.reopen()
        });
        match trimmed {
            Ok(()) => {
                self.trim_at = self.keep.saturating_mul(2);
                log::debug!("storefile {} trimmed to its newest {} peers", self.path.display(), self.in_file);
                Ok(())
            }
            Err(e) => {
                // Not again at every new peer: after another quarter of `keep`.
                self.trim_at = self.in_file.saturating_add(self.keep / 4);
                Err(io::Error::other(format!("cannot trim the file to its newest {} peers: {e}", self.keep)))
            }
        }
    }

    /// Writes pending peers, oldest first; stops at the first failure.
    fn flush_pending(&mut self) -> io::Result<()> {
        let Some(f) = self.file.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "the storefile is not open"));
        };
        while let Some(e) = self.pending.front() {
            if let Err(err) = storefile::append(f, e) {
                // A partial line may be in the file now: close it, so the retry reads
                // the file again (rewriting away the torn line) before appending.
                self.file = None;
                return Err(err);
            }
            self.pending.pop_front();
            self.in_file = self.in_file.saturating_add(1);
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
        let (mut s, r) = PeerStore::open(&path, 8192);
        assert!(r.problem.is_none() && r.loaded.entries.is_empty());
        s.add(entry("203.0.113.1:1214")).unwrap();
        s.add(entry("203.0.113.1:1215")).unwrap();
        s.add(entry("[2001:db8::1]:1214")).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "203.0.113.1:1214 fasttrack\n[2001:db8::1]:1214 fasttrack\n");
        let (_, r) = PeerStore::open(&path, 8192);
        assert_eq!(r.loaded.entries, vec![entry("203.0.113.1:1214"), entry("[2001:db8::1]:1214")]);
        assert!(!r.rewritten);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_flood_of_distinct_peers_writes_every_one_and_remembers_a_bounded_few() {
        let dir = temp("flood");
        let path = dir.join("peers");
        let (mut s, _) = PeerStore::open(&path, 8192);
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
        let (_, r) = PeerStore::open(&path, 8192);
        assert_eq!((r.loaded.entries.len(), r.loaded.duplicates), (2 * n, 0));
        fs::remove_dir_all(&dir).unwrap();
    }

    fn peer(i: usize) -> Entry {
        entry(&format!("[2001:db8:8000::{:x}:{:x}]:1214", i >> 16, i & 0xffff))
    }

    fn peer_lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path).unwrap().lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect()
    }

    #[test]
    fn a_flood_of_distinct_peers_leaves_a_bounded_file_with_the_newest() {
        let dir = temp("bounded");
        let path = dir.join("peers");
        let keep = 64;
        let (mut s, _) = PeerStore::open(&path, keep);
        let mut most = 0;
        for i in 0..20 * keep + 5 {
            s.add(peer(i)).unwrap();
            let n = peer_lines(&path).len();
            assert!(n <= 2 * keep, "{n} peers in the file after {} learned", i + 1);
            most = most.max(n);
        }
        assert_eq!(most, 2 * keep - 1, "it grows to its bound, then is trimmed");
        let lines = peer_lines(&path);
        assert_eq!(lines.last().map(String::as_str), Some(format_line(&peer(20 * keep + 4)).as_str()), "the newest is kept");
        let (_, r) = PeerStore::open(&path, keep);
        let newest: Vec<Entry> = (19 * keep + 5..20 * keep + 5).map(peer).collect();
        assert_eq!(r.loaded.entries, newest, "a restart keeps the newest {keep}");
        assert!(r.rewritten && r.loaded.dropped > 0);
        let names: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    fn format_line(e: &Entry) -> String {
        storefile::format_line(e)
    }

    #[test]
    fn a_huge_damaged_file_never_prevents_start() {
        let dir = temp("huge");
        let path = dir.join("peers");
        let mut text = vec![b'#'; 3 << 20]; // megabytes of one comment line
        text.extend(b"\n\0\0\0garbage\n203.0.113.8:1214 fasttrack\n");
        text.extend(b"198.51.100.1:12"); // and a torn last line
        fs::write(&path, &text).unwrap();
        let (mut s, r) = PeerStore::open(&path, 16);
        assert!(r.problem.is_none(), "{:?}", r.problem);
        assert!(r.rewritten && r.loaded.skipped_bytes > 0);
        assert_eq!(r.loaded.entries, [entry("203.0.113.8:1214"), entry("198.51.100.1:12")]);
        assert!(r.loaded.torn_tail && r.loaded.errors.len() == 1, "{:?}", r.loaded.errors);
        s.add(entry("203.0.113.9:1214")).unwrap();
        assert!(fs::metadata(&path).unwrap().len() < 200, "rewritten small");
        assert_eq!(peer_lines(&path), ["203.0.113.8:1214 fasttrack", "198.51.100.1:12 fasttrack", "203.0.113.9:1214 fasttrack"]);
        // Nothing but damage: the start goes on with an empty store.
        fs::write(&path, vec![b'z'; 5 << 20]).unwrap();
        let (_, r) = PeerStore::open(&path, 16);
        assert!(r.problem.is_none() && r.rewritten && r.loaded.entries.is_empty());
        assert_eq!(peer_lines(&path), Vec::<String>::new());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn peers_waiting_for_an_unwritable_file_are_bounded_too() {
        let dir = temp("pending");
        let path = dir.join("peers");
        fs::create_dir(&path).unwrap();
        let (mut s, _) = PeerStore::open(&path, 8);
        for i in 0..20 {
            assert!(s.add(peer(i)).is_err());
        }
        assert_eq!(s.pending(), 8);
        fs::remove_dir(&path).unwrap();
        s.retry().unwrap();
        let written: Vec<String> = (12..20).map(|i| format_line(&peer(i))).collect();
        assert_eq!(peer_lines(&path), written, "the newest 8");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_damaged_file_is_rewritten_with_every_good_entry() {
        let dir = temp("rewrite");
        let path = dir.join("peers");
        fs::write(&path, "# mine\n203.0.113.1:1214\nrubbish\n203.0.113.1:9\n198.51.100.2 fasttrack\n203.0.113.7:12").unwrap();
        let (mut s, r) = PeerStore::open(&path, 8192);
        assert!(r.rewritten);
        assert_eq!(r.loaded.errors.len(), 1);
        assert_eq!(r.loaded.errors[0].line, 3);
        assert_eq!(r.loaded.duplicates, 1);
        s.add(entry("203.0.113.9:1214")).unwrap();
        let (_, again) = PeerStore::open(&path, 8192);
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
        let (mut s, r) = PeerStore::open(&path, 8192);
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
        let (mut s, _) = PeerStore::open(&path, 8192);
        s.add(entry("203.0.113.1:1214")).unwrap();
        // An admin adds a line, and a write is pending (the file was briefly unwritable).
        fs::write(&path, "203.0.113.1:1214 fasttrack\n198.51.100.5:1214 fasttrack\n").unwrap();
        s.pending.push_back(entry("203.0.113.3:1214"));
        let r = s.reload();
        assert!(r.problem.is_none());
        assert_eq!(r.loaded.entries.len(), 2);
        assert_eq!(s.pending(), 0, "written on reopening");
        let (_, after) = PeerStore::open(&path, 8192);
        let ips: Vec<String> = after.loaded.entries.iter().map(|e| e.peer.to_string()).collect();
        assert_eq!(ips, ["203.0.113.1:1214", "198.51.100.5:1214", "203.0.113.3:1214"]);
        s.sync().unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
