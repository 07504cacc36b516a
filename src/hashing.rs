//! A fast hasher for the crate's internal maps (pool bookkeeping, the bind-group and pipeline
//! caches, the params arena), which every op touches several times.
//!
//! std's default, SipHash with random keys, resists collision attacks on keys an adversary
//! chooses; these keys are buffer ids, kernel descriptions and op parameters from the process's
//! own code, where an attacker could only slow their own page. In Chromium the SipHash rounds
//! were 5% of a `pool.get` + `put` pair's time. This is the multiply-rotate hash of rustc's
//! `FxHasher`: one multiplication per 8 bytes.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
/// A `HashSet` with [`FastHasher`].
pub(crate) type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

/// rustc's `FxHasher` (multiply-rotate over 8-byte words): fast, not collision-resistant.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            self.add(u64::from_le_bytes(w));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let word = rest
                .iter()
                .enumerate()
                .fold(0u64, |w, (i, b)| w | u64::from(*b) << (8 * i));
            // The length keeps "ab" and "ab\0" apart.
            self.add(word ^ ((rest.len() as u64) << 56));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_keys_hash_equal_and_nearby_keys_apart() {
        let hash = |bytes: &[u8]| {
            let mut h = FastHasher::default();
            h.write(bytes);
            h.finish()
        };
        assert_eq!(hash(b"params"), hash(b"params"));
        assert_ne!(hash(b"ab"), hash(b"ab\0"));
        assert_ne!(
            hash(&[1, 0, 0, 0, 0, 0, 0, 0, 2]),
            hash(&[1, 0, 0, 0, 0, 0, 0, 0, 3])
        );
        // Sequential ids (buffer ids) fill a table of 64 buckets one each: the table indexes by
        // the low bits, which the odd multiplier permutes.
        let mut set = FastSet::default();
        let buckets: std::collections::HashSet<u64> = (0..64u64)
            .map(|i| {
                set.insert(i);
                let mut h = FastHasher::default();
                h.write_u64(i);
                h.finish() & 63
            })
            .collect();
        assert_eq!(buckets.len(), 64);
        assert_eq!(set.len(), 64);
    }
}
