//! Capture reader against real captures (shared/captures, counts checked with tshark),
//! against pcap and pcapng files built here byte by byte, and against cut, mutated and
//! random files, which must give an error or a clean end, never a panic.

mod common;
mod shared_dir;
use std::cell::Cell;
use std::io::{self, Read};
use std::net::IpAddr;
use std::rc::Rc;

use common::prng::XorShift64Star;
use ftwall::addr::MacAddr;
use ftwall::capture::{ip_bytes, CaptureError, CaptureReader, Format, LinkType, MAX_RECORD_LEN};
use ftwall::wire::{IpPacket, Transport};

// ---------------------------------------------------------------------------------------
// Real captures

/// What tshark 4.0 says about each capture (numbers from `capinfos` and
/// `tshark -T fields -e frame.cap_len -e eth.type -e frame.time_epoch -e ip.proto -e ipv6.nxt`):
/// packets; sum of captured lengths; frames whose ethertype is IPv4 or IPv6; first and last
/// timestamp in ms (truncated); IP frames carrying TCP and UDP (outermost header: ICMP
/// errors quoting TCP or UDP count as neither).
struct Expected {
    path: &'static str,
    format: Format,
    packets: usize,
    captured_bytes: usize,
    ip_frames: usize,
    first_ms: u64,
    last_ms: u64,
    tcp: usize,
    udp: usize,
}

const CAPTURES: &[Expected] = &[
    Expected {
        path: "ndpi/bittorrent.pcap",
        format: Format::Pcap,
        packets: 299,
        captured_bytes: 305_728,
        ip_frames: 299,
        first_ms: 1_455_469_967_246,
        last_ms: 1_455_469_982_106,
        tcp: 299,
        udp: 0,
    },
    Expected {
        path: "ndpi/bt_search.pcap",
        format: Format::Pcap,
        packets: 2,
        captured_bytes: 322,
        ip_frames: 2,
        first_ms: 1_430_752_225_251,
        last_ms: 1_430_752_525_284,
        tcp: 0,
        udp: 2,
    },
    Expected {
        path: "ndpi/edonkey.pcap",
        format: Format::Pcap,
        packets: 17,
        captured_bytes: 2_016,
        ip_frames: 17,
        first_ms: 1_256_627_019_012,
        last_ms: 1_256_627_076_408,
        tcp: 17,
        udp: 0,
    },
    // 3,905 packets as the captures README says; 22 ARP frames and the first frame, cut to
    // 4 bytes by the capture, carry no IP.
    Expected {
        path: "ndpi/gnutella.pcap",
        format: Format::Pcap,
        packets: 3_905,
        captured_bytes: 578_418,
        ip_frames: 3_882,
        first_ms: 0,
        last_ms: 600_247,
        tcp: 2_149,
        udp: 1_692,
    },
    // Nanosecond timestamps (if_tsresol 9).
    Expected {
        path: "ndpi/bt-http.pcapng",
        format: Format::PcapNg,
        packets: 14,
        captured_bytes: 1_492,
        ip_frames: 14,
        first_ms: 1_631_962_352_376,
        last_ms: 1_631_962_409_934,
        tcp: 14,
        udp: 0,
    },
    Expected {
        path: "zeek/gnutella-max-header.pcapng",
        format: Format::PcapNg,
        packets: 6,
        captured_bytes: 646,
        ip_frames: 6,
        first_ms: 1_781_183_007_902,
        last_ms: 1_781_183_007_903,
        tcp: 6,
        udp: 0,
    },
    Expected {
        path: "zeek/gnutella-max-line.pcapng",
        format: Format::PcapNg,
        packets: 6,
        captured_bytes: 556,
        ip_frames: 6,
        first_ms: 1_781_182_839_886,
        last_ms: 1_781_182_839_887,
        tcp: 6,
        udp: 0,
    },
];

use shared_dir::captures_dir;

fn capture_bytes(rel: &str) -> Vec<u8> {
    let path = captures_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// An owned copy of a record, to compare reads of the same file.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Owned {
    ts_ms: u64,
    link: LinkType,
    data: Vec<u8>,
    orig_len: u32,
}

/// Counts the bytes the reader has consumed, so a test knows where each record ends.
struct Counting<'a> {
    data: &'a [u8],
    pos: Rc<Cell<usize>>,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.data.read(buf)?;
        self.pos.set(self.pos.get() + n);
        Ok(n)
    }
}

