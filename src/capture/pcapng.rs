//! pcapng: a sequence of blocks (type, total length, body, total length again).
//!
//! A Section Header Block starts each section and sets its byte order; Interface
//! Description Blocks then give each interface's link type and timestamp resolution, and
//! Enhanced (or obsolete) Packet Blocks and Simple Packet Blocks carry the packets. Every
//! other block (name resolution, statistics, decryption secrets, custom, ...) is skipped
//! as a stream. Options are read one by one, also without buffering the block.

use std::io::Read;

use super::link::LinkType;
use super::source::{Endian, Source};
use super::{read_record_bytes, CaptureError, Format, RecordMeta, MAX_INTERFACES, MAX_RECORD_LEN};

/// Section Header Block: the same bytes in both byte orders, so it can be found before
/// the byte order is known.
const SHB_TYPE: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const IDB_TYPE: u32 = 1;
/// Packet Block, obsoleted by the Enhanced Packet Block but still read by every tool.
const PB_TYPE: u32 = 2;
const SPB_TYPE: u32 = 3;
const EPB_TYPE: u32 = 6;

/// Block type and total length, then the copy of the total length at the end.
const BLOCK_FRAME_LEN: u32 = 12;
/// Smallest valid total lengths: the frame plus each block's fixed fields.
const SHB_MIN_LEN: u32 = BLOCK_FRAME_LEN + 16;
/// Section header bytes after type and length: byte-order magic, version, section length.
const SHB_FIXED_LEN: usize = 16;
const IDB_MIN_LEN: u32 = BLOCK_FRAME_LEN + 8;
const SPB_MIN_LEN: u32 = BLOCK_FRAME_LEN + 4;
const EPB_MIN_LEN: u32 = BLOCK_FRAME_LEN + 20;

const OPT_END: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// True if `magic` starts a pcapng file.
pub(super) fn is_magic(magic: [u8; 4]) -> bool {
    magic == SHB_TYPE
}

/// What the reader remembers of one Interface Description Block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    resolution: Resolution,
    /// if_tsoffset: seconds to add to every timestamp of the interface.
    offset_secs: i64,
}

/// if_tsresol: timestamps count units of 10^-n or 2^-n seconds (default 10^-6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Resolution {
    Decimal(u8),
    Binary(u8),
}

impl Resolution {
    fn from_option(value: u8) -> Resolution {
        if value & 0x80 == 0 {
            Resolution::Decimal(value)
        } else {
            Resolution::Binary(value & 0x7f)
        }
    }

    /// Converts a timestamp in these units to milliseconds, saturating.
    fn to_millis(self, ts: u64) -> u64 {
        // u128 holds ts * 1000 for every u64 ts, so only the final narrowing can overflow.
        let scaled = u128::from(ts) * 1000;
        let ms = match self {
            Resolution::Decimal(n) => match 10u128.checked_pow(u32::from(n)) {
                Some(div) => scaled / div,
                None => 0,
            },
            Resolution::Binary(n) => scaled >> n,
        };
        u64::try_from(ms).unwrap_or(u64::MAX)
    }
}

pub(super) struct PcapNgReader<R> {
    src: Source<R>,
    endian: Endian,
    interfaces: Vec<Interface>,
    packets: u64,
    /// Time of the last timed packet, given to Simple Packet Blocks (which have none).
    last_ts_ms: u64,
}

impl<R: Read> PcapNgReader<R> {
    /// Reads the first Section Header Block; its block type was already read from `src`.
    pub(super) fn new(src: Source<R>) -> Result<Self, CaptureError> {
        let mut r = PcapNgReader { src, endian: Endian::Little, interfaces: Vec::new(), packets: 0, last_ts_ms: 0 };
        let mut raw_len = [0u8; 4];
        let header = match r.src.fill_all(&mut raw_len) {
            Ok(true) => r.read_section_header(0, raw_len),
            Ok(false) => Err(CaptureError::TruncatedBlock { offset: 0 }),
            Err(e) => Err(e.into()),
        };
        header.map_err(|e| match e {
            CaptureError::TruncatedBlock { .. } => CaptureError::TruncatedHeader { format: Format::PcapNg },
            e => e,
        })?;
        Ok(r)
    }

