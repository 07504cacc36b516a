//! A fast hasher for the crate's internal maps (pool bookkeeping, the bind-group and pipeline
//! caches, the params arena), which every op touches several times.
//!
//! std's default, SipHash with random keys, resists collision attacks on keys an adversary
//! chooses; these keys are buffer ids, kernel descriptions and op parameters from the process's
//! own code, where an attacker could only slow their own page. In Chromium the SipHash rounds
//! were 5% of a `pool.get` + `put` pair's time. This is the multiply-rotate hash of rustc's
//! `FxHasher`: one multiplication per 8 bytes, each word's upper half folded into its lower one.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`FastHasher`].
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;
/// A `HashSet` with [`FastHasher`].
pub(crate) type FastSet<K> = HashSet<K, BuildHasherDefault<FastHasher>>;

/// rustc's `FxHasher` (multiply-rotate over 8-byte words, upper halves folded in): fast, not
/// collision-resistant.
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    /// The word's upper half is folded into its lower one first: a multiplication carries bits
    /// only upward, and `HashMap` picks buckets (and, on wasm32, the tags that probes compare
    /// first) from the hash's low 32 bits. Without the fold, keys that differ only in a word's
    /// upper half (a shape's dim after its dtype code, two 4-byte usizes in one word on wasm32;
    /// a params struct's odd fields) shared one probe sequence, and every lookup compared keys
    /// one by one: after 500 distinct shapes had been disposed, a `pool.get` + `put` took
    /// 2.5 µs instead of 0.8. The fold is a bijection, so it adds no collisions of whole
    /// hashes, and leaves words under 2³² (buffer ids) as they were.
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word ^ (word >> 32)).wrapping_mul(SEED);
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
    }

    /// The buckets (low 10 bits) `count` keys made by `key` fall into.
    fn buckets(count: u64, key: impl Fn(u64, &mut FastHasher)) -> usize {
        (0..count)
            .map(|i| {
                let mut h = FastHasher::default();
                key(i, &mut h);
                h.finish() & 1023
            })
            .collect::<std::collections::HashSet<u64>>()
            .len()
    }

    #[test]
    fn keys_spread_over_the_low_bits_the_table_indexes_by() {
        // 1,024 keys into 1,024 buckets: random hashes fill about 647 (1 - 1/e); a hash whose low
        // bits ignore the keys' differences fills one.
        let spread = |filled: usize| assert!(filled > 550, "{filled} of 1024 buckets filled");
        // Sequential buffer ids fill every bucket: the odd multiplier permutes the low bits.
        assert_eq!(buckets(1024, |i, h| h.write_u64(i)), 1024);
        assert_eq!(buckets(1024, |i, h| h.write_u64(i + 1_000_000)), 1024);
        // Keys that differ only in a word's upper half: a shape's dim after its dtype code
        // (two 4-byte usizes in one word on wasm32), a params struct's second field.
        spread(buckets(1024, |i, h| {
            let mut bytes = [0u8; 8];
            bytes[4..].copy_from_slice(&(262_144 - i as u32).to_le_bytes());
            h.write_usize(2);
            h.write(&bytes);
        }));
        spread(buckets(1024, |i, h| {
            let params = [64u32, 64 + i as u32, 64, 0, 0, 0];
            h.write(
                &params
                    .iter()
                    .flat_map(|p| p.to_le_bytes())
                    .collect::<Vec<u8>>(),
            );
        }));
    }
}
