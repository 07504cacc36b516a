//! The pool's policy: size classes, free lists, the per-class cap, the idle-byte budget and
//! least-recently-used eviction. Plain data in, decisions out; no GPU anywhere, so every rule
//! here is unit-tested without an adapter (see `tests` below and `tests/pool_policy.rs`).
//!
//! The GPU side (the crate's `Pool`) asks [`PoolPolicy::acquire`] what to do for a request,
//! creates or reuses the buffer it names, and destroys whatever [`PoolPolicy::release`] and
//! [`PoolPolicy::trim`] hand back.
//!
//! # Size classes
//!
//! A request of `n` bytes is served by a buffer of its [`SizeClass`]:
//!
//! * `n <= min_class_bytes` (default 256 B): one class of exactly `min_class_bytes`;
//! * otherwise, with `2^k < n <= 2^(k+1)`, `n` is rounded up to a multiple of `2^k / 8`: each
//!   power-of-two octave is split into 8 equal steps.
//!
//! Rounding up to a multiple of `2^k / 8` where `2^k < n` adds less than `2^k / 8 < n / 8` bytes,
//! so **a class wastes less than 12.5 % of the request** above the minimum (it is at most
//! `min_class_bytes` below it). Every class is a multiple of 4 bytes, as `copyBufferToBuffer` and
//! `clearBuffer` require. There are 8 classes per octave: 256, 288, 320, …, 480, 512, 576, …
//!
//! # Reuse
//!
//! A request is served, in this order, by
//! 1. the most recently returned idle buffer of its own class and kind (a *hit*);
//! 2. the smallest idle buffer of a larger class of the same kind whose size is at most
//!    `max_reuse_factor` (default 2) times the request (also a *hit*, counted again in
//!    `hits_larger_class`): creating a buffer is the last resort;
//! 3. a new buffer of its class (a *miss*).
//!
//! # Stream order
//!
//! GPU commands run in the order they were recorded. A buffer whose last use is recorded in the
//! pending (not yet submitted) commands may go back to a free list at once, marked *in stream*
//! ([`PoolPolicy::release_in_stream`]): work recorded after that use may write it with no hazard
//! (CUDA's stream-ordered allocator rests on the same rule). Who may take it depends on when the
//! writer runs ([`WriteOrder`]):
//!
//! * [`WriteOrder::InStream`] writers (op, cast and copy outputs, clears, readback copies) are
//!   recorded after the last use: they take in-stream buffers like any other idle buffer;
//! * [`WriteOrder::AheadOfStream`] writers (`writeBuffer`, mapped writes, copies submitted on
//!   their own) run *before* the pending commands, so they would overwrite data that pending work
//!   still reads. They get a settled buffer when one fits; only when every fitting idle buffer is
//!   in stream do they get one of those, and [`PoolPolicy::is_in_stream`] tells the caller it must
//!   order its write into the stream (through a staging copy) or submit first.
//!
//! [`PoolPolicy::stream_submitted`] settles every in-stream buffer once the pending commands are
//! submitted. The policy never destroys anything itself: the caller must keep an evicted
//! in-stream buffer alive until the submission (see the crate's `Pool`).
//!
//! # Caps, budget and eviction
//!
//! Idle buffers are kept while the class holds fewer than `max_per_class` of them and the idle
//! bytes stay within `budget_bytes`; otherwise the least recently returned idle buffers (of any
//! class) are evicted first. A buffer larger than the whole budget is destroyed when returned.

use crate::hashing::{FastMap, FastSet};
use std::collections::BTreeMap;
use std::fmt;

/// What a pooled buffer is for; buffers of different kinds never serve each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BufferKind {
    /// Tensor storage: `STORAGE | COPY_SRC | COPY_DST`.
    Storage,
    /// Readback staging: `MAP_READ | COPY_DST`.
    Readback,
    /// Tensor storage the host can map for writing (`STORAGE | COPY_SRC | COPY_DST | MAP_WRITE`);
    /// only on unified-memory adapters with `MAPPABLE_PRIMARY_BUFFERS`, for the mapped-write route.
    MappableStorage,
    /// Upload staging (`MAP_WRITE | COPY_SRC`), kept mapped while idle so the next upload writes
    /// straight into it; for the staged-write route on discrete GPUs (native).
    Upload,
    /// Uniform parameters of ops (`UNIFORM | COPY_DST`), held by the engine's params arena for
    /// one submission at a time.
    Uniform,
    /// Write staging (`COPY_DST | COPY_SRC`): host writes that must be ordered into the command
    /// stream land here first and are copied on the GPU; held for one submission at a time.
    Staging,
}

impl BufferKind {
    /// All kinds, in a fixed order (for reports).
    pub const ALL: [BufferKind; 6] = [
        BufferKind::Storage,
        BufferKind::Readback,
        BufferKind::MappableStorage,
        BufferKind::Upload,
        BufferKind::Uniform,
        BufferKind::Staging,
    ];

