//! The DNS training file (`-D`, ftwall 2's "DNS training file"): the addresses learned
//! from DNS answers, kept across restarts, so that blocking still works when a client
//! later answers its own lookups from its cache and asks no server.
//!
//! Format, one address per line: `ADDRESS EXPIRES [NAME]`
//! * `ADDRESS`: an IPv4 or IPv6 address;
//! * `EXPIRES`: when its block ends, in seconds since the Unix epoch (wall-clock time,
//!   because the engine's monotonic clock starts again with the daemon);
//! * `NAME`: the name it was learned from (its last characters, `..` marking a cut), for
//!   people; `-` or nothing if unknown.
//!
//! Blank lines and lines starting with `#` are ignored. Reading never fails as a whole:
//! each line that cannot be read is reported with its number and skipped, and entries
//! whose time is already up are dropped. On loading, the engine's safety rules apply
//! again (an address that may never be blocked is refused) and the time left is capped
//! at the configured maximum. The daemon rewrites the whole file atomically from the
//! engine's table ([`snapshot`] then [`save`]), so a hand-edited or damaged file heals.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::Path;

use crate::dns::name::NameTail;
use crate::engine::Engine;
use crate::storefile::{replace_file, LineError};
use crate::time::Millis;

/// One line of the training file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub ip: IpAddr,
    /// Seconds since the Unix epoch when the block ends.
    pub expires: u64,
    pub name: NameTail,
}

/// Reads one line. `Ok(None)` for blank and comment lines.
pub fn parse_line(line: &str) -> Result<Option<Entry>, &'static str> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut words = line.split_whitespace();
    let ip: IpAddr = words.next().ok_or("empty line")?.parse().map_err(|_| "not an IP address")?;
    let expires: u64 = words.next().ok_or("no expiry time")?.parse().map_err(|_| "expiry time is not a number of seconds")?;
    let name = match words.next() {
        None | Some("-") => NameTail::EMPTY,
        Some(n) => NameTail::of(n.as_bytes()),
    };
    if words.next().is_some() {
        return Err("unexpected text after the name");
    }
    Ok(Some(Entry { ip, expires, name }))
}

/// Writes one line (without the newline).
pub fn format_line(e: &Entry) -> String {
    format!("{} {} {}", e.ip, e.expires, e.name)
}

/// What a training file held.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Readable entries still in force, in file order (a later line for the same address
    /// replaces an earlier one when preloaded).
    pub entries: Vec<Entry>,
    /// Lines that could not be read.
    pub errors: Vec<LineError>,
    /// Entries whose time was already up.
    pub expired: usize,
}

/// Reads training file text at wall-clock time `now_unix`. Bytes that are not UTF-8 make
/// their line unreadable, not the file.
pub fn parse(bytes: &[u8], now_unix: u64) -> Loaded {
    let mut out = Loaded::default();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        match std::str::from_utf8(raw).map_err(|_| "not text").and_then(parse_line) {
            Ok(Some(e)) if e.expires > now_unix => out.entries.push(e),
            Ok(Some(_)) => out.expired += 1,
            Ok(None) => {}
            Err(reason) => out.errors.push(LineError { line: i + 1, reason }),
        }
    }
    out
}

/// Reads a training file; a missing file is an empty one.
pub fn load(path: &Path, now_unix: u64) -> io::Result<Loaded> {
    match fs::read(path) {
        Ok(bytes) => Ok(parse(&bytes, now_unix)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Loaded::default()),
        Err(e) => Err(e),
    }
}