    pub(super) fn next(&mut self, buf: &mut Vec<u8>) -> Result<Option<RecordMeta>, CaptureError> {
        loop {
            let offset = self.src.pos();
            let mut head = [0u8; 8];
            match self.src.fill(&mut head)? {
                0 => return Ok(None),
                8 => {}
                _ => return Err(CaptureError::TruncatedBlock { offset }),
            }
            let [t0, t1, t2, t3, l0, l1, l2, l3] = head;
            if [t0, t1, t2, t3] == SHB_TYPE {
                self.read_section_header(offset, [l0, l1, l2, l3])?;
                continue;
            }
            let block_type = self.endian.u32(&head, 0);
            let len = self.endian.u32(&head, 4);
            if len < BLOCK_FRAME_LEN || len % 4 != 0 {
                return Err(CaptureError::BadBlockLength { offset, len });
            }
            let block = Block { offset, len };
            match block_type {
                IDB_TYPE => self.read_interface(block)?,
                EPB_TYPE | PB_TYPE => return self.read_packet(block, block_type == PB_TYPE, buf).map(Some),
                SPB_TYPE => return self.read_simple_packet(block, buf).map(Some),
                _ => self.finish_block(block, u64::from(len - BLOCK_FRAME_LEN))?,
            }
        }
    }

    /// Reads the rest of a Section Header Block at `offset`, whose type and `raw_len`
    /// (in a byte order not known yet) were just read, and starts a new section: new
    /// byte order, no interfaces yet.
    fn read_section_header(&mut self, offset: u64, raw_len: [u8; 4]) -> Result<(), CaptureError> {
        // Byte-order magic, version, section length (unused: -1 is allowed).
        let mut fixed = [0u8; SHB_FIXED_LEN];
        if !self.src.fill_all(&mut fixed)? {
            return Err(CaptureError::TruncatedBlock { offset });
        }
        self.endian = if Endian::Big.u32(&fixed, 0) == BYTE_ORDER_MAGIC {
            Endian::Big
        } else if Endian::Little.u32(&fixed, 0) == BYTE_ORDER_MAGIC {
            Endian::Little
        } else {
            return Err(CaptureError::BadBlock { offset, why: "section header without a valid byte-order magic" });
        };
        let len = self.endian.u32(&raw_len, 0);
        if len < SHB_MIN_LEN || len % 4 != 0 {
            return Err(CaptureError::BadBlockLength { offset, len });
        }
        let major = self.endian.u16(&fixed, 4);
        let minor = self.endian.u16(&fixed, 6);
        if major != 1 {
            return Err(CaptureError::UnsupportedVersion { format: Format::PcapNg, major, minor });
        }
        self.interfaces.clear();
        // Section options (hardware, OS, application) are of no use here.
        self.finish_block(Block { offset, len }, u64::from(len - SHB_MIN_LEN))
    }

    fn read_interface(&mut self, block: Block) -> Result<(), CaptureError> {
        if block.len < IDB_MIN_LEN {
            return Err(block.bad_length());
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(CaptureError::TooManyInterfaces { offset: block.offset });
        }
        let mut fixed = [0u8; 8];
        self.fill_block(&mut fixed, block)?;
        let mut iface = Interface {
            link: LinkType(self.endian.u16(&fixed, 0)),
            snaplen: self.endian.u32(&fixed, 4),
            resolution: Resolution::Decimal(6),
            offset_secs: 0,
        };
        let mut left = block.len - IDB_MIN_LEN;
        while left >= 4 {
            let mut opt = [0u8; 4];
            self.fill_block(&mut opt, block)?;
            left -= 4;
            let code = self.endian.u16(&opt, 0);
            let value_len = u32::from(self.endian.u16(&opt, 2));
            let padded = (value_len + 3) & !3;
            if padded > left {
                return Err(CaptureError::BadBlock {
                    offset: block.offset,
                    why: "option runs past the end of its block",
                });
            }
            left -= padded;
            match (code, value_len) {
                (OPT_END, _) => {
                    self.skip_block(u64::from(padded), block)?;
                    break;
                }
                (OPT_IF_TSRESOL, 1) => {
                    let mut value = [0u8; 4];
                    self.fill_block(&mut value, block)?;
                    iface.resolution = Resolution::from_option(value[0]);
                }
                (OPT_IF_TSOFFSET, 8) => {
                    let mut value = [0u8; 8];
                    self.fill_block(&mut value, block)?;
                    let bytes = match self.endian {
                        Endian::Big => i64::from_be_bytes(value),
                        Endian::Little => i64::from_le_bytes(value),
                    };
                    iface.offset_secs = bytes;
                }
                _ => self.skip_block(u64::from(padded), block)?,
            }
        }
        self.interfaces.push(iface);
        self.finish_block(block, u64::from(left))
    }