    /// Whether buffers of this kind hold tensors (counted in `hits`/`misses`), as opposed to
    /// staging (counted in `staging_hits`/`staging_misses`).
    pub fn is_tensor_storage(self) -> bool {
        !matches!(
            self,
            BufferKind::Readback | BufferKind::Upload | BufferKind::Uniform | BufferKind::Staging
        )
    }
}

/// When the writer of a requested buffer runs, relative to the pending (recorded, unsubmitted)
/// commands; see the module docs' *Stream order*.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WriteOrder {
    /// Recorded into the pending commands, after every use already recorded (op outputs, casts,
    /// GPU copies, clears): any idle buffer serves, in-stream ones included.
    InStream,
    /// Runs before the pending commands (`writeBuffer`, mapped writes, work submitted on its own):
    /// settled buffers first; an in-stream one only when nothing else fits, and then the caller
    /// orders its write into the stream.
    AheadOfStream,
}

/// The size of the buffers that serve a request; see the module docs for the scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SizeClass(u64);

impl SizeClass {
    /// The class serving a request of `bytes`, with classes starting at `min_class_bytes`.
    ///
    /// `min_class_bytes` is rounded up to a multiple of 4; requests above `u64::MAX / 2` saturate
    /// (they are far beyond any device's limits and rejected by [`PoolPolicy::acquire`]).
    pub fn for_request(bytes: u64, min_class_bytes: u64) -> SizeClass {
        let min = min_class_bytes.max(4).next_multiple_of(4);
        if bytes <= min {
            return SizeClass(min);
        }
        // 2^k < bytes <= 2^(k+1); step = 2^k / 8 (at least 4 so classes stay 4-aligned).
        let k = 63 - (bytes - 1).leading_zeros();
        let step = (1u64 << k).checked_div(8).unwrap_or(1).max(4);
        SizeClass(bytes.div_ceil(step).saturating_mul(step))
    }

    /// Bytes of every buffer in this class.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

/// Plain-data configuration of the pool. `Default` gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    /// Smallest class, in bytes (default 256).
    pub min_class_bytes: u64,
    /// Idle buffers kept per class and kind (default 100, the seed's `max_size`).
    pub max_per_class: usize,
    /// Most bytes kept idle in free lists (default 256 MiB).
    pub budget_bytes: u64,
    /// A larger idle buffer serves a request only if it is at most this many times the request
    /// (default 2).
    pub max_reuse_factor: u64,
    /// Largest buffer the device can create (`maxBufferSize`); larger requests are refused.
    pub max_buffer_bytes: u64,
    /// Most bytes the pool may hold on the device, in use and idle together (default: no limit
    /// but the device's). A request that would pass it first evicts idle buffers, least recently
    /// used first; if the buffers in use alone leave no room it is refused (`OverMemoryLimit`).
    /// Use it to keep tmath inside a share of GPU memory next to other runtimes.
    pub memory_limit_bytes: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            min_class_bytes: 256,
            max_per_class: 100,
            budget_bytes: 256 << 20,
            max_reuse_factor: 2,
            max_buffer_bytes: 256 << 20,
            memory_limit_bytes: u64::MAX,
        }
    }
}

/// Identifies one buffer the pool made. Ids are never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BufferId(pub u64);

/// What to do for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // fields: the buffer and its size
pub enum Acquire {
    /// Hand out this idle buffer of `bytes`.
    Reuse { id: BufferId, bytes: u64 },
    /// Create a buffer of `bytes` and call it `id`.
    Create { id: BufferId, bytes: u64 },
}

impl Acquire {
    /// The buffer the request gets.
    pub fn id(self) -> BufferId {
        match self {
            Acquire::Reuse { id, .. } | Acquire::Create { id, .. } => id,
        }
    }

    /// Its size in bytes (the size class, not the request).
    pub fn bytes(self) -> u64 {
        match self {
            Acquire::Reuse { bytes, .. } | Acquire::Create { bytes, .. } => bytes,
        }
    }
}

/// Why the policy refused something. Nothing changed when one of these is returned.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // fields: the buffer or sizes involved
pub enum PolicyError {
    /// The request exceeds `max_buffer_bytes`.
    TooLarge { requested: u64, max: u64 },
    /// The buffer is already idle in the pool (returned twice).
    AlreadyReturned(BufferId),
    /// The pool did not make this buffer, or already destroyed it.
    NotFromPool(BufferId),
    /// A new buffer of `requested` bytes would take the pool past `memory_limit_bytes` even with
    /// every idle buffer evicted: `in_use` bytes are handed out.
    OverMemoryLimit {
        requested: u64,
        in_use: u64,
        limit: u64,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::TooLarge { requested, max } => write!(
                f,
                "request of {requested} bytes exceeds the device's maxBufferSize of {max} bytes by {} bytes",
                requested - max
            ),
            PolicyError::AlreadyReturned(id) => {
                write!(f, "buffer #{} was already returned to the pool", id.0)
            }
            PolicyError::NotFromPool(id) => {
                write!(f, "buffer #{} was not made by this pool (or was destroyed)", id.0)
            }
            PolicyError::OverMemoryLimit {
                requested,
                in_use,
                limit,
            } => write!(
                f,
                "a new buffer of {requested} bytes does not fit the pool's memory limit of {limit} bytes: {in_use} bytes are in use; dispose tensors you no longer need or raise the limit"
            ),
        }
    }
}

