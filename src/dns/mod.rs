//! DNS answers: what ftwall learns from them (ftwall version 2's "DNS name wildcards").
//!
//! A DNS response whose names match a configured [`pattern::PatternSet`] teaches the
//! engine addresses to block: the A and AAAA records of a matching name, and of every
//! name a matching name leads to through CNAME records, in any order. So
//! `cache0.winmx.com CNAME lb.example.net`, `lb.example.net A 192.0.2.7` blocks
//! 192.0.2.7, while an A record for an unrelated name in the same answer does not.
//!
//! Parsing is pure and allocation-free: names are decoded into a fixed [`Name`] buffer,
//! the set of names reached through CNAMEs has a fixed capacity, and the work per message
//! is bounded by [`MAX_QUESTIONS`], [`MAX_ANSWERS`], [`MAX_CHAIN`] and the per-name
//! bounds in [`name`]. A malformed, truncated or looping message is refused as a whole
//! (a [`DnsError`] for the caller to count) before anything is reported from it.

pub mod message;
pub mod name;
pub mod pattern;

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use message::{tcp_messages, Message, Question, Record};
pub use name::Name;
pub use pattern::PatternSet;

use message::{CLASS_IN, HEADER_LEN, TYPE_A, TYPE_AAAA, TYPE_CNAME};

/// Most questions read from one message (real resolvers send exactly one).
pub const MAX_QUESTIONS: u16 = 4;
/// Most answer records read from one message; a message claiming more is refused.
pub const MAX_ANSWERS: u16 = 128;
/// Most names reached through CNAME records from a matching name (resolvers themselves
/// stop following a chain after 8 to 16 links).
pub const MAX_CHAIN: usize = 8;

/// Why a DNS message was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The message, a name or a record ends before it should.
    Truncated,
    /// Not a response to a standard query.
    NotAnswer,
    /// More questions or answers than ftwall reads from one message.
    TooManyRecords,
    /// A compression pointer points forwards, into the header, or back into its own
    /// chain (a loop).
    BadPointer,
    /// More compression pointers in one name than any real name needs.
    TooManyPointers,
    /// A name longer than 255 octets.
    NameTooLong,
    /// A name with more labels than fit in 255 octets.
    TooManyLabels,
    /// A label of an unknown type, or one with a dot inside.
    BadLabel,
    /// An A, AAAA or CNAME record whose data does not have that type's shape.
    BadRecord,
}

impl DnsError {
    /// Short text for logs and counters.
    pub const fn text(self) -> &'static str {
        match self {
            DnsError::Truncated => "truncated",
            DnsError::NotAnswer => "not a query response",
            DnsError::TooManyRecords => "too many records",
            DnsError::BadPointer => "bad compression pointer",
            DnsError::TooManyPointers => "too many compression pointers",
            DnsError::NameTooLong => "name too long",
            DnsError::TooManyLabels => "too many labels",
            DnsError::BadLabel => "bad label",
            DnsError::BadRecord => "bad record data",
        }
    }
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// One address record of an answer, as reported to the caller.
#[derive(Clone, Copy, Debug)]
pub struct Learned<'n> {
    /// The record's owner name.
    pub name: &'n Name,
    pub addr: IpAddr,
    /// Seconds (already zero for out-of-range values).
    pub ttl: u32,
    /// True if the owner name matches a pattern itself or is reached through CNAME
    /// records from a name that does.
    pub matched: bool,
}

/// What one answer held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// A and AAAA records reported.
    pub addresses: u16,
    /// Of those, how many matched.
    pub matched: u16,
    /// True if a CNAME chain from a matching name had more than [`MAX_CHAIN`] names;
    /// records beyond that were reported as not matching.
    pub chain_cut: bool,
}

/// The names reached through CNAMEs from a matching name: fixed capacity.
struct Chain {
    names: heapless::Vec<Name, MAX_CHAIN>,
    cut: bool,
}

impl Chain {
    fn contains(&self, n: &Name) -> bool {
        self.names.iter().any(|x| x == n)
    }
}