    /// Enhanced Packet Block, or the obsolete Packet Block (same layout, but a 16-bit
    /// interface id followed by a drop count).
    fn read_packet(&mut self, block: Block, obsolete: bool, buf: &mut Vec<u8>) -> Result<RecordMeta, CaptureError> {
        let packet = self.packets.saturating_add(1);
        if block.len < EPB_MIN_LEN {
            return Err(block.bad_length());
        }
        let mut fixed = [0u8; 20];
        self.fill_packet(&mut fixed, block, packet)?;
        let interface = if obsolete { u32::from(self.endian.u16(&fixed, 0)) } else { self.endian.u32(&fixed, 0) };
        let ts = (u64::from(self.endian.u32(&fixed, 4)) << 32) | u64::from(self.endian.u32(&fixed, 8));
        let captured = self.endian.u32(&fixed, 12);
        let orig_len = self.endian.u32(&fixed, 16);
        let room = block.len - EPB_MIN_LEN;
        let len = checked_record_len(captured, packet)?;
        if captured > room {
            return Err(CaptureError::BadBlock {
                offset: block.offset,
                why: "packet data runs past the end of its block",
            });
        }
        let iface = self.interface(interface, packet)?;
        if !read_record_bytes(&mut self.src, buf, len)? {
            return Err(CaptureError::TruncatedRecord { packet, offset: block.offset });
        }
        // Padding and options.
        self.finish_packet(block, u64::from(room - captured), packet)?;
        let ts_ms = offset_millis(iface.resolution.to_millis(ts), iface.offset_secs);
        self.packets = packet;
        self.last_ts_ms = ts_ms;
        Ok(RecordMeta { ts_ms, link: iface.link, len, orig_len })
    }

    /// Simple Packet Block: interface 0, no timestamp, captured length implied by the
    /// block length and the interface's snap length.
    fn read_simple_packet(&mut self, block: Block, buf: &mut Vec<u8>) -> Result<RecordMeta, CaptureError> {
        let packet = self.packets.saturating_add(1);
        if block.len < SPB_MIN_LEN {
            return Err(block.bad_length());
        }
        let mut fixed = [0u8; 4];
        self.fill_packet(&mut fixed, block, packet)?;
        let orig_len = self.endian.u32(&fixed, 0);
        let iface = self.interface(0, packet)?;
        let room = block.len - SPB_MIN_LEN;
        let mut captured = orig_len.min(room);
        if iface.snaplen != 0 {
            captured = captured.min(iface.snaplen);
        }
        let len = checked_record_len(captured, packet)?;
        if !read_record_bytes(&mut self.src, buf, len)? {
            return Err(CaptureError::TruncatedRecord { packet, offset: block.offset });
        }
        self.finish_packet(block, u64::from(room - captured), packet)?;
        self.packets = packet;
        Ok(RecordMeta { ts_ms: self.last_ts_ms, link: iface.link, len, orig_len })
    }