/// The pool's own usage report. Byte counts are buffer sizes (size classes), not requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Tensor-storage requests (`get`, `zeros`, op outputs) served from a free list, of their own
    /// class or a larger one.
    pub hits: u64,
    /// Of `hits`, those served by a larger class.
    pub hits_larger_class: u64,
    /// Tensor-storage requests that needed a new buffer.
    pub misses: u64,
    /// Staging-buffer requests (readback, upload, uniform params) served from a free list.
    pub staging_hits: u64,
    /// Staging-buffer requests that needed a new buffer.
    pub staging_misses: u64,
    /// Buffers the pool created.
    pub buffers_created: u64,
    /// Buffers the pool destroyed (evicted, trimmed, dropped over the cap, or forgotten).
    pub buffers_destroyed: u64,
    /// Bytes of buffers handed out and not yet returned.
    pub bytes_in_use: u64,
    /// Bytes of idle buffers in free lists.
    pub bytes_cached: u64,
    /// High-water mark of `bytes_in_use`.
    pub peak_bytes_in_use: u64,
    /// The idle-byte budget.
    pub budget_bytes: u64,
    /// Idle buffers destroyed by the budget, the per-class cap or `trim`.
    pub evictions: u64,
    /// Buffers handed out and not yet returned.
    pub buffers_in_use: u64,
    /// Idle buffers in free lists.
    pub buffers_cached: u64,
    /// New buffers that did not fit at first (the device refused the allocation, or the memory
    /// limit was reached) and were retried once after evicting idle buffers.
    pub allocation_retries: u64,
}

impl PoolStats {
    /// Requests answered so far, tensor storage and staging together.
    pub fn requests(&self) -> u64 {
        self.hits + self.misses + self.staging_hits + self.staging_misses
    }
}

type ListKey = (BufferKind, SizeClass);

#[derive(Clone, Copy, Debug)]
struct Idle {
    key: ListKey,
    tick: u64,
}

/// The pool's bookkeeping; see the module docs for the rules it applies.
#[derive(Debug)]
pub struct PoolPolicy {
    config: PoolConfig,
    next_id: u64,
    tick: u64,
    /// Per class and kind, idle buffers oldest first.
    free: BTreeMap<ListKey, Vec<(u64, BufferId)>>,
    /// All idle buffers by the time they were returned: eviction order.
    lru: BTreeMap<u64, BufferId>,
    idle: FastMap<BufferId, Idle>,
    in_use: FastMap<BufferId, ListKey>,
    /// Idle buffers evicted by `acquire` to stay within the memory limit, for the caller to
    /// destroy (see [`PoolPolicy::take_evicted`]).
    evicted: Vec<BufferId>,
    /// Buffers returned with [`PoolPolicy::release_in_stream`] since the last submission (idle,
    /// or handed out again to an in-stream writer).
    stream: FastSet<BufferId>,
    stats: PoolStats,
}

