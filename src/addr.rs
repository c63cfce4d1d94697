//! Addresses the engine reasons about: endpoints, networks (CIDR) and MAC addresses,
//! with parsing that returns errors instead of panicking.

use core::fmt;
use core::str::FromStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IP address and a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub ip: IpAddr,
    pub port: u16,
}

impl Endpoint {
    pub const fn new(ip: IpAddr, port: u16) -> Endpoint {
        Endpoint { ip, port }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            IpAddr::V4(ip) => write!(f, "{}:{}", ip, self.port),
            IpAddr::V6(ip) => write!(f, "[{}]:{}", ip, self.port),
        }
    }
}

/// Why an address, network or MAC could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrParseError(pub &'static str);

impl fmt::Display for AddrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for AddrParseError {}

impl FromStr for Endpoint {
    type Err = AddrParseError;

    /// Reads `a.b.c.d:port` or `[v6]:port`.
    fn from_str(s: &str) -> Result<Endpoint, AddrParseError> {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (host, port) = rest.split_once("]:").ok_or(AddrParseError("expected [address]:port"))?;
            (host, port)
        } else {
            s.rsplit_once(':').ok_or(AddrParseError("expected address:port"))?
        };
        let ip: IpAddr = host.parse().map_err(|_| AddrParseError("bad IP address"))?;
        if ip.is_ipv6() && !s.starts_with('[') {
            return Err(AddrParseError("an IPv6 endpoint is written [address]:port"));
        }
        let port: u16 = port.parse().map_err(|_| AddrParseError("bad port"))?;
        Ok(Endpoint { ip, port })
    }
}

/// An IPv4 or IPv6 network in CIDR notation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn new(addr: IpAddr, prefix: u8) -> Result<IpNet, AddrParseError> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(AddrParseError("prefix length too long for the address family"));
        }
        Ok(IpNet { addr: mask(addr, prefix), prefix })
    }

    /// A network holding exactly one address.
    pub fn host(addr: IpAddr) -> IpNet {
        IpNet { addr, prefix: if addr.is_ipv4() { 32 } else { 128 } }
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4-mapped IPv6 address belongs to the IPv4 network it maps.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.prefix) == self.addr
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

impl FromStr for IpNet {
    type Err = AddrParseError;

    /// Reads `addr/prefix` or a bare address (a one-host network).
    fn from_str(s: &str) -> Result<IpNet, AddrParseError> {
        match s.split_once('/') {
            Some((a, p)) => {
                let addr: IpAddr = a.parse().map_err(|_| AddrParseError("bad IP address in network"))?;
                let prefix: u8 = p.parse().map_err(|_| AddrParseError("bad prefix length"))?;
                IpNet::new(addr, prefix)
            }
            None => s.parse().map(IpNet::host).map_err(|_| AddrParseError("bad IP address")),
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// An Ethernet MAC address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl FromStr for MacAddr {
    type Err = AddrParseError;

    /// Reads `aa:bb:cc:dd:ee:ff` (or with `-` separators), any case.
    fn from_str(s: &str) -> Result<MacAddr, AddrParseError> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for byte in out.iter_mut() {
            let part = parts.next().ok_or(AddrParseError("a MAC address has six parts"))?;
            if part.len() != 2 {
                return Err(AddrParseError("each MAC address part is two hex digits"));
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| AddrParseError("bad hex digit in MAC address"))?;
        }
        if parts.next().is_some() {
            return Err(AddrParseError("a MAC address has six parts"));
        }
        Ok(MacAddr(out))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

/// True for addresses that can never be a peer on the internet: loopback, unspecified,
/// link-local, multicast and broadcast. Used so that no packet, capture or DNS answer can
/// get such an address blocked.
pub fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_unspecified() || v4.is_link_local() || v4.is_multicast() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_special(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || (first & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_round_trip() {
        for s in ["192.0.2.1:1214", "[2001:db8::1]:6346"] {
            let e: Endpoint = s.parse().unwrap();
            assert_eq!(e.to_string(), s);
        }
        assert!("2001:db8::1:80".parse::<Endpoint>().is_err());
        assert!("192.0.2.1".parse::<Endpoint>().is_err());
        assert!("192.0.2.1:70000".parse::<Endpoint>().is_err());
    }

    #[test]
    fn networks_contain_their_hosts_only() {
        let n: IpNet = "192.168.1.77/24".parse().unwrap();
        assert_eq!(n.to_string(), "192.168.1.0/24");
        assert!(n.contains("192.168.1.200".parse().unwrap()));
        assert!(!n.contains("192.168.2.1".parse().unwrap()));
        assert!(n.contains("::ffff:192.168.1.9".parse().unwrap()));
        let v6: IpNet = "2001:db8:1::/48".parse().unwrap();
        assert!(v6.contains("2001:db8:1:ff::1".parse().unwrap()));
        assert!(!v6.contains("192.168.1.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<IpNet>().is_err());
        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("203.0.113.9".parse().unwrap()));
    }

    #[test]
    fn macs_parse_strictly() {
        let m: MacAddr = "02:00:5E:10:00:01".parse().unwrap();
        assert_eq!(m.to_string(), "02:00:5e:10:00:01");
        assert!("02:00:5e:10:00".parse::<MacAddr>().is_err());
        assert!("02:00:5e:10:00:01:02".parse::<MacAddr>().is_err());
        assert!("0g:00:5e:10:00:01".parse::<MacAddr>().is_err());
    }

    #[test]
    fn special_addresses() {
        for s in ["127.0.0.1", "0.0.0.0", "169.254.1.1", "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1"] {
            assert!(is_special(s.parse().unwrap()), "{s}");
        }
        for s in ["192.0.2.1", "2001:db8::1", "10.0.0.1"] {
            assert!(!is_special(s.parse().unwrap()), "{s}");
        }
    }
}
