//! Classic pcap (libpcap's format): a 24-byte file header, then records of a 16-byte
//! header and the captured bytes.
//!
//! The magic number gives both the byte order of the whole file (it is written in the
//! writer's order) and the timestamp unit: 0xa1b2c3d4 for microseconds, 0xa1b23c4d for
//! nanoseconds.

use std::io::Read;

use super::link::LinkType;
use super::source::{Endian, Source};
use super::{read_record_bytes, CaptureError, Format, RecordMeta, MAX_RECORD_LEN};

const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
const MAGIC_NANOS: u32 = 0xa1b2_3c4d;
const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;

/// True if `magic` starts a classic pcap file in either byte order.
pub(super) fn is_magic(magic: [u8; 4]) -> bool {
    read_magic(magic).is_some()
}

/// Byte order and whether timestamps are in nanoseconds.
fn read_magic(magic: [u8; 4]) -> Option<(Endian, bool)> {
    for endian in [Endian::Big, Endian::Little] {
        match endian.u32(&magic, 0) {
            MAGIC_MICROS => return Some((endian, false)),
            MAGIC_NANOS => return Some((endian, true)),
            _ => {}
        }
    }
    None
}

pub(super) struct PcapReader<R> {
    src: Source<R>,
    endian: Endian,
    units_per_sec: u64,
    link: LinkType,
    /// Snap length from the file header, as written (informational: records are checked
    /// against [`MAX_RECORD_LEN`], since writers do not all keep within their snap length).
    snaplen: u32,
    packets: u64,
}

impl<R: Read> PcapReader<R> {
    /// Reads the file header; `magic`, its first four bytes, was already read from `src`.
    pub(super) fn new(mut src: Source<R>, magic: [u8; 4]) -> Result<Self, CaptureError> {
        let (endian, nanos) = read_magic(magic).ok_or(CaptureError::NotACapture { magic })?;
        let mut header = [0u8; FILE_HEADER_LEN - 4];
        if !src.fill_all(&mut header)? {
            return Err(CaptureError::TruncatedHeader { format: Format::Pcap });
        }
        let major = endian.u16(&header, 0);
        let minor = endian.u16(&header, 2);
        if major != 2 {
            return Err(CaptureError::UnsupportedVersion { format: Format::Pcap, major, minor });
        }
        let snaplen = endian.u32(&header, 12);
        // The upper 16 bits of the link field carry FCS information, not the link type.
        let link = LinkType((endian.u32(&header, 16) & 0xffff) as u16);
        let units_per_sec = if nanos { 1_000_000_000 } else { 1_000_000 };
        Ok(PcapReader { src, endian, units_per_sec, link, snaplen, packets: 0 })
    }

    pub(super) fn snaplen(&self) -> u32 {
        self.snaplen
    }