    fn interface(&self, id: u32, packet: u64) -> Result<Interface, CaptureError> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.interfaces.get(i))
            .copied()
            .ok_or(CaptureError::UnknownInterface { packet, interface: id })
    }

    fn fill_block(&mut self, dest: &mut [u8], block: Block) -> Result<(), CaptureError> {
        if self.src.fill_all(dest)? {
            Ok(())
        } else {
            Err(CaptureError::TruncatedBlock { offset: block.offset })
        }
    }

    fn skip_block(&mut self, n: u64, block: Block) -> Result<(), CaptureError> {
        if self.src.skip(n)? {
            Ok(())
        } else {
            Err(CaptureError::TruncatedBlock { offset: block.offset })
        }
    }

    /// Skips the `rest` of a block's body and checks the trailing copy of its length.
    fn finish_block(&mut self, block: Block, rest: u64) -> Result<(), CaptureError> {
        self.skip_block(rest, block)?;
        let mut trailer = [0u8; 4];
        self.fill_block(&mut trailer, block)?;
        self.check_trailer(trailer, block)
    }

    fn fill_packet(&mut self, dest: &mut [u8], block: Block, packet: u64) -> Result<(), CaptureError> {
        self.fill_block(dest, block).map_err(|e| as_record_error(e, packet))
    }

    fn finish_packet(&mut self, block: Block, rest: u64, packet: u64) -> Result<(), CaptureError> {
        self.finish_block(block, rest).map_err(|e| as_record_error(e, packet))
    }

    fn check_trailer(&self, trailer: [u8; 4], block: Block) -> Result<(), CaptureError> {
        if self.endian.u32(&trailer, 0) == block.len {
            Ok(())
        } else {
            Err(CaptureError::BadBlock {
                offset: block.offset,
                why: "trailing block length differs from the leading one",
            })
        }
    }
}

/// Where a block starts and its total length (already checked to be at least the frame
/// and a multiple of 4).
#[derive(Clone, Copy, Debug)]
struct Block {
    offset: u64,
    len: u32,
}

impl Block {
    fn bad_length(self) -> CaptureError {
        CaptureError::BadBlockLength { offset: self.offset, len: self.len }
    }
}

/// A cut inside a packet block is reported as a truncated record.
fn as_record_error(e: CaptureError, packet: u64) -> CaptureError {
    match e {
        CaptureError::TruncatedBlock { offset } => CaptureError::TruncatedRecord { packet, offset },
        e => e,
    }
}

fn checked_record_len(captured: u32, packet: u64) -> Result<usize, CaptureError> {
    usize::try_from(captured)
        .ok()
        .filter(|&len| len <= MAX_RECORD_LEN)
        .ok_or(CaptureError::RecordTooLarge { packet, len: u64::from(captured) })
}

fn offset_millis(ms: u64, offset_secs: i64) -> u64 {
    let shift = offset_secs.unsigned_abs().saturating_mul(1000);
    if offset_secs >= 0 {
        ms.saturating_add(shift)
    } else {
        ms.saturating_sub(shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_binary_resolutions() {
        let micro = Resolution::from_option(6);
        assert_eq!(micro, Resolution::Decimal(6));
        assert_eq!(micro.to_millis(1_700_000_000_123_456), 1_700_000_000_123);
        assert_eq!(Resolution::from_option(9).to_millis(5_987_654_321), 5_987);
        assert_eq!(Resolution::from_option(3).to_millis(42), 42);
        assert_eq!(Resolution::from_option(0).to_millis(42), 42_000);
        // 10^-127 s units: every u64 count is far below a millisecond.
        assert_eq!(Resolution::from_option(127).to_millis(u64::MAX), 0);
        assert_eq!(Resolution::from_option(0x80 | 10), Resolution::Binary(10));
        assert_eq!(Resolution::from_option(0x80 | 10).to_millis(3 * 1024 + 512), 3_500);
        assert_eq!(Resolution::from_option(0x80).to_millis(2), 2_000);
        assert_eq!(Resolution::from_option(0xff).to_millis(u64::MAX), 0);
        // Whole seconds beyond u64 milliseconds saturate instead of overflowing.
        assert_eq!(Resolution::from_option(0).to_millis(u64::MAX), u64::MAX);
        assert_eq!(Resolution::from_option(0x80).to_millis(u64::MAX), u64::MAX);
    }

    #[test]
    fn timestamp_offsets_saturate() {
        assert_eq!(offset_millis(5_000, 2), 7_000);
        assert_eq!(offset_millis(5_000, -2), 3_000);
        assert_eq!(offset_millis(5_000, i64::MIN), 0);
        assert_eq!(offset_millis(5_000, i64::MAX), u64::MAX);
    }
}
