//! The storefile (`-f`): peers learned in earlier runs, one per line.
//!
//! Format, one peer per line: `ADDRESS:PORT [PROTOCOL]`, with IPv6 written
//! `[ADDRESS]:PORT`; a bare address (as some hand-made files have) is read with port 0;
//! blank lines and lines starting with `#` are ignored. The protocol defaults to
//! FastTrack, the only one the original ftwall knew.
//!
//! Reading never fails as a whole: each line that cannot be read is reported with its
//! number and skipped. The daemon appends one line per new peer and, when a file held bad
//! lines or duplicates, rewrites it atomically (temporary file, fsync, rename), so an
//! already-learned peer is never lost and a power cut costs at most the line being written.

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;

use crate::addr::Endpoint;
use crate::detect::Protocol;

/// One peer line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub peer: Endpoint,
    pub protocol: Protocol,
}

/// Why a line could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub reason: &'static str,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// Reads one line. `Ok(None)` for blank and comment lines.
pub fn parse_line(line: &str) -> Result<Option<Entry>, &'static str> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut words = line.split_whitespace();
    let addr = words.next().ok_or("empty line")?;
    let peer = match addr.parse::<Endpoint>() {
        Ok(e) => e,
        Err(_) => match addr.parse::<IpAddr>() {
            Ok(ip) => Endpoint::new(ip, 0),
            Err(_) => return Err("not an address or address:port"),
        },
    };
    let protocol = match words.next() {
        Some(name) => Protocol::from_name(name).ok_or("unknown protocol name")?,
        None => Protocol::FastTrack,
    };
    if words.next().is_some() {
        return Err("unexpected text after the protocol");
    }
    Ok(Some(Entry { peer, protocol }))
}

/// Writes one line (without the newline).
pub fn format_line(e: &Entry) -> String {
    format!("{} {}", e.peer, e.protocol)
}

/// What a storefile held.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Readable entries, first occurrence of each address kept, in file order.
    pub entries: Vec<Entry>,
    /// Lines that could not be read.
    pub errors: Vec<LineError>,
    /// Lines repeating an address already read.
    pub duplicates: usize,
    /// True if the file ended without a newline (a write cut short).
    pub torn_tail: bool,
}

impl Loaded {
    /// True if rewriting the file would make it clean.
    pub fn needs_rewrite(&self) -> bool {
        !self.errors.is_empty() || self.duplicates > 0 || self.torn_tail
    }
}

/// Reads storefile text. Bytes that are not UTF-8 make their line unreadable, not the file.
pub fn parse(bytes: &[u8]) -> Loaded {
    let mut out = Loaded { torn_tail: !bytes.is_empty() && !bytes.ends_with(b"\n"), ..Loaded::default() };
    let mut seen = HashSet::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = i + 1;
        let parsed = std::str::from_utf8(raw).map_err(|_| "not text").and_then(parse_line);
        match parsed {
            Ok(Some(e)) => {
                if seen.insert(e.peer.ip) {
                    out.entries.push(e);
                } else {
                    out.duplicates += 1;
                }
            }
            Ok(None) => {}
            Err(reason) => out.errors.push(LineError { line, reason }),
        }
    }
    out
}

/// Reads a storefile; a missing file is an empty one.
pub fn load(path: &Path) -> io::Result<Loaded> {
    match fs::read(path) {
        Ok(bytes) => Ok(parse(&bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Loaded::default()),
        Err(e) => Err(e),
    }
}

/// Replaces the file with exactly `entries`, atomically: a crash leaves either the old
/// file or the new one, never a mix.
pub fn rewrite(path: &Path, entries: &[Entry]) -> io::Result<()> {
    let mut text = String::from("# ftwall storefile: peers learned, one per line (address:port protocol)\n");
    for e in entries {
        text.push_str(&format_line(e));
        text.push('\n');
    }
    replace_file(path, &text)
}

/// Replaces the file at `path` with `text` atomically (temporary file beside it, fsync,
/// rename): a crash leaves the old file or the new one. Shared with the DNS training file.
pub fn replace_file(path: &Path, text: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)
}

/// Appends one entry and flushes it to the file.
pub fn append(file: &mut fs::File, e: &Entry) -> io::Result<()> {
    let mut line = format_line(e);
    line.push('\n');
    // One write call per line, so a line is never interleaved or split by buffering.
    file.write_all(line.as_bytes())?;
    file.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        for s in ["203.0.113.5:1214 fasttrack", "[2001:db8::5]:6346 gnutella"] {
            let e = parse_line(s).unwrap().unwrap();
            assert_eq!(format_line(&e), s);
        }
        let bare = parse_line("  198.51.100.1 ").unwrap().unwrap();
        assert_eq!((bare.peer.port, bare.protocol), (0, Protocol::FastTrack));
        assert_eq!(parse_line("# comment").unwrap(), None);
        assert_eq!(parse_line("").unwrap(), None);
        assert!(parse_line("203.0.113.5:1214 napster").is_err());
        assert!(parse_line("203.0.113.5:99999").is_err());
        assert!(parse_line("hello").is_err());
        assert!(parse_line("203.0.113.5:1 fasttrack extra").is_err());
    }

    #[test]
    fn damaged_files_lose_only_damaged_lines() {
        let text = b"203.0.113.1:1214\n\xff\xfe garbage\nnot an address\n[2001:db8::1]:1214 fasttrack\n203.0.113.1:9999\n203.0.113.2:12";
        let l = parse(text);
        assert_eq!(l.entries.len(), 3);
        assert_eq!(l.errors.iter().map(|e| e.line).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(l.duplicates, 1);
        assert!(l.torn_tail);
        assert!(l.needs_rewrite());
        assert_eq!(l.entries[2].peer, "203.0.113.2:12".parse().unwrap(), "a torn last line that still reads is kept");
    }

    #[test]
    fn rewrite_then_load_round_trips() {
        let dir = std::env::temp_dir().join(format!("ftwall-store-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("peers");
        let entries = vec![
            Entry { peer: "203.0.113.1:1214".parse().unwrap(), protocol: Protocol::FastTrack },
            Entry { peer: "[2001:db8::7]:4662".parse().unwrap(), protocol: Protocol::EDonkey },
        ];
        rewrite(&path, &entries).unwrap();
        let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
        let more = Entry { peer: "198.51.100.3:6881".parse().unwrap(), protocol: Protocol::BitTorrent };
        append(&mut f, &more).unwrap();
        let l = load(&path).unwrap();
        assert!(!l.needs_rewrite());
        assert_eq!(l.entries, [entries[0], entries[1], more]);
        assert!(load(&dir.join("missing")).unwrap().entries.is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }
}
