//! Direct Connect: NMDC and ADC (p2p-signatures.md 2.7).
//!
//! NMDC is a server-first protocol: the hub greets a connecting client with
//! `$Lock <lock> Pk=<pk>|` before the client says anything, so the remote's first payload
//! is evidence on its own, and the client's answer (`$Key `, `$ValidateNick ` or
//! `$Supports `, pipe-terminated) confirms a hub whose lock lacks the `Pk=` part. Between
//! clients the connecting side opens with `$MyNick <nick>|` (usually followed by its
//! `$Lock` in the same segment). NMDC's search results travel over UDP as
//! `$SR <nick> <path>\x05<size> <slots>\x05...|`. Plain `$...|` is not enough: many
//! text protocols could produce it (the reference's FP note).
//!
//! ADC: the first line of a connection is a SUP command naming the BASE feature:
//! `HSUP ADBASE ...` (client to hub), `ISUP ADBASE ...` (hub to client), `CSUP ADBASE ...`
//! (client to client); `ADBAS0` is an early name nDPI also accepts. Every token after
//! `SUP` must look like an ADC feature (`AD`/`RM` + four characters) and the line must end.
//! ADCS (TLS) is not recognisable by bytes.

use super::{Confidence, Detector, Hit, Proto, Protocol, Segment};
use crate::wire::bytes::find;

/// The first NMDC command of a payload: `$` + name + space, up to the first `|`.
fn nmdc_command<'a>(p: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let rest = p.strip_prefix(b"$")?.strip_prefix(name)?.strip_prefix(b" ")?;
    let end = rest.iter().position(|&c| c == b'|')?;
    Some(&rest[..end])
}

/// A hub's (or client's) `$Lock <lock> Pk=<pk>|`.
fn lock_with_pk(p: &[u8]) -> bool {
    nmdc_command(p, b"Lock").is_some_and(|args| find(args, b" Pk=").is_some_and(|at| at > 0)) && p.ends_with(b"|")
}

/// `$MyNick <nick>|`: a nick without spaces, and the payload ends a command.
fn my_nick(p: &[u8]) -> bool {
    nmdc_command(p, b"MyNick").is_some_and(|nick| !nick.is_empty() && !nick.contains(&b' ')) && p.ends_with(b"|")
}

/// The client's answer to a hub's lock.
fn login_answer(p: &[u8]) -> bool {
    [&b"Key"[..], b"ValidateNick", b"Supports"].iter().any(|name| nmdc_command(p, name).is_some_and(|a| !a.is_empty())) && p.ends_with(b"|")
}

/// An ADC SUP line naming BASE.
fn adc_sup(p: &[u8]) -> bool {
    let Some(rest) = [&b"HSUP "[..], b"ISUP ", b"CSUP "].iter().find_map(|c| p.strip_prefix(*c)) else { return false };
    let Some(end) = rest.iter().position(|&c| c == b'\n') else { return false };
    let mut base = false;
    for token in rest[..end].split(|&c| c == b' ') {
        let feature = token.len() == 6 && (token.starts_with(b"AD") || token.starts_with(b"RM"));
        if !feature {
            return false;
        }
        base |= token == b"ADBASE" || token == b"ADBAS0";
    }
    base
}

/// `$SR <nick> <result>\x05...|` over UDP.
fn search_result(p: &[u8]) -> bool {
    nmdc_command(p, b"SR").is_some_and(|args| args.contains(&0x05) && args.first().is_some_and(|&c| c != b' ')) && p.ends_with(b"|")
}

/// The first payload the other side of the flow sent.
fn other_first_starts(seg: &Segment<'_>, with: &[u8]) -> bool {
    let other = if seg.from_client { &seg.flow.remote_first } else { &seg.flow.client_first };
    other.bytes().starts_with(with)
}

/// The Direct Connect detector.
pub struct DirectConnect;