impl PoolPolicy {
    /// A policy with `config`; nothing is cached yet.
    pub fn new(config: PoolConfig) -> Self {
        let stats = PoolStats {
            budget_bytes: config.budget_bytes,
            ..PoolStats::default()
        };
        PoolPolicy {
            config,
            next_id: 1,
            tick: 0,
            free: BTreeMap::new(),
            lru: BTreeMap::new(),
            idle: FastMap::default(),
            in_use: FastMap::default(),
            evicted: Vec::new(),
            stream: FastSet::default(),
            stats,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Current usage.
    pub fn stats(&self) -> PoolStats {
        self.stats
    }

    /// The class a request of `bytes` gets, or `TooLarge`.
    pub fn class_for(&self, bytes: u64) -> Result<SizeClass, PolicyError> {
        let max = self.config.max_buffer_bytes;
        if bytes > max {
            return Err(PolicyError::TooLarge {
                requested: bytes,
                max,
            });
        }
        let class = SizeClass::for_request(bytes, self.config.min_class_bytes);
        // Near the device limit the class may round past it; the exact (4-aligned) size still fits.
        let capped = if class.bytes() > max {
            SizeClass(bytes.next_multiple_of(4).min(max / 4 * 4).max(bytes))
        } else {
            class
        };
        Ok(capped)
    }

    /// Decide how to serve a request of `bytes` for `kind` by an in-stream writer
    /// ([`WriteOrder::InStream`]). On `Create`, the caller must create the buffer or call
    /// [`PoolPolicy::abort_create`].
    pub fn acquire(&mut self, bytes: u64, kind: BufferKind) -> Result<Acquire, PolicyError> {
        self.acquire_for(bytes, kind, WriteOrder::InStream)
    }

    /// Decide how to serve a request of `bytes` for `kind` by a writer running in `order`. An
    /// [`WriteOrder::AheadOfStream`] writer that gets a buffer for which
    /// [`PoolPolicy::is_in_stream`] holds must order its write into the stream.
    pub fn acquire_for(
        &mut self,
        bytes: u64,
        kind: BufferKind,
        order: WriteOrder,
    ) -> Result<Acquire, PolicyError> {
        let class = self.class_for(bytes)?;
        let limit = bytes
            .max(1)
            .saturating_mul(self.config.max_reuse_factor.max(1))
            .max(class.bytes());
        let range = (kind, class)..=(kind, SizeClass(limit));
        let stream = &self.stream;
        let settled =
            |list: &Vec<(u64, BufferId)>| list.iter().rposition(|(_, id)| !stream.contains(id));
        // (key, position in its list): the most recently returned fitting buffer of the
        // smallest class, settled ones first for writers ahead of the stream.
        let found = match order {
            WriteOrder::InStream => None,
            WriteOrder::AheadOfStream if stream.is_empty() => None,
            WriteOrder::AheadOfStream => self
                .free
                .range(range.clone())
                .find_map(|(key, list)| settled(list).map(|at| (*key, at))),
        }
        .or_else(|| {
            self.free
                .range(range)
                .find(|(_, list)| !list.is_empty())
                .map(|(key, list)| (*key, list.len() - 1))
        });
        if let Some((key, at)) = found {
            #[allow(clippy::expect_used)] // invariant: `key` was just found in `free`
            let list = self.free.get_mut(&key).expect("key was just found");
            let (tick, id) = list.remove(at);
            if list.is_empty() {
                self.free.remove(&key);
            }
            self.lru.remove(&tick);
            self.idle.remove(&id);
            self.in_use.insert(id, key);
            let size = key.1.bytes();
            if kind.is_tensor_storage() {
                self.stats.hits += 1;
            } else {
                self.stats.staging_hits += 1;
            }
            if key.1 != class {
                self.stats.hits_larger_class += 1;
            }
            self.stats.bytes_cached -= size;
            self.stats.buffers_cached -= 1;
            self.add_in_use(size);
            return Ok(Acquire::Reuse { id, bytes: size });
        }
        let held = self.stats.bytes_in_use + self.stats.bytes_cached;
        if held.saturating_add(class.bytes()) > self.config.memory_limit_bytes {
            let in_use = self.stats.bytes_in_use;
            let limit = self.config.memory_limit_bytes;
            // Evicting idle buffers makes room only if what is in use leaves some.
            if in_use.saturating_add(class.bytes()) > limit {
                return Err(PolicyError::OverMemoryLimit {
                    requested: class.bytes(),
                    in_use,
                    limit,
                });
            }
            let evicted = self.evict_down_to(limit - in_use - class.bytes());
            self.evicted.extend(evicted);
        }
        let id = BufferId(self.next_id);
        self.next_id += 1;
        self.in_use.insert(id, (kind, class));
        if kind.is_tensor_storage() {
            self.stats.misses += 1;
        } else {
            self.stats.staging_misses += 1;
        }
        self.stats.buffers_created += 1;
        self.add_in_use(class.bytes());
        Ok(Acquire::Create {
            id,
            bytes: class.bytes(),
        })
    }

    /// Idle buffers `acquire` evicted to keep within `memory_limit_bytes`; the caller destroys
    /// them. Empty unless a limit is set.
    pub fn take_evicted(&mut self) -> Vec<BufferId> {
        std::mem::take(&mut self.evicted)
    }

    /// The caller could not create the buffer `acquire` asked for: forget it, as if the request
    /// had never been made (nothing was created).
    pub fn abort_create(&mut self, id: BufferId) {
        if let Some((kind, class)) = self.in_use.remove(&id) {
            self.stats.buffers_created -= 1;
            if kind.is_tensor_storage() {
                self.stats.misses -= 1;
            } else {
                self.stats.staging_misses -= 1;
            }
            self.remove_in_use(class.bytes());
        }
    }

    /// Count a new buffer the device refused at first and that is tried again after evicting.
    pub fn note_allocation_retry(&mut self) {
        self.stats.allocation_retries += 1;
    }

    /// Take back a buffer. Returns the buffers to destroy now (possibly the returned one, and any
    /// evicted to respect the cap and the budget).
    pub fn release(&mut self, id: BufferId) -> Result<Vec<BufferId>, PolicyError> {
        self.take_back(id, false)
    }

    /// Take back a buffer whose last use is recorded in pending (unsubmitted) commands: it is
    /// idle at once for in-stream writers, and settles at [`PoolPolicy::stream_submitted`].
    /// Returns the buffers to destroy, as [`PoolPolicy::release`] does; the caller must keep an
    /// in-stream one alive until the submission.
    pub fn release_in_stream(&mut self, id: BufferId) -> Result<Vec<BufferId>, PolicyError> {
        self.take_back(id, true)
    }

    /// Whether `id` was returned in stream since the last submission (idle, or handed out again).
    pub fn is_in_stream(&self, id: BufferId) -> bool {
        self.stream.contains(&id)
    }

    /// Buffers returned in stream and not yet settled (idle or handed out again).
    pub fn in_stream_count(&self) -> usize {
        self.stream.len()
    }

    /// The pending commands were submitted: every in-stream buffer is settled.
    pub fn stream_submitted(&mut self) {
        self.stream.clear();
    }

    fn take_back(&mut self, id: BufferId, in_stream: bool) -> Result<Vec<BufferId>, PolicyError> {
        if self.idle.contains_key(&id) {
            return Err(PolicyError::AlreadyReturned(id));
        }
        let key = self
            .in_use
            .remove(&id)
            .ok_or(PolicyError::NotFromPool(id))?;
        let size = key.1.bytes();
        self.remove_in_use(size);
        if in_stream {
            self.stream.insert(id);
        }
        if size > self.config.budget_bytes || self.config.max_per_class == 0 {
            self.stats.buffers_destroyed += 1;
            self.stats.evictions += 1;
            return Ok(vec![id]);
        }
        let mut destroy = Vec::new();
        // Over the per-class cap: the oldest of the class goes first.
        let class_len = self.free.get(&key).map_or(0, Vec::len);
        if class_len >= self.config.max_per_class {
            if let Some(&(_, oldest)) = self.free.get(&key).and_then(|l| l.first()) {
                self.evict(oldest);
                destroy.push(oldest);
            }
        }
        self.tick += 1;
        let tick = self.tick;
        self.free.entry(key).or_default().push((tick, id));
        self.lru.insert(tick, id);
        self.idle.insert(id, Idle { key, tick });
        self.stats.bytes_cached += size;
        self.stats.buffers_cached += 1;
        destroy.extend(self.evict_down_to(self.config.budget_bytes));
        Ok(destroy)
    }

    /// Evict idle buffers, least recently returned first, until at most `target_bytes` are idle.
    pub fn trim(&mut self, target_bytes: u64) -> Vec<BufferId> {
        self.evict_down_to(target_bytes)
    }

    /// Change the budget; evicts at once if the idle bytes now exceed it.
    pub fn set_budget(&mut self, budget_bytes: u64) -> Vec<BufferId> {
        self.config.budget_bytes = budget_bytes;
        self.stats.budget_bytes = budget_bytes;
        self.evict_down_to(budget_bytes)
    }

    /// Forget a buffer handed out that will never come back (its memory is gone, say with a lost
    /// device). Counted as destroyed.
    pub fn forget(&mut self, id: BufferId) -> Result<(), PolicyError> {
        let key = self
            .in_use
            .remove(&id)
            .ok_or(PolicyError::NotFromPool(id))?;
        self.remove_in_use(key.1.bytes());
        self.stats.buffers_destroyed += 1;
        Ok(())
    }

    /// Whether `id` is handed out now.
    pub fn is_in_use(&self, id: BufferId) -> bool {
        self.in_use.contains_key(&id)
    }

    /// Whether `id` is idle in a free list now.
    pub fn is_idle(&self, id: BufferId) -> bool {
        self.idle.contains_key(&id)
    }

    /// Idle buffers of one kind and class (for reports and tests).
    pub fn idle_in_class(&self, kind: BufferKind, class: SizeClass) -> usize {
        self.free.get(&(kind, class)).map_or(0, Vec::len)
    }

    fn evict_down_to(&mut self, target_bytes: u64) -> Vec<BufferId> {
        let mut destroy = Vec::new();
        while self.stats.bytes_cached > target_bytes {
            let Some((_, &id)) = self.lru.iter().next() else {
                break;
            };
            self.evict(id);
            destroy.push(id);
        }
        destroy
    }

    fn evict(&mut self, id: BufferId) {
        let Some(Idle { key, tick }) = self.idle.remove(&id) else {
            return;
        };
        self.lru.remove(&tick);
        if let Some(list) = self.free.get_mut(&key) {
            list.retain(|&(_, other)| other != id);
            if list.is_empty() {
                self.free.remove(&key);
            }
        }
        self.stats.bytes_cached -= key.1.bytes();
        self.stats.buffers_cached -= 1;
        self.stats.buffers_destroyed += 1;
        self.stats.evictions += 1;
    }

    fn add_in_use(&mut self, bytes: u64) {
        self.stats.bytes_in_use += bytes;
        self.stats.buffers_in_use += 1;
        self.stats.peak_bytes_in_use = self.stats.peak_bytes_in_use.max(self.stats.bytes_in_use);
    }

    fn remove_in_use(&mut self, bytes: u64) {
        self.stats.bytes_in_use -= bytes;
        self.stats.buffers_in_use -= 1;
    }

    /// Check every invariant; `Err` names the first broken one. Used by the tests and cheap
    /// enough for debug assertions.
    pub fn check_invariants(&self) -> Result<(), String> {
        let s = &self.stats;
        if s.bytes_cached > self.config.budget_bytes {
            return Err(format!(
                "cached {} > budget {}",
                s.bytes_cached, self.config.budget_bytes
            ));
        }
        if s.bytes_in_use + s.bytes_cached > self.config.memory_limit_bytes {
            return Err(format!(
                "held {} > memory limit {}",
                s.bytes_in_use + s.bytes_cached,
                self.config.memory_limit_bytes
            ));
        }
        if let Some(id) = self.idle.keys().find(|id| self.in_use.contains_key(id)) {
            return Err(format!("buffer #{} both idle and in use", id.0));
        }
        let listed: usize = self.free.values().map(Vec::len).sum();
        if listed != self.idle.len() || listed != self.lru.len() {
            return Err(format!(
                "free lists hold {listed}, idle map {}, lru {}",
                self.idle.len(),
                self.lru.len()
            ));
        }
        let cached: u64 = self.idle.values().map(|i| i.key.1.bytes()).sum();
        let in_use: u64 = self.in_use.values().map(|k| k.1.bytes()).sum();
        if cached != s.bytes_cached || in_use != s.bytes_in_use {
            return Err(format!(
                "byte counts drifted: cached {cached} vs {}, in use {in_use} vs {}",
                s.bytes_cached, s.bytes_in_use
            ));
        }
        if let Some((key, list)) = self
            .free
            .iter()
            .find(|(_, l)| l.len() > self.config.max_per_class)
        {
            return Err(format!("class {key:?} holds {} > cap", list.len()));
        }
        let live = self.idle.len() as u64 + self.in_use.len() as u64;
        if s.buffers_created - s.buffers_destroyed != live {
            return Err(format!(
                "created {} - destroyed {} != live {live}",
                s.buffers_created, s.buffers_destroyed
            ));
        }
        if s.buffers_cached != self.idle.len() as u64
            || s.buffers_in_use != self.in_use.len() as u64
        {
            return Err("buffer counts drifted".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(budget: u64) -> PoolPolicy {
        PoolPolicy::new(PoolConfig {
            budget_bytes: budget,
            max_buffer_bytes: 1 << 30,
            ..PoolConfig::default()
        })
    }

    #[test]
    fn in_stream_buffers_serve_in_stream_writers_at_once() {
        let mut p = policy(1 << 20);
        let a = p.acquire(1024, BufferKind::Storage).unwrap();
        p.release_in_stream(a.id()).unwrap();
        assert!(p.is_in_stream(a.id()) && p.is_idle(a.id()));
        assert_eq!(p.stats().bytes_in_use, 0, "idle at once");
        let b = p
            .acquire_for(1024, BufferKind::Storage, WriteOrder::InStream)
            .unwrap();
        assert_eq!(b.id(), a.id());
        p.check_invariants().unwrap();
    }

    #[test]
    fn writers_ahead_of_the_stream_prefer_settled_buffers() {
        let mut p = policy(1 << 20);
        let settled = p.acquire(1024, BufferKind::Storage).unwrap();
        let pending = p.acquire(1024, BufferKind::Storage).unwrap();
        p.release(settled.id()).unwrap();
        p.release_in_stream(pending.id()).unwrap();
        // The in-stream one was returned last, but a host write must not land in it.
        let host = p
            .acquire_for(1000, BufferKind::Storage, WriteOrder::AheadOfStream)
            .unwrap();
        assert_eq!(host.id(), settled.id());
        assert!(!p.is_in_stream(host.id()));
        // Only the in-stream one is left: handed out, and flagged so the writer orders its write.
        let again = p
            .acquire_for(1000, BufferKind::Storage, WriteOrder::AheadOfStream)
            .unwrap();
        assert_eq!(again.id(), pending.id());
        assert!(p.is_in_stream(again.id()));
        p.release(again.id()).unwrap();
        p.stream_submitted();
        assert!(!p.is_in_stream(pending.id()));
        assert_eq!(p.in_stream_count(), 0);
        assert_eq!(p.stats().hits, 2);
        p.check_invariants().unwrap();
    }

    #[test]
    fn a_settled_larger_class_beats_an_in_stream_exact_one_for_host_writers() {
        let mut p = policy(1 << 20);
        let exact = p.acquire(1024, BufferKind::Storage).unwrap();
        let larger = p.acquire(1536, BufferKind::Storage).unwrap();
        p.release_in_stream(exact.id()).unwrap();
        p.release(larger.id()).unwrap();
        let host = p
            .acquire_for(1024, BufferKind::Storage, WriteOrder::AheadOfStream)
            .unwrap();
        assert_eq!(host.id(), larger.id());
        let gpu = p.acquire(1024, BufferKind::Storage).unwrap();
        assert_eq!(gpu.id(), exact.id());
    }

    #[test]
    fn classes_waste_less_than_an_eighth_above_the_minimum() {
        for bytes in (1..70_000u64).chain((1..2000).map(|i| i * 7919 + (1 << 20))) {
            let class = SizeClass::for_request(bytes, 256).bytes();
            assert!(class >= bytes, "{bytes} -> {class}");
            assert_eq!(class % 4, 0, "{bytes} -> {class} not 4-aligned");
            if bytes > 256 {
                assert!(
                    (class - bytes) * 8 < bytes,
                    "{bytes} -> {class} wastes >= 12.5%"
                );
            } else {
                assert_eq!(class, 256);
            }
        }
    }

    #[test]
    fn classes_are_eight_per_octave() {
        let classes: Vec<u64> = [257, 300, 320, 352, 384, 416, 448, 480, 512, 513]
            .iter()
            .map(|&b| SizeClass::for_request(b, 256).bytes())
            .collect();
        assert_eq!(classes, [288, 320, 320, 352, 384, 416, 448, 480, 512, 576]);
        assert_eq!(SizeClass::for_request(1 << 20, 256).bytes(), 1 << 20);
        assert_eq!(
            SizeClass::for_request((1 << 20) + 1, 256).bytes(),
            (1 << 20) + (1 << 17)
        );
    }

    #[test]
    fn similar_sizes_share_a_buffer() {
        let mut p = policy(1 << 20);
        let a = p.acquire(1000, BufferKind::Storage).unwrap();
        assert!(matches!(a, Acquire::Create { bytes: 1024, .. }));
        p.release(a.id()).unwrap();
        // 1000 and 1020 bytes are both in the 1024 class.
        let b = p.acquire(1020, BufferKind::Storage).unwrap();
        assert_eq!(
            b,
            Acquire::Reuse {
                id: a.id(),
                bytes: 1024
            }
        );
        let s = p.stats();
        assert_eq!((s.hits, s.misses, s.buffers_created), (1, 1, 1));
    }

    #[test]
    fn a_larger_idle_buffer_up_to_twice_the_request_serves_a_miss() {
        let mut p = policy(1 << 20);
        let big = p.acquire(4000, BufferKind::Storage).unwrap(); // class 4096
        p.release(big.id()).unwrap();
        // 1500 bytes: class 1536; 4096 > 2 * 1500, so a new buffer.
        let small = p.acquire(1500, BufferKind::Storage).unwrap();
        assert!(matches!(small, Acquire::Create { bytes: 1536, .. }));
        // 2100 bytes: class 2304; 4096 <= 4200, so the idle 4096 buffer serves it.
        let mid = p.acquire(2100, BufferKind::Storage).unwrap();
        assert_eq!(
            mid,
            Acquire::Reuse {
                id: big.id(),
                bytes: 4096
            }
        );
        assert_eq!(p.stats().hits_larger_class, 1);
        p.check_invariants().unwrap();
    }

    #[test]
    fn the_smallest_fitting_larger_class_is_chosen() {
        let mut p = policy(1 << 20);
        let a = p.acquire(4000, BufferKind::Storage).unwrap();
        let b = p.acquire(3000, BufferKind::Storage).unwrap(); // class 3072
        p.release(a.id()).unwrap();
        p.release(b.id()).unwrap();
        let c = p.acquire(2500, BufferKind::Storage).unwrap(); // class 2560
        assert_eq!(c.id(), b.id());
    }

    #[test]
    fn kinds_never_serve_each_other() {
        let mut p = policy(1 << 20);
        let a = p.acquire(1024, BufferKind::Readback).unwrap();
        p.release(a.id()).unwrap();
        let b = p.acquire(1024, BufferKind::Storage).unwrap();
        assert!(matches!(b, Acquire::Create { .. }));
        let c = p.acquire(1024, BufferKind::Readback).unwrap();
        assert_eq!(c.id(), a.id());
        let s = p.stats();
        assert_eq!(
            (s.hits, s.misses, s.staging_hits, s.staging_misses),
            (0, 1, 1, 1)
        );
    }

    #[test]
    fn returning_twice_or_a_stranger_is_an_error_and_changes_nothing() {
        let mut p = policy(1 << 20);
        let a = p.acquire(1024, BufferKind::Storage).unwrap();
        p.release(a.id()).unwrap();
        let before = p.stats();
        assert_eq!(p.release(a.id()), Err(PolicyError::AlreadyReturned(a.id())));
        assert_eq!(
            p.release(BufferId(999)),
            Err(PolicyError::NotFromPool(BufferId(999)))
        );
        assert_eq!(p.stats(), before);
        p.check_invariants().unwrap();
    }

    #[test]
    fn too_large_requests_are_refused_without_side_effects() {
        let mut p = PoolPolicy::new(PoolConfig {
            max_buffer_bytes: 1 << 20,
            ..PoolConfig::default()
        });
        let err = p.acquire((1 << 20) + 1, BufferKind::Storage).unwrap_err();
        assert_eq!(
            err,
            PolicyError::TooLarge {
                requested: (1 << 20) + 1,
                max: 1 << 20
            }
        );
        assert_eq!(p.stats().requests(), 0);
        // Just under the limit the class would round past it; the buffer is capped instead.
        let near = p.acquire((1 << 20) - 100, BufferKind::Storage).unwrap();
        assert!(near.bytes() <= 1 << 20 && near.bytes() >= (1 << 20) - 100);
    }

    #[test]
    fn the_budget_evicts_least_recently_returned_first() {
        let mut p = policy(3 * 1024);
        let ids: Vec<_> = (0..4)
            .map(|_| p.acquire(1024, BufferKind::Storage).unwrap().id())
            .collect();
        for &id in &ids[..3] {
            assert!(p.release(id).unwrap().is_empty());
        }
        // The fourth return pushes idle bytes to 4 KiB: the first returned goes.
        assert_eq!(p.release(ids[3]).unwrap(), vec![ids[0]]);
        assert_eq!(p.stats().bytes_cached, 3 * 1024);
        assert_eq!(p.stats().evictions, 1);
        p.check_invariants().unwrap();
    }

    #[test]
    fn a_buffer_larger_than_the_budget_is_destroyed_on_return() {
        let mut p = policy(1000);
        let a = p.acquire(4096, BufferKind::Storage).unwrap();
        assert_eq!(p.release(a.id()).unwrap(), vec![a.id()]);
        assert_eq!(p.stats().bytes_cached, 0);
        p.check_invariants().unwrap();
    }

    #[test]
    fn the_per_class_cap_drops_the_oldest() {
        let mut p = PoolPolicy::new(PoolConfig {
            max_per_class: 2,
            ..PoolConfig::default()
        });
        let ids: Vec<_> = (0..3)
            .map(|_| p.acquire(512, BufferKind::Storage).unwrap().id())
            .collect();
        p.release(ids[0]).unwrap();
        p.release(ids[1]).unwrap();
        assert_eq!(p.release(ids[2]).unwrap(), vec![ids[0]]);
        assert_eq!(
            p.idle_in_class(BufferKind::Storage, SizeClass::for_request(512, 256)),
            2
        );
        p.check_invariants().unwrap();
    }

    #[test]
    fn trim_frees_down_to_the_target() {
        let mut p = policy(1 << 20);
        let ids: Vec<_> = (0..8)
            .map(|_| p.acquire(4096, BufferKind::Storage).unwrap().id())
            .collect();
        for &id in &ids {
            p.release(id).unwrap();
        }
        let freed = p.trim(10_000);
        assert_eq!(freed, ids[..6].to_vec());
        assert_eq!(p.stats().bytes_cached, 8192);
        assert!(p.trim(0).len() == 2);
        p.check_invariants().unwrap();
    }

    #[test]
    fn abort_create_undoes_the_creation() {
        let mut p = policy(1 << 20);
        let a = p.acquire(4096, BufferKind::Storage).unwrap();
        p.abort_create(a.id());
        let s = p.stats();
        assert_eq!((s.buffers_created, s.bytes_in_use, s.misses), (0, 0, 0));
        let b = p.acquire(64, BufferKind::Readback).unwrap();
        assert!(matches!(b, Acquire::Create { .. }));
        assert_eq!((p.stats().misses, p.stats().staging_misses), (0, 1));
        assert_eq!(p.release(a.id()), Err(PolicyError::NotFromPool(a.id())));
        p.check_invariants().unwrap();
    }

    fn limited(limit: u64) -> PoolPolicy {
        PoolPolicy::new(PoolConfig {
            memory_limit_bytes: limit,
            max_buffer_bytes: 1 << 30,
            ..PoolConfig::default()
        })
    }

    #[test]
    fn the_memory_limit_evicts_least_recently_used_idle_buffers_first() {
        let mut p = limited(16 << 10);
        let ids: Vec<_> = (0..4)
            .map(|_| p.acquire(4096, BufferKind::Storage).unwrap().id())
            .collect();
        for &id in &ids {
            p.release(id).unwrap();
        }
        // 16 KiB idle; an 8 KiB request (no idle buffer of its size) needs two of them gone.
        let big = p.acquire(8192, BufferKind::Storage).unwrap();
        assert!(matches!(big, Acquire::Create { .. }));
        assert_eq!(p.take_evicted(), ids[..2].to_vec());
        assert!(p.take_evicted().is_empty());
        let s = p.stats();
        assert_eq!(
            (s.bytes_in_use, s.bytes_cached, s.evictions),
            (8192, 8192, 2)
        );
        p.check_invariants().unwrap();
    }

    #[test]
    fn a_request_the_buffers_in_use_leave_no_room_for_is_refused_and_changes_nothing() {
        let mut p = limited(16 << 10);
        let a = p.acquire(12 << 10, BufferKind::Storage).unwrap();
        let b = p.acquire(1024, BufferKind::Storage).unwrap();
        p.release(b.id()).unwrap();
        let before = p.stats();
        let refused = p.acquire(8192, BufferKind::Storage);
        assert_eq!(
            refused,
            Err(PolicyError::OverMemoryLimit {
                requested: 8192,
                in_use: 12 << 10,
                limit: 16 << 10
            })
        );
        assert_eq!(p.stats(), before);
        assert!(p.take_evicted().is_empty());
        // A request an idle buffer serves needs no room.
        assert!(matches!(
            p.acquire(1000, BufferKind::Storage),
            Ok(Acquire::Reuse { .. })
        ));
        p.release(a.id()).unwrap();
        p.check_invariants().unwrap();
    }
}
