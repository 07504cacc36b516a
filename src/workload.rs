//! Seeded workloads that the tests and `tmath-bench` replay: a small generator and the
//! random-size pool workload. Compiled only with the `bench` feature (the tests and the
//! benchmark binary turn it on); not part of the published API.

/// SplitMix64: small, seeded, and good enough to drive test workloads reproducibly.
pub struct Rng(u64);

impl Rng {
    /// A generator whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// `n` floats in `-1..=1`, multiples of 1/1000: the seeded data of the tests' and the
    /// benchmark's operands.
    pub fn floats(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| (self.next_u64() % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// One step of the random-size workload.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Take a tensor of this many `f32` elements.
    Take(u64),
    /// Return the live tensor at this index (of those still live, in taking order).
    Return(usize),
}

/// `count` tensors of uniformly random sizes between 4 KiB and 1 MiB, taken and returned in a
/// random interleaving with at most `max_live` alive at once; every tensor is returned by the end.
pub fn random_size_workload(seed: u64, count: usize, max_live: usize) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    let mut steps = Vec::new();
    let (mut taken, mut live) = (0usize, 0usize);
    while taken < count || live > 0 {
        let take = taken < count && live < max_live && (live == 0 || rng.chance(55));
        if take {
            steps.push(Step::Take(rng.range(1024, 256 * 1024)));
            taken += 1;
            live += 1;
        } else {
            steps.push(Step::Return(rng.range(0, live as u64 - 1) as usize));
            live -= 1;
        }
    }
    steps
}