/// Puts loaded entries into the engine (monotonic time `now`, wall-clock `now_unix`).
/// Returns how many were accepted and how many the safety rules refused.
pub fn preload(engine: &mut Engine, loaded: &Loaded, now: Millis, now_unix: u64) -> (usize, usize) {
    let (mut accepted, mut refused) = (0, 0);
    for e in &loaded.entries {
        let secs_left = u32::try_from(e.expires.saturating_sub(now_unix)).unwrap_or(u32::MAX);
        if engine.preload_dns(e.ip, e.name, secs_left, now) {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    (accepted, refused)
}

/// The engine's DNS-learned addresses as training file entries.
pub fn snapshot(engine: &Engine, now: Millis, now_unix: u64) -> Vec<Entry> {
    let mut v: Vec<Entry> = engine
        .dns_blocked(now)
        .map(|s| Entry { ip: s.ip, expires: now_unix.saturating_add(u64::from(s.secs_left)), name: s.name })
        .collect();
    // A stable order keeps the file readable and diffs small. (The addresses are unique,
    // so an unstable sort gives the same order, with less code than a stable one.)
    v.sort_unstable_by_key(|e| (e.ip, e.expires));
    v
}

/// Replaces the file with exactly `entries`, atomically.
pub fn save(path: &Path, entries: &[Entry]) -> io::Result<()> {
    let mut text = String::from("# ftwall DNS training file: address, block end (Unix seconds), name\n");
    for e in entries {
        text.push_str(&format_line(e));
        text.push('\n');
    }
    replace_file(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::PatternSet;
    use crate::engine::Config;

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn lines_round_trip() {
        for s in ["198.51.100.70 1800000600 cache0.winmx.com", "2001:db8::7 1800086400 -"] {
            let e = parse_line(s).unwrap().unwrap();
            assert_eq!(format_line(&e), s);
        }
        let bare = parse_line(" 198.51.100.71 1800000001 ").unwrap().unwrap();
        assert_eq!(bare.name, NameTail::EMPTY);
        assert_eq!(parse_line("# comment").unwrap(), None);
        for bad in ["198.51.100.70", "cache0.winmx.com 1800000600", "198.51.100.70 soon", "198.51.100.70 -5", "198.51.100.70 1 a b"] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn damaged_lines_are_reported_and_skipped() {
        let text = b"# header\n198.51.100.70 1800000600 cache0.winmx.com\n\xff\xfe\nrubbish\n198.51.100.72 1700000000 old.winmx.com\n2001:db8::7 1800000700\n198.51.100.73 18000";
        let l = parse(text, NOW);
        assert_eq!(l.entries.iter().map(|e| e.ip.to_string()).collect::<Vec<_>>(), ["198.51.100.70", "2001:db8::7"]);
        assert_eq!(l.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![3, 4]);
        // The expired line and the torn last line (it reads as a time long past).
        assert_eq!(l.expired, 2);
    }

    #[test]
    fn save_load_and_preload_round_trip_through_the_engine() {
        let mut patterns = PatternSet::new();
        patterns.add("*.winmx.com").unwrap();
        let config = Config { patterns, never_block: vec!["192.168.1.0/24".parse().unwrap()], ..Config::default() };
        let mut e = Engine::new(config.clone());
        let now = Millis(5_000);
        assert!(e.preload_dns("198.51.100.70".parse().unwrap(), NameTail::of(b"cache0.winmx.com"), 900, now));
        assert!(e.preload_dns("2001:db8::7".parse().unwrap(), NameTail::of(b"c3310.z1303.winmx.com"), 3600, now));
        let entries = snapshot(&e, now, NOW);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].expires, NOW + 900);

        let dir = std::env::temp_dir().join(format!("ftwall-training-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dns");
        save(&path, &entries).unwrap();
        // An entry the safety rules refuse, added by hand (a LAN address).
        let mut text = fs::read_to_string(&path).unwrap();
        text.push_str("192.168.1.5 1800000900 lan.winmx.com\n");
        fs::write(&path, text).unwrap();

        // A restart 100 seconds later: the engine's clock starts again at zero.
        let loaded = load(&path, NOW + 100).unwrap();
        assert!(loaded.errors.is_empty());
        let mut fresh = Engine::new(config);
        assert_eq!(preload(&mut fresh, &loaded, Millis(0), NOW + 100), (2, 1));
        let mut left: Vec<_> = fresh.dns_blocked(Millis(0)).map(|s| (s.ip.to_string(), s.secs_left, s.name.to_string())).collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                ("198.51.100.70".to_string(), 800, "cache0.winmx.com".to_string()),
                ("2001:db8::7".to_string(), 3500, "c3310.z1303.winmx.com".to_string()),
            ]
        );
        assert!(load(&dir.join("missing"), NOW).unwrap().entries.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