impl Detector for DirectConnect {
    fn protocol(&self) -> Protocol {
        Protocol::DirectConnect
    }

    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit> {
        let p = seg.payload;
        let what = match (seg.proto, p.first()?) {
            (Proto::Tcp, b'$') => {
                if lock_with_pk(p) {
                    "nmdc lock"
                } else if my_nick(p) {
                    "nmdc client connection"
                } else if login_answer(p) && other_first_starts(seg, b"$Lock ") {
                    "nmdc hub login"
                } else {
                    return None;
                }
            }
            (Proto::Tcp, b'H' | b'I' | b'C') if adc_sup(p) => "adc handshake",
            (Proto::Udp, b'$') if search_result(p) => "nmdc udp search result",
            _ => return None,
        };
        Some(Hit::new(Confidence::Certain, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{after_client, after_remote, seg};

    fn tcp(from_client: bool, p: &[u8]) -> Option<&'static str> {
        DirectConnect.inspect(&seg(Proto::Tcp, from_client, p)).map(|h| h.what)
    }

    const HUB_LOCK: &[u8] = b"$Lock EXTENDEDPROTOCOL_verlihub Pk=version0.9.8e|$HubName Example hub|";

    #[test]
    fn the_hub_speaks_first() {
        assert_eq!(tcp(false, HUB_LOCK), Some("nmdc lock"));
        assert_eq!(tcp(false, b"$Lock EXTENDEDPROTOCOLABCABCABCABCABCABC Pk=DCPLUSPLUS0.868|"), Some("nmdc lock"));
        // the client's answer confirms a lock without Pk=
        let answer = b"$Supports UserCommand NoGetINFO NoHello UserIP2 TTHSearch ZPipe0 |$Key abc|$ValidateNick alice|";
        let s = after_remote(seg(Proto::Tcp, true, answer), b"$Lock SomeOldHubLock|", 1);
        assert_eq!(DirectConnect.inspect(&s).unwrap().what, "nmdc hub login");
        let s = after_remote(seg(Proto::Tcp, true, b"$ValidateNick alice|"), b"$Lock SomeOldHubLock|", 1);
        assert!(DirectConnect.inspect(&s).is_some());

        // near misses
        assert_eq!(tcp(false, b"$Lock SomeOldHubLock|"), None, "no Pk=: wait for the answer");
        assert_eq!(tcp(false, b"$Lock EXTENDEDPROTOCOL Pk=x"), None, "unterminated");
        assert_eq!(tcp(false, b"$Lock  Pk=x|"), None, "no lock");
        assert_eq!(tcp(false, b"$lock EXTENDEDPROTOCOL Pk=x|"), None);
        assert_eq!(tcp(true, answer), None, "no hub lock came before");
        let s = after_remote(seg(Proto::Tcp, true, answer), b"HTTP/1.1 200 OK\r\n", 1);
        assert!(DirectConnect.inspect(&s).is_none());
        let s = after_client(seg(Proto::Tcp, true, answer), b"$Lock SomeOldHubLock|", 1);
        assert!(DirectConnect.inspect(&s).is_none(), "the lock must come from the other side");
        let s = after_remote(seg(Proto::Tcp, true, b"$Key |"), b"$Lock SomeOldHubLock|", 1);
        assert!(DirectConnect.inspect(&s).is_none());
    }

    #[test]
    fn client_to_client() {
        let p = b"$MyNick bob|$Lock EXTENDEDPROTOCOLABCABCABCABCABCABC Pk=DCPLUSPLUS0.868|";
        assert_eq!(tcp(true, p), Some("nmdc client connection"));
        assert_eq!(tcp(false, b"$MyNick bob|"), Some("nmdc client connection"));
        assert_eq!(tcp(true, b"$MyNick |"), None);
        assert_eq!(tcp(true, b"$MyNick bob smith|"), None);
        assert_eq!(tcp(true, b"$MyNick bob|$Direction Download 1234"), None, "unterminated");
        assert_eq!(tcp(true, b"$Send|"), None);
    }

    #[test]
    fn adc() {
        assert_eq!(tcp(true, b"HSUP ADBASE ADTIGR ADBLO0\n"), Some("adc handshake"));
        assert_eq!(tcp(false, b"ISUP ADBASE ADTIGR\nISID AAAB\nIINF NIhub\n"), Some("adc handshake"));
        assert_eq!(tcp(true, b"CSUP ADBAS0 ADTIGR\n"), Some("adc handshake"));
        assert_eq!(tcp(true, b"HSUP ADTIGR\n"), None, "no BASE");
        assert_eq!(tcp(true, b"HSUP ADBASE ADTIGR"), None, "unterminated");
        assert_eq!(tcp(true, b"HSUP ADBASE hello world\n"), None);
        assert_eq!(tcp(true, b"BSUP ADBASE\n"), None);
    }

    #[test]
    fn udp_search_results() {
        let sr = b"$SR alice music\\song.mp3\x054194304 3/4\x05TTH:ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFG (203.0.113.9:411)|";
        assert_eq!(DirectConnect.inspect(&seg(Proto::Udp, false, sr)).unwrap().what, "nmdc udp search result");
        assert!(DirectConnect.inspect(&seg(Proto::Udp, false, b"$SR alice song.mp3 4194304|")).is_none(), "no separator");
        assert!(DirectConnect.inspect(&seg(Proto::Udp, false, &sr[..sr.len() - 1])).is_none());
        assert!(DirectConnect.inspect(&seg(Proto::Tcp, false, sr)).is_none(), "TCP results come after the hub login");
    }

    #[test]
    fn ordinary_text_is_not_dc() {
        for p in [&b"$ echo hello|"[..], b"$HOME|", b"HTTP/1.1 200 OK\r\n\r\n", b"HELO mail.example.org\r\n", b"CONNECT example.org:443 HTTP/1.1\r\n"] {
            assert_eq!(tcp(true, p), None);
            assert_eq!(tcp(false, p), None);
        }
    }
}
