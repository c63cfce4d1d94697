//! Link layers found in captures: strips the link header of a captured frame and gives
//! the IP packet inside it, plus the Ethernet source MAC when the link layer carries one.
//!
//! Only what `inspect` needs: frames that do not carry IPv4 or IPv6 (ARP, STP, ...) give
//! `None`, as do frames too short for their link header.

use core::fmt;

use crate::addr::MacAddr;
use crate::wire::bytes::{be16, be32, le32};

/// A capture's link-layer header type (the LINKTYPE_ numbers of pcap and pcapng).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u16);

impl LinkType {
    /// BSD loopback: a 4-byte address family in the byte order of the capturing host.
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// `DLT_RAW` as written by most systems before LINKTYPE_RAW existed.
    pub const RAW_12: LinkType = LinkType(12);
    /// `DLT_RAW` as written by OpenBSD.
    pub const RAW_14: LinkType = LinkType(14);
    /// Raw IPv4 or IPv6, told apart by the version nibble.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback: like [`LinkType::NULL`] with the family in network byte order.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux "cooked" capture, version 1 (`tcpdump -i any`).
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    /// Linux "cooked" capture, version 2.
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The usual name of the link type, if it is one this module understands.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            LinkType::NULL => "NULL",
            LinkType::ETHERNET => "ETHERNET",
            LinkType::RAW_12 | LinkType::RAW_14 | LinkType::RAW => "RAW",
            LinkType::LOOP => "LOOP",
            LinkType::LINUX_SLL => "LINUX_SLL",
            LinkType::IPV4 => "IPV4",
            LinkType::IPV6 => "IPV6",
            LinkType::LINUX_SLL2 => "LINUX_SLL2",
            _ => return None,
        })
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({})", name, self.0),
            None => write!(f, "link type {}", self.0),
        }
    }
}

/// The IP packet inside a captured frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpFrame<'a> {
    /// The bytes from the IP header on (may run past the IP packet: Ethernet padding, FCS).
    pub ip: &'a [u8],
    /// The sender's MAC address, when the link layer records one.
    pub src_mac: Option<MacAddr>,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
/// At most this many VLAN tags are stripped (single tag and 802.1ad Q-in-Q).
const MAX_VLAN_TAGS: usize = 2;

/// `ARPHRD_ETHER`: the Linux cooked header's address is an Ethernet MAC.
const ARPHRD_ETHER: u16 = 1;

/// BSD address families for IPv4 and IPv6 (IPv6 differs between the BSDs and Linux).
const AF_INET: u32 = 2;
const AF_INET6: [u32; 4] = [10, 24, 28, 30];

/// Gives the IP packet inside `frame`, captured on a link of type `link`.
pub fn ip_bytes(link: LinkType, frame: &[u8]) -> Option<IpFrame<'_>> {
    match link {
        LinkType::ETHERNET => ethernet(frame),
        LinkType::RAW | LinkType::RAW_12 | LinkType::RAW_14 => raw(frame),
        LinkType::IPV4 => Some(IpFrame { ip: frame, src_mac: None }),
        LinkType::IPV6 => Some(IpFrame { ip: frame, src_mac: None }),
        LinkType::LINUX_SLL => linux_sll(frame),
        LinkType::LINUX_SLL2 => linux_sll2(frame),
        LinkType::NULL | LinkType::LOOP => loopback(frame),
        _ => None,
    }
}

fn ethernet(frame: &[u8]) -> Option<IpFrame<'_>> {
    let src = frame.get(6..12)?;
    let ethertype = be16(frame, 12)?;
    let ip = after_ethertype(ethertype, frame.get(14..)?)?;
    Some(IpFrame { ip, src_mac: mac_from(src) })
}

/// Follows VLAN tags from `ethertype` to an IP payload. `rest` starts right after the
/// ethertype field; each VLAN tag there is a 2-byte TCI and the next ethertype.
fn after_ethertype(mut ethertype: u16, mut rest: &[u8]) -> Option<&[u8]> {
    for _ in 0..MAX_VLAN_TAGS {
        if ethertype != ETHERTYPE_VLAN && ethertype != ETHERTYPE_QINQ {
            break;
        }
        ethertype = be16(rest, 2)?;
        rest = rest.get(4..)?;
    }
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some(rest),
        _ => None,
    }
}

fn raw(frame: &[u8]) -> Option<IpFrame<'_>> {
    match frame.first()? >> 4 {
        4 | 6 => Some(IpFrame { ip: frame, src_mac: None }),
        _ => None,
    }
}

/// Linux cooked v1: packet type, ARPHRD type, address length, 8 address bytes, protocol.
fn linux_sll(frame: &[u8]) -> Option<IpFrame<'_>> {
    let hatype = be16(frame, 2)?;
    let addr_len = be16(frame, 4)?;
    let addr = frame.get(6..14)?;
    let protocol = be16(frame, 14)?;
    let ip = after_ethertype(protocol, frame.get(16..)?)?;
    Some(IpFrame { ip, src_mac: cooked_mac(hatype, usize::from(addr_len), addr) })
}

/// Linux cooked v2: protocol, reserved, interface index, ARPHRD type, packet type,
/// address length, 8 address bytes.
fn linux_sll2(frame: &[u8]) -> Option<IpFrame<'_>> {
    let protocol = be16(frame, 0)?;
    let hatype = be16(frame, 8)?;
    let addr_len = *frame.get(11)?;
    let addr = frame.get(12..20)?;
    let ip = after_ethertype(protocol, frame.get(20..)?)?;
    Some(IpFrame { ip, src_mac: cooked_mac(hatype, usize::from(addr_len), addr) })
}

