//! Soulseek (Soulseek NS/Qt, Nicotine+, Museek+, slskd) (p2p-signatures.md 2.9).
//!
//! Soulseek frames every message with a little-endian 32-bit length, and "length-prefixed
//! with a small code" fits countless binary protocols (ipp2p's loose rule, which also reads
//! the integers in host order). So only the first messages with a fully checkable structure
//! count, each ending exactly where its length says (more messages may follow in the same
//! segment):
//! * the server login: code 1 (LE32), user name and password strings (LE32 length + bytes,
//!   no control characters), a version, the 32-hex-digit MD5 string, a minor version;
//! * a peer connection's first message: PierceFirewall (exactly `05 00 00 00`, code `00`,
//!   a 4-byte token) or PeerInit (code `01`, user name, a one-letter type `P`/`F`/`D`, a
//!   4-byte token).
//!
//! SoulseekQt can obfuscate peer connections: the first four bytes are a key and every
//! following 4-byte block is XORed with the key rotated left by one bit once more for each
//! block. When the plain checks fail, the first bytes are de-obfuscated into a small buffer
//! on the stack and the peer-message checks run again.

use super::{Confidence, Detector, Hit, Proto, Protocol, Segment};
use crate::wire::bytes::le32;

/// Login code of the server protocol.
pub const LOGIN: u32 = 1;
/// First-message codes of the peer protocol (one byte).
pub const PIERCE_FIREWALL: u8 = 0;
pub const PEER_INIT: u8 = 1;

/// Limits that real names and passwords stay within.
const MAX_USER: usize = 64;
const MAX_PASSWORD: usize = 128;
const MD5_HEX: usize = 32;

/// How many bytes of an obfuscated payload are de-obfuscated for the checks.
const DEOBFUSCATE_LEN: usize = 256;

/// Reads a string (LE32 length + bytes) at `at`; returns it and the offset after it.
fn string(b: &[u8], at: usize, max: usize) -> Option<(&[u8], usize)> {
    let len = le32(b, at)? as usize;
    if len > max {
        return None;
    }
    let start = at.checked_add(4)?;
    let s = b.get(start..start + len)?;
    Some((s, start + len))
}

/// No control characters (UTF-8 beyond ASCII is allowed).
fn is_clean(s: &[u8]) -> bool {
    s.iter().all(|&c| c >= 0x20 && c != 0x7f)
}

/// The message length at the start of `b`, if the whole message is in `b`.
fn whole_message(b: &[u8]) -> Option<(usize, &[u8])> {
    let len = le32(b, 0)? as usize;
    let body = b.get(4..4usize.checked_add(len)?)?;
    Some((len, body))
}

/// The server login, checked to its last byte.
pub fn login(b: &[u8]) -> bool {
    let Some((_, m)) = whole_message(b) else { return false };
    if le32(m, 0) != Some(LOGIN) {
        return false;
    }
    let check = || -> Option<bool> {
        let (user, at) = string(m, 4, MAX_USER)?;
        let (password, at) = string(m, at, MAX_PASSWORD)?;
        let at = at + 4; // version
        let (hash, at) = string(m, at, MD5_HEX)?;
        let end = at + 4; // minor version
        Some(
            !user.is_empty()
                && is_clean(user)
                && is_clean(password)
                && hash.len() == MD5_HEX
                && hash.iter().all(u8::is_ascii_hexdigit)
                && end == m.len(),
        )
    };
    check() == Some(true)
}

/// A peer connection's first message.
pub fn peer_first(b: &[u8]) -> Option<&'static str> {
    let (len, m) = whole_message(b)?;
    match *m.first()? {
        PIERCE_FIREWALL if len == 5 => Some("pierce firewall"),
        PEER_INIT => {
            let (user, at) = string(m, 1, MAX_USER)?;
            let (kind, at) = string(m, at, 1)?;
            let ok = !user.is_empty() && is_clean(user) && matches!(kind, [b'P' | b'F' | b'D']) && at + 4 == len;
            ok.then_some("peer init")
        }
        _ => None,
    }
}