/// Every record of a well-formed file, with the file offset where each one ends.
fn read_all(bytes: &[u8]) -> (Format, Vec<Owned>, Vec<usize>) {
    let pos = Rc::new(Cell::new(0));
    let mut reader = CaptureReader::new(Counting { data: bytes, pos: Rc::clone(&pos) }).expect("file header");
    let format = reader.format();
    let mut records = Vec::new();
    let mut ends = Vec::new();
    while let Some(r) = reader.next_record().unwrap_or_else(|e| panic!("record {}: {e}", records.len() + 1)) {
        records.push(Owned { ts_ms: r.ts_ms, link: r.link, data: r.data.to_vec(), orig_len: r.orig_len });
        ends.push(pos.get());
    }
    assert_eq!(reader.packets(), records.len() as u64);
    assert!(reader.next_record().unwrap().is_none(), "the end stays the end");
    (format, records, ends)
}

#[test]
fn every_shared_capture_reads_with_the_counts_tshark_gives() {
    let dir = captures_dir();
    // Every capture in the two folders must be listed above, so none goes untested.
    for sub in ["ndpi", "zeek"] {
        let entries = std::fs::read_dir(dir.join(sub)).unwrap_or_else(|e| panic!("{sub}: {e}"));
        for entry in entries {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                let rel = format!("{sub}/{name}");
                assert!(CAPTURES.iter().any(|c| c.path == rel), "{rel} has no expected counts in this test");
            }
        }
    }
    for want in CAPTURES {
        let path = dir.join(want.path);
        let mut reader = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(reader.format(), want.format, "{}", want.path);
        let (mut packets, mut bytes, mut ip_frames, mut tcp, mut udp) = (0, 0, 0, 0, 0);
        let (mut first, mut last) = (None, 0);
        while let Some(rec) = reader.next_record().unwrap_or_else(|e| panic!("{}: {e}", want.path)) {
            packets += 1;
            bytes += rec.data.len();
            assert!(rec.orig_len as usize >= rec.data.len(), "{} packet {packets}", want.path);
            assert!(rec.ts_ms >= last, "{}: time goes backwards at packet {packets}", want.path);
            first.get_or_insert(rec.ts_ms);
            last = rec.ts_ms;
            let Some(frame) = ip_bytes(rec.link, rec.data) else { continue };
            ip_frames += 1;
            assert!(frame.src_mac.is_some(), "Ethernet frames have a source MAC");
            let ip = IpPacket::parse(frame.ip).unwrap_or_else(|e| panic!("{} packet {packets}: {e:?}", want.path));
            match ip.transport {
                Transport::Tcp { .. } => tcp += 1,
                Transport::Udp { .. } => udp += 1,
                Transport::Other => {}
            }
        }
        let got = (packets, bytes, ip_frames, first, last, tcp, udp);
        let expected =
            (want.packets, want.captured_bytes, want.ip_frames, Some(want.first_ms), want.last_ms, want.tcp, want.udp);
        assert_eq!(got, expected, "{}: (packets, bytes, IP frames, first ms, last ms, TCP, UDP)", want.path);
    }
}

#[test]
fn first_packet_of_edonkey_pcap_is_what_tshark_shows() {
    // tshark -c1 -T fields -e eth.src -e ip.src -e ip.dst -e tcp.srcport -e tcp.dstport
    let bytes = capture_bytes("ndpi/edonkey.pcap");
    let mut reader = CaptureReader::new(&bytes[..]).unwrap();
    let rec = reader.next_record().unwrap().expect("one packet");
    let frame = ip_bytes(rec.link, rec.data).unwrap();
    assert_eq!(frame.src_mac, Some("00:00:00:00:00:00".parse::<MacAddr>().unwrap()));
    let ip = IpPacket::parse(frame.ip).unwrap();
    assert_eq!((ip.src, ip.dst), ("201.15.177.227".parse::<IpAddr>().unwrap(), "135.192.214.240".parse().unwrap()));
    assert!(matches!(ip.transport, Transport::Tcp { src_port: 1754, dst_port: 7551, .. }), "{:?}", ip.transport);
}

// ---------------------------------------------------------------------------------------
// Files built byte by byte

#[derive(Clone, Copy, Debug)]
enum Order {
    Big,
    Little,
}

