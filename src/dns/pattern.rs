//! DNS name patterns: which names' addresses ftwall blocks.
//!
//! ftwall 2 blocked "IP addresses resolved from any domain name that ends winmx.com".
//! A pattern is one of three forms, always compared without regard to ASCII case and
//! with any final dot ignored (on the pattern and on the name):
//!
//! | Pattern       | Kind   | Matches                                             | Does not match             |
//! |---------------|--------|-----------------------------------------------------|----------------------------|
//! | `winmx.com`   | exact  | `winmx.com` only                                    | `www.winmx.com`            |
//! | `*.winmx.com` | domain | `winmx.com` itself and every name under it, on a label boundary (`cache0.winmx.com`, `c3310.z1303.winmx.com`) | `evilwinmx.com`, `winmx.com.example` |
//! | `*winmx.com`  | suffix | every name whose text ends in `winmx.com`, as the original's wording says (`winmx.com`, `www.winmx.com`, `evilwinmx.com`) | `winmx.co`                 |
//!
//! Why `*.winmx.com` also matches `winmx.com`: an admin who writes it means "the
//! winmx.com domain", and the domain's own address is as much a WinMX server as its
//! sub-names. (This differs from DNS zone-file and TLS wildcards, where `*.x` never
//! matches `x`; write the exact name's pattern alone if only it is wanted.)
//!
//! Rules for writing patterns:
//! * a `*` may only be the first character; the rest is a host name made of letters,
//!   digits, `-` and `_`, with labels of 1 to 63 characters and at most 253 characters;
//! * a wildcard must keep at least two labels after the star (`*.winmx.com`, `*mx.com`),
//!   so that no pattern blocks a whole top-level domain (`*.com`) or every name (`*`).
//!
//! A pattern file holds one pattern per line; `#` starts a comment (at the start of a
//! line or after the pattern) and blank lines are ignored. A bad line is reported with
//! its number and skipped; the other lines still count.
//!
//! The set has a fixed capacity ([`MAX_PATTERNS`] patterns, [`MAX_TEXT`] bytes of text)
//! and matching allocates nothing.

use core::fmt;

/// Most patterns in one set.
pub const MAX_PATTERNS: usize = 128;
/// Most bytes of pattern text in one set (all patterns together).
pub const MAX_TEXT: usize = 4096;

/// The longest host name in text form.
const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

/// How a pattern compares (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `name`: this name only.
    Exact,
    /// `*.name`: this name and every name under it.
    Domain,
    /// `*text`: every name whose text ends with `text`.
    Suffix,
}

/// Why a pattern was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatternError {
    Empty,
    /// A character other than letters, digits, `-`, `_`, `.` and a leading `*`.
    BadChar(char),
    /// A `*` that is not the first character.
    MisplacedStar,
    /// Two dots in a row, or a leading dot.
    EmptyLabel,
    LabelTooLong,
    NameTooLong,
    /// A wildcard with fewer than two labels after the star.
    TooBroad,
    /// The set already holds as many patterns (or as much text) as it can.
    Full,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::Empty => f.write_str("empty pattern"),
            PatternError::BadChar(c) => write!(f, "character {c:?} is not allowed in a name pattern"),
            PatternError::MisplacedStar => f.write_str("'*' is only allowed as the first character"),
            PatternError::EmptyLabel => f.write_str("empty label (two dots in a row or a leading dot)"),
            PatternError::LabelTooLong => f.write_str("a label is longer than 63 characters"),
            PatternError::NameTooLong => f.write_str("the name is longer than 253 characters"),
            PatternError::TooBroad => {
                f.write_str("a wildcard needs at least two labels after the '*' (it would match a whole top-level domain)")
            }
            PatternError::Full => write!(f, "too many patterns (at most {MAX_PATTERNS}, {MAX_TEXT} bytes in all)"),
        }
    }
}

impl std::error::Error for PatternError {}

/// One pattern of a set, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    kind: Kind,
    start: u16,
    len: u16,
}

/// A fixed-capacity set of name patterns.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PatternSet {
    /// Every pattern's fixed text (lower case, no star, no final dot), back to back.
    text: heapless::Vec<u8, MAX_TEXT>,
    entries: heapless::Vec<Entry, MAX_PATTERNS>,
}

/// One pattern, borrowed from its set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pattern<'a> {
    pub kind: Kind,
    /// The text after the star (or the whole name), lower case, without a final dot.
    pub text: &'a [u8],
}

impl Pattern<'_> {
    /// True if `name` (any case, with or without a final dot) matches.
    pub fn matches(&self, name: &[u8]) -> bool {
        let name = name.strip_suffix(b".").unwrap_or(name);
        let t = self.text;
        match self.kind {
            Kind::Exact => name.eq_ignore_ascii_case(t),
            Kind::Suffix => ends_with_ci(name, t),
            Kind::Domain => {
                name.eq_ignore_ascii_case(t)
                    || (ends_with_ci(name, t) && name.len() > t.len() && name[name.len() - t.len() - 1] == b'.')
            }
        }
    }
}

