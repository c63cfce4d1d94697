//! OpenNap / Napster (OpenNap servers, Napster clones, WinMX in OpenNap mode, Lopster,
//! TekNap): the server login and the client-to-client file transfer
//! (p2p-signatures.md 2.3, from the napster.txt protocol description).
//!
//! * Login: every client-server message is a little-endian 16-bit length of its data, a
//!   little-endian 16-bit type, then ASCII data. The first message of a session is a
//!   login (type 2) or a new-user login (type 6) whose data reads
//!   `<nick> <password> <port> "<client-info>" <link-type>` and, for type 6, the e-mail
//!   address (type 2 may carry a build number). The framing plus that grammar is a
//!   signature on its own (one packet).
//! * Transfer: the listening side sends exactly one byte, `1`, on accept. The other side
//!   then sends `GET` (download) or `SEND` (push upload), usually as a packet of its own,
//!   followed by `<nick> "<filename>" <offset-or-size>`. A lone `GET` could be a telnet
//!   user or an odd HTTP client, so the greeting from the other direction and the
//!   request grammar are both required.

use super::{Confidence, Detector, Hit, Proto, Protocol, Segment};
use crate::wire::bytes::{is_digits, le16};

/// Message types of a login and a new-user login.
pub const TYPE_LOGIN: u16 = 2;
pub const TYPE_NEW_USER_LOGIN: u16 = 6;

/// Longest login data accepted (real ones are well under 200 bytes).
const MAX_LOGIN: usize = 1024;
/// Longest transfer request accepted (a nick, a Windows path and a number).
const MAX_REQUEST: usize = 1024;
/// Link types run from 0 (unknown) to 10 (T3 or better).
const MAX_LINK_TYPE: u32 = 10;

/// Splits `s` at its first space: (before, after), or `None` if there is no space.
fn word(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&c| c == b' ')?;
    Some((&s[..i], &s[i + 1..]))
}

/// A nick or password: visible ASCII, no quote.
fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&c| c.is_ascii_graphic() && c != b'"')
}

/// A decimal number with at most `max_digits` digits and a value of at most `max`.
fn number(s: &[u8], max_digits: usize, max: u64) -> bool {
    is_digits(s)
        && s.len() <= max_digits
        && s.iter().try_fold(0u64, |v, &d| v.checked_mul(10)?.checked_add(u64::from(d - b'0'))).is_some_and(|v| v <= max)
}

/// Splits `"<text>" rest` into the quoted text and what follows the closing quote;
/// `text` must be non-empty and free of control characters (file names may hold
/// non-ASCII bytes; client names are printable ASCII, which this also allows).
fn quoted(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let inner = s.strip_prefix(b"\"")?;
    let end = inner.iter().position(|&c| c == b'"')?;
    let text = &inner[..end];
    if text.is_empty() || text.iter().any(|&c| c < 0x20 || c == 0x7f) {
        return None;
    }
    Some((text, &inner[end + 1..]))
}

/// True if `data` is a login message's data:
/// `nick password port "client" link-type [extra]`.
fn is_login_data(data: &[u8], msg_type: u16) -> bool {
    if !data.iter().all(|&c| (0x20..0x7f).contains(&c)) {
        return false;
    }
    let parsed = (|| {
        let (nick, rest) = word(data)?;
        let (password, rest) = word(rest)?;
        let (port, rest) = word(rest)?;
        let (_client, rest) = quoted(rest)?;
        let rest = rest.strip_prefix(b" ")?;
        let (link, extra) = match word(rest) {
            Some((link, extra)) => (link, Some(extra)),
            None => (rest, None),
        };
        Some((nick, password, port, link, extra))
    })();
    let Some((nick, password, port, link, extra)) = parsed else { return false };
    let extra_ok = match (msg_type, extra) {
        // A new user gives an e-mail address.
        (TYPE_NEW_USER_LOGIN, Some(e)) => is_token(e),
        (TYPE_NEW_USER_LOGIN, None) => false,
        // A login may end with the client's build number.
        (_, Some(e)) => is_token(e),
        (_, None) => true,
    };
    is_token(nick) && is_token(password) && number(port, 5, 65535) && number(link, 2, u64::from(MAX_LINK_TYPE)) && extra_ok
}

/// Recognises a login at the start of `p` (other messages may follow it in the packet).
fn login(p: &[u8]) -> Option<&'static str> {
    let len = usize::from(le16(p, 0)?);
    let msg_type = le16(p, 2)?;
    let what = match msg_type {
        TYPE_LOGIN => "login",
        TYPE_NEW_USER_LOGIN => "new-user login",
        _ => return None,
    };
    if len > MAX_LOGIN {
        return None;
    }
    let data = p.get(4..4 + len)?;
    is_login_data(data, msg_type).then_some(what)
}