impl Order {
    fn u16(self, v: u16) -> [u8; 2] {
        match self {
            Order::Big => v.to_be_bytes(),
            Order::Little => v.to_le_bytes(),
        }
    }
    fn u32(self, v: u32) -> [u8; 4] {
        match self {
            Order::Big => v.to_be_bytes(),
            Order::Little => v.to_le_bytes(),
        }
    }
    fn i64(self, v: i64) -> [u8; 8] {
        match self {
            Order::Big => v.to_be_bytes(),
            Order::Little => v.to_le_bytes(),
        }
    }
}

const PCAP_MICROS: u32 = 0xa1b2_c3d4;
const PCAP_NANOS: u32 = 0xa1b2_3c4d;

/// A classic pcap file: `records` are (seconds, fraction, frame).
fn pcap(order: Order, magic: u32, link: u16, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut f = order.u32(magic).to_vec();
    f.extend_from_slice(&order.u16(2));
    f.extend_from_slice(&order.u16(4));
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&order.u32(262_144));
    f.extend_from_slice(&order.u32(u32::from(link)));
    for &(secs, frac, data) in records {
        f.extend_from_slice(&order.u32(secs));
        f.extend_from_slice(&order.u32(frac));
        f.extend_from_slice(&order.u32(data.len() as u32));
        f.extend_from_slice(&order.u32(data.len() as u32));
        f.extend_from_slice(data);
    }
    f
}

/// A pcapng file being written, one block after another.
struct Ng {
    out: Vec<u8>,
    order: Order,
}

impl Ng {
    fn new(order: Order) -> Ng {
        let mut ng = Ng { out: Vec::new(), order };
        ng.section(order);
        ng
    }

    /// Starts a new section (possibly in the other byte order), with one option.
    fn section(&mut self, order: Order) -> &mut Ng {
        self.order = order;
        let mut body = order.u32(0x1a2b_3c4d).to_vec();
        body.extend_from_slice(&order.u16(1));
        body.extend_from_slice(&order.u16(0));
        body.extend_from_slice(&[0xff; 8]); // section length unknown
        body.extend(self.options(&[(4, b"ftwall test")])); // shb_userappl
        self.block_raw([0x0a, 0x0d, 0x0d, 0x0a], &body)
    }

    fn options(&self, opts: &[(u16, &[u8])]) -> Vec<u8> {
        let mut o = Vec::new();
        for (code, value) in opts {
            o.extend_from_slice(&self.order.u16(*code));
            o.extend_from_slice(&self.order.u16(value.len() as u16));
            o.extend_from_slice(value);
            o.resize(o.len().next_multiple_of(4), 0);
        }
        if !opts.is_empty() {
            o.extend_from_slice(&[0; 4]); // opt_endofopt
        }
        o
    }

    fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Ng {
        self.block_raw(self.order.u32(block_type), body)
    }

    fn block_raw(&mut self, block_type: [u8; 4], body: &[u8]) -> &mut Ng {
        let padded = body.len().next_multiple_of(4);
        let len = self.order.u32(12 + padded as u32);
        self.out.extend_from_slice(&block_type);
        self.out.extend_from_slice(&len);
        self.out.extend_from_slice(body);
        self.out.resize(self.out.len() + padded - body.len(), 0);
        self.out.extend_from_slice(&len);
        self
    }

    fn interface(&mut self, link: LinkType, snaplen: u32, opts: &[(u16, &[u8])]) -> &mut Ng {
        let mut body = self.order.u16(link.0).to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.order.u32(snaplen));
        body.extend(self.options(opts));
        self.block(1, &body)
    }

    fn packet(&mut self, interface: u32, ts: u64, data: &[u8]) -> &mut Ng {
        let mut body = self.order.u32(interface).to_vec();
        body.extend_from_slice(&self.order.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.order.u32(ts as u32));
        body.extend_from_slice(&self.order.u32(data.len() as u32));
        body.extend_from_slice(&self.order.u32(data.len() as u32 + 100));
        body.extend_from_slice(data);
        body.resize(body.len().next_multiple_of(4), 0);
        body.extend(self.options(&[(1, b"a comment the reader skips")]));
        self.block(6, &body)
    }

    /// A Name Resolution Block with one IPv4 record.
    fn name_resolution(&mut self, ip: &[u8; 4], name: &[u8]) -> &mut Ng {
        let mut body = self.order.u16(1).to_vec();
        body.extend_from_slice(&self.order.u16((ip.len() + name.len()) as u16));
        body.extend_from_slice(ip);
        body.extend_from_slice(name);
        body.resize(body.len().next_multiple_of(4), 0);
        body.extend_from_slice(&[0; 4]); // nrb_record_end
        self.block(4, &body)
    }

    /// The obsolete Packet Block: 16-bit interface id and a drop count.
    fn old_packet(&mut self, interface: u16, ts: u64, data: &[u8]) -> &mut Ng {
        let mut body = self.order.u16(interface).to_vec();
        body.extend_from_slice(&self.order.u16(0));
        body.extend_from_slice(&self.order.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.order.u32(ts as u32));
        body.extend_from_slice(&self.order.u32(data.len() as u32));
        body.extend_from_slice(&self.order.u32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(2, &body)
    }

    fn simple_packet(&mut self, orig_len: u32, data: &[u8]) -> &mut Ng {
        let mut body = self.order.u32(orig_len).to_vec();
        body.extend_from_slice(data);
        self.block(3, &body)
    }

    fn bytes(&self) -> Vec<u8> {
        self.out.clone()
    }
}

const MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x53, 0x01];

/// A UDP datagram 192.0.2.1:1234 -> 198.51.100.2:5678 with a 4-byte payload.
fn ipv4_udp() -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2];
    p.extend_from_slice(&1234u16.to_be_bytes());
    p.extend_from_slice(&5678u16.to_be_bytes());
    p.extend_from_slice(&12u16.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(b"ping");
    p
}

/// A TCP SYN [2001:db8::1]:40000 -> [2001:db8::2]:6346.
fn ipv6_tcp() -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0, 0, 20, 6, 64];
    p.extend_from_slice(&"2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
    p.extend_from_slice(&"2001:db8::2".parse::<std::net::Ipv6Addr>().unwrap().octets());
    p.extend_from_slice(&40000u16.to_be_bytes());
    p.extend_from_slice(&6346u16.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    p
}

fn ethernet(tags: &[u16], ethertype: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&MAC);
    for tag in tags {
        f.extend_from_slice(&tag.to_be_bytes());
        f.extend_from_slice(&[0x00, 0x07]); // VLAN 7
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

fn sll(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0, 0, 1, 0, 6];
    f.extend_from_slice(&MAC);
    f.extend_from_slice(&[0, 0, 0x08, 0x00]);
    f.extend_from_slice(ip);
    f
}

fn sll2(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6];
    f.extend_from_slice(&MAC);
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(ip);
    f
}

fn null(family: [u8; 4], ip: &[u8]) -> Vec<u8> {
    let mut f = family.to_vec();
    f.extend_from_slice(ip);
    f
}

/// The IP packet in a record, checked to be `want` and viewable by the wire module.
fn check_ip(rec: &Owned, want: &[u8], mac: Option<MacAddr>) {
    let frame = ip_bytes(rec.link, &rec.data).unwrap_or_else(|| panic!("no IP in {:?}", rec.link));
    assert_eq!(frame.ip, want);
    assert_eq!(frame.src_mac, mac);
    let ip = IpPacket::parse(frame.ip).expect("wire view");
    match ip.transport {
        Transport::Udp { src_port, dst_port, payload } => {
            assert_eq!((src_port, dst_port, payload), (1234, 5678, &b"ping"[..]));
            assert_eq!(ip.src, "192.0.2.1".parse::<IpAddr>().unwrap());
        }
        Transport::Tcp { src_port, dst_port, flags, .. } => {
            assert_eq!((src_port, dst_port, flags.is_connect()), (40000, 6346, true));
            assert_eq!(ip.dst, "2001:db8::2".parse::<IpAddr>().unwrap());
        }
        Transport::Other => panic!("expected UDP or TCP"),
    }
}

