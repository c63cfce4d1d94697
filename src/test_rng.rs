//! Deterministic pseudo-random numbers for tests, so a failing run reproduces and no
//! crate is needed. One file for every test: the crate's unit tests compile it as
//! `crate::test_rng` (`#[cfg(test)]` in lib.rs), the integration tests include the same file
//! from tests/common/mod.rs. Each test picks its own seed; changing an algorithm here changes
//! the inputs of every test that uses it.
// Each test binary uses only part of this file.
#![allow(dead_code)]

/// Marsaglia's xorshift32 (shifts 13, 17, 5). The state must not be 0 (it would stay 0).
pub struct XorShift32(pub u32);

impl XorShift32 {
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// `n` bytes of noise: the top byte of each next value (the low bits are the weakest).
    pub fn noise(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next_u32() >> 24) as u8).collect()
    }
}

/// xorshift64* (shifts 12, 25, 27, then a multiply): better low bits than xorshift32.
pub struct XorShift64Star(pub u64);

impl XorShift64Star {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (slightly biased; fine for tests). `n` must not be 0.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Fills `b` with the little-endian bytes of successive values.
    pub fn fill(&mut self, b: &mut [u8]) {
        for chunk in b.chunks_mut(8) {
            let r = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&r[..chunk.len()]);
        }
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0; n];
        self.fill(&mut v);
        v
    }
}
