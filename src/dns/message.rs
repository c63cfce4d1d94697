//! A typed view over one DNS message (RFC 1035 section 4.1): the header, the questions
//! and the resource records, read in place with checked lengths and big-endian fields,
//! plus the TCP framing (a 2-byte length before each message, RFC 1035 section 4.2.2).

use super::name::Name;
use super::DnsError;
use crate::wire::bytes::{be16, be32};

/// Length of the fixed header.
pub const HEADER_LEN: usize = 12;

/// Record types and the class ftwall reads.
pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_AAAA: u16 = 28;
pub const CLASS_IN: u16 = 1;

/// The standard query opcode; other opcodes (notify, update, ...) carry no answers.
const OPCODE_QUERY: u8 = 0;

/// A view of one DNS message.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    buf: &'a [u8],
}

/// One entry of the question section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question {
    /// Where the question's name starts (decode it with [`Message::name`]).
    pub name_at: usize,
    pub qtype: u16,
    pub qclass: u16,
}

/// One resource record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Where the owner name starts.
    pub name_at: usize,
    pub rtype: u16,
    pub class: u16,
    /// Seconds, with values above 2^31 - 1 already read as zero (RFC 2181 section 8).
    pub ttl: u32,
    /// The record data and where it starts in the message (names inside it may be
    /// compressed against the whole message).
    pub data: &'a [u8],
    pub data_at: usize,
}

impl<'a> Message<'a> {
    /// Views `buf`; fails only if it cannot hold a header.
    pub fn new_checked(buf: &'a [u8]) -> Result<Message<'a>, DnsError> {
        if buf.len() < HEADER_LEN {
            return Err(DnsError::Truncated);
        }
        Ok(Message { buf })
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.buf
    }

    fn field(&self, at: usize) -> u16 {
        // new_checked guaranteed the whole header is there.
        be16(self.buf, at).unwrap_or(0)
    }

    pub fn id(&self) -> u16 {
        self.field(0)
    }

    fn flags(&self) -> u16 {
        self.field(2)
    }

    /// QR: this is a response, not a query.
    pub fn is_response(&self) -> bool {
        self.flags() & 0x8000 != 0
    }

    pub fn opcode(&self) -> u8 {
        ((self.flags() >> 11) & 0x0f) as u8
    }

    /// True for a response to a standard query (the only kind with answers to learn).
    pub fn is_query_response(&self) -> bool {
        self.is_response() && self.opcode() == OPCODE_QUERY
    }

    /// TC: the server cut the message short (the records present are still whole).
    pub fn is_truncated(&self) -> bool {
        self.flags() & 0x0200 != 0
    }

    pub fn rcode(&self) -> u8 {
        (self.flags() & 0x000f) as u8
    }

    pub fn question_count(&self) -> u16 {
        self.field(4)
    }

    pub fn answer_count(&self) -> u16 {
        self.field(6)
    }

    pub fn authority_count(&self) -> u16 {
        self.field(8)
    }

    pub fn additional_count(&self) -> u16 {
        self.field(10)
    }

    /// Decodes the name at `at` into `out`; returns the offset after it in place.
    pub fn name(&self, at: usize, out: &mut Name) -> Result<usize, DnsError> {
        out.decode(self.buf, at)
    }

    /// Reads the question at `at`; returns it and the offset of what follows. The name
    /// is decoded into `scratch` (which also validates it).
    pub fn question_at(&self, at: usize, scratch: &mut Name) -> Result<(Question, usize), DnsError> {
        let end = self.name(at, scratch)?;
        let qtype = be16(self.buf, end).ok_or(DnsError::Truncated)?;
        let qclass = be16(self.buf, end + 2).ok_or(DnsError::Truncated)?;
        Ok((Question { name_at: at, qtype, qclass }, end + 4))
    }

    /// Reads the resource record at `at`; returns it and the offset of what follows.
    /// The owner name is decoded into `scratch` (which also validates it).
    pub fn record_at(&self, at: usize, scratch: &mut Name) -> Result<(Record<'a>, usize), DnsError> {
        let end = self.name(at, scratch)?;
        let rtype = be16(self.buf, end).ok_or(DnsError::Truncated)?;
        let class = be16(self.buf, end + 2).ok_or(DnsError::Truncated)?;
        let ttl = be32(self.buf, end + 4).ok_or(DnsError::Truncated)?;
        let rdlength = usize::from(be16(self.buf, end + 8).ok_or(DnsError::Truncated)?);
        let data_at = end + 10;
        let data = self.buf.get(data_at..data_at + rdlength).ok_or(DnsError::Truncated)?;
        let ttl = if ttl > i32::MAX as u32 { 0 } else { ttl };
        Ok((Record { name_at: at, rtype, class, ttl, data, data_at }, data_at + rdlength))
    }
}

/// The whole DNS messages at the start of a TCP segment's payload: each is preceded by
/// its 2-byte big-endian length. Iteration stops at the first message that is not
/// wholly inside the segment (the rest arrives in later segments and is not
/// reassembled). Only meaningful for a segment that starts on a message boundary, such
/// as the first payload of a DNS connection in one direction.
pub fn tcp_messages(segment: &[u8]) -> TcpMessages<'_> {
    TcpMessages { rest: segment }
}