/// The cooked header's address is the sender's; it is a MAC only on Ethernet devices.
fn cooked_mac(hatype: u16, addr_len: usize, addr: &[u8]) -> Option<MacAddr> {
    if hatype == ARPHRD_ETHER && addr_len == 6 {
        mac_from(addr.get(..6)?)
    } else {
        None
    }
}

/// BSD null/loopback: the family was written in the capturing host's byte order, which
/// the file does not record; a family is a small number, so the order that reads as one
/// is the right one.
fn loopback(frame: &[u8]) -> Option<IpFrame<'_>> {
    let little = le32(frame, 0)?;
    let family = if little <= 0xffff { little } else { be32(frame, 0)? };
    let ip = frame.get(4..)?;
    let version = ip.first()? >> 4;
    let ok = (family == AF_INET && version == 4) || (AF_INET6.contains(&family) && version == 6);
    ok.then_some(IpFrame { ip, src_mac: None })
}

fn mac_from(b: &[u8]) -> Option<MacAddr> {
    let six: [u8; 6] = b.try_into().ok()?;
    Some(MacAddr(six))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01];
    const V4: [u8; 20] = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2];

    fn eth(ethertype: u16, tags: &[u16], payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&MAC);
        let mut types: Vec<u16> = tags.to_vec();
        types.push(ethertype);
        f.extend_from_slice(&types[0].to_be_bytes());
        for t in &types[1..] {
            f.extend_from_slice(&[0x00, 0x2a]); // TCI: VLAN 42
            f.extend_from_slice(&t.to_be_bytes());
        }
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn ethernet_with_and_without_vlan_tags() {
        for tags in [&[][..], &[0x8100], &[0x88a8, 0x8100]] {
            let frame = eth(0x0800, tags, &V4);
            let got = ip_bytes(LinkType::ETHERNET, &frame).expect("IP inside");
            assert_eq!(got.ip, &V4[..], "tags {tags:x?}");
            assert_eq!(got.src_mac, Some(MacAddr(MAC)));
        }
        let frame = eth(0x86dd, &[0x8100], &[0x60, 0, 0, 0]);
        assert_eq!(ip_bytes(LinkType::ETHERNET, &frame).unwrap().ip, &[0x60, 0, 0, 0]);
        // Three tags, ARP, and frames cut inside the headers carry no IP for us.
        assert!(ip_bytes(LinkType::ETHERNET, &eth(0x0800, &[0x8100, 0x8100, 0x8100], &V4)).is_none());
        assert!(ip_bytes(LinkType::ETHERNET, &eth(0x0806, &[], &V4)).is_none());
        let tagged = eth(0x0800, &[0x8100], &V4);
        for cut in 0..18 {
            assert!(ip_bytes(LinkType::ETHERNET, &tagged[..cut]).is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn raw_links_check_the_version() {
        for link in [LinkType::RAW, LinkType::RAW_12, LinkType::RAW_14] {
            assert_eq!(ip_bytes(link, &V4).unwrap().ip, &V4[..]);
            assert!(ip_bytes(link, &[0x20, 0]).is_none());
            assert!(ip_bytes(link, &[]).is_none());
        }
        assert_eq!(ip_bytes(LinkType::IPV4, &V4).unwrap().src_mac, None);
        assert_eq!(ip_bytes(LinkType::IPV6, &[0x60]).unwrap().ip, &[0x60]);
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let mut sll = vec![0, 0, 0, 1, 0, 6];
        sll.extend_from_slice(&MAC);
        sll.extend_from_slice(&[0, 0, 0x08, 0x00]);
        sll.extend_from_slice(&V4);
        let got = ip_bytes(LinkType::LINUX_SLL, &sll).unwrap();
        assert_eq!((got.ip, got.src_mac), (&V4[..], Some(MacAddr(MAC))));

        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
        sll2.extend_from_slice(&MAC);
        sll2.extend_from_slice(&[0, 0]);
        sll2.extend_from_slice(&V4);
        let got = ip_bytes(LinkType::LINUX_SLL2, &sll2).unwrap();
        assert_eq!((got.ip, got.src_mac), (&V4[..], Some(MacAddr(MAC))));

        // A non-Ethernet device (ARPHRD_NONE, e.g. a tun) has no MAC.
        sll2[9] = 0xfe;
        sll2[8] = 0xff;
        assert_eq!(ip_bytes(LinkType::LINUX_SLL2, &sll2).unwrap().src_mac, None);
    }

    #[test]
    fn loopback_family_in_either_byte_order() {
        for family in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
            let mut f = family.to_vec();
            f.extend_from_slice(&V4);
            assert_eq!(ip_bytes(LinkType::NULL, &f).unwrap().ip, &V4[..]);
            assert_eq!(ip_bytes(LinkType::LOOP, &f).unwrap().ip, &V4[..]);
        }
        for family in [24u32, 28, 30] {
            let mut f = family.to_be_bytes().to_vec();
            f.push(0x60);
            assert_eq!(ip_bytes(LinkType::NULL, &f).unwrap().ip, &[0x60]);
        }
        // IPv4 bytes labelled IPv6, and an unknown family, are refused.
        let mut f = 30u32.to_le_bytes().to_vec();
        f.extend_from_slice(&V4);
        assert!(ip_bytes(LinkType::NULL, &f).is_none());
        f[0] = 7;
        assert!(ip_bytes(LinkType::NULL, &f).is_none());
    }

    #[test]
    fn unknown_link_types_give_nothing() {
        assert!(ip_bytes(LinkType(105), &V4).is_none());
        assert_eq!(LinkType(105).to_string(), "link type 105");
        assert_eq!(LinkType::ETHERNET.to_string(), "ETHERNET (1)");
    }
}