/// Undoes SoulseekQt's obfuscation of the bytes after the 4-byte key, as far as `out`
/// reaches; returns how many bytes were written.
pub fn deobfuscate(p: &[u8], out: &mut [u8]) -> usize {
    let Some(mut key) = le32(p, 0) else { return 0 };
    let data = &p[4..];
    let n = data.len().min(out.len());
    for (i, (o, &c)) in out[..n].iter_mut().zip(data).enumerate() {
        if i % 4 == 0 {
            key = key.rotate_right(31);
        }
        *o = c ^ key.to_le_bytes()[i % 4];
    }
    n
}

/// The Soulseek detector.
pub struct Soulseek;

impl Detector for Soulseek {
    fn protocol(&self) -> Protocol {
        Protocol::Soulseek
    }

    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit> {
        if seg.proto != Proto::Tcp {
            return None;
        }
        let p = seg.payload;
        if login(p) {
            return Some(Hit::new(Confidence::Certain, "server login"));
        }
        if let Some(what) = peer_first(p) {
            return Some(Hit::new(Confidence::Certain, what));
        }
        // Only a de-obfuscated header that frames the payload is worth the full pass.
        let mut head = [0u8; 5];
        if deobfuscate(p, &mut head) < head.len() || head[4] > PEER_INIT || !matches!(le32(&head, 0), Some(n) if n as usize <= p.len() - 8) {
            return None;
        }
        let mut plain = [0u8; DEOBFUSCATE_LEN];
        let n = deobfuscate(p, &mut plain);
        peer_first(&plain[..n]).map(|what| Hit::new(Confidence::Certain, if what == "peer init" { "obfuscated peer init" } else { "obfuscated pierce firewall" }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::test_support::{noise, seg};

    fn s(v: &mut Vec<u8>, text: &[u8]) {
        v.extend_from_slice(&(text.len() as u32).to_le_bytes());
        v.extend_from_slice(text);
    }

    fn framed(body: Vec<u8>) -> Vec<u8> {
        let mut v = (body.len() as u32).to_le_bytes().to_vec();
        v.extend(body);
        v
    }

    /// The server login built from the specification.
    fn login_bytes(user: &[u8], password: &[u8]) -> Vec<u8> {
        let mut b = LOGIN.to_le_bytes().to_vec();
        s(&mut b, user);
        s(&mut b, password);
        b.extend_from_slice(&160u32.to_le_bytes());
        s(&mut b, b"d41d8cd98f00b204e9800998ecf8427e");
        b.extend_from_slice(&17u32.to_le_bytes());
        framed(b)
    }

    fn peer_init(user: &[u8], kind: u8) -> Vec<u8> {
        let mut b = vec![PEER_INIT];
        s(&mut b, user);
        s(&mut b, &[kind]);
        b.extend_from_slice(&0x1234_5678u32.to_le_bytes());
        framed(b)
    }

    /// Obfuscates like SoulseekQt: key, then each 4-byte block XORed with the key rotated
    /// left by one more bit (written independently of `deobfuscate`: rotating left by one
    /// is rotating right by 31).
    fn obfuscate(key: [u8; 4], plain: &[u8]) -> Vec<u8> {
        let mut v = key.to_vec();
        let mut k = u32::from_le_bytes(key);
        for block in plain.chunks(4) {
            k = k.rotate_left(1);
            for (i, &c) in block.iter().enumerate() {
                v.push(c ^ k.to_le_bytes()[i]);
            }
        }
        v
    }

    fn tcp(p: &[u8]) -> Option<&'static str> {
        Soulseek.inspect(&seg(Proto::Tcp, true, p)).map(|h| h.what)
    }

    #[test]
    fn server_login() {
        let l = login_bytes(b"alice", b"secret pw");
        assert_eq!(tcp(&l), Some("server login"));
        let mut coalesced = l.clone();
        coalesced.extend(framed(vec![2, 0, 0, 0, 0x5a, 0x08, 0, 0]));
        assert_eq!(tcp(&coalesced), Some("server login"));
        assert_eq!(tcp(&login_bytes("bjørk".as_bytes(), b"")), Some("server login"));

        // near misses
        assert_eq!(tcp(&login_bytes(b"", b"pw")), None, "no user");
        assert_eq!(tcp(&login_bytes(b"al\x01ce", b"pw")), None, "control character");
        let mut code = l.clone();
        code[4] = 2;
        assert_eq!(tcp(&code), None);
        let mut long = l.clone();
        long[0] += 1;
        long.push(0);
        assert_eq!(tcp(&long), None, "structure ends before the declared length");
        let mut bad_hash = l.clone();
        let at = bad_hash.len() - 6;
        bad_hash[at] = b'g';
        assert_eq!(tcp(&bad_hash), None);
        let mut big_endian = l.clone();
        big_endian[..4].copy_from_slice(&(l.len() as u32 - 4).to_be_bytes());
        assert_eq!(tcp(&big_endian), None, "lengths are little-endian");
        assert_eq!(tcp(&l[..l.len() - 1]), None);
    }

    #[test]
    fn peer_messages() {
        let pierce = [5, 0, 0, 0, PIERCE_FIREWALL, 0xde, 0xad, 0xbe, 0xef];
        assert_eq!(tcp(&pierce), Some("pierce firewall"));
        for kind in [b'P', b'F', b'D'] {
            assert_eq!(tcp(&peer_init(b"bob", kind)), Some("peer init"));
        }
        assert_eq!(tcp(&[6, 0, 0, 0, 0, 1, 2, 3, 4, 5]), None, "pierce firewall is 9 bytes");
        assert_eq!(tcp(&pierce[..8]), None);
        assert_eq!(tcp(&peer_init(b"bob", b'X')), None);
        assert_eq!(tcp(&peer_init(b"", b'P')), None);
        let mut two_letters = peer_init(b"bob", b'P');
        two_letters[0] += 1;
        let at = 4 + 1 + 4 + 3;
        two_letters[at] = 2;
        two_letters.insert(at + 5, b'x');
        assert_eq!(tcp(&two_letters), None);
    }

    #[test]
    fn obfuscated_peer_messages() {
        let init = peer_init(b"carol", b'P');
        let o = obfuscate([0x9d, 0x31, 0x4c, 0xe2], &init);
        assert_eq!(tcp(&init), Some("peer init"));
        assert_ne!(&o[4..], &init[..]);
        assert_eq!(tcp(&o), Some("obfuscated peer init"));
        let pierce = [5, 0, 0, 0, PIERCE_FIREWALL, 1, 2, 3, 4];
        assert_eq!(tcp(&obfuscate([0xff, 0xff, 0xff, 0x7f], &pierce)), Some("obfuscated pierce firewall"));
        // round trip and near misses
        let mut out = [0u8; 64];
        let n = deobfuscate(&o, &mut out);
        assert_eq!(&out[..n], &init[..]);
        let mut flipped = o.clone();
        flipped[0] ^= 1;
        assert_eq!(tcp(&flipped), None, "wrong key");
        assert_eq!(tcp(&o[..o.len() - 1]), None);
    }

    #[test]
    fn random_and_framed_binary_is_not_soulseek() {
        let hits = (0..20000u32).filter(|&i| tcp(&noise(i + 1, 9 + (i as usize % 300))).is_some()).count();
        assert_eq!(hits, 0);
        // a generic length-prefixed message with a small code
        assert_eq!(tcp(&framed(vec![1, 0, 0, 0, 9, 9, 9, 9, 9, 9])), None);
        assert!(Soulseek.inspect(&seg(Proto::Udp, true, &peer_init(b"bob", b'P'))).is_none());
    }
}
