//! Domain names inside a DNS message: decoding with compression pointers into a fixed
//! buffer, with loop protection and a hard bound on the work done per name.
//!
//! A decoded [`Name`] is kept in presentation form without the final dot and in lower
//! case (`c3310.z1303.winmx.com`), because every comparison ftwall makes on names is
//! case-insensitive (RFC 4343) and the patterns are written that way too.
//!
//! Bounds (RFC 1035 section 2.3.4 and 4.1.4):
//! * at most [`MAX_WIRE_LEN`] octets on the wire, counting length octets and the final
//!   zero, so at most 253 characters of text and [`MAX_LABELS`] labels;
//! * at most [`MAX_POINTERS`] compression pointers per name, and every pointer must jump
//!   strictly backwards from the previous jump's target (the first one from the name's
//!   own start). The jump targets therefore strictly decrease, so no pointer chain can
//!   loop, and the pointer budget caps the work even for a long backward staircase.

use core::fmt;

use super::DnsError;

/// Longest name on the wire (length octets, label octets and the root's zero).
pub const MAX_WIRE_LEN: usize = 255;
/// Most labels a name can have within [`MAX_WIRE_LEN`] (each label takes at least two
/// octets, plus the final zero).
pub const MAX_LABELS: usize = 127;
/// Most compression pointers followed for one name. Real names need one, rarely two.
pub const MAX_POINTERS: usize = 16;
/// Longest label (the two top bits of a length octet are its type).
pub const MAX_LABEL_LEN: usize = 63;

/// Length of the fixed DNS header; no pointer may point into it.
const HEADER_LEN: usize = 12;

/// Longest name in text form: 255 wire octets minus the first length octet and the
/// final zero.
pub const MAX_TEXT_LEN: usize = MAX_WIRE_LEN - 2;

/// A decoded domain name in a fixed buffer (no allocation). `Copy`, so that log events
/// can carry one.
#[derive(Clone, Copy)]
pub struct Name {
    len: u8,
    buf: [u8; MAX_TEXT_LEN],
}

impl Name {
    /// The root name (empty text).
    pub const fn root() -> Name {
        Name { len: 0, buf: [0; MAX_TEXT_LEN] }
    }

    /// The name as lower-case text without the final dot; empty for the root.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    pub fn is_root(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends one label. The caller has checked the wire length, so the text always
    /// fits; a failure here would mean a bound is wrong, and is reported, not panicked.
    fn push_label(&mut self, label: &[u8]) -> Result<(), DnsError> {
        let start = usize::from(self.len);
        let dot = usize::from(start > 0);
        let end = start + dot + label.len();
        let dst = self.buf.get_mut(start..end).ok_or(DnsError::NameTooLong)?;
        if dot == 1 {
            dst[0] = b'.';
        }
        for (d, s) in dst[dot..].iter_mut().zip(label) {
            *d = s.to_ascii_lowercase();
        }
        self.len = u8::try_from(end).map_err(|_| DnsError::NameTooLong)?;
        Ok(())
    }

    /// Decodes the name that starts at `at` in the whole message `msg` into `self`.
    /// Returns the offset just after the name as it sits at `at` (after its first
    /// pointer, or after its zero octet if it is not compressed).
    pub fn decode(&mut self, msg: &[u8], at: usize) -> Result<usize, DnsError> {
        self.clear();
        let mut pos = at;
        // Where the name ends in place: set at the first pointer or at the zero octet.
        let mut end_in_place: Option<usize> = None;
        // Every pointer must land below this (strictly decreasing jump targets).
        let mut limit = at;
        let mut wire_len = 0usize;
        let mut labels = 0usize;
        let mut pointers = 0usize;
        loop {
            let len = *msg.get(pos).ok_or(DnsError::Truncated)?;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    wire_len += 1;
                    if wire_len > MAX_WIRE_LEN {
                        return Err(DnsError::NameTooLong);
                    }
                    return Ok(end_in_place.unwrap_or(pos + 1));
                }
                0x00 => {
                    let len = usize::from(len);
                    labels += 1;
                    if labels > MAX_LABELS {
                        return Err(DnsError::TooManyLabels);
                    }
                    // This label plus at least the final zero must still fit.
                    wire_len += 1 + len;
                    if wire_len + 1 > MAX_WIRE_LEN {
                        return Err(DnsError::NameTooLong);
                    }
                    let label = msg.get(pos + 1..pos + 1 + len).ok_or(DnsError::Truncated)?;
                    // A dot inside a label would make the text form ambiguous, and so the
                    // label-boundary matching of patterns unsound. No host name has one.
                    if label.contains(&b'.') {
                        return Err(DnsError::BadLabel);
                    }
                    self.push_label(label)?;
                    pos += 1 + len;
                }
                0xc0 => {
                    let low = *msg.get(pos + 1).ok_or(DnsError::Truncated)?;
                    pointers += 1;
                    if pointers > MAX_POINTERS {
                        return Err(DnsError::TooManyPointers);
                    }
                    let target = (usize::from(len & 0x3f) << 8) | usize::from(low);
                    if target >= limit || target < HEADER_LEN {
                        return Err(DnsError::BadPointer);
                    }
                    end_in_place.get_or_insert(pos + 2);
                    limit = target;
                    pos = target;
                }
                // 0x40 (extended label types, deprecated by RFC 6891) and 0x80 (reserved):
                // nothing that answers A or AAAA questions uses them.
                _ => return Err(DnsError::BadLabel),
            }
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        // Both sides are lower case already.
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Name {}

impl fmt::Display for Name {
    /// Writes the name as text, escaped (see [`write_escaped`]); the root is `.`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        write_escaped(f, self.as_bytes())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Writes name bytes as text; bytes that are not printable ASCII (and the backslash) are
/// written as `\DDD` (RFC 1035 master-file escaping), so that hostile names cannot
/// forge log lines or split a line of a file into words.
fn write_escaped(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for &b in bytes {
        if b.is_ascii_graphic() && b != b'\\' {
            fmt::Write::write_char(f, char::from(b))?;
        } else {
            write!(f, "\\{b:03}")?;
        }
    }
    Ok(())
}

/// How many characters of a name the engine's DNS table keeps for display.
pub const TAIL_LEN: usize = 47;

/// The last [`TAIL_LEN`] characters of a name: what `status` and the training file show
/// for an address learned from DNS (the end of a name says the most about it).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NameTail {
    len: u8,
    /// True if the start of the name was cut off.
    cut: bool,
    buf: [u8; TAIL_LEN],
}

impl NameTail {
    pub const EMPTY: NameTail = NameTail { len: 0, cut: false, buf: [0; TAIL_LEN] };

