//! Interface names as the rules use them: an exact name (`br-lan`) or a prefix wildcard
//! written the iptables way (`ppp+`; `ppp*` is read the same). Names are checked
//! strictly so that nothing odd reaches a rule script.

use core::fmt;
use core::str::FromStr;

use super::RulesError;

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
pub const MAX_IFNAME: usize = 15;

/// A LAN or WAN interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Iface {
    Exact(String),
    /// Every interface whose name starts with this.
    Prefix(String),
}

impl Iface {
    /// The name without the wildcard.
    pub fn stem(&self) -> &str {
        match self {
            Iface::Exact(s) | Iface::Prefix(s) => s,
        }
    }

    pub fn matches(&self, dev: &str) -> bool {
        match self {
            Iface::Exact(s) => s == dev,
            Iface::Prefix(p) => dev.starts_with(p.as_str()),
        }
    }

    /// True if some device name would match both.
    pub fn overlaps(&self, other: &Iface) -> bool {
        match (self, other) {
            (Iface::Exact(a), Iface::Exact(b)) => a == b,
            (Iface::Prefix(p), Iface::Exact(e)) | (Iface::Exact(e), Iface::Prefix(p)) => e.starts_with(p.as_str()),
            (Iface::Prefix(a), Iface::Prefix(b)) => a.starts_with(b.as_str()) || b.starts_with(a.as_str()),
        }
    }

    /// True if the interface exists in the calling thread's network namespace.
    /// Wildcards always "exist": they stand for links that may come later.
    pub fn exists(&self) -> bool {
        match self {
            Iface::Prefix(_) => true,
            Iface::Exact(name) => {
                let Ok(c) = std::ffi::CString::new(name.as_str()) else { return false };
                // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
                unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
            }
        }
    }

    /// The name as iptables writes it (`ppp+`).
    pub fn ipt(&self) -> String {
        self.to_string()
    }

    /// The name as an nftables string (`"ppp*"`).
    pub fn nft(&self) -> String {
        match self {
            Iface::Exact(s) => format!("\"{s}\""),
            Iface::Prefix(s) => format!("\"{s}*\""),
        }
    }
}

impl fmt::Display for Iface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Iface::Exact(s) => f.write_str(s),
            Iface::Prefix(s) => write!(f, "{s}+"),
        }
    }
}

impl FromStr for Iface {
    type Err = RulesError;

    fn from_str(s: &str) -> Result<Iface, RulesError> {
        let bad = |why: &str| RulesError::Spec(format!("bad interface name '{}': {why}", s.escape_default()));
        let (stem, wildcard) = match s.strip_suffix('+').or_else(|| s.strip_suffix('*')) {
            Some(stem) => (stem, true),
            None => (s, false),
        };
        if stem.is_empty() {
            return Err(bad(if wildcard { "a wildcard needs a prefix" } else { "empty" }));
        }
        if stem.len() > MAX_IFNAME {
            return Err(bad("longer than 15 characters"));
        }
        if stem == "." || stem == ".." {
            return Err(bad("not a device name"));
        }
        if let Some(c) = stem.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
            return Err(bad(&format!("character '{}' is not allowed (letters, digits, '-', '_', '.')", c.escape_default())));
        }
        Ok(if wildcard { Iface::Prefix(stem.to_string()) } else { Iface::Exact(stem.to_string()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_strictly() {
        for ok in ["br-lan", "eth0.2", "pppoe-wan", "wlan0_1", "a", "abcdefghijklmno"] {
            assert_eq!(ok.parse::<Iface>().unwrap(), Iface::Exact(ok.to_string()), "{ok}");
        }
        assert_eq!("ppp+".parse::<Iface>().unwrap(), Iface::Prefix("ppp".into()));
        assert_eq!("ppp*".parse::<Iface>().unwrap(), Iface::Prefix("ppp".into()));
        for bad in ["", "+", "abcdefghijklmnop", "..", "br lan", "eth0\"", "a/b", "x;drop", "e\u{e9}th", "br-lan++", "a+b"] {
            assert!(bad.parse::<Iface>().is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn rendering_per_backend() {
        let p: Iface = "ppp+".parse().unwrap();
        assert_eq!(p.nft(), "\"ppp*\"");
        assert_eq!(p.ipt(), "ppp+");
        let e: Iface = "br-lan".parse().unwrap();
        assert_eq!(e.nft(), "\"br-lan\"");
        assert_eq!(e.ipt(), "br-lan");
    }

    #[test]
    fn matching_and_overlap() {
        let p: Iface = "ppp+".parse().unwrap();
        let e: Iface = "pppoe-wan".parse().unwrap();
        assert!(p.matches("ppp0") && p.matches("pppoe-wan") && !p.matches("eth0"));
        assert!(e.matches("pppoe-wan") && !e.matches("pppoe-wan2"));
        assert!(p.overlaps(&e) && e.overlaps(&p));
        assert!(p.overlaps(&"pp+".parse().unwrap()));
        assert!(!e.overlaps(&"eth0".parse().unwrap()));
    }

    #[test]
    fn loopback_exists_and_nonsense_does_not() {
        assert!("lo".parse::<Iface>().unwrap().exists());
        assert!(!"ftw-nope-zz9".parse::<Iface>().unwrap().exists());
    }
}
