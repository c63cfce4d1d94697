//! The byte stream under both capture formats: reads that tell a clean end of file from
//! a cut one, skipping without a buffer, the current offset for error messages, and the
//! file's byte order.

use std::io::{self, Read};

use crate::wire::bytes::{be16, be32, le16, le32};

/// Byte order of a capture file (or, in pcapng, of one section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Endian {
    Big,
    Little,
}

impl Endian {
    /// Reads a u16 from a header that the caller has read whole; out of range reads as 0
    /// (cannot happen for the fixed-size arrays the readers use, and must not panic).
    pub(super) fn u16(self, b: &[u8], at: usize) -> u16 {
        match self {
            Endian::Big => be16(b, at),
            Endian::Little => le16(b, at),
        }
        .unwrap_or(0)
    }

    /// Reads a u32, like [`Endian::u16`].
    pub(super) fn u32(self, b: &[u8], at: usize) -> u32 {
        match self {
            Endian::Big => be32(b, at),
            Endian::Little => le32(b, at),
        }
        .unwrap_or(0)
    }
}

/// A reader that counts the bytes it has consumed.
pub(super) struct Source<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Source<R> {
    pub(super) fn new(inner: R) -> Source<R> {
        Source { inner, pos: 0 }
    }

    /// Bytes consumed so far: the offset of the next byte in the file.
    pub(super) fn pos(&self) -> u64 {
        self.pos
    }

    /// Fills `buf` as far as the stream allows; returns how many bytes were read, which is
    /// less than `buf.len()` only at the end of the stream.
    pub(super) fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while let Some(rest) = buf.get_mut(done..) {
            if rest.is_empty() {
                break;
            }
            match self.inner.read(rest) {
                Ok(0) => break,
                Ok(n) => {
                    done = done.saturating_add(n);
                    self.pos = self.pos.saturating_add(n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Fills `buf` whole; false if the stream ended first.
    pub(super) fn fill_all(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        Ok(self.fill(buf)? == buf.len())
    }

    /// Reads and drops `n` bytes without buffering them; false if the stream ended first.
    pub(super) fn skip(&mut self, n: u64) -> io::Result<bool> {
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        self.pos = self.pos.saturating_add(copied);
        Ok(copied == n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out one byte per read and an `Interrupted` error before every byte, the way
    /// a slow pipe might.
    struct Trickle<'a> {
        data: &'a [u8],
        interrupt: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::Error::from(io::ErrorKind::Interrupted));
            }
            match (self.data.split_first(), buf.first_mut()) {
                (Some((&b, rest)), Some(slot)) => {
                    *slot = b;
                    self.data = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    #[test]
    fn short_reads_and_interruptions_are_retried() {
        let mut src = Source::new(Trickle { data: b"abcdefgh", interrupt: false });
        let mut four = [0u8; 4];
        assert!(src.fill_all(&mut four).unwrap());
        assert_eq!(&four, b"abcd");
        assert!(src.skip(2).unwrap());
        assert_eq!(src.pos(), 6);
        assert_eq!(src.fill(&mut four).unwrap(), 2);
        assert_eq!(&four[..2], b"gh");
        assert!(!src.skip(1).unwrap());
        assert_eq!(src.pos(), 8);
    }

    #[test]
    fn byte_orders() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(Endian::Big.u16(&b, 0), 0x0102);
        assert_eq!(Endian::Little.u32(&b, 0), 0x0403_0201);
        assert_eq!(Endian::Big.u32(&b, 6), 0, "out of range reads as zero, no panic");
    }
}