/// True if `r` is a transfer request: `nick "filename" digits`, nothing after.
fn is_request(r: &[u8]) -> bool {
    if r.len() > MAX_REQUEST {
        return false;
    }
    let Some((nick, rest)) = word(r) else { return false };
    let Some((_file, rest)) = quoted(rest) else { return false };
    match rest.strip_prefix(b" ") {
        Some(n) => is_token(nick) && number(n, 20, u64::MAX),
        None => false,
    }
}

/// The transfer command a payload starts with, and what follows it.
fn command(p: &[u8]) -> Option<(&'static str, &[u8])> {
    if let Some(rest) = p.strip_prefix(b"GET") {
        Some(("transfer GET", rest))
    } else {
        p.strip_prefix(b"SEND").map(|rest| ("transfer SEND", rest))
    }
}

/// Recognises the requesting side of a transfer, after the other side's `1`.
fn transfer(seg: &Segment<'_>) -> Option<&'static str> {
    let (sent_before, first) = seg.sender_history();
    match sent_before {
        // Command and request in one packet.
        0 => {
            let (what, request) = command(seg.payload)?;
            is_request(request).then_some(what)
        }
        // The command alone first, the request now.
        1 => {
            let (what, rest) = command(first.bytes())?;
            (rest.is_empty() && usize::from(first.len) == first.bytes().len() && is_request(seg.payload)).then_some(what)
        }
        _ => None,
    }
}

/// The OpenNap detector.
pub struct OpenNap;

impl Detector for OpenNap {
    fn protocol(&self) -> Protocol {
        Protocol::OpenNap
    }

    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit> {
        if seg.proto != Proto::Tcp {
            return None;
        }
        let (sent_before, _) = seg.sender_history();
        let (other_sent, greeting) = seg.other_history();
        // A login opens the session: nothing came before it from either side.
        if sent_before == 0 && other_sent == 0 {
            if let Some(what) = login(seg.payload) {
                return Some(Hit::new(Confidence::Certain, what));
            }
        }
        if greeting.len == 1 && greeting.bytes() == b"1" {
            return transfer(seg).map(|what| Hit::new(Confidence::Certain, what));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{FlowView, Prefix};

    /// An OpenNap message, built byte by byte: LE16 length, LE16 type, data.
    fn message(msg_type: u16, data: &[u8]) -> Vec<u8> {
        let len = data.len() as u16;
        let mut m = vec![(len & 0xff) as u8, (len >> 8) as u8, (msg_type & 0xff) as u8, (msg_type >> 8) as u8];
        m.extend_from_slice(data);
        m
    }

    /// A segment from the client (or the remote), with what each side sent before.
    fn seg<'a>(from_client: bool, payload: &'a [u8], sender_first: &[u8], other_first: &[u8]) -> Segment<'a> {
        let mut flow = FlowView::NEW;
        let (s, o) = (Prefix::of(sender_first), Prefix::of(other_first));
        let (sc, oc) = (u8::from(!sender_first.is_empty()), u8::from(!other_first.is_empty()));
        if from_client {
            (flow.client_first, flow.client_payloads, flow.remote_first, flow.remote_payloads) = (s, sc, o, oc);
        } else {
            (flow.remote_first, flow.remote_payloads, flow.client_first, flow.client_payloads) = (s, sc, o, oc);
        }
        Segment {
            proto: Proto::Tcp,
            client: "192.168.1.30:1066".parse().unwrap(),
            remote: "203.0.113.40:8888".parse().unwrap(),
            from_client,
            remote_is_router: false,
            payload,
            flow,
        }
    }

    fn check(s: &Segment<'_>) -> Option<&'static str> {
        OpenNap.inspect(s).map(|h| {
            assert_eq!(h.confidence, Confidence::Certain);
            h.what
        })
    }

    #[test]
    fn logins_from_the_specification() {
        // The specification's example, then a real-looking WinMX one with a build number.
        let m = message(2, b"foo badpass 6699 \"nap v0.8\" 3");
        assert_eq!(&m[..4], &[29, 0, 2, 0]);
        assert_eq!(check(&seg(true, &m, b"", b"")), Some("login"));
        let m = message(2, b"Mx_User_123 secret 0 \"WinMX v3.31\" 10 1234");
        assert_eq!(check(&seg(true, &m, b"", b"")), Some("login"));
        let m = message(6, b"newbie pw 6699 \"Lopster 1.2.2\" 4 newbie@example.org");
        assert_eq!(check(&seg(true, &m, b"", b"")), Some("new-user login"));
        // Followed by another message in the same segment (coalesced).
        let mut m = message(2, b"foo badpass 6699 \"nap v0.8\" 3");
        m.extend(message(100, b"\"song.mp3\" 0123456789abcdef 4000 128 44100 180"));
        assert_eq!(check(&seg(true, &m, b"", b"")), Some("login"));
        // A LAN server receiving a login from outside.
        let m = message(2, b"foo badpass 6699 \"nap v0.8\" 3");
        assert_eq!(check(&seg(false, &m, b"", b"")), Some("login"));
    }

    #[test]
    fn near_miss_logins_are_refused() {
        let good = b"foo badpass 6699 \"nap v0.8\" 3";
        let bad: &[&[u8]] = &[
            b"foo badpass 6699 \"nap v0.8\" 11",   // link type out of range
            b"foo badpass 66999 \"nap v0.8\" 3",   // port out of range
            b"foo badpass 6699 nap 3",             // client not quoted
            b"foo badpass 6699 \"\" 3",            // empty client
            b"foo 6699 \"nap v0.8\" 3",            // no password
            b"foo badpass 6699 \"nap v0.8\"",      // no link type
            b"foo badpass 6699 \"nap v0.8\" 3 ",   // empty extra
            b"foo\tbad 6699 \"nap v0.8\" 3",       // control character
            b"foo badpass 6699 \"nap\x01\" 3",     // control character in the client
        ];
        for data in bad {
            assert_eq!(check(&seg(true, &message(2, data), b"", b"")), None, "{}", String::from_utf8_lossy(data));
        }
        // A new user must give an e-mail address.
        assert_eq!(check(&seg(true, &message(6, good), b"", b"")), None);
        // Other types (3 = login ack, 7 = nick check) are not logins.
        for t in [0u16, 3, 4, 7, 0x0200] {
            assert_eq!(check(&seg(true, &message(t, good), b"", b"")), None, "type {t}");
        }
        // The length must cover the data: longer than the segment, or shorter than the
        // grammar needs.
        let mut m = message(2, good);
        m[0] += 1;
        assert_eq!(check(&seg(true, &m, b"", b"")), None);
        m[0] -= 3;
        assert_eq!(check(&seg(true, &m, b"", b"")), None);
        // Not the session's first message.
        let m = message(2, good);
        assert_eq!(check(&seg(true, &m, b"\x00\x00\x04\x00", b"")), None);
        assert_eq!(check(&seg(true, &m, b"", b"\x00\x00\x03\x00")), None);
    }

    #[test]
    fn transfers_need_the_greeting_and_the_request() {
        let req = b"downloader \"C:\\My Music\\Caf\xe9 - Song.mp3\" 0";
        // GET alone after "1", then the request: recognised on the request.
        assert_eq!(check(&seg(true, b"GET", b"", b"1")), None);
        assert_eq!(check(&seg(true, req, b"GET", b"1")), Some("transfer GET"));
        // Push: SEND, then the request with the file size.
        assert_eq!(check(&seg(true, b"uploader \"song.mp3\" 4812733", b"SEND", b"1")), Some("transfer SEND"));
        // Command and request coalesced.
        let mut both = b"GET".to_vec();
        both.extend_from_slice(req);
        assert_eq!(check(&seg(true, &both, b"", b"1")), Some("transfer GET"));
        // Inbound: a peer outside downloads from a LAN client.
        assert_eq!(check(&seg(false, req, b"GET", b"1")), Some("transfer GET"));
    }

    #[test]
    fn lookalike_transfers_are_refused() {
        let req: &[u8] = b"downloader \"song.mp3\" 0";
        // No greeting, or a different one.
        assert_eq!(check(&seg(true, req, b"GET", b"")), None);
        assert_eq!(check(&seg(true, req, b"GET", b"1\n")), None);
        assert_eq!(check(&seg(true, req, b"GET", b"2")), None);
        // The first packet was more than the command (an HTTP request line).
        assert_eq!(check(&seg(true, req, b"GET / HTTP/1.1\r\n", b"1")), None);
        assert_eq!(check(&seg(true, b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n", b"", b"1")), None);
        // Broken requests.
        for bad in [
            &b"downloader \"song.mp3\""[..],
            b"downloader \"song.mp3\" 0\r\n",
            b"downloader song.mp3 0",
            b"downloader \"song.mp3\" x0",
            b"\"song.mp3\" 0",
            b"down loader \"song.mp3\" 0",
        ] {
            assert_eq!(check(&seg(true, bad, b"GET", b"1")), None, "{}", String::from_utf8_lossy(bad));
        }
        // UDP never.
        let mut s = seg(true, req, b"GET", b"1");
        s.proto = Proto::Udp;
        assert_eq!(check(&s), None);
    }

    #[test]
    fn numbers_do_not_overflow() {
        assert!(number(b"18446744073709551615", 20, u64::MAX));
        // 20 nines would overflow u64: refused without panicking (overflow checks are on).
        assert!(!number(b"99999999999999999999", 20, u64::MAX));
        assert!(!number(b"123456789012345678901", 20, u64::MAX));
        assert!(!number(b"", 5, 65535));
    }
}
