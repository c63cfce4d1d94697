//! A fixed-capacity, set-associative table: the storage behind the client, peer, flow and
//! DNS tables.
//!
//! Keys hash (with a secret seed) to one bucket of `WAYS` entries. When a bucket is full,
//! inserting evicts the entry of that bucket the caller ranks lowest (for example the
//! lock that ends soonest). The buckets are allocated once, when the table is made; after
//! that nothing grows, whatever arrives, and every operation touches one bucket only.
//!
//! Each bucket keeps a 16-bit tag per entry (high bits of the key's hash) beside the
//! entries, so a lookup reads one small array and compares whole keys only on a tag
//! match: a miss, the common case for a new flow, never walks the bucket's entries.

use std::net::IpAddr;

use heapless::Vec as HVec;

use crate::addr::Endpoint;

/// A key the table can hash.
pub trait Key: Copy + Eq {
    /// Feeds the key to `h`, a 32-bit word at a time.
    fn feed(&self, h: &mut Hasher);
}

/// A seeded multiply-rotate hash over 32-bit words with a final avalanche step: cheap
/// (a key of an IPv4 flow is four words), allocation-free and deterministic for a given
/// seed (tests pin the seed; the daemon picks a random one).
pub struct Hasher(u32);

impl Hasher {
    fn new(seed: u32) -> Hasher {
        Hasher(0x811c_9dc5 ^ seed)
    }

    pub fn word(&mut self, w: u32) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x9e37_79b9);
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
            IpAddr::V4(a) => h.word(u32::from(*a)),
            IpAddr::V6(a) => {
                let n = u128::from(*a);
                // Four words, most significant first; truncation keeps each word's bits.
                for shift in [96u32, 64, 32, 0] {
                    h.word((n >> shift) as u32);
                }
            }
        }
    }
}

impl Key for Endpoint {
    fn feed(&self, h: &mut Hasher) {
        self.ip.feed(h);
        h.word(u32::from(self.port));
    }
}

/// Where a key lives: its bucket and its tag within the bucket.
#[derive(Clone, Copy)]
struct Spot {
    bucket: usize,
    tag: u16,
}

/// A fixed-capacity map from `K` to `V`.
pub struct Table<K: Key, V, const WAYS: usize> {
    /// `tags[b][i]` is the tag of `buckets[b][i]`; slots past the bucket's length are unused.
    tags: Box<[[u16; WAYS]]>,
    /// `stamps[b][i]`: when `buckets[b][i]` was last used, for tables used through
    /// [`Table::touch_or_insert_with`] only (see there).
    stamps: Box<[[u32; WAYS]]>,
    buckets: Box<[HVec<(K, V), WAYS>]>,
    seed: u32,
    len: usize,
}

impl<K: Key, V, const WAYS: usize> Table<K, V, WAYS> {
    /// A table of `buckets` buckets (rounded up to a power of two), holding at most
    /// `buckets * WAYS` entries.
    pub fn new(buckets: usize, seed: u32) -> Self {
        const { assert!(WAYS > 0, "a table needs at least one way") };
        let n = buckets.max(1).next_power_of_two();
        let buckets = (0..n).map(|_| HVec::new()).collect::<Vec<_>>().into_boxed_slice();
        let tags = vec![[0u16; WAYS]; n].into_boxed_slice();
        let stamps = vec![[0u32; WAYS]; n].into_boxed_slice();
        Table { tags, stamps, buckets, seed, len: 0 }
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

    fn spot(&self, k: &K) -> Spot {
        let mut h = Hasher::new(self.seed);
        k.feed(&mut h);
        let h = h.finish();
        // The bucket count is a power of two, so masking picks a bucket uniformly; the
        // tag comes from the other end of the hash, independent of the bucket.
        Spot { bucket: (h as usize) & (self.buckets.len() - 1), tag: (h >> 16) as u16 }
    }

    /// The index of `k` within its bucket.
    fn position(&self, k: &K, at: Spot) -> Option<usize> {
        let bucket = &self.buckets[at.bucket];
        let tags = &self.tags[at.bucket];
        (0..bucket.len()).find(|&i| tags[i] == at.tag && bucket[i].0 == *k)
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        if self.len == 0 {
            return None;
        }
        let at = self.spot(k);
        let i = self.position(k, at)?;
        Some(&self.buckets[at.bucket][i].1)
    }

    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        if self.len == 0 {
            return None;
        }
        let at = self.spot(k);
        let i = self.position(k, at)?;
        Some(&mut self.buckets[at.bucket][i].1)
    }

