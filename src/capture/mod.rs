//! Capture file reader: classic pcap and pcapng, from any [`std::io::Read`].
//!
//! Used by `ftwall inspect` to replay a capture through the engine, and by the benchmarks
//! and fuzzing. The format is told from the file's first four bytes. Records come out one
//! at a time, borrowing one buffer the reader reuses, so a long capture costs no
//! allocation per packet once the buffer has grown to the largest record.
//!
//! Input is untrusted: a cut or garbled file gives a [`CaptureError`], never a panic, and
//! no length field is believed for an allocation beyond [`MAX_RECORD_LEN`]. Blocks this
//! reader does not use are skipped as a stream, without buffering them.
//!
//! [`ip_bytes`] then strips the link layer of a record and gives the IP packet.
//!
//! ```no_run
//! use ftwall::capture::{ip_bytes, CaptureReader};
//! let mut reader = CaptureReader::open("trace.pcapng")?;
//! while let Some(rec) = reader.next_record()? {
//!     if let Some(frame) = ip_bytes(rec.link, rec.data) {
//!         println!("{} ms: {} IP bytes", rec.ts_ms, frame.ip.len());
//!     }
//! }
//! # Ok::<(), ftwall::capture::CaptureError>(())
//! ```

mod link;
mod pcap;
mod pcapng;
mod source;

use core::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

pub use link::{ip_bytes, IpFrame, LinkType};

use pcap::PcapReader;
use pcapng::PcapNgReader;
use source::Source;

/// The largest record (captured bytes of one packet) the reader accepts. Far above any
/// real snap length (262144 is libpcap's own maximum), and a cap on what a corrupt
/// length field can make the reader allocate.
pub const MAX_RECORD_LEN: usize = 256 * 1024;

/// One captured packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Capture time in milliseconds since the Unix epoch (saturating; a pcapng Simple
    /// Packet Block, which has no time, gets the time of the packet before it).
    pub ts_ms: u64,
    /// Link layer of `data`; see [`ip_bytes`].
    pub link: LinkType,
    /// The captured bytes, from the link-layer header on.
    pub data: &'a [u8],
    /// Length of the packet on the wire (more than `data.len()` when the snap length cut it).
    pub orig_len: u32,
}

/// The two capture formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Pcap => "pcap",
            Format::PcapNg => "pcapng",
        })
    }
}

