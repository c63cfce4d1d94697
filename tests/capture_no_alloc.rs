//! Reading a capture allocates nothing per record once the reader's buffer has grown to
//! the largest record: a counting global allocator watches a second pass over the same
//! records (the file's records twice over, in one stream).
//!
//! One test per binary: the allocator counts every thread's allocations.

mod alloc_counter;

mod shared_dir;

use ftwall::capture::{ip_bytes, CaptureReader, Format};

#[global_allocator]
static GLOBAL: alloc_counter::Counting = alloc_counter::Counting;

/// The capture, then its records again: for pcap the records after the file header, for
/// pcapng the whole file again as a second section.
fn twice(rel: &str) -> (Vec<u8>, Format) {
    let dir = shared_dir::captures_dir();
    let bytes = std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let format = CaptureReader::new(&bytes[..]).unwrap().format();
    let again = match format {
        Format::Pcap => &bytes[24..],
        Format::PcapNg => &bytes[..],
    };
    ([&bytes[..], again].concat(), format)
}

#[test]
fn a_warm_reader_allocates_nothing_per_record() {
    for (rel, format) in [("ndpi/gnutella.pcap", Format::Pcap), ("ndpi/bt-http.pcapng", Format::PcapNg)] {
        let (bytes, got_format) = twice(rel);
        assert_eq!(got_format, format);
        let first_pass = {
            let mut reader = CaptureReader::new(&bytes[..]).unwrap();
            let mut n = 0u64;
            while reader.next_record().unwrap().is_some() {
                n += 1;
            }
            assert!(n > 0 && n % 2 == 0, "{rel}: {n} records");
            n / 2
        };

        let mut reader = CaptureReader::new(&bytes[..]).unwrap();
        for _ in 0..first_pass {
            reader.next_record().unwrap().expect("first pass");
        }
        let (mut records, mut ip_bytes_seen) = (0u64, 0usize);
        alloc_counter::start();
        while let Some(rec) = reader.next_record().unwrap() {
            records += 1;
            ip_bytes_seen += ip_bytes(rec.link, rec.data).map_or(0, |f| f.ip.len());
        }
        let allocs = alloc_counter::stop();
        assert_eq!(records, first_pass, "{rel}: the second pass reads every record again");
        assert!(ip_bytes_seen > 0);
        assert_eq!(allocs, 0, "{rel}: {allocs} heap allocations while reading {records} warm records");
    }
}