    pub fn contains(&self, k: &K) -> bool {
        self.get(k).is_some()
    }

    /// Inserts or replaces `k`. If its bucket is full, the entry with the lowest
    /// `rank` is evicted and returned.
    pub fn insert(&mut self, k: K, v: V, rank: impl Fn(&V) -> u64) -> Option<(K, V)> {
        let at = self.spot(&k);
        if let Some(i) = self.position(&k, at) {
            self.buckets[at.bucket][i].1 = v;
            return None;
        }
        let (_, evicted) = self.add(k, v, at, rank, None);
        evicted
    }

    /// The value of `k`, inserted with `make` if missing (evicting, if the bucket is full,
    /// the entry with the lowest `rank`, which is returned too). One lookup, where `get_mut`
    /// then `insert` would take two.
    pub fn get_or_insert_with(&mut self, k: K, make: impl FnOnce() -> V, rank: impl Fn(&V) -> u64) -> (&mut V, Option<(K, V)>) {
        let at = self.spot(&k);
        match self.position(&k, at) {
            Some(i) => (&mut self.buckets[at.bucket][i].1, None),
            None => {
                let (i, evicted) = self.add(k, make(), at, rank, None);
                (&mut self.buckets[at.bucket][i].1, evicted)
            }
        }
    }

    /// The value of `k`, inserted with `make` if missing, marked as used at `stamp` (a
    /// wrapping clock, e.g. milliseconds). A full bucket evicts the entry used longest ago,
    /// which is returned too: least recently used, read from one small array of stamps
    /// rather than from every entry of the bucket (which `rank` closures have to read).
    /// Ages are compared with wrapping arithmetic, so the clock may wrap as long as no
    /// entry goes unused for half its range. A table used through this method must be
    /// used through it alone: other methods leave the stamps as they are.
    pub fn touch_or_insert_with(&mut self, k: K, make: impl FnOnce() -> V, stamp: u32) -> (&mut V, Option<(K, V)>) {
        let at = self.spot(&k);
        let (i, evicted) = match self.position(&k, at) {
            Some(i) => (i, None),
            None => {
                let stamps = &self.stamps[at.bucket];
                let oldest = (0..self.buckets[at.bucket].len()).max_by_key(|&i| stamp.wrapping_sub(stamps[i]));
                self.add(k, make(), at, |_| 0, oldest)
            }
        };
        self.stamps[at.bucket][i] = stamp;
        (&mut self.buckets[at.bucket][i].1, evicted)
    }

    /// Adds a key known to be missing; returns its index in the bucket and what it evicted.
    /// A full bucket evicts `victim` if given, else the entry with the lowest `rank`.
    fn add(&mut self, k: K, v: V, at: Spot, rank: impl Fn(&V) -> u64, victim: Option<usize>) -> (usize, Option<(K, V)>) {
        let bucket = &mut self.buckets[at.bucket];
        let tags = &mut self.tags[at.bucket];
        if bucket.is_full() {
            // WAYS > 0 (checked when the table is made), so a full bucket has a lowest entry.
            let i = victim.filter(|&i| i < bucket.len()).unwrap_or_else(|| (0..bucket.len()).min_by_key(|&i| rank(&bucket[i].1)).unwrap_or(0));
            // Replaced in place, so the tags stay in step with the entries.
            let old = std::mem::replace(&mut bucket[i], (k, v));
            tags[i] = at.tag;
            return (i, Some(old));
        }
        let i = bucket.len();
        // The bucket is not full, so the push succeeds.
        let _ = bucket.push((k, v));
        tags[i] = at.tag;
        self.len += 1;
        (i, None)
    }

