//! WinMX's own network (WPN, WinMX 3.x): the TCP handshake.
//!
//! The side that accepts a WPN connection speaks first with one byte, `1` (a primary
//! node) or `8` (a peer cache). The connecting side then sends a 16-byte key block:
//! random bytes, except that after undoing a fixed 105-step byte mixing they carry a
//! one-byte key id (which kind of node is talking) and two checksums
//! (p2p-signatures.md 2.2a). Everything after the handshake is encrypted.
//!
//! Evidence = the greeting byte as the other side's whole first payload, followed by a
//! valid key block at the start of the sender's first payload. Both directions are
//! needed, the port does not matter, and random data passes the key-block test with a
//! probability of about 7/256 * 2^-16 (4e-7; the tests measure it).
//!
//! WinMX's UDP (port 6257) is encrypted whole and is not recognised here; its hosts are
//! caught through this handshake and through the DNS names of its peer caches.

use super::{Confidence, Detector, Hit, Proto, Protocol, Segment};

/// Length of a WPN key block.
pub const KEY_BLOCK_LEN: usize = 16;

/// The key ids real nodes use: primary client and server, secondary client and server,
/// peer-cache node list, chat client and server.
pub const KEY_IDS: [u8; 7] = [0x50, 0x51, 0x52, 0x53, 0x54, 0x57, 0x58];

/// Undoes WinMX's key-block mixing: 105 steps, from the last to the first, each
/// subtracting (or, every fifth step, XOR-ing) the byte before the current one, with
/// 0x57 standing in for "the byte before" at step 0.
fn unmix(block: &[u8; KEY_BLOCK_LEN]) -> [u8; KEY_BLOCK_LEN] {
    let mut k = *block;
    for step in (0..105usize).rev() {
        let prev = if step == 0 { 0x57 } else { k[(step - 1) % KEY_BLOCK_LEN] };
        let cur = &mut k[step % KEY_BLOCK_LEN];
        if step % 5 == 0 {
            *cur ^= prev;
        } else {
            *cur = cur.wrapping_sub(prev);
        }
    }
    k
}

/// What a 16-byte block says once unmixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyBlock {
    /// The key id byte (meaningful only if the checksums hold).
    pub id: u8,
    /// Both checksum bytes hold.
    pub checksums_ok: bool,
}

impl KeyBlock {
    /// Reads the first 16 bytes of `b`, or `None` if there are fewer.
    pub fn read(b: &[u8]) -> Option<KeyBlock> {
        let block: &[u8; KEY_BLOCK_LEN] = b.get(..KEY_BLOCK_LEN)?.try_into().ok()?;
        let k = unmix(block);
        let id = k[9].wrapping_sub(k[14] ^ k[8] ^ k[1]);
        let first = k[4] == k[15] ^ k[13] ^ k[5] ^ k[2];
        let second = k[12] ^ k[10] ^ k[7] ^ k[6] ^ k[3] ^ k[0] == k[11].wrapping_sub(id >> 7);
        Some(KeyBlock { id, checksums_ok: first && second })
    }

    /// True for a block a real WinMX node could have sent.
    pub fn is_valid(&self) -> bool {
        self.checksums_ok && KEY_IDS.contains(&self.id)
    }
}

/// The WinMX WPN detector.
pub struct WinMx;

impl Detector for WinMx {
    fn protocol(&self) -> Protocol {
        Protocol::WinMx
    }