/// Reads the DNS response `msg` and calls `report` for each A and AAAA answer record
/// (class IN), saying whether it matched according to `matches` (called with names in
/// lower case, without the final dot). Nothing is reported unless the whole question
/// and answer sections are well formed; the authority and additional sections are not
/// read (no address there is trusted).
pub fn answers<M, R>(msg: &[u8], matches: M, mut report: R) -> Result<Summary, DnsError>
where
    M: Fn(&[u8]) -> bool,
    R: FnMut(&Learned<'_>),
{
    let m = Message::new_checked(msg)?;
    if !m.is_query_response() {
        return Err(DnsError::NotAnswer);
    }
    if m.question_count() > MAX_QUESTIONS || m.answer_count() > MAX_ANSWERS {
        return Err(DnsError::TooManyRecords);
    }
    let mut owner = Name::root();
    let mut target = Name::root();

    // Pass 1: validate every question and answer, so that a bad message reports nothing.
    let answers_at = skip_questions(&m, &mut owner)?;
    let mut at = answers_at;
    for _ in 0..m.answer_count() {
        let (r, next) = m.record_at(at, &mut owner)?;
        if r.class == CLASS_IN {
            check_record_data(&m, &r, &mut target)?;
        }
        at = next;
    }

    // Pass 2: grow the set of names reached through CNAMEs until nothing changes. Each
    // round adds a name or ends, so there are at most MAX_CHAIN + 1 rounds.
    let mut chain = Chain { names: heapless::Vec::new(), cut: false };
    let is_matched = |n: &Name, chain: &Chain| matches(n.as_bytes()) || chain.contains(n);
    loop {
        let mut grew = false;
        let mut at = answers_at;
        for _ in 0..m.answer_count() {
            let (r, next) = m.record_at(at, &mut owner)?;
            at = next;
            if r.class != CLASS_IN || r.rtype != TYPE_CNAME || !is_matched(&owner, &chain) {
                continue;
            }
            m.name(r.data_at, &mut target)?;
            if is_matched(&target, &chain) {
                continue;
            }
            if chain.names.push(target).is_err() {
                chain.cut = true;
                break;
            }
            grew = true;
        }
        if !grew || chain.cut {
            break;
        }
    }

    // Pass 3: report the addresses.
    let mut summary = Summary { chain_cut: chain.cut, ..Summary::default() };
    let mut at = answers_at;
    for _ in 0..m.answer_count() {
        let (r, next) = m.record_at(at, &mut owner)?;
        at = next;
        if r.class != CLASS_IN {
            continue;
        }
        let addr = match address_of(&r) {
            Some(a) => a,
            None => continue,
        };
        let matched = is_matched(&owner, &chain);
        summary.addresses += 1;
        summary.matched += u16::from(matched);
        report(&Learned { name: &owner, addr, ttl: r.ttl, matched });
    }
    Ok(summary)
}

/// Calls `each` with every question of a DNS message (query or response): its name and
/// type. For logging queries; the message is checked as far as the questions go.
pub fn questions<F: FnMut(&Name, u16)>(msg: &[u8], mut each: F) -> Result<u16, DnsError> {
    let m = Message::new_checked(msg)?;
    if m.question_count() > MAX_QUESTIONS {
        return Err(DnsError::TooManyRecords);
    }
    let mut name = Name::root();
    let mut at = HEADER_LEN;
    for _ in 0..m.question_count() {
        let (q, next) = m.question_at(at, &mut name)?;
        each(&name, q.qtype);
        at = next;
    }
    Ok(m.question_count())
}

/// Walks the question section; returns where the answers start.
fn skip_questions(m: &Message<'_>, scratch: &mut Name) -> Result<usize, DnsError> {
    let mut at = HEADER_LEN;
    for _ in 0..m.question_count() {
        at = m.question_at(at, scratch)?.1;
    }
    Ok(at)
}

/// Checks that an IN record of a type ftwall reads has data of the right shape.
fn check_record_data(m: &Message<'_>, r: &Record<'_>, scratch: &mut Name) -> Result<(), DnsError> {
    match r.rtype {
        TYPE_A if r.data.len() != 4 => Err(DnsError::BadRecord),
        TYPE_AAAA if r.data.len() != 16 => Err(DnsError::BadRecord),
        TYPE_CNAME => {
            // The target must end exactly where the record data does.
            let end = m.name(r.data_at, scratch)?;
            if end == r.data_at + r.data.len() {
                Ok(())
            } else {
                Err(DnsError::BadRecord)
            }
        }
        _ => Ok(()),
    }
}

/// The address an A or AAAA record holds (its length was checked in pass 1).
fn address_of(r: &Record<'_>) -> Option<IpAddr> {
    match r.rtype {
        TYPE_A => {
            let b: [u8; 4] = r.data.try_into().ok()?;
            Some(IpAddr::V4(Ipv4Addr::from(b)))
        }
        TYPE_AAAA => {
            let b: [u8; 16] = r.data.try_into().ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
