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
//! Reading takes bounded memory whatever the file holds ([`load_newest`]), and the daemon
//! keeps the file to twice its peer table ([`keep_last_lines`]).

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

/// Longest line that is read as a line (a good one is at most about 60 bytes); anything
/// longer is damage (or a long comment), and is never held in memory whole.
pub const MAX_LINE: usize = 256;
/// Unreadable lines listed one by one (for the log); more are only counted.
pub const ERRORS_LISTED: usize = 16;

/// What a storefile held.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Readable entries of the newest lines read (see [`load_newest`]), first occurrence
    /// of each address kept, in file order.
    pub entries: Vec<Entry>,
    /// Lines that could not be read: the first [`ERRORS_LISTED`].
    pub errors: Vec<LineError>,
    /// Unreadable lines beyond those listed.
    pub more_errors: usize,
    /// Lines repeating an address already read.
    pub duplicates: usize,
    /// True if the file ended without a newline (a write cut short).
    pub torn_tail: bool,
    /// Good lines left out because newer ones filled what is kept.
    pub dropped: usize,
    /// Bytes at the head of an oversized file that were not read at all.
    pub skipped_bytes: u64,
    /// More lines (of any kind) than twice what is kept: the file is rewritten.
    pub oversized: bool,
}

impl Loaded {
    /// True if rewriting the file would make it clean (and small again).
    pub fn needs_rewrite(&self) -> bool {
        !self.errors.is_empty()
            || self.more_errors > 0
            || self.duplicates > 0
            || self.torn_tail
            || self.dropped > 0
            || self.skipped_bytes > 0
            || self.oversized
    }
}

/// Reads storefile text. Bytes that are not UTF-8 make their line unreadable, not the file.
pub fn parse(bytes: &[u8]) -> Loaded {
    let mut r = Reader::new(usize::MAX);
    r.feed(bytes);
    r.finish()
}

/// Reads a storefile; a missing file is an empty one. Only what the daemon keeps is held
/// in memory: the newest `keep` good lines (older ones are counted in `dropped`), and of
/// a file too big for that to be its tail (more than `2 * keep + 1` lines of
/// [`MAX_LINE`] bytes), only the tail is read, so neither a damaged nor a huge file can
/// hold the start up or fill the memory.
pub fn load_newest(path: &Path, keep: usize) -> io::Result<Loaded> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(e),
    };
    let size = f.metadata()?.len();
    let limit = u64::try_from(keep.saturating_mul(2).saturating_add(1).saturating_mul(MAX_LINE + 1)).unwrap_or(u64::MAX);
    let mut r = Reader::new(keep);
    if size > limit {
        f.seek(SeekFrom::Start(size - limit))?;
        r.skipped_bytes = size - limit;
        // What comes before the first newline is the end of a line that was not read.
        r.in_skipped_line = true;
    }
    let mut buf = [0u8; 8192];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => r.feed(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(r.finish())
}

/// Reads a whole storefile; a missing file is an empty one.
pub fn load(path: &Path) -> io::Result<Loaded> {
    load_newest(path, usize::MAX)
}

/// Storefile text read in pieces, line by line, with bounded memory.
struct Reader {
    keep: usize,
    /// The newest good entries, at most `keep`.
    newest: std::collections::VecDeque<Entry>,
    /// The line being read, up to MAX_LINE bytes, and whether it was longer.
    line: Vec<u8>,
    too_long: bool,
    /// Lines read (of any kind).
    lines: usize,
    in_skipped_line: bool,
    skipped_bytes: u64,
    last_byte: Option<u8>,
    errors: Vec<LineError>,
    more_errors: usize,
    dropped: usize,
}

impl Reader {
    fn new(keep: usize) -> Reader {
        Reader {
            keep,
            newest: std::collections::VecDeque::new(),
            line: Vec::with_capacity(MAX_LINE),
            too_long: false,
            lines: 0,
            in_skipped_line: false,
            skipped_bytes: 0,
            last_byte: None,
            errors: Vec::new(),
            more_errors: 0,
            dropped: 0,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        if let Some(&b) = bytes.last() {
            self.last_byte = Some(b);
        }
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            let (head, tail) = bytes.split_at(i);
            self.take(head);
            self.end_line();
            bytes = tail.get(1..).unwrap_or_default();
        }
        self.take(bytes);
    }