#[test]
fn pcap_in_both_byte_orders_with_micro_and_nanoseconds() {
    let v4 = ipv4_udp();
    let v6 = ipv6_tcp();
    let frames =
        [ethernet(&[], 0x0800, &v4), ethernet(&[0x8100], 0x86dd, &v6), ethernet(&[0x88a8, 0x8100], 0x0800, &v4)];
    for order in [Order::Big, Order::Little] {
        let recs: Vec<(u32, u32, &[u8])> = vec![
            (1_700_000_000, 1_500, &frames[0]),
            (1_700_000_001, 999_999, &frames[1]),
            (1_700_000_002, 0, &frames[2]),
        ];
        let (format, got, _) = read_all(&pcap(order, PCAP_MICROS, 1, &recs));
        assert_eq!(format, Format::Pcap);
        assert_eq!(
            got.iter().map(|r| r.ts_ms).collect::<Vec<_>>(),
            [1_700_000_000_001, 1_700_000_001_999, 1_700_000_002_000]
        );
        check_ip(&got[0], &v4, Some(MacAddr(MAC)));
        check_ip(&got[1], &v6, Some(MacAddr(MAC)));
        check_ip(&got[2], &v4, Some(MacAddr(MAC)));
        assert_eq!(got[0].orig_len as usize, frames[0].len());

        let recs: Vec<(u32, u32, &[u8])> = vec![(7, 123_456_789, &v4)];
        let (_, got, _) = read_all(&pcap(order, PCAP_NANOS, 101, &recs));
        assert_eq!(got[0].ts_ms, 7_123);
        check_ip(&got[0], &v4, None);
    }
}

#[test]
fn pcap_link_types_sll_sll2_null_raw() {
    let v4 = ipv4_udp();
    let v6 = ipv6_tcp();
    // Link type, frame, the IP packet inside it, the source MAC.
    type Case<'a> = (u16, Vec<u8>, &'a [u8], Option<MacAddr>);
    let cases: [Case; 8] = [
        (113, sll(&v4), &v4, Some(MacAddr(MAC))),
        (276, sll2(&v6), &v6, Some(MacAddr(MAC))),
        (0, null(2u32.to_le_bytes(), &v4), &v4, None),
        (0, null(2u32.to_be_bytes(), &v4), &v4, None),
        (0, null(24u32.to_be_bytes(), &v6), &v6, None),
        (12, v6.clone(), &v6, None),
        (228, v4.clone(), &v4, None),
        (229, v6.clone(), &v6, None),
    ];
    for (link, frame, ip, mac) in cases {
        let (_, got, _) = read_all(&pcap(Order::Little, PCAP_MICROS, link, &[(1, 0, &frame)]));
        assert_eq!(got[0].link, LinkType(link));
        check_ip(&got[0], ip, mac);
    }
}

#[test]
fn pcapng_interfaces_resolutions_and_sections() {
    let v4 = ipv4_udp();
    let v6 = ipv6_tcp();
    for order in [Order::Big, Order::Little] {
        let other = match order {
            Order::Big => Order::Little,
            Order::Little => Order::Big,
        };
        let mut ng = Ng::new(order);
        ng.interface(LinkType::ETHERNET, 0, &[(2, b"eth0")]) // default: microseconds
            .interface(LinkType::RAW, 65535, &[(9, &[9])]) // nanoseconds
            // 2^-10 s units, and timestamps 100 s ahead (if_tsoffset -100).
            .interface(LinkType::LINUX_SLL2, 0, &[(9, &[0x80 | 10]), (14, &order.i64(-100))])
            .name_resolution(&[192, 0, 2, 1], b"peer.example\0") // skipped
            .packet(0, 1_700_000_000_123_456, &ethernet(&[0x8100], 0x0800, &v4))
            .packet(1, 1_700_000_000_987_654_321, &v6)
            .block(0x4000_0bad, &[1, 2, 3]) // unknown type: skipped
            .packet(2, (1_700_000_100 << 10) + 512, &sll2(&v6))
            .old_packet(0, 1_700_000_001_000_000, &ethernet(&[], 0x86dd, &v6))
            .simple_packet(v4.len() as u32 + 14, &ethernet(&[], 0x0800, &v4));
        // A second section in the other byte order forgets the interfaces of the first.
        ng.section(other).interface(LinkType::NULL, 0, &[(9, &[3])]).packet(
            0,
            1_800_000_000_000,
            &null(2u32.to_be_bytes(), &v4),
        );
        let (format, got, _) = read_all(&ng.bytes());
        assert_eq!(format, Format::PcapNg);
        assert_eq!(got.len(), 6);
        check_ip(&got[0], &v4, Some(MacAddr(MAC)));
        assert_eq!(got[0].ts_ms, 1_700_000_000_123);
        assert_eq!(got[0].orig_len as usize, got[0].data.len() + 100);
        check_ip(&got[1], &v6, None);
        assert_eq!(got[1].ts_ms, 1_700_000_000_987);
        check_ip(&got[2], &v6, Some(MacAddr(MAC)));
        assert_eq!(got[2].ts_ms, 1_700_000_000_500);
        assert_eq!(got[2].link, LinkType::LINUX_SLL2);
        check_ip(&got[3], &v6, Some(MacAddr(MAC)));
        assert_eq!(got[3].ts_ms, 1_700_000_001_000);
        check_ip(&got[4], &v4, Some(MacAddr(MAC)));
        assert_eq!(got[4].ts_ms, 1_700_000_001_000, "a simple packet takes the time of the one before");
        check_ip(&got[5], &v4, None);
        assert_eq!(got[5].link, LinkType::NULL);
        assert_eq!(got[5].ts_ms, 1_800_000_000_000);
    }
}

