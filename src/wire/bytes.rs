//! Small byte-slice helpers shared by the protocol views: explicit byte order and
//! bounds-checked reads that return `None` instead of panicking.

/// Reads a big-endian u16 at `at`.
pub fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// Reads a big-endian u32 at `at`.
pub fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads a little-endian u16 at `at`.
pub fn le16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

/// Reads a little-endian u32 at `at`.
pub fn le32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// True if `hay` starts with `prefix`, ignoring ASCII case.
pub fn starts_with_ci(hay: &[u8], prefix: &[u8]) -> bool {
    hay.len() >= prefix.len() && hay[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Position of the first occurrence of `needle` in `hay`, ignoring ASCII case.
pub fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if hay.len() < needle.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&i| hay[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

/// Position of the first occurrence of `needle` in `hay`, exact bytes.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// True if every byte is printable ASCII (space to tilde).
pub fn is_printable(b: &[u8]) -> bool {
    b.iter().all(|&c| (0x20..=0x7e).contains(&c))
}

/// True if `b` is one or more ASCII digits.
pub fn is_digits(b: &[u8]) -> bool {
    !b.is_empty() && b.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_checked_and_ordered() {
        let b = [0x12, 0x34, 0x56, 0x78];
        assert_eq!(be16(&b, 0), Some(0x1234));
        assert_eq!(le16(&b, 0), Some(0x3412));
        assert_eq!(be32(&b, 0), Some(0x1234_5678));
        assert_eq!(le32(&b, 0), Some(0x7856_3412));
        assert_eq!(be32(&b, 1), None);
        assert_eq!(le16(&b, usize::MAX), None);
    }

    #[test]
    fn searching() {
        assert_eq!(find_ci(b"GET / HTTP\r\nx-kazaa-ip: 1", b"X-Kazaa-"), Some(12));
        assert_eq!(find_ci(b"ab", b"abc"), None);
        assert_eq!(find(b"abcabc", b"ca"), Some(2));
        assert!(starts_with_ci(b"give 12", b"GIVE "));
        assert!(is_digits(b"0123") && !is_digits(b"") && !is_digits(b"12a"));
        assert!(is_printable(b"KaZaA") && !is_printable(b"Ka\0"));
    }
}