    /// Keeps the end of `text` (a name in presentation form, or anything read back from
    /// a file; a leading ".." marking an earlier cut is dropped).
    pub fn of(text: &[u8]) -> NameTail {
        let (text, was_cut) = match text.strip_prefix(b"..") {
            Some(rest) => (rest, true),
            None => (text, false),
        };
        let keep = text.len().min(TAIL_LEN);
        if keep == 0 {
            // Nothing left (a bare ".." read back from a file): unknown, shown as "-".
            return NameTail::EMPTY;
        }
        let mut buf = [0; TAIL_LEN];
        buf[..keep].copy_from_slice(&text[text.len() - keep..]);
        // keep <= TAIL_LEN < 256
        NameTail { len: keep as u8, cut: was_cut || keep < text.len(), buf }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl From<&Name> for NameTail {
    fn from(n: &Name) -> NameTail {
        NameTail::of(n.as_bytes())
    }
}

impl fmt::Display for NameTail {
    /// One word, escaped like [`Name`]; a cut name starts with `..`; an empty one is `-`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len == 0 {
            return f.write_str("-");
        }
        if self.cut {
            f.write_str("..")?;
        }
        write_escaped(f, self.as_bytes())
    }
}

impl fmt::Debug for NameTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameTail({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 12-byte header (all zero) followed by `body`.
    fn msg(body: &[u8]) -> Vec<u8> {
        let mut m = vec![0u8; HEADER_LEN];
        m.extend_from_slice(body);
        m
    }

    fn decode(m: &[u8], at: usize) -> Result<(String, usize), DnsError> {
        let mut n = Name::root();
        let end = n.decode(m, at)?;
        Ok((n.to_string(), end))
    }

    #[test]
    fn plain_and_compressed_names() {
        // 12: "WinMX.com", 23: "cache0" + pointer to 12, 32: pointer to 23.
        let m = msg(b"\x05WinMX\x03com\x00\x06cache0\xc0\x0c\xc0\x17");
        assert_eq!(decode(&m, 12).unwrap(), ("winmx.com".to_string(), 23));
        assert_eq!(decode(&m, 23).unwrap(), ("cache0.winmx.com".to_string(), 32));
        assert_eq!(decode(&m, 32).unwrap(), ("cache0.winmx.com".to_string(), 34));
    }

    #[test]
    fn root_name() {
        let m = msg(b"\x00");
        let mut n = Name::root();
        assert_eq!(n.decode(&m, 12), Ok(13));
        assert!(n.is_root());
        assert_eq!(n.to_string(), ".");
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_refused() {
        // A pointer to itself.
        let m = msg(b"\xc0\x0c");
        assert_eq!(decode(&m, 12), Err(DnsError::BadPointer));
        // Two names pointing at each other: 12 -> label, pointer to 16; 16 -> pointer to 12.
        let m = msg(b"\x01a\xc0\x10\xc0\x0c");
        assert_eq!(decode(&m, 12), Err(DnsError::BadPointer));
        assert_eq!(decode(&m, 16), Err(DnsError::BadPointer));
        // 12 "a", 14 "b", 16 pointer to 14: decoding from 16 jumps to 14, reads "b" and
        // meets the same pointer again; its target is not below the last one, so refused.
        let m = msg(b"\x01a\x01b\xc0\x0e");
        assert_eq!(decode(&m, 16), Err(DnsError::BadPointer));
        // Into the header.
        let m = msg(b"\xc0\x02");
        assert_eq!(decode(&m, 12), Err(DnsError::BadPointer));
    }

    #[test]
    fn pointer_budget_caps_a_backward_staircase() {
        // "x" at 12, then bare pointers at 15, 17, 19, ... each to the one before it, so
        // decoding the pointer at 15 + 2i takes i + 1 hops.
        let mut body = b"\x01x\x00".to_vec(); // 12: "x"
        for i in 0..40usize {
            let prev = if i == 0 { 12 } else { 15 + 2 * (i - 1) };
            body.extend_from_slice(&[0xc0, prev as u8]);
        }
        let m = msg(&body);
        // Up to MAX_POINTERS hops is fine.
        let at = 15 + 2 * (MAX_POINTERS - 1);
        assert_eq!(decode(&m, at).unwrap().0, "x");
        let at = 15 + 2 * MAX_POINTERS;
        assert_eq!(decode(&m, at), Err(DnsError::TooManyPointers));
    }

    #[test]
    fn length_and_label_bounds() {
        // 4 labels of 63 = 256 octets of labels: too long.
        let mut body = Vec::new();
        for _ in 0..4 {
            body.push(63);
            body.extend_from_slice(&[b'a'; 63]);
        }
        body.push(0);
        assert_eq!(decode(&msg(&body), 12), Err(DnsError::NameTooLong));
        // 3 x 63 + 61 = 253 characters of text, 255 octets on the wire: the maximum.
        let mut body = Vec::new();
        for _ in 0..3 {
            body.push(63);
            body.extend_from_slice(&[b'a'; 63]);
        }
        body.push(61);
        body.extend_from_slice(&[b'b'; 61]);
        body.push(0);
        let (text, end) = decode(&msg(&body), 12).unwrap();
        assert_eq!(text.len(), MAX_TEXT_LEN);
        assert_eq!(end, 12 + 255);
        // One more octet is one too many.
        body.truncate(body.len() - 1);
        body.pop();
        body.extend_from_slice(b"bb\x00");
        body[3 * 64] = 62;
        assert_eq!(decode(&msg(&body), 12), Err(DnsError::NameTooLong));
        // 128 one-character labels: too many (also too long; labels are checked first).
        let mut body = Vec::new();
        for _ in 0..128 {
            body.extend_from_slice(b"\x01a");
        }
        body.push(0);
        assert_eq!(decode(&msg(&body), 12), Err(DnsError::TooManyLabels));
        // 127 labels fit exactly.
        let body: Vec<u8> = b"\x01a".repeat(127).into_iter().chain([0]).collect();
        assert_eq!(decode(&msg(&body), 12).unwrap().0.len(), 253);
    }

    #[test]
    fn bad_labels_and_truncation() {
        assert_eq!(decode(&msg(b"\x03a.b\x00"), 12), Err(DnsError::BadLabel));
        assert_eq!(decode(&msg(b"\x41ab\x00"), 12), Err(DnsError::BadLabel));
        assert_eq!(decode(&msg(b"\x80\x00"), 12), Err(DnsError::BadLabel));
        assert_eq!(decode(&msg(b"\x05winmx"), 12), Err(DnsError::Truncated));
        assert_eq!(decode(&msg(b"\x05win"), 12), Err(DnsError::Truncated));
        assert_eq!(decode(&msg(b"\xc0"), 12), Err(DnsError::Truncated));
        assert_eq!(decode(&msg(b""), 12), Err(DnsError::Truncated));
        assert_eq!(decode(&msg(b""), usize::MAX), Err(DnsError::Truncated));
    }

    #[test]
    fn tails_keep_the_end_of_long_names() {
        let short = NameTail::of(b"cache0.winmx.com");
        assert_eq!(short.to_string(), "cache0.winmx.com");
        let long = format!("{}.z1303.winmx.com", "a".repeat(60));
        let t = NameTail::of(long.as_bytes());
        assert_eq!(t.as_bytes().len(), TAIL_LEN);
        assert!(t.to_string().starts_with("..") && t.to_string().ends_with(".z1303.winmx.com"));
        // Read back from its own text, it stays the same.
        assert_eq!(NameTail::of(t.to_string().as_bytes()), t);
        assert_eq!(NameTail::EMPTY.to_string(), "-");
        // A bare cut mark has nothing left: it is the empty tail, as "-" reads back.
        assert_eq!(NameTail::of(b".."), NameTail::EMPTY);
        assert_eq!(NameTail::of(b"a b").to_string(), "a\\032b");
    }

    #[test]
    fn display_escapes_unprintable_bytes() {
        let m = msg(b"\x04a\nb\\\x03com\x00");
        assert_eq!(decode(&m, 12).unwrap().0, "a\\010b\\092.com");
    }
}