/// Error cases of pcapng structure, each with the error it must give.
#[test]
fn malformed_pcapng_gives_clear_errors() {
    let v4 = ipv4_udp();
    let mut base = Ng::new(Order::Little);
    base.interface(LinkType::RAW, 0, &[]);
    let header_len = base.out.len();

    // A packet on an interface the section never described.
    let mut ng = Ng::new(Order::Little);
    ng.interface(LinkType::RAW, 0, &[]).packet(1, 0, &v4);
    let err = first_error(&ng.bytes());
    assert!(matches!(err, CaptureError::UnknownInterface { packet: 1, interface: 1 }), "{err}");
    assert_eq!(err.to_string(), "packet 1 names interface 1, which its section does not describe");

    // A simple packet before any interface.
    let mut ng = Ng::new(Order::Big);
    ng.simple_packet(20, &v4);
    assert!(matches!(first_error(&ng.bytes()), CaptureError::UnknownInterface { interface: 0, .. }));

    // Captured length beyond the maximum, and beyond its own block.
    let mut ng = base.bytes();
    let mut one = Ng { out: Vec::new(), order: Order::Little };
    one.packet(0, 0, &v4);
    let mut big = one.out.clone();
    big[20..24].copy_from_slice(&(MAX_RECORD_LEN as u32 + 1).to_le_bytes());
    ng.extend_from_slice(&big);
    let err = first_error(&ng);
    assert!(
        matches!(err, CaptureError::RecordTooLarge { packet: 1, len } if len == MAX_RECORD_LEN as u64 + 1),
        "{err}"
    );
    let mut past = one.out.clone();
    past[20..24].copy_from_slice(&1000u32.to_le_bytes());
    let err = first_error(&[base.bytes(), past].concat());
    assert!(matches!(err, CaptureError::BadBlock { offset, .. } if offset == header_len as u64), "{err}");

    // Block lengths: not a multiple of 4, too short, and a trailer that disagrees.
    for (len, trailer) in [(30u32, 30u32), (8, 8), (one.out.len() as u32, 4)] {
        let mut b = one.out.clone();
        b[4..8].copy_from_slice(&len.to_le_bytes());
        let end = b.len();
        b[end - 4..].copy_from_slice(&trailer.to_le_bytes());
        let err = first_error(&[base.bytes(), b].concat());
        assert!(
            matches!(err, CaptureError::BadBlockLength { .. } | CaptureError::BadBlock { .. }),
            "len {len} trailer {trailer}: {err}"
        );
    }

    // Section header: bad byte-order magic, version 2.
    let mut bad = base.bytes();
    bad[8..12].copy_from_slice(&[1, 2, 3, 4]);
    assert!(matches!(header_error(&bad), CaptureError::BadBlock { offset: 0, .. }));
    let mut v2 = base.bytes();
    v2[12] = 2;
    let err = header_error(&v2);
    assert!(matches!(err, CaptureError::UnsupportedVersion { format: Format::PcapNg, major: 2, minor: 0 }), "{err}");
    assert_eq!(err.to_string(), "unsupported pcapng version 2.0");

    // An option whose length runs past its block.
    let mut ng = Ng::new(Order::Big);
    let shb_len = ng.out.len();
    ng.interface(LinkType::RAW, 0, &[(9, &[6])]);
    let opt_len_at = shb_len + 16 + 2;
    ng.out[opt_len_at..opt_len_at + 2].copy_from_slice(&200u16.to_be_bytes());
    assert!(matches!(first_error(&ng.bytes()), CaptureError::BadBlock { .. }));
}