/// Iterator returned by [`tcp_messages`].
#[derive(Clone, Debug)]
pub struct TcpMessages<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TcpMessages<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let len = usize::from(be16(self.rest, 0)?);
        let msg = self.rest.get(2..2 + len)?;
        self.rest = self.rest.get(2 + len..).unwrap_or(&[]);
        Some(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields() {
        // id 0xbeef, QR=1 opcode=0 AA=1 TC=1 RD=1, RA=1 rcode=3, counts 1 2 3 4.
        let m = [0xbe, 0xef, 0x87, 0x83, 0, 1, 0, 2, 0, 3, 0, 4];
        let v = Message::new_checked(&m).unwrap();
        assert_eq!(v.id(), 0xbeef);
        assert!(v.is_response() && v.is_query_response() && v.is_truncated());
        assert_eq!(v.opcode(), 0);
        assert_eq!(v.rcode(), 3);
        assert_eq!((v.question_count(), v.answer_count(), v.authority_count(), v.additional_count()), (1, 2, 3, 4));
        // A NOTIFY response (opcode 4) is not a query response; a query is not a response.
        let notify = [0, 0, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(!Message::new_checked(&notify).unwrap().is_query_response());
        let query = [0, 0, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        assert!(!Message::new_checked(&query).unwrap().is_response());
        assert_eq!(Message::new_checked(&m[..11]).err(), Some(DnsError::Truncated));
    }

    #[test]
    fn records_are_length_checked() {
        let mut m = vec![0u8; HEADER_LEN];
        // Owner "a", type A, class IN, ttl 0x80000000 (reads as 0), rdlength 4, 192.0.2.1.
        m.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01\x80\x00\x00\x00\x00\x04\xc0\x00\x02\x01");
        let v = Message::new_checked(&m).unwrap();
        let mut n = Name::root();
        let (r, next) = v.record_at(HEADER_LEN, &mut n).unwrap();
        assert_eq!((r.rtype, r.class, r.ttl, r.data), (TYPE_A, CLASS_IN, 0, &[192, 0, 2, 1][..]));
        assert_eq!(next, m.len());
        assert_eq!(n.as_bytes(), b"a");
        // Every shorter cut is an error, never a panic.
        for cut in HEADER_LEN..m.len() {
            let v = Message::new_checked(&m[..cut]).unwrap();
            assert_eq!(v.record_at(HEADER_LEN, &mut n).err(), Some(DnsError::Truncated), "cut {cut}");
        }
    }

    #[test]
    fn tcp_framing_yields_whole_messages_only() {
        let seg = b"\x00\x03abc\x00\x02de\x00\x05fg";
        let got: Vec<&[u8]> = tcp_messages(seg).collect();
        assert_eq!(got, vec![&b"abc"[..], &b"de"[..]]);
        assert_eq!(tcp_messages(b"\x00").count(), 0);
        assert_eq!(tcp_messages(b"").count(), 0);
        assert_eq!(tcp_messages(b"\x00\x00").collect::<Vec<_>>(), vec![&b""[..]]);
    }
}