/// Why a capture could not be read. Offsets are byte offsets in the file; packets are
/// counted from 1.
#[derive(Debug)]
pub enum CaptureError {
    /// The underlying reader failed.
    Io(io::Error),
    /// The file starts with neither a pcap nor a pcapng magic number.
    NotACapture { magic: [u8; 4] },
    /// The file ends inside its file header (or first section header).
    TruncatedHeader { format: Format },
    /// A format version this reader does not know.
    UnsupportedVersion { format: Format, major: u16, minor: u16 },
    /// The file ends inside a packet record.
    TruncatedRecord { packet: u64, offset: u64 },
    /// The file ends inside a pcapng block that is not a packet.
    TruncatedBlock { offset: u64 },
    /// A record claims more captured bytes than [`MAX_RECORD_LEN`].
    RecordTooLarge { packet: u64, len: u64 },
    /// A pcapng block length that is too short, not a multiple of 4, or differs from the
    /// copy at the end of the block.
    BadBlockLength { offset: u64, len: u32 },
    /// A pcapng block whose contents do not fit together.
    BadBlock { offset: u64, why: &'static str },
    /// A pcapng packet names an interface that its section did not describe.
    UnknownInterface { packet: u64, interface: u32 },
    /// More interfaces in one pcapng section than the reader keeps.
    TooManyInterfaces { offset: u64 },
}

/// The most pcapng interfaces one section may describe; each costs a few bytes, the cap
/// only stops a hostile file from growing the list without end.
pub const MAX_INTERFACES: usize = 4096;

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Io(e) => write!(f, "read error: {e}"),
            CaptureError::NotACapture { magic } => write!(
                f,
                "not a pcap or pcapng file (starts with {:02x} {:02x} {:02x} {:02x})",
                magic[0], magic[1], magic[2], magic[3]
            ),
            CaptureError::TruncatedHeader { format } => write!(f, "truncated {format} file header"),
            CaptureError::UnsupportedVersion { format, major, minor } => {
                write!(f, "unsupported {format} version {major}.{minor}")
            }
            CaptureError::TruncatedRecord { packet, offset } => {
                write!(f, "truncated record at packet {packet} (byte offset {offset})")
            }
            CaptureError::TruncatedBlock { offset } => write!(f, "truncated pcapng block at byte offset {offset}"),
            CaptureError::RecordTooLarge { packet, len } => write!(
                f,
                "record at packet {packet} claims {len} captured bytes, more than the maximum of {MAX_RECORD_LEN}"
            ),
            CaptureError::BadBlockLength { offset, len } => {
                write!(f, "invalid pcapng block length {len} at byte offset {offset}")
            }
            CaptureError::BadBlock { offset, why } => write!(f, "invalid pcapng block at byte offset {offset}: {why}"),
            CaptureError::UnknownInterface { packet, interface } => {
                write!(f, "packet {packet} names interface {interface}, which its section does not describe")
            }
            CaptureError::TooManyInterfaces { offset } => {
                write!(f, "more than {MAX_INTERFACES} interfaces in one pcapng section (at byte offset {offset})")
            }
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for CaptureError {
    fn from(e: io::Error) -> CaptureError {
        CaptureError::Io(e)
    }
}

/// Where a record is in the reader's buffer, and what the format said about it.
#[derive(Clone, Copy, Debug)]
struct RecordMeta {
    ts_ms: u64,
    link: LinkType,
    len: usize,
    orig_len: u32,
}

enum Inner<R> {
    Pcap(PcapReader<R>),
    PcapNg(PcapNgReader<R>),
}

/// Reads the records of a pcap or pcapng capture one after another.
pub struct CaptureReader<R> {
    inner: Inner<R>,
    buf: Vec<u8>,
    packets: u64,
    /// Set after the end of the file or an error: the reader gives no more records.
    finished: bool,
}

impl CaptureReader<BufReader<File>> {
    /// Opens the capture at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        CaptureReader::new(BufReader::new(File::open(path)?))
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header of a capture and tells its format from the magic number.
    pub fn new(reader: R) -> Result<Self, CaptureError> {
        let mut src = Source::new(reader);
        let mut magic = [0u8; 4];
        // A file shorter than a magic number (an empty one, say) is no capture either.
        src.fill(&mut magic)?;
        let inner = if pcapng::is_magic(magic) {
            Inner::PcapNg(PcapNgReader::new(src)?)
        } else if pcap::is_magic(magic) {
            Inner::Pcap(PcapReader::new(src, magic)?)
        } else {
            return Err(CaptureError::NotACapture { magic });
        };
        Ok(CaptureReader { inner, buf: Vec::new(), packets: 0, finished: false })
    }

    pub fn format(&self) -> Format {
        match self.inner {
            Inner::Pcap(_) => Format::Pcap,
            Inner::PcapNg(_) => Format::PcapNg,
        }
    }

    /// The snap length in a classic pcap file header; `None` for pcapng, where each
    /// interface has its own. Records are not held to it (not every writer is).
    pub fn snaplen(&self) -> Option<u32> {
        match &self.inner {
            Inner::Pcap(r) => Some(r.snaplen()),
            Inner::PcapNg(_) => None,
        }
    }

    /// Packets read so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// The next record, `Ok(None)` at the end of the file. After an error the reader is
    /// finished and gives `Ok(None)`.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        let next = match &mut self.inner {
            Inner::Pcap(r) => r.next(&mut self.buf),
            Inner::PcapNg(r) => r.next(&mut self.buf),
        };
        let meta = match next {
            Ok(Some(meta)) => meta,
            Ok(None) => {
                self.finished = true;
                return Ok(None);
            }
            Err(e) => {
                self.finished = true;
                return Err(e);
            }
        };
        self.packets = self.packets.saturating_add(1);
        let data = self.buf.get(..meta.len).unwrap_or(&[]);
        Ok(Some(Record { ts_ms: meta.ts_ms, link: meta.link, data, orig_len: meta.orig_len }))
    }
}

/// Reads `len` record bytes into `buf`, growing it only when a record is larger than any
/// before. False if the stream ended first.
fn read_record_bytes<R: Read>(src: &mut Source<R>, buf: &mut Vec<u8>, len: usize) -> io::Result<bool> {
    if buf.len() < len {
        buf.resize(len, 0);
    }
    match buf.get_mut(..len) {
        Some(dest) => src.fill_all(dest),
        None => Ok(false),
    }
}