#[test]
fn not_a_capture_and_bad_pcap_headers() {
    for junk in [&b""[..], b"\x0a\x0d", b"GET / HTTP/1.1\r\n\r\n", &[0u8; 64]] {
        let err = header_error(junk);
        assert!(matches!(err, CaptureError::NotACapture { .. }), "{err}");
        assert!(err.to_string().starts_with("not a pcap or pcapng file"), "{err}");
    }
    let v4 = ipv4_udp();
    let mut f = pcap(Order::Big, PCAP_MICROS, 1, &[(1, 0, &v4)]);
    f[4..6].copy_from_slice(&1u16.to_be_bytes());
    assert!(matches!(header_error(&f), CaptureError::UnsupportedVersion { format: Format::Pcap, major: 1, minor: 4 }));
    let f = pcap(Order::Little, PCAP_MICROS, 1, &[(1, 0, &v4)]);
    let err = first_error(&f[..f.len() - 1]);
    assert_eq!(err.to_string(), "truncated record at packet 1 (byte offset 24)");
}

fn header_error(bytes: &[u8]) -> CaptureError {
    match CaptureReader::new(bytes) {
        Ok(_) => panic!("header accepted"),
        Err(e) => e,
    }
}

/// The error that ends reading `bytes` (which must not read cleanly to the end).
fn first_error(bytes: &[u8]) -> CaptureError {
    let mut reader = CaptureReader::new(bytes).unwrap_or_else(|e| panic!("header: {e}"));
    loop {
        match reader.next_record() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("read to the end without an error"),
            Err(e) => {
                assert!(reader.next_record().unwrap().is_none(), "finished after an error");
                return e;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Cut, mutated and random files

/// Small files of every kind the tests build.
fn synthetic_files() -> Vec<Vec<u8>> {
    let v4 = ipv4_udp();
    let v6 = ipv6_tcp();
    let eth = ethernet(&[0x8100], 0x0800, &v4);
    let mut files = Vec::new();
    for order in [Order::Big, Order::Little] {
        files.push(pcap(order, PCAP_MICROS, 1, &[(1, 2, &eth), (3, 4, &ethernet(&[], 0x86dd, &v6)), (5, 6, b"")]));
        files.push(pcap(order, PCAP_NANOS, 113, &[(1, 2, &sll(&v4)), (3, 4, &sll(&v4))]));
        let mut ng = Ng::new(order);
        ng.interface(LinkType::ETHERNET, 0, &[(9, &[9])])
            .name_resolution(&[192, 0, 2, 7], b"x\0")
            .packet(0, 1_000_000_000, &eth)
            .simple_packet(64, &eth)
            .old_packet(0, 2_000_000_000, &eth);
        ng.section(Order::Big).interface(LinkType::NULL, 0, &[]).packet(0, 1, &null([2, 0, 0, 0], &v4));
        files.push(ng.bytes());
    }
    files
}

/// Reads `bytes`, which are a prefix (or mutation) of a capture, to the end or the first
/// error, checking each record with `ip_bytes` on the way; returns the records read and
/// how reading ended.
fn read_lenient(bytes: &[u8]) -> (Vec<Owned>, Result<(), CaptureError>) {
    let mut reader = match CaptureReader::new(bytes) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let mut records = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(r)) => {
                assert!(r.data.len() <= MAX_RECORD_LEN);
                if let Some(frame) = ip_bytes(r.link, r.data) {
                    let _ = IpPacket::parse(frame.ip);
                }
                records.push(Owned { ts_ms: r.ts_ms, link: r.link, data: r.data.to_vec(), orig_len: r.orig_len });
            }
            Ok(None) => return (records, Ok(())),
            Err(e) => return (records, Err(e)),
        }
    }
}

/// A file cut at `cut` gives exactly the records that end by then, then a clean end (only
/// at a record boundary of a classic pcap) or a truncation error.
fn check_cut(name: &str, bytes: &[u8], full: &[Owned], ends: &[usize], format: Format, cut: usize) {
    let (got, end) = read_lenient(&bytes[..cut]);
    let complete = ends.iter().take_while(|&&e| e <= cut).count();
    assert_eq!(got.len(), complete, "{name} cut at {cut}: {end:?}");
    assert_eq!(&got[..], &full[..complete], "{name} cut at {cut}");
    match end {
        Ok(()) => {
            if format == Format::Pcap {
                let boundary = cut == 24 || ends.contains(&cut);
                assert!(boundary, "{name}: clean end at {cut}, inside a record");
            }
        }
        Err(CaptureError::NotACapture { .. }) => assert!(cut < 4, "{name} cut at {cut}"),
        Err(CaptureError::TruncatedHeader { .. }) => {}
        Err(CaptureError::TruncatedRecord { packet, .. }) => {
            assert_eq!(packet, complete as u64 + 1, "{name} cut at {cut}")
        }
        Err(CaptureError::TruncatedBlock { .. }) if format == Format::PcapNg => {}
        Err(e) => panic!("{name} cut at {cut}: unexpected error {e}"),
    }
}