    fn take(&mut self, bytes: &[u8]) {
        if self.in_skipped_line {
            self.skipped_bytes = self.skipped_bytes.saturating_add(bytes.len() as u64);
            return;
        }
        let room = MAX_LINE - self.line.len();
        if bytes.len() > room {
            self.too_long = true;
        }
        self.line.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
    }

    fn end_line(&mut self) {
        if self.in_skipped_line {
            self.in_skipped_line = false;
            self.skipped_bytes = self.skipped_bytes.saturating_add(1);
            return;
        }
        self.lines = self.lines.saturating_add(1);
        let comment = self.line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'#');
        let parsed = if self.too_long && !comment {
            Err("line too long")
        } else if self.too_long {
            Ok(None)
        } else {
            std::str::from_utf8(&self.line).map_err(|_| "not text").and_then(parse_line)
        };
        match parsed {
            Ok(Some(e)) => {
                if self.newest.len() >= self.keep {
                    self.newest.pop_front();
                    self.dropped += 1;
                }
                self.newest.push_back(e);
            }
            Ok(None) => {}
            Err(reason) if self.errors.len() < ERRORS_LISTED => self.errors.push(LineError { line: self.lines, reason }),
            Err(_) => self.more_errors += 1,
        }
        self.line.clear();
        self.too_long = false;
    }

    fn finish(mut self) -> Loaded {
        let torn_tail = self.last_byte.is_some_and(|b| b != b'\n');
        if !self.line.is_empty() || self.too_long {
            self.end_line();
        }
        let mut out = Loaded {
            torn_tail,
            errors: self.errors,
            more_errors: self.more_errors,
            dropped: self.dropped,
            skipped_bytes: self.skipped_bytes,
            oversized: self.lines / 2 > self.keep,
            ..Loaded::default()
        };
        let mut seen = HashSet::with_capacity(self.newest.len());
        for e in self.newest {
            if seen.insert(e.peer.ip) {
                out.entries.push(e);
            } else {
                out.duplicates += 1;
            }
        }
        out
    }
}

const HEADER: &str = "# ftwall storefile: peers learned, one per line (address:port protocol)\n";

/// Replaces the file with exactly `entries`, atomically: a crash leaves either the old
/// file or the new one, never a mix.
pub fn rewrite(path: &Path, entries: &[Entry]) -> io::Result<()> {
    let mut text = String::from(HEADER);
    for e in entries {
        text.push_str(&format_line(e));
        text.push('\n');
    }
    replace_file(path, &text)
}

/// Replaces the file with its last `keep` lines (and the header), atomically, copying
/// them in small pieces: the daemon trims its growing file this way without holding it
/// in memory. Returns how many lines it kept.
pub fn keep_last_lines(path: &Path, keep: usize) -> io::Result<usize> {
    use std::io::{BufRead, BufReader, Read};
    let mut total = 0usize;
    let mut r = BufReader::with_capacity(8192, fs::File::open(path)?);
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        total += chunk.iter().filter(|&&b| b == b'\n').count();
        let n = chunk.len();
        r.consume(n);
    }
    let mut r = BufReader::with_capacity(8192, fs::File::open(path)?);
    let mut skip = total.saturating_sub(keep);
    // The header goes with the lines cut off; a file that keeps its first line keeps it.
    let header = if skip > 0 { HEADER } else { "" };
    while skip > 0 {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        let used = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                skip -= 1;
                i + 1
            }
            None => chunk.len(),
        };
        r.consume(used);
    }
    replace_file_with(path, |f| {
        f.write_all(header.as_bytes())?;
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf)? {
                0 => return Ok(()),
                n => f.write_all(buf.get(..n).unwrap_or_default())?,
            }
        }
    })?;
    Ok(total.min(keep))
}

/// Replaces the file at `path` with `text` atomically (temporary file beside it, fsync,
/// rename): a crash leaves the old file or the new one. Shared with the DNS training file.
pub fn replace_file(path: &Path, text: &str) -> io::Result<()> {
    replace_file_with(path, |f| f.write_all(text.as_bytes()))
}