    fn inspect(&self, seg: &Segment<'_>) -> Option<Hit> {
        if seg.proto != Proto::Tcp {
            return None;
        }
        let (sent_before, _) = seg.sender_history();
        let (_, greeting) = seg.other_history();
        // The key block is the connecting side's first payload, after the greeting.
        if sent_before != 0 || greeting.len != 1 {
            return None;
        }
        let what = match greeting.bytes() {
            b"1" => "wpn handshake",
            b"8" => "wpn peer-cache handshake",
            _ => return None,
        };
        KeyBlock::read(seg.payload)?.is_valid().then(|| Hit::new(Confidence::Certain, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{FlowView, Prefix};

    /// A l7-filter sample, packet by packet. Fails loudly if the copy is missing.
    fn sample(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/data/l7-filter-data/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("WinMX sample {path} is missing ({e}); see tests/data/README.md"))
    }

    /// The packets of the real session: greeting, client key block, third packet.
    fn real_packets() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (p1, p12, p123) = (sample("winmx-1"), sample("winmx-2"), sample("winmx-3"));
        assert!(p12.starts_with(&p1) && p123.starts_with(&p12), "samples are not prefixes of each other");
        (p1.clone(), p12[p1.len()..].to_vec(), p123[p12.len()..].to_vec())
    }

    /// A TCP segment `from_client` after the other side sent `greeting` as its first
    /// payload (and the sender `sent_before` payloads starting with `first`).
    fn after(greeting: &[u8], from_client: bool, sent_before: u8, payload: &[u8]) -> Option<Hit> {
        let mut flow = FlowView::NEW;
        let (mine, theirs) = if from_client {
            (&mut flow.client_payloads, &mut flow.remote_payloads)
        } else {
            (&mut flow.remote_payloads, &mut flow.client_payloads)
        };
        *mine = sent_before;
        *theirs = u8::from(!greeting.is_empty());
        if from_client {
            flow.remote_first = Prefix::of(greeting);
        } else {
            flow.client_first = Prefix::of(greeting);
        }
        let seg = Segment {
            proto: Proto::Tcp,
            client: "192.168.1.20:1050".parse().unwrap(),
            remote: "198.51.100.9:6699".parse().unwrap(),
            from_client,
            remote_is_router: false,
            payload,
            flow,
        };
        WinMx.inspect(&seg)
    }

    #[test]
    fn the_real_session_decodes_as_documented() {
        let (greeting, block, third) = real_packets();
        assert_eq!(greeting, b"1");
        assert_eq!(block.len(), KEY_BLOCK_LEN);
        assert_eq!(third.len(), 268);
        assert_eq!(KeyBlock::read(&block), Some(KeyBlock { id: 0x52, checksums_ok: true }));
        assert_eq!(KeyBlock::read(&third), Some(KeyBlock { id: 0x54, checksums_ok: true }));
    }

    #[test]
    fn the_real_session_is_recognised_in_both_orientations() {
        let (greeting, block, _) = real_packets();
        // A LAN client connecting out to a primary, and a LAN primary accepting a peer.
        for from_client in [true, false] {
            let hit = after(&greeting, from_client, 0, &block).expect("real WinMX handshake not recognised");
            assert_eq!(hit.confidence, Confidence::Certain);
            assert_eq!(hit.what, "wpn handshake");
        }
        // Key block coalesced with what follows.
        let mut longer = block.clone();
        longer.extend_from_slice(&[0xaa; 40]);
        assert!(after(&greeting, true, 0, &longer).is_some());
        // A peer cache greets with "8".
        assert_eq!(after(b"8", true, 0, &block).unwrap().what, "wpn peer-cache handshake");
    }

    #[test]
    fn one_direction_or_the_wrong_order_is_not_enough() {
        let (greeting, block, _) = real_packets();
        // No greeting from the other side.
        assert!(after(b"", true, 0, &block).is_none());
        // Another greeting byte, or a longer first payload.
        assert!(after(b"2", true, 0, &block).is_none());
        assert!(after(b"1\r\n", true, 0, &block).is_none());
        // The block is not the sender's first payload.
        assert!(after(&greeting, true, 1, &block).is_none());
        // Too short, or one bit off.
        assert!(after(&greeting, true, 0, &block[..15]).is_none());
        let mut bad = block.clone();
        bad[7] ^= 0x10;
        assert!(after(&greeting, true, 0, &bad).is_none());
        // UDP never.
        let seg = Segment {
            proto: Proto::Udp,
            client: "192.168.1.20:1050".parse().unwrap(),
            remote: "198.51.100.9:6257".parse().unwrap(),
            from_client: true,
            remote_is_router: false,
            payload: &block,
            flow: FlowView { remote_payloads: 1, remote_first: Prefix::of(b"1"), ..FlowView::NEW },
        };
        assert!(WinMx.inspect(&seg).is_none());
    }

    /// splitmix64: a small deterministic generator, so the measurement is repeatable.
    struct SplitMix(u64);

    impl SplitMix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn random_blocks_almost_never_pass() {
        const BLOCKS: u32 = 1_000_000;
        let mut rng = SplitMix(0x00f7_3a11_2004_0002);
        let (mut checksums, mut valid) = (0u32, 0u32);
        for _ in 0..BLOCKS {
            let mut b = [0u8; KEY_BLOCK_LEN];
            b[..8].copy_from_slice(&rng.next().to_le_bytes());
            b[8..].copy_from_slice(&rng.next().to_le_bytes());
            let k = KeyBlock::read(&b).unwrap();
            checksums += u32::from(k.checksums_ok);
            valid += u32::from(k.is_valid());
            // The detector agrees with the block test.
            assert_eq!(after(b"1", true, 0, &b).is_some(), k.is_valid());
        }
        let rate = f64::from(valid) / f64::from(BLOCKS);
        println!(
            "WinMX key block on {BLOCKS} random blocks: {checksums} passed both checksums \
             (expected ~{:.1}), {valid} also had a WPN key id: false-positive rate {rate:.2e} \
             (expected {:.2e})",
            f64::from(BLOCKS) / 65536.0,
            7.0 / 256.0 / 65536.0
        );
        // Expected 0.42 false positives; five or more would mean the check is far weaker
        // than documented. The checksum-only count (expected 15.3) shows the test is
        // really exercising the checksums: too few would mean they are mis-implemented
        // so as to reject almost everything.
        assert!(valid <= 4, "{valid} random blocks passed as WinMX key blocks");
        assert!((4..=40).contains(&checksums), "{checksums} random blocks passed both checksums");
    }
}