#[test]
fn synthetic_files_cut_at_every_length() {
    for (i, bytes) in synthetic_files().iter().enumerate() {
        let (format, full, ends) = read_all(bytes);
        assert!(!full.is_empty());
        for cut in 0..=bytes.len() {
            check_cut(&format!("synthetic file {i}"), bytes, &full, &ends, format, cut);
        }
    }
}

#[test]
fn shared_captures_cut_at_many_lengths() {
    for want in CAPTURES {
        let bytes = capture_bytes(want.path);
        let (format, full, ends) = read_all(&bytes);
        assert_eq!(full.len(), want.packets);
        // Every length near the start and the end, a prime stride through the middle, and
        // both sides of the first hundred and the last twenty record boundaries.
        let n = bytes.len();
        let mut cuts: Vec<usize> =
            (0..n.min(2048)).chain(n.saturating_sub(300)..=n).chain((0..n).step_by(997)).collect();
        for &e in ends.iter().take(100).chain(ends.iter().rev().take(20)) {
            cuts.extend([e - 1, e, e + 1]);
        }
        cuts.retain(|&c| c <= n);
        cuts.sort_unstable();
        cuts.dedup();
        for cut in cuts {
            check_cut(want.path, &bytes, &full, &ends, format, cut);
        }
    }
}

#[test]
fn mutated_files_never_panic() {
    let mut rng = XorShift64Star(0x5eed_f00d_1234_5678);
    let mut inputs = synthetic_files();
    inputs.push(capture_bytes("ndpi/edonkey.pcap"));
    inputs.push(capture_bytes("ndpi/bt-http.pcapng"));
    let mut errors = 0;
    for round in 0..4000 {
        let mut bytes = inputs[round % inputs.len()].clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len());
            match rng.below(4) {
                0 => bytes[at] ^= 1 << rng.below(8),
                1 => bytes[at] = 0xff,
                2 => bytes[at] = 0,
                // Overwrite a 32-bit field (a length, often) with something extreme.
                _ => {
                    let v = [0u32, 1, 0x7fff_ffff, 0xffff_fff0, 0xffff_ffff][rng.below(5)];
                    let end = (at + 4).min(bytes.len());
                    bytes[at..end].copy_from_slice(&v.to_le_bytes()[..end - at]);
                }
            }
        }
        if read_lenient(&bytes).1.is_err() {
            errors += 1;
        }
    }
    // The mutations must reach the error paths, or this test proves little.
    // (The seed is fixed; 957 of them do.)
    assert!(errors > 500, "only {errors} of 4000 mutated files gave an error");
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = XorShift64Star(0xdead_beef_cafe_f00d);
    let mut ng = Ng::new(Order::Little);
    ng.interface(LinkType::ETHERNET, 0, &[]);
    let starts: [Vec<u8>; 4] =
        [Vec::new(), pcap(Order::Little, PCAP_MICROS, 1, &[]), pcap(Order::Big, PCAP_NANOS, 113, &[]), ng.bytes()];
    let (mut records, mut errors) = (0, 0);
    for round in 0..3000 {
        let mut bytes = starts[round % starts.len()].clone();
        // Random 32-bit words, half of them small, so that length fields are sometimes
        // believable and the reader gets past them.
        for _ in 0..rng.below(150) {
            let word = if rng.below(2) == 0 { rng.below(100) as u32 } else { rng.next_u64() as u32 };
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        bytes.truncate(bytes.len() - rng.below(4).min(bytes.len()));
        let (got, end) = read_lenient(&bytes);
        records += got.len();
        errors += usize::from(end.is_err());
        for link in [0u16, 1, 12, 101, 108, 113, 228, 229, 276] {
            let _ = ip_bytes(LinkType(link), &bytes);
        }
    }
    // Both outcomes must be reached, or the garbage is not exercising the reader.
    assert!(records > 0 && errors > 0, "{records} records, {errors} errors");
}