    /// Removes entry `i` of bucket `b`, moving the last one into its place (tag too).
    fn take(&mut self, b: usize, i: usize) -> (K, V) {
        let bucket = &mut self.buckets[b];
        let last = bucket.len() - 1;
        self.tags[b][i] = self.tags[b][last];
        self.stamps[b][i] = self.stamps[b][last];
        self.len -= 1;
        bucket.swap_remove(i)
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let at = self.spot(k);
        let i = self.position(k, at)?;
        Some(self.take(at.bucket, i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.buckets.iter().flat_map(|b| b.iter().map(|(k, v)| (k, v)))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.buckets.iter_mut().flat_map(|b| b.iter_mut().map(|(k, v)| (&*k, v)))
    }

    /// Keeps only the entries for which `keep` is true; calls `gone` for each removed one.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool, mut gone: impl FnMut(K, V)) {
        for b in 0..self.buckets.len() {
            let mut i = 0;
            while i < self.buckets[b].len() {
                let (k, v) = &mut self.buckets[b][i];
                if keep(k, v) {
                    i += 1;
                } else {
                    let (k, v) = self.take(b, i);
                    gone(k, v);
                }
            }
        }
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

    #[test]
    fn lookups_agree_with_contents_after_removals_and_evictions() {
        // One bucket, so every removal moves an entry (and its tag) within it.
        let mut t: Table<IpAddr, u64, 8> = Table::new(1, 9);
        let mut present = std::collections::BTreeSet::new();
        for n in 0..200u32 {
            if let Some((gone, _)) = t.insert(ip(n), u64::from(n), |v| *v) {
                assert!(present.remove(&gone));
            }
            present.insert(ip(n));
            if n % 3 == 0 {
                let victim = *present.iter().nth(n as usize % present.len()).unwrap();
                assert!(t.remove(&victim).is_some());
                present.remove(&victim);
            }
            if n % 7 == 0 {
                t.retain(|_, v| *v % 2 == 0, |k, _| assert!(present.remove(&k)));
            }
            assert_eq!(t.len(), present.len());
            for n in 0..=n {
                assert_eq!(t.contains(&ip(n)), present.contains(&ip(n)), "key {n}");
            }
        }
    }

    #[test]
    fn get_or_insert_with_inserts_once() {
        let mut t: Table<IpAddr, u64, 2> = Table::new(1, 4);
        let (v, gone) = t.get_or_insert_with(ip(1), || 5, |v| *v);
        assert_eq!((*v, gone), (5, None));
        *v = 6;
        let (v, _) = t.get_or_insert_with(ip(1), || 99, |v| *v);
        assert_eq!(*v, 6);
        t.get_or_insert_with(ip(2), || 7, |v| *v);
        // Full bucket: the lowest-ranked entry (ip 1, value 6) makes room.
        let (v, gone) = t.get_or_insert_with(ip(3), || 8, |v| *v);
        assert_eq!((*v, gone), (8, Some((ip(1), 6))));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn touch_or_insert_evicts_the_least_recently_used() {
        let mut t: Table<IpAddr, u64, 4> = Table::new(1, 5);
        for n in 0..4u32 {
            t.touch_or_insert_with(ip(n), || u64::from(n), 100 + n);
        }
        // ip 0 is used again, so ip 1 is now the one used longest ago.
        let (v, gone) = t.touch_or_insert_with(ip(0), || 99, 200);
        assert_eq!((*v, gone), (0, None));
        let (_, gone) = t.touch_or_insert_with(ip(10), || 10, 201);
        assert_eq!(gone, Some((ip(1), 1)));
        // Across the clock's wrap: stamps just below u32::MAX are older than small ones.
        let mut t: Table<IpAddr, u64, 2> = Table::new(1, 5);
        t.touch_or_insert_with(ip(1), || 1, u32::MAX - 5);
        t.touch_or_insert_with(ip(2), || 2, 3);
        let (_, gone) = t.touch_or_insert_with(ip(3), || 3, 10);
        assert_eq!(gone, Some((ip(1), 1)));
        // Removal moves the last entry's stamp with it.
        let mut t: Table<IpAddr, u64, 3> = Table::new(1, 5);
        for (n, stamp) in [(1, 5), (2, 30), (3, 60)] {
            t.touch_or_insert_with(ip(n), || u64::from(n), stamp);
        }
        // ip 3 moves into ip 1's slot: with ip 1's stamp (5) it would be evicted next.
        assert_eq!(t.remove(&ip(1)), Some(1));
        t.touch_or_insert_with(ip(4), || 4, 70);
        let (_, gone) = t.touch_or_insert_with(ip(5), || 5, 80);
        assert_eq!(gone, Some((ip(2), 2)), "ip 2 (stamp 30) is the oldest");
    }
}