    pub(super) fn next(&mut self, buf: &mut Vec<u8>) -> Result<Option<RecordMeta>, CaptureError> {
        let offset = self.src.pos();
        let packet = self.packets.saturating_add(1);
        let truncated = CaptureError::TruncatedRecord { packet, offset };
        let mut header = [0u8; RECORD_HEADER_LEN];
        match self.src.fill(&mut header)? {
            0 => return Ok(None),
            RECORD_HEADER_LEN => {}
            _ => return Err(truncated),
        }
        let secs = self.endian.u32(&header, 0);
        let frac = self.endian.u32(&header, 4);
        let incl_len = self.endian.u32(&header, 8);
        let orig_len = self.endian.u32(&header, 12);
        let len = usize::try_from(incl_len).ok().filter(|&len| len <= MAX_RECORD_LEN);
        let Some(len) = len else {
            return Err(CaptureError::RecordTooLarge { packet, len: u64::from(incl_len) });
        };
        if !read_record_bytes(&mut self.src, buf, len)? {
            return Err(truncated);
        }
        self.packets = packet;
        let ts_ms = u64::from(secs).saturating_mul(1000).saturating_add(u64::from(frac) / (self.units_per_sec / 1000));
        Ok(Some(RecordMeta { ts_ms, link: self.link, len, orig_len }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(endian: Endian, magic: u32, link: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w32 = |v: u32| match endian {
            Endian::Big => v.to_be_bytes(),
            Endian::Little => v.to_le_bytes(),
        };
        let w16 = |v: u16| match endian {
            Endian::Big => v.to_be_bytes(),
            Endian::Little => v.to_le_bytes(),
        };
        let mut f = w32(magic).to_vec();
        f.extend_from_slice(&w16(2));
        f.extend_from_slice(&w16(4));
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&w32(65535));
        f.extend_from_slice(&w32(link));
        for &(secs, frac, data) in records {
            f.extend_from_slice(&w32(secs));
            f.extend_from_slice(&w32(frac));
            f.extend_from_slice(&w32(data.len() as u32));
            f.extend_from_slice(&w32(data.len() as u32 + 4));
            f.extend_from_slice(data);
        }
        f
    }

    /// Timestamp, link, data and original length of one record.
    type Rec = (u64, LinkType, Vec<u8>, u32);

    fn read_all(bytes: &[u8]) -> Result<Vec<Rec>, CaptureError> {
        let mut src = Source::new(bytes);
        let mut magic = [0u8; 4];
        src.fill(&mut magic).unwrap();
        let mut r = PcapReader::new(src, magic)?;
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(m) = r.next(&mut buf)? {
            out.push((m.ts_ms, m.link, buf[..m.len].to_vec(), m.orig_len));
        }
        Ok(out)
    }

    #[test]
    fn both_byte_orders_and_resolutions() {
        let recs: &[(u32, u32, &[u8])] = &[(1_700_000_000, 123_456, b"abc"), (1_700_000_001, 999_999, b"")];
        for endian in [Endian::Big, Endian::Little] {
            let got = read_all(&file(endian, MAGIC_MICROS, 1, recs)).unwrap();
            assert_eq!(got.len(), 2);
            assert_eq!(got[0], (1_700_000_000_123, LinkType::ETHERNET, b"abc".to_vec(), 7));
            assert_eq!(got[1].0, 1_700_000_001_999);

            let nanos: &[(u32, u32, &[u8])] = &[(5, 987_654_321, b"x")];
            let got = read_all(&file(endian, MAGIC_NANOS, 101, nanos)).unwrap();
            assert_eq!(got[0].0, 5_987);
            assert_eq!(got[0].1, LinkType::RAW);
        }
    }

    #[test]
    fn header_fields() {
        let f = file(Endian::Little, MAGIC_MICROS, 0x0400_0001, &[]);
        let mut src = Source::new(&f[..]);
        let mut magic = [0u8; 4];
        src.fill(&mut magic).unwrap();
        let r = PcapReader::new(src, magic).unwrap();
        assert_eq!(r.snaplen(), 65535);
        assert_eq!(r.link, LinkType::ETHERNET, "FCS bits above the link type are ignored");

        let mut v3 = file(Endian::Big, MAGIC_MICROS, 1, &[]);
        v3[5] = 3;
        assert!(matches!(read_all(&v3), Err(CaptureError::UnsupportedVersion { major: 3, .. })));
        let cut = file(Endian::Big, MAGIC_MICROS, 1, &[]);
        assert!(matches!(read_all(&cut[..23]), Err(CaptureError::TruncatedHeader { .. })));
    }

    #[test]
    fn record_length_checks() {
        let mut f = file(Endian::Big, MAGIC_MICROS, 1, &[(1, 0, b"abcd"), (2, 0, b"efgh")]);
        // Cut inside the second record's header and inside its data.
        for cut in [f.len() - 4 - 1, f.len() - 4 - 16 + 3] {
            let err = read_all(&f[..cut]).unwrap_err();
            assert!(matches!(err, CaptureError::TruncatedRecord { packet: 2, offset: 44 }), "{err}");
        }
        // A huge captured length is refused before anything is allocated.
        let incl = 24 + 8;
        f[incl..incl + 4].copy_from_slice(&0x7fff_ffffu32.to_be_bytes());
        let err = read_all(&f).unwrap_err();
        assert!(matches!(err, CaptureError::RecordTooLarge { packet: 1, len: 0x7fff_ffff }), "{err}");
        f[incl..incl + 4].copy_from_slice(&(MAX_RECORD_LEN as u32).to_be_bytes());
        assert!(matches!(read_all(&f), Err(CaptureError::TruncatedRecord { packet: 1, .. })));
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let got = read_all(&file(Endian::Little, MAGIC_NANOS, 1, &[(u32::MAX, u32::MAX, b"")])).unwrap();
        assert_eq!(got[0].0, u64::from(u32::MAX) * 1000 + u64::from(u32::MAX) / 1_000_000);
    }
}
