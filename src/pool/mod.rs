//! The buffer pool: the seed's `TensorPool`, keyed by size class and buffer kind instead of exact
//! shape. [`policy`] decides (and is tested without a GPU); [`Pool`] carries the decisions out on
//! a `wgpu::Device`. Everything that allocates GPU memory in tmath goes through here.

pub mod policy;

pub use policy::{BufferId, BufferKind, PoolConfig, PoolPolicy, PoolStats, SizeClass};

use crate::error::{Error, Result};
use policy::{Acquire, PolicyError};
use std::collections::HashMap;

/// A buffer handed out by the pool. Give it back with [`Pool::release`] (or drop it with
/// [`Pool::discard`]); the pool never reclaims a lease on its own.
#[derive(Debug)]
pub(crate) struct Lease {
    pub id: BufferId,
    /// At least as large as asked for (its size class).
    pub buffer: wgpu::Buffer,
    /// Whether it came from a free list (a new buffer holds zeros, a reused one old data).
    pub reused: bool,
}

/// GPU buffers by size class and kind, with the policy's caps, budget and eviction applied.
pub(crate) struct Pool {
    policy: PoolPolicy,
    buffers: HashMap<BufferId, wgpu::Buffer>,
}

impl Pool {
    pub fn new(config: PoolConfig) -> Pool {
        Pool {
            policy: PoolPolicy::new(config),
            buffers: HashMap::new(),
        }
    }

    pub fn stats(&self) -> PoolStats {
        self.policy.stats()
    }

    pub fn config(&self) -> &PoolConfig {
        self.policy.config()
    }

    /// A buffer of at least `bytes` for `kind`: an idle one if the policy finds one, else a new one.
    pub fn acquire(
        &mut self,
        device: &wgpu::Device,
        bytes: u64,
        kind: BufferKind,
    ) -> Result<Lease> {
        let decision = self.policy.acquire(bytes, kind).map_err(|e| match e {
            PolicyError::TooLarge { requested, max } => Error::TooLarge {
                what: "buffer",
                requested,
                limit: max,
            },
            other => Error::invalid_argument("pool", other.to_string()),
        })?;
        match decision {
            Acquire::Reuse { id, .. } => Ok(Lease {
                id,
                buffer: self.buffers[&id].clone(),
                reused: true,
            }),
            Acquire::Create { id, bytes } => match create_buffer(device, bytes, kind) {
                Ok(buffer) => {
                    self.buffers.insert(id, buffer.clone());
                    Ok(Lease {
                        id,
                        buffer,
                        reused: false,
                    })
                }
                Err(first) => {
                    // Out of memory: free every idle buffer, then try once more.
                    self.policy.abort_create(id);
                    let idle = self.policy.trim(0);
                    self.destroy_all(idle);
                    let retry = self
                        .policy
                        .acquire(bytes, kind)
                        .map_err(|_| first.clone())?;
                    match create_buffer(device, retry.bytes(), kind) {
                        Ok(buffer) => {
                            self.buffers.insert(retry.id(), buffer.clone());
                            Ok(Lease {
                                id: retry.id(),
                                buffer,
                                reused: false,
                            })
                        }
                        Err(e) => {
                            self.policy.abort_create(retry.id());
                            Err(e)
                        }
                    }
                }
            },
        }
    }

    /// Take a lease back. `Disposed` if it was already returned; `DeviceMismatch` if this pool
    /// did not make it. Either way nothing changes.
    pub fn release(&mut self, lease: &Lease) -> Result<()> {
        let destroy = self.policy.release(lease.id).map_err(|e| match e {
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
            if let Some(buffer) = self.buffers.remove(&lease.id) {
                buffer.destroy();
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
            if let Some(buffer) = self.buffers.remove(&id) {
                buffer.destroy();
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for buffer in self.buffers.values() {
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
    }
}

fn create_buffer(device: &wgpu::Device, bytes: u64, kind: BufferKind) -> Result<wgpu::Buffer> {
    let desc = wgpu::BufferDescriptor {
        label: Some(match kind {
            BufferKind::Storage => "tmath storage",
            BufferKind::Readback => "tmath readback",
            BufferKind::MappableStorage => "tmath mappable storage",
            BufferKind::Upload => "tmath upload staging",
            BufferKind::Uniform => "tmath params",
        }),
        size: bytes,
        usage: usages(kind),
        // A new mappable buffer starts mapped, so the first upload into it needs no map call.
        mapped_at_creation: matches!(kind, BufferKind::MappableStorage | BufferKind::Upload),
    };
    // Natively the error scope resolves at once, so allocation failures become values here. On
    // the web it would need an await; the device's uncaptured-error handler records them instead.
    #[cfg(not(target_arch = "wasm32"))]
    {
        let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = device.create_buffer(&desc);
        if let Some(error) = crate::gpu::block_on(scope.pop()) {
            buffer.destroy();
            return Err(Error::OutOfMemory {
                bytes,
                reason: error.to_string(),
            });
        }
        Ok(buffer)
    }
    #[cfg(target_arch = "wasm32")]
    {
        Ok(device.create_buffer(&desc))
    }
}