impl fmt::Display for Pattern<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.kind {
            Kind::Exact => "",
            Kind::Domain => "*.",
            Kind::Suffix => "*",
        };
        // The text was checked to be ASCII when it was added.
        write!(f, "{prefix}{}", String::from_utf8_lossy(self.text))
    }
}

fn ends_with_ci(hay: &[u8], tail: &[u8]) -> bool {
    hay.len() >= tail.len() && hay[hay.len() - tail.len()..].eq_ignore_ascii_case(tail)
}

/// Checks a pattern and splits it into its kind and fixed text (lower case).
fn parse(pattern: &str) -> Result<(Kind, String), PatternError> {
    let p = pattern.trim();
    let p = p.strip_suffix('.').unwrap_or(p);
    if p.is_empty() {
        return Err(PatternError::Empty);
    }
    let (kind, rest) = match p.strip_prefix('*') {
        Some(r) => match r.strip_prefix('.') {
            Some(r) => (Kind::Domain, r),
            None => (Kind::Suffix, r),
        },
        None => (Kind::Exact, p),
    };
    if let Some(c) = rest.chars().find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*'))) {
        return Err(PatternError::BadChar(c));
    }
    if rest.contains('*') {
        return Err(PatternError::MisplacedStar);
    }
    if rest.is_empty() {
        return Err(if kind == Kind::Exact { PatternError::Empty } else { PatternError::TooBroad });
    }
    if rest.len() > MAX_NAME {
        return Err(PatternError::NameTooLong);
    }
    let mut labels = 0;
    for label in rest.split('.') {
        if label.is_empty() {
            return Err(PatternError::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(PatternError::LabelTooLong);
        }
        labels += 1;
    }
    if kind != Kind::Exact && labels < 2 {
        return Err(PatternError::TooBroad);
    }
    Ok((kind, rest.to_ascii_lowercase()))
}

impl PatternSet {
    pub const fn new() -> PatternSet {
        PatternSet { text: heapless::Vec::new(), entries: heapless::Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = Pattern<'_>> {
        self.entries.iter().map(move |e| self.pattern(e))
    }

    fn pattern(&self, e: &Entry) -> Pattern<'_> {
        let start = usize::from(e.start);
        let text = self.text.get(start..start + usize::from(e.len)).unwrap_or(&[]);
        Pattern { kind: e.kind, text }
    }

    /// Adds a pattern (a pattern already in the set is accepted and not added twice).
    pub fn add(&mut self, pattern: &str) -> Result<(), PatternError> {
        let (kind, text) = parse(pattern)?;
        if self.iter().any(|p| p.kind == kind && p.text == text.as_bytes()) {
            return Ok(());
        }
        let start = self.text.len();
        if self.entries.is_full() || self.text.extend_from_slice(text.as_bytes()).is_err() {
            return Err(PatternError::Full);
        }
        // MAX_TEXT fits in u16, so these conversions cannot fail once the text fitted.
        let entry = Entry {
            kind,
            start: u16::try_from(start).map_err(|_| PatternError::Full)?,
            len: u16::try_from(text.len()).map_err(|_| PatternError::Full)?,
        };
        if self.entries.push(entry).is_err() {
            self.text.truncate(start);
            return Err(PatternError::Full);
        }
        Ok(())
    }

