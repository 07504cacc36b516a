//! The buffer pool: the seed's `TensorPool`, keyed by size class and buffer kind instead of exact
//! shape. [`policy`] decides (and is tested without a GPU); the crate's `Pool` carries the
//! decisions out on a `wgpu::Device`. Everything that allocates GPU memory in tmath goes through
//! here.
//!
//! # Stream-ordered release
//!
//! A lease whose buffer pending (recorded, unsubmitted) commands still use goes back with
//! `release(lease, true)`: it is idle at once for writers recorded after that use (see
//! [`policy`]'s *Stream order*), so a chain of ops in one task reuses the same few buffers
//! instead of taking a new one per op. Destroying a buffer the pending commands name would make
//! the submission invalid, so while a stream is open (`Pool::stream_opened`) every buffer the
//! policy evicts is kept until `Pool::stream_submitted`, and destroyed then.

pub mod policy;

pub use policy::{BufferId, BufferKind, PoolConfig, PoolPolicy, PoolStats, SizeClass, WriteOrder};

use crate::error::{Error, Result};
use crate::hashing::FastMap;
use policy::{Acquire, PolicyError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A buffer handed out by the pool. Give it back with [`Pool::release`] (or drop it with
/// [`Pool::discard`]); the pool never reclaims a lease on its own.
#[derive(Debug)]
pub(crate) struct Lease {
    pub id: BufferId,
    /// At least as large as asked for (its size class).
    pub buffer: wgpu::Buffer,
    /// Whether it came from a free list (a new buffer holds zeros, a reused one old data).
    pub reused: bool,
    /// Set when the device refused the allocation after the fact (on the web, where the
    /// out-of-memory error scope resolves later): the buffer holds nothing and is never reused.
    pub refused: Arc<AtomicBool>,
}

impl Lease {
    /// Whether the device refused this buffer's allocation.
    pub fn is_refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }
}

/// A buffer the pool made, and whether the device refused it after the fact.
struct Made {
    buffer: wgpu::Buffer,
    refused: Arc<AtomicBool>,
}

/// GPU buffers by size class and kind, with the policy's caps, budget and eviction applied.
pub(crate) struct Pool {
    policy: PoolPolicy,
    buffers: FastMap<BufferId, Made>,
    /// Whether pending commands exist (buffers they name must outlive their submission).
    stream_open: bool,
    /// Buffers evicted while the stream was open, destroyed at the next submission.
    doomed: Vec<wgpu::Buffer>,
}

impl Pool {
    pub fn new(config: PoolConfig) -> Pool {
        Pool {
            policy: PoolPolicy::new(config),
            buffers: FastMap::default(),
            stream_open: false,
            doomed: Vec::new(),
        }
    }

    /// Pending commands now exist: buffers evicted from here on are destroyed only after the
    /// submission.
    pub fn stream_opened(&mut self) {
        self.stream_open = true;
    }

    /// The pending commands were submitted: in-stream buffers settle, and buffers evicted while
    /// they were pending are destroyed.
    pub fn stream_submitted(&mut self) {
        self.stream_open = false;
        self.policy.stream_submitted();
        for buffer in self.doomed.drain(..) {
            buffer.destroy();
        }
    }

    pub fn stats(&self) -> PoolStats {
        self.policy.stats()
    }

    pub fn config(&self) -> &PoolConfig {
        self.policy.config()
    }

    /// A buffer of at least `bytes` for `kind`, for a writer running in `order`: an idle one if
    /// the policy finds one, else a new one. A new buffer the device refuses (out of memory) is
    /// tried once more after every idle buffer is freed; then `OutOfMemory`, with nothing created
    /// and nothing handed out.
    pub fn acquire(
        &mut self,
        device: &wgpu::Device,
        bytes: u64,
        kind: BufferKind,
        order: WriteOrder,
    ) -> Result<Lease> {
        let decision = self.decide(bytes, kind, order)?;
        let (id, bytes) = match decision {
            Acquire::Reuse { id, .. } => {
                #[allow(clippy::indexing_slicing)] // invariant: every id the policy holds is made
                let made = &self.buffers[&id];
                return Ok(Lease {
                    id,
                    buffer: made.buffer.clone(),
                    reused: true,
                    refused: Arc::clone(&made.refused),
                });
            }
            Acquire::Create { id, bytes } => (id, bytes),
        };
        let created = match create_buffer(device, bytes, kind) {
            Ok(buffer) => Ok((id, buffer)),
            Err(first) => {
                self.policy.abort_create(id);
                self.policy.note_allocation_retry();
                let idle = self.policy.trim(0);
                self.destroy_all(idle);
                match self.decide(bytes, kind, order)? {
                    // Nothing is idle any more, so this is always a creation.
                    Acquire::Reuse { .. } => Err(first),
                    Acquire::Create { id, bytes } => match create_buffer(device, bytes, kind) {
                        Ok(buffer) => Ok((id, buffer)),
                        Err(e) => {
                            self.policy.abort_create(id);
                            Err(e)
                        }
                    },
                }
            }
        };
        let (id, (buffer, refused)) = created?;
        self.buffers.insert(
            id,
            Made {
                buffer: buffer.clone(),
                refused: Arc::clone(&refused),
            },
        );
        Ok(Lease {
            id,
            buffer,
            reused: false,
            refused,
        })
    }

    /// The policy's decision, with the buffers it evicted for the memory limit destroyed.
    fn decide(&mut self, bytes: u64, kind: BufferKind, order: WriteOrder) -> Result<Acquire> {
        let decision = self.policy.acquire_for(bytes, kind, order);
        let evicted = self.policy.take_evicted();
        self.destroy_all(evicted);
        decision.map_err(|e| match e {
            PolicyError::TooLarge { requested, max } => Error::TooLarge {
                what: "buffer",
                requested,
                limit: max,
            },
            PolicyError::OverMemoryLimit { requested, .. } => Error::OutOfMemory {
                bytes: requested,
                reason: e.to_string(),
            },
            other => Error::invalid_argument("pool", other.to_string()),
        })
    }

    /// Take a lease back; `in_stream` when pending commands still use its buffer. `Disposed` if
    /// it was already returned; `DeviceMismatch` if this pool did not make it. Either way nothing
    /// changes.
    pub fn release(&mut self, lease: &Lease, in_stream: bool) -> Result<()> {
        if lease.is_refused() && self.policy.is_in_use(lease.id) {
            // Never reuse a buffer the device refused; free idle memory for the next request.
            self.discard(lease);
            let idle = self.policy.trim(0);
            self.destroy_all(idle);
            return Ok(());
        }
        let released = if in_stream {
            self.policy.release_in_stream(lease.id)
        } else {
            self.policy.release(lease.id)
        };
        let destroy = released.map_err(|e| match e {
            PolicyError::AlreadyReturned(_) => {
                Error::disposed("the tensor's buffer (already returned to the pool)")
            }
            other => Error::DeviceMismatch {
                reason: format!("{other}; put() takes tensors made by this engine's pool"),
            },
        })?;
        self.destroy_all(destroy);
        Ok(())
    }

    /// Destroy a leased buffer instead of returning it (its contents can never be trusted again,
    /// or its device is gone).
    pub fn discard(&mut self, lease: &Lease) {
        if self.policy.forget(lease.id).is_ok() {
            if let Some(made) = self.buffers.remove(&lease.id) {
                self.destroy(made.buffer);
            }
        }
    }

    /// Free idle buffers, least recently used first, until at most `target_bytes` are idle.
    /// Returns the bytes freed.
    pub fn trim(&mut self, target_bytes: u64) -> u64 {
        let before = self.policy.stats().bytes_cached;
        let ids = self.policy.trim(target_bytes);
        self.destroy_all(ids);
        before - self.policy.stats().bytes_cached
    }

    /// Change the idle-byte budget, evicting at once if needed.
    pub fn set_budget(&mut self, budget_bytes: u64) {
        let ids = self.policy.set_budget(budget_bytes);
        self.destroy_all(ids);
    }

    fn destroy_all(&mut self, ids: Vec<BufferId>) {
        for id in ids {
            if let Some(made) = self.buffers.remove(&id) {
                self.destroy(made.buffer);
            }
        }
    }

    fn destroy(&mut self, buffer: wgpu::Buffer) {
        if self.stream_open {
            self.doomed.push(buffer);
        } else {
            buffer.destroy();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for made in self.buffers.values() {
            made.buffer.destroy();
        }
        for buffer in &self.doomed {
            buffer.destroy();
        }
    }
}

/// The usages of each kind. Storage buffers can be copied in and out and cleared; readback
/// buffers are the `MAP_READ` end of a copy.
pub(crate) fn usages(kind: BufferKind) -> wgpu::BufferUsages {
    use wgpu::BufferUsages as U;
    match kind {
        BufferKind::Storage => U::STORAGE | U::COPY_SRC | U::COPY_DST,
        BufferKind::Readback => U::MAP_READ | U::COPY_DST,
        BufferKind::MappableStorage => U::STORAGE | U::COPY_SRC | U::COPY_DST | U::MAP_WRITE,
        BufferKind::Upload => U::MAP_WRITE | U::COPY_SRC,
        BufferKind::Uniform => U::UNIFORM | U::COPY_DST,
        BufferKind::Staging => U::COPY_DST | U::COPY_SRC,
    }
}

fn create_buffer(
    device: &wgpu::Device,
    bytes: u64,
    kind: BufferKind,
) -> Result<(wgpu::Buffer, Arc<AtomicBool>)> {
    let desc = wgpu::BufferDescriptor {
        label: Some(match kind {
            BufferKind::Storage => "tmath storage",
            BufferKind::Readback => "tmath readback",
            BufferKind::MappableStorage => "tmath mappable storage",
            BufferKind::Upload => "tmath upload staging",
            BufferKind::Uniform => "tmath params",
            BufferKind::Staging => "tmath write staging",
        }),
        size: bytes,
        usage: usages(kind),
        // A new mappable buffer starts mapped, so the first upload into it needs no map call.
        mapped_at_creation: matches!(kind, BufferKind::MappableStorage | BufferKind::Upload),
    };
    let refused = Arc::new(AtomicBool::new(false));
    let buffer =
        crate::platform::out_of_memory_scope(device, &refused, || device.create_buffer(&desc));
    let buffer = buffer.map_err(|(buffer, reason)| {
        buffer.destroy();
        Error::OutOfMemory { bytes, reason }
    })?;
    Ok((buffer, refused))
}
