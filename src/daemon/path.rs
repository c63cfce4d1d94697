//! Which way a queued packet travels ([`Path`]), told by the interfaces the kernel
//! reports for it: the LAN and WAN interfaces are named in the settings and resolved to
//! indices at start and again on SIGHUP (an interface that was re-created gets a new
//! index).
//!
//! When no LAN interface is named, the netfilter hook and the LAN networks (`--lan`)
//! decide instead, so a plain `-j NFQUEUE` setup without interface options still works.

use std::ffi::CString;
use std::net::IpAddr;

use crate::addr::IpNet;
use crate::engine::Path;

/// The interfaces a packet came in on and goes out on, as NFQUEUE reports them
/// (0 = none). The `phys` ones are bridge ports, when the interface is a bridge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Devices {
    pub indev: u32,
    pub outdev: u32,
    pub physindev: u32,
    pub physoutdev: u32,
}

/// Netfilter hook numbers (linux/netfilter.h), as NFQUEUE reports them.
pub mod hook {
    pub const PRE_ROUTING: u8 = 0;
    pub const LOCAL_IN: u8 = 1;
    pub const FORWARD: u8 = 2;
    pub const LOCAL_OUT: u8 = 3;
    pub const POST_ROUTING: u8 = 4;
}

/// The LAN and WAN interfaces by index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interfaces {
    pub lan: Vec<u32>,
    /// Empty means "every interface that is not a LAN interface".
    pub wan: Vec<u32>,
}

/// Resolves interface names to indices. Names that do not exist (yet) are returned
/// separately so the caller can warn; they are looked up again on SIGHUP.
pub fn resolve(names: &[String]) -> (Vec<u32>, Vec<String>) {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        match if_index(name) {
            Some(i) => found.push(i),
            None => missing.push(name.clone()),
        }
    }
    (found, missing)
}

fn if_index(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let i = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (i != 0).then_some(i)
}

impl Interfaces {
    fn is_lan(&self, dev: u32, phys: u32) -> bool {
        (dev != 0 && self.lan.contains(&dev)) || (phys != 0 && self.lan.contains(&phys))
    }

    fn is_wan(&self, dev: u32, phys: u32) -> bool {
        if dev == 0 && phys == 0 {
            return false;
        }
        if self.wan.is_empty() {
            return !self.is_lan(dev, phys);
        }
        (dev != 0 && self.wan.contains(&dev)) || (phys != 0 && self.wan.contains(&phys))
    }

    /// The path of a packet with these devices. Traffic between two LAN interfaces, or
    /// anything not covered below, is reported as the router's own outbound traffic,
    /// which the engine passes unexamined.
    pub fn path(&self, d: Devices) -> Path {
        let in_lan = self.is_lan(d.indev, d.physindev);
        let in_wan = self.is_wan(d.indev, d.physindev);
        let out_lan = self.is_lan(d.outdev, d.physoutdev);
        let out_wan = self.is_wan(d.outdev, d.physoutdev);
        let no_in = d.indev == 0 && d.physindev == 0;
        let no_out = d.outdev == 0 && d.physoutdev == 0;
        match () {
            _ if in_lan && out_wan => Path::LanToWan,
            _ if in_wan && out_lan => Path::WanToLan,
            _ if in_lan && no_out => Path::LanToRouter,
            _ if no_in && out_lan => Path::RouterToLan,
            _ if in_wan && no_out => Path::WanToRouter,
            _ => Path::RouterToWan,
        }
    }
}

/// The fallback when no LAN interface is named: the hook says whether the router is
/// an end of the packet, the LAN networks say which side is the LAN.
pub fn path_by_address(lan: &[IpNet], hook: u8, src: IpAddr, dst: IpAddr) -> Path {
    let src_lan = lan.iter().any(|n| n.contains(src));
    let dst_lan = lan.iter().any(|n| n.contains(dst));
    match hook {
        hook::LOCAL_IN if src_lan => Path::LanToRouter,
        hook::LOCAL_IN => Path::WanToRouter,
        hook::LOCAL_OUT if dst_lan => Path::RouterToLan,
        hook::LOCAL_OUT => Path::RouterToWan,
        _ if src_lan && !dst_lan => Path::LanToWan,
        _ if dst_lan && !src_lan => Path::WanToLan,
        _ => Path::RouterToWan,
    }
}