    /// The first pattern `name` matches (lower or upper case, final dot or not).
    pub fn find(&self, name: &[u8]) -> Option<Pattern<'_>> {
        self.iter().find(|p| p.matches(name))
    }

    pub fn matches(&self, name: &[u8]) -> bool {
        self.find(name).is_some()
    }

    /// Adds the patterns of a pattern file's text (see the module documentation). Each
    /// bad line is passed to `bad` with its 1-based line number and skipped. Returns how
    /// many lines held a good pattern.
    pub fn add_file(&mut self, text: &str, mut bad: impl FnMut(usize, &str, PatternError)) -> usize {
        let mut good = 0;
        for (i, line) in text.lines().enumerate() {
            let content = line.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let result = if content.split_whitespace().nth(1).is_some() {
                Err(PatternError::BadChar(' '))
            } else {
                self.add(content)
            };
            match result {
                Ok(()) => good += 1,
                Err(e) => bad(i + 1, line, e),
            }
        }
        good
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[&str]) -> PatternSet {
        let mut s = PatternSet::new();
        for p in patterns {
            s.add(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        s
    }

    #[test]
    fn domain_wildcard_matches_on_label_boundaries() {
        let s = set(&["*.winmx.com"]);
        for yes in ["winmx.com", "cache0.winmx.com", "c3310.z1303.winmx.com", "WWW.WinMX.COM", "www.winmx.com."] {
            assert!(s.matches(yes.as_bytes()), "{yes}");
        }
        for no in ["evilwinmx.com", "winmx.com.example", "winmx.co", "com", "", "xwinmx.com", "winmx.comx"] {
            assert!(!s.matches(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn plain_suffix_wildcard_is_a_text_suffix() {
        let s = set(&["*WinMX.com"]);
        for yes in ["winmx.com", "www.winmx.com", "evilwinmx.com", "EVILWINMX.COM."] {
            assert!(s.matches(yes.as_bytes()), "{yes}");
        }
        for no in ["winmx.co", "winmx.com.example", "mx.com"] {
            assert!(!s.matches(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn exact_names() {
        let s = set(&["Server.Napster.com."]);
        assert!(s.matches(b"server.napster.com"));
        assert!(s.matches(b"SERVER.NAPSTER.COM."));
        assert!(!s.matches(b"www.server.napster.com"));
        assert!(!s.matches(b"napster.com"));
        assert_eq!(s.find(b"server.napster.com").unwrap().to_string(), "server.napster.com");
    }

    #[test]
    fn bad_patterns_are_refused_with_a_reason() {
        let cases: &[(&str, PatternError)] = &[
            ("", PatternError::Empty),
            ("   ", PatternError::Empty),
            ("*", PatternError::TooBroad),
            ("*.", PatternError::TooBroad),
            ("*.com", PatternError::TooBroad),
            ("*com", PatternError::TooBroad),
            ("www.*.com", PatternError::MisplacedStar),
            ("**.winmx.com", PatternError::MisplacedStar),
            ("win mx.com", PatternError::BadChar(' ')),
            ("winmx.com/8", PatternError::BadChar('/')),
            ("wïnmx.com", PatternError::BadChar('ï')),
            ("winmx..com", PatternError::EmptyLabel),
            (".winmx.com", PatternError::EmptyLabel),
            ("*..winmx.com", PatternError::EmptyLabel),
        ];
        for (p, e) in cases {
            assert_eq!(PatternSet::new().add(p), Err(*e), "{p:?}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert_eq!(PatternSet::new().add(&long_label), Err(PatternError::LabelTooLong));
        let long_name = ["a".repeat(63).as_str(); 4].join(".");
        assert_eq!(PatternSet::new().add(&long_name), Err(PatternError::NameTooLong));
        // Single-label exact names are fine (an admin may block an intranet name).
        assert!(PatternSet::new().add("napster").is_ok());
    }

    #[test]
    fn the_set_is_bounded_and_deduplicated() {
        let mut s = PatternSet::new();
        s.add("*.winmx.com").unwrap();
        s.add("*.WINMX.com.").unwrap();
        assert_eq!(s.len(), 1);
        for i in 1..MAX_PATTERNS {
            s.add(&format!("host{i}.example.net")).unwrap();
        }
        assert_eq!(s.len(), MAX_PATTERNS);
        assert_eq!(s.add("one-more.example.net"), Err(PatternError::Full));
        assert!(s.matches(b"host127.example.net") && !s.matches(b"one-more.example.net"));
        // Text capacity: 16 patterns of 253 characters fill 4048 of 4096 bytes.
        let mut s = PatternSet::new();
        let long = |c: char| vec![c.to_string().repeat(63); 4].join(".")[..253].to_string();
        for c in 'a'..='p' {
            s.add(&long(c)).unwrap();
        }
        assert_eq!(s.add(&long('q')), Err(PatternError::Full));
        assert_eq!(s.len(), 16);
        assert!(s.add("short.example").is_ok());
    }

    #[test]
    fn pattern_files_report_bad_lines_and_keep_the_rest() {
        let file = "# WinMX\n*.winmx.com\n\n   *.winmxgroup.net   # community caches\nbad name here\n*.com\nserver.napster.com\n#*.ignored.example\n";
        let mut s = PatternSet::new();
        let mut bad = Vec::new();
        let good = s.add_file(file, |line, text, e| bad.push((line, text.to_string(), e)));
        assert_eq!(good, 3);
        assert_eq!(s.len(), 3);
        assert_eq!(bad.len(), 2);
        assert_eq!((bad[0].0, bad[0].1.as_str()), (5, "bad name here"));
        assert_eq!((bad[1].0, bad[1].2), (6, PatternError::TooBroad));
        assert!(s.matches(b"test0.winmxgroup.net"));
        assert!(!s.matches(b"ignored.example"));
        let shown: Vec<String> = s.iter().map(|p| p.to_string()).collect();
        assert_eq!(shown, ["*.winmx.com", "*.winmxgroup.net", "server.napster.com"]);
    }

    #[test]
    fn the_shipped_default_list_parses_cleanly() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/files/ftwall.patterns");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut s = PatternSet::new();
        let mut bad = Vec::new();
        s.add_file(&text, |line, text, e| bad.push(format!("line {line}: {text}: {e}")));
        assert!(bad.is_empty(), "{bad:?}");
        for yes in ["c3310.z1303.winmx.com", "cache0.winmx.com", "winmx.com", "cache5.winmxgroup.com", "test0.winmxgroup.net", "server.napster.com", "www.napigator.com"] {
            assert!(s.matches(yes.as_bytes()), "{yes}");
        }
        for no in ["evilwinmx.com", "www.napster.com", "example.com", "www.winmxworld.com"] {
            assert!(!s.matches(no.as_bytes()), "{no}");
        }
    }
}