/// [`replace_file`] with the new content written by `write`.
fn replace_file_with(path: &Path, write: impl FnOnce(&mut fs::File) -> io::Result<()>) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::File::create(&tmp)?;
        write(&mut f)?;
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

    fn lines(n: usize) -> String {
        (0..n).map(|i| format!("[2001:db8:5::{i:x}]:1214 fasttrack\n")).collect()
    }

    #[test]
    fn pieces_of_any_size_read_as_the_whole() {
        let text = b"# c\n203.0.113.1:1214\n\xff\nnot an address\n[2001:db8::1]:1214 fasttrack\n203.0.113.1:9\n203.0.113.2:12";
        let whole = parse(text);
        for size in [1, 2, 3, 7, 64] {
            let mut r = Reader::new(usize::MAX);
            text.chunks(size).for_each(|c| r.feed(c));
            let l = r.finish();
            assert_eq!((l.entries, l.errors, l.duplicates, l.torn_tail), (whole.entries.clone(), whole.errors.clone(), 1, true));
        }
    }

    #[test]
    fn only_the_newest_lines_are_kept_and_damage_is_bounded() {
        let mut text = lines(10).into_bytes();
        text.extend(std::iter::repeat(b'x').take(1 << 20)); // a megabyte without a newline
        text.extend(b"\n".iter().chain(b"rubbish\n".repeat(100).iter()));
        text.extend(b" #".iter().chain([b'.'; 1000].iter()).chain(b"\n")); // a long comment is no error
        text.extend(b"203.0.113.9:1214\n");
        let mut r = Reader::new(3);
        text.chunks(4096).for_each(|c| r.feed(c));
        assert!(r.line.capacity() <= MAX_LINE, "a long line is not held whole");
        let l = r.finish();
        let kept: Vec<String> = l.entries.iter().map(|e| e.peer.to_string()).collect();
        assert_eq!(kept, ["[2001:db8:5::8]:1214", "[2001:db8:5::9]:1214", "203.0.113.9:1214"]);
        assert_eq!(l.dropped, 8);
        assert_eq!((l.errors.len(), l.more_errors), (ERRORS_LISTED, 101 - ERRORS_LISTED));
        assert_eq!((l.errors[0].line, l.errors[0].reason), (11, "line too long"));
        assert!(l.needs_rewrite() && l.oversized, "111 lines for 3 kept");
    }

    #[test]
    fn of_an_oversized_file_only_the_tail_is_read() {
        let dir = std::env::temp_dir().join(format!("ftwall-store-big-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("peers");
        let keep = 4;
        fs::write(&path, lines(1000)).unwrap();
        let l = load_newest(&path, keep).unwrap();
        let limit = ((2 * keep + 1) * (MAX_LINE + 1)) as u64;
        assert!(l.skipped_bytes >= fs::metadata(&path).unwrap().len() - limit, "{}", l.skipped_bytes);
        assert!(l.errors.is_empty(), "the cut line is skipped, not an error: {:?}", l.errors);
        let kept: Vec<String> = l.entries.iter().map(|e| e.peer.to_string()).collect();
        assert_eq!(kept, ["[2001:db8:5::3e4]:1214", "[2001:db8:5::3e5]:1214", "[2001:db8:5::3e6]:1214", "[2001:db8:5::3e7]:1214"]);
        assert!(l.needs_rewrite());
        // A small file is read whole and needs nothing.
        fs::write(&path, lines(4)).unwrap();
        let l = load_newest(&path, keep).unwrap();
        assert_eq!((l.entries.len(), l.skipped_bytes, l.needs_rewrite()), (4, 0, false));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn trimming_keeps_the_last_lines() {
        let dir = std::env::temp_dir().join(format!("ftwall-store-trim-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("peers");
        fs::write(&path, lines(3000)).unwrap();
        assert_eq!(keep_last_lines(&path, 100).unwrap(), 100);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("{HEADER}{}", &lines(3000)[lines(2900).len()..]));
        assert_eq!(keep_last_lines(&path, 500).unwrap(), 101, "the header and the 100");
        assert_eq!(fs::read_to_string(&path).unwrap(), text, "nothing to cut: unchanged");
        fs::remove_dir_all(&dir).unwrap();
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
