//! Counters shared by every part of the engine: what each operation cost in copies, crossings,
//! conversions, submissions, dispatches, bind groups and params writes (JS: `engine.stats()`,
//! camelCase; `tests/js/lists.test.mjs` keeps the names in step).

pub use crate::pool::PoolStats;

/// Data movement and GPU work the engine did. All counters only grow; take the difference
/// across a call to get its cost ("per operation" in the docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Copies of tensor data: host→GPU writes, GPU→GPU copies (staging included), GPU→host reads,
    /// host-side conversions.
    pub copies: u64,
    /// Bytes moved by those copies.
    pub copy_bytes: u64,
    /// Times tensor data crossed a memory domain (host ↔ GPU, device A ↔ device B).
    pub crossings: u64,
    /// Dtype casts executed (GPU or host).
    pub conversions: u64,
    /// Queue submissions.
    pub submits: u64,
    /// Compute dispatches.
    pub dispatches: u64,
    /// Bind groups created (a chain of ops over repeating buffers reuses cached ones).
    pub bind_groups: u64,
    /// Queue writes of ops' params: one per submission that records ops, not one per op.
    pub param_writes: u64,
}

/// A snapshot of everything the engine counts: its own [`Counters`] and the pool's
/// [`PoolStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// The buffer pool's usage.
    pub pool: PoolStats,
    /// Copies, crossings, conversions, submits and dispatches.
    pub counters: Counters,
}