/// Source and destination address of an IP packet (v4 or v6), without a full parse.
pub fn addresses(bytes: &[u8]) -> Option<(IpAddr, IpAddr)> {
    match bytes.first()? >> 4 {
        4 => {
            let s: [u8; 4] = bytes.get(12..16)?.try_into().ok()?;
            let d: [u8; 4] = bytes.get(16..20)?.try_into().ok()?;
            Some((IpAddr::from(s), IpAddr::from(d)))
        }
        6 => {
            let s: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = bytes.get(24..40)?.try_into().ok()?;
            Some((IpAddr::from(s), IpAddr::from(d)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAN: u32 = 3;
    const WAN: u32 = 2;
    const OTHER: u32 = 7;
    const PORT: u32 = 9;

    fn dev(indev: u32, outdev: u32) -> Devices {
        Devices { indev, outdev, ..Devices::default() }
    }

    #[test]
    fn interfaces_map_to_paths() {
        let i = Interfaces { lan: vec![LAN], wan: vec![WAN] };
        assert_eq!(i.path(dev(LAN, WAN)), Path::LanToWan);
        assert_eq!(i.path(dev(WAN, LAN)), Path::WanToLan);
        assert_eq!(i.path(dev(LAN, 0)), Path::LanToRouter);
        assert_eq!(i.path(dev(0, LAN)), Path::RouterToLan);
        assert_eq!(i.path(dev(WAN, 0)), Path::WanToRouter);
        assert_eq!(i.path(dev(0, WAN)), Path::RouterToWan);
        // LAN to LAN, or an interface that is neither: never inspected.
        assert_eq!(i.path(dev(LAN, LAN)), Path::RouterToWan);
        assert_eq!(i.path(dev(LAN, OTHER)), Path::RouterToWan);
        assert_eq!(i.path(dev(OTHER, LAN)), Path::RouterToWan);
        assert_eq!(i.path(dev(0, 0)), Path::RouterToWan);
    }

    #[test]
    fn unnamed_wan_is_everything_but_the_lan() {
        let i = Interfaces { lan: vec![LAN], wan: vec![] };
        assert_eq!(i.path(dev(LAN, OTHER)), Path::LanToWan);
        assert_eq!(i.path(dev(OTHER, LAN)), Path::WanToLan);
        assert_eq!(i.path(dev(OTHER, 0)), Path::WanToRouter);
        assert_eq!(i.path(dev(LAN, LAN)), Path::RouterToWan);
    }

    #[test]
    fn bridge_ports_count_as_their_interface() {
        // The LAN named by a bridge port, the packet reported on the bridge.
        let i = Interfaces { lan: vec![PORT], wan: vec![WAN] };
        let d = Devices { indev: 11, outdev: WAN, physindev: PORT, physoutdev: 0 };
        assert_eq!(i.path(d), Path::LanToWan);
        let d = Devices { indev: WAN, outdev: 11, physindev: 0, physoutdev: PORT };
        assert_eq!(i.path(d), Path::WanToLan);
    }

    #[test]
    fn addresses_decide_without_interfaces() {
        let lan: Vec<IpNet> = vec!["192.168.50.0/24".parse().unwrap(), "2001:db8:50::/64".parse().unwrap()];
        let c: IpAddr = "192.168.50.10".parse().unwrap();
        let r: IpAddr = "192.168.50.1".parse().unwrap();
        let w: IpAddr = "203.0.113.20".parse().unwrap();
        assert_eq!(path_by_address(&lan, hook::FORWARD, c, w), Path::LanToWan);
        assert_eq!(path_by_address(&lan, hook::FORWARD, w, c), Path::WanToLan);
        assert_eq!(path_by_address(&lan, hook::FORWARD, c, r), Path::RouterToWan);
        assert_eq!(path_by_address(&lan, hook::LOCAL_IN, c, r), Path::LanToRouter);
        assert_eq!(path_by_address(&lan, hook::LOCAL_IN, w, r), Path::WanToRouter);
        assert_eq!(path_by_address(&lan, hook::LOCAL_OUT, r, c), Path::RouterToLan);
        assert_eq!(path_by_address(&lan, hook::LOCAL_OUT, r, w), Path::RouterToWan);
        let c6: IpAddr = "2001:db8:50::10".parse().unwrap();
        let w6: IpAddr = "2001:db8:ff::1".parse().unwrap();
        assert_eq!(path_by_address(&lan, hook::PRE_ROUTING, c6, w6), Path::LanToWan);
        assert_eq!(path_by_address(&lan, hook::POST_ROUTING, w6, c6), Path::WanToLan);
    }

    #[test]
    fn addresses_of_packets() {
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[12..16].copy_from_slice(&[192, 0, 2, 1]);
        v4[16..20].copy_from_slice(&[198, 51, 100, 2]);
        assert_eq!(addresses(&v4), Some(("192.0.2.1".parse().unwrap(), "198.51.100.2".parse().unwrap())));
        assert_eq!(addresses(&v4[..19]), None);
        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[8..10].copy_from_slice(&[0x20, 0x01]);
        v6[24..26].copy_from_slice(&[0x20, 0x01]);
        v6[39] = 1;
        assert_eq!(addresses(&v6), Some(("2001::".parse().unwrap(), "2001::1".parse().unwrap())));
        assert_eq!(addresses(&[0x50; 40]), None);
        assert_eq!(addresses(&[]), None);
    }

    #[test]
    fn loopback_resolves_and_nonsense_does_not() {
        let (found, missing) = resolve(&["lo".to_string(), "no-such-if0".to_string(), "bad\0name".to_string()]);
        assert_eq!(found.len(), 1);
        assert!(found[0] > 0);
        assert_eq!(missing, vec!["no-such-if0".to_string(), "bad\0name".to_string()]);
    }
}
