//! The router's own addresses and the LAN networks, read from the interfaces
//! (getifaddrs), so that nothing learned from traffic or DNS answers can get the router
//! or the LAN blocked even when the LAN is given only as `--lan-if` (the safety rules
//! of ftwall(8), "DNS NAMES"). Read at start and again on SIGHUP (addresses change).

use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::addr::IpNet;

/// What the interfaces say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Local {
    /// Every address of every interface of the router (one-host networks).
    pub router: Vec<IpNet>,
    /// The networks of the named LAN interfaces.
    pub lan: Vec<IpNet>,
}

impl Local {
    /// Everything that must never be blocked.
    pub fn all(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.router.iter().chain(&self.lan).copied()
    }
}

/// Reads the addresses of all interfaces; the networks of those named in `lan_ifs`.
pub fn read(lan_ifs: &[String]) -> std::io::Result<Local> {
    let mut out = Local::default();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, alive until freeifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        // SAFETY: the address and mask, when not null, point at sockaddrs of the family
        // they say (sockaddr_in / sockaddr_in6), as getifaddrs guarantees.
        let (Some(addr), mask) = (unsafe { ip_of(ifa.ifa_addr) }, unsafe { ip_of(ifa.ifa_netmask) }) else { continue };
        if let Ok(net) = IpNet::new(addr, if addr.is_ipv4() { 32 } else { 128 }) {
            if !out.router.contains(&net) {
                out.router.push(net);
            }
        }
        // SAFETY: ifa_name is a NUL-terminated interface name.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }.to_string_lossy();
        if lan_ifs.iter().any(|l| *l == name) {
            let prefix = mask.map_or(if addr.is_ipv4() { 32 } else { 128 }, prefix_of);
            if let Ok(net) = IpNet::new(addr, prefix) {
                if !out.lan.contains(&net) {
                    out.lan.push(net);
                }
            }
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// The IP address in a sockaddr, if it is IPv4 or IPv6.
///
/// # Safety
/// `sa` is null or points at a sockaddr whose family field tells its real type.
unsafe fn ip_of(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    match i32::from((*sa).sa_family) {
        libc::AF_INET => {
            let sin = &*(sa as *const libc::sockaddr_in);
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))))
        }
        libc::AF_INET6 => {
            let sin6 = &*(sa as *const libc::sockaddr_in6);
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

/// The prefix length of a netmask (its leading one bits).
fn prefix_of(mask: IpAddr) -> u8 {
    match mask {
        IpAddr::V4(m) => u32::from(m).leading_ones() as u8,
        IpAddr::V6(m) => u128::from(m).leading_ones() as u8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_read_with_its_network() {
        if let Some(emulator) = std::env::var_os("FTWALL_TEST_EMULATED") {
            // getifaddrs is a netlink dump; qemu-user 7.2 hangs on it for big-endian MIPS (a plain
            // C getifaddrs does too), so only the host kernel can answer this test.
            eprintln!("NOT RUN under {emulator:?}: getifaddrs needs the host kernel's netlink");
            return;
        }
        let local = read(&["lo".to_string()]).expect("getifaddrs");
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(local.router.iter().any(|n| n.contains(lo) && n.prefix() == 32), "{local:?}");
        assert!(local.lan.iter().any(|n| n.to_string() == "127.0.0.0/8"), "{local:?}");
        // An interface that is not named gives no LAN network.
        let none = read(&[]).unwrap();
        assert!(none.lan.is_empty() && !none.router.is_empty());
    }

    #[test]
    fn prefixes() {
        assert_eq!(prefix_of("255.255.255.0".parse().unwrap()), 24);
        assert_eq!(prefix_of("ffff:ffff:ffff:ffff::".parse().unwrap()), 64);
        assert_eq!(prefix_of("0.0.0.0".parse().unwrap()), 0);
    }
}
