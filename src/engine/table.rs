//! A fixed-capacity, set-associative table: the storage behind the client, peer and flow
//! tables.
//!
//! Keys hash (with a secret seed) to one bucket of `WAYS` entries. When a bucket is full,
//! inserting evicts the entry of that bucket the caller ranks lowest (for example the
//! lock that ends soonest). The buckets are allocated once, when the table is made; after
//! that nothing grows, whatever arrives, and every operation touches one bucket only.

use std::net::IpAddr;

use heapless::Vec as HVec;

use crate::addr::Endpoint;

/// A key the table can hash.
pub trait Key: Copy + Eq {
    /// Feeds the key's bytes to `h`.
    fn feed(&self, h: &mut Hasher);
}

/// A seeded multiply-rotate hash over 32-bit words with a final avalanche step: cheap
/// (a key of an IPv4 flow is a handful of words), allocation-free and deterministic for
/// a given seed (tests pin the seed; the daemon picks a random one).
pub struct Hasher(u32);

impl Hasher {
    fn new(seed: u32) -> Hasher {
        Hasher(0x811c_9dc5 ^ seed)
    }

    fn word(&mut self, w: u32) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x9e37_79b9);
    }

    pub fn bytes(&mut self, b: &[u8]) {
        let mut chunks = b.chunks_exact(4);
        for c in &mut chunks {
            self.word(u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut tail = [0u8; 4];
            tail[..rest.len()].copy_from_slice(rest);
            // The length goes in too, so "ab" and "ab\0" differ.
            self.word(u32::from_le_bytes(tail) ^ ((rest.len() as u32) << 24));
        }
    }

    fn finish(&self) -> u32 {
        // murmur3's fmix32, so that nearby addresses spread over all buckets.
        let mut h = self.0;
        h ^= h >> 16;
        h = h.wrapping_mul(0x85eb_ca6b);
        h ^= h >> 13;
        h = h.wrapping_mul(0xc2b2_ae35);
        h ^ (h >> 16)
    }
}

impl Key for IpAddr {
    fn feed(&self, h: &mut Hasher) {
        match self {
            IpAddr::V4(a) => h.bytes(&a.octets()),
            IpAddr::V6(a) => h.bytes(&a.octets()),
        }
    }
}

impl Key for Endpoint {
    fn feed(&self, h: &mut Hasher) {
        self.ip.feed(h);
        h.bytes(&self.port.to_be_bytes());
    }
}

/// A fixed-capacity map from `K` to `V`.
pub struct Table<K: Key, V, const WAYS: usize> {
    buckets: Box<[HVec<(K, V), WAYS>]>,
    seed: u32,
    len: usize,
}

impl<K: Key, V, const WAYS: usize> Table<K, V, WAYS> {
    /// A table of `buckets` buckets (rounded up to a power of two), holding at most
    /// `buckets * WAYS` entries.
    pub fn new(buckets: usize, seed: u32) -> Self {
        let n = buckets.max(1).next_power_of_two();
        let buckets = (0..n).map(|_| HVec::new()).collect::<Vec<_>>().into_boxed_slice();
        Table { buckets, seed, len: 0 }
    }

    pub fn capacity(&self) -> usize {
        self.buckets.len() * WAYS
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn bucket_of(&self, k: &K) -> usize {
        let mut h = Hasher::new(self.seed);
        k.feed(&mut h);
        // The bucket count is a power of two, so masking picks a bucket uniformly.
        (h.finish() as usize) & (self.buckets.len() - 1)
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.buckets[self.bucket_of(k)].iter().find(|(key, _)| key == k).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        let b = self.bucket_of(k);
        self.buckets[b].iter_mut().find(|(key, _)| key == k).map(|(_, v)| v)
    }

    pub fn contains(&self, k: &K) -> bool {
        self.get(k).is_some()
    }

    /// Inserts or replaces `k`. If its bucket is full, the entry with the lowest
    /// `rank` is evicted and returned.
    pub fn insert(&mut self, k: K, v: V, rank: impl Fn(&V) -> u64) -> Option<(K, V)> {
        let b = self.bucket_of(&k);
        let bucket = &mut self.buckets[b];
        if let Some(slot) = bucket.iter_mut().find(|(key, _)| *key == k) {
            slot.1 = v;
            return None;
        }
        let mut evicted = None;
        if bucket.is_full() {
            let lowest = (0..bucket.len()).min_by_key(|&i| rank(&bucket[i].1));
            if let Some(i) = lowest {
                evicted = Some(bucket.swap_remove(i));
                self.len -= 1;
            }
        }
        // The bucket has room now: either it was not full or one entry just left.
        if bucket.push((k, v)).is_ok() {
            self.len += 1;
        }
        evicted
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let b = self.bucket_of(k);
        let bucket = &mut self.buckets[b];
        let i = bucket.iter().position(|(key, _)| key == k)?;
        self.len -= 1;
        Some(bucket.swap_remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.buckets.iter().flat_map(|b| b.iter().map(|(k, v)| (k, v)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.buckets.iter_mut().flat_map(|b| b.iter_mut().map(|(k, v)| (&*k, v)))
    }

    /// Keeps only the entries for which `keep` is true; calls `gone` for each removed one.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool, mut gone: impl FnMut(K, V)) {
        let mut removed = 0;
        for bucket in self.buckets.iter_mut() {
            let mut i = 0;
            while i < bucket.len() {
                let (k, v) = &mut bucket[i];
                if keep(k, v) {
                    i += 1;
                } else {
                    let (k, v) = bucket.swap_remove(i);
                    removed += 1;
                    gone(k, v);
                }
            }
        }
        self.len -= removed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn insert_get_remove() {
        let mut t: Table<IpAddr, u64, 4> = Table::new(8, 1);
        assert_eq!(t.capacity(), 32);
        assert!(t.insert(ip(1), 10, |v| *v).is_none());
        assert_eq!(t.get(&ip(1)), Some(&10));
        assert!(t.insert(ip(1), 11, |v| *v).is_none());
        assert_eq!(t.len(), 1);
        assert_eq!(t.remove(&ip(1)), Some(11));
        assert!(t.is_empty());
        assert_eq!(t.remove(&ip(1)), None);
    }

    #[test]
    fn full_table_evicts_lowest_rank_and_never_grows() {
        let mut t: Table<IpAddr, u64, 4> = Table::new(4, 7);
        let mut evicted = 0;
        for n in 0..10_000u32 {
            if let Some((_, v)) = t.insert(ip(n), u64::from(n), |v| *v) {
                evicted += 1;
                // Whatever is evicted is older than what was just inserted.
                assert!(v < u64::from(n));
            }
            assert!(t.len() <= t.capacity());
        }
        assert_eq!(t.len(), t.capacity());
        assert_eq!(evicted, 10_000 - t.capacity());
        // The most recent entry always survives.
        assert!(t.contains(&ip(9_999)));
    }

    #[test]
    fn retain_reports_removed() {
        let mut t: Table<IpAddr, u64, 8> = Table::new(64, 3);
        for n in 0..20 {
            t.insert(ip(n), u64::from(n), |v| *v);
        }
        let mut gone = Vec::new();
        t.retain(|_, v| *v % 2 == 0, |k, _| gone.push(k));
        assert_eq!(gone.len(), 10);
        assert_eq!(t.len(), 10);
        assert!(t.iter().all(|(_, v)| v % 2 == 0));
    }
}
