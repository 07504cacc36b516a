//! `Tensor`: a small handle over a pooled buffer lease, with shape and dtype.

use crate::context::Shared;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::pool::Lease;
use crate::shape::{byte_len, Shape};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Where a tensor's bytes live.
#[derive(Debug)]
pub(crate) enum Storage {
    /// A buffer leased from the engine's pool; returned on dispose.
    Pooled(Lease),
    /// A buffer the caller handed over (`adopt`); dropped (never destroyed) on dispose. (Made
    /// by the native adopt route, `native/mod.rs`; the web adopts `GPUBuffer`s as `Foreign`.)
    #[allow(dead_code)]
    Adopted(wgpu::Buffer),
    /// A buffer wgpu did not create, handed over (`adopt`): on the web a foreign `GPUBuffer`,
    /// reached through raw WebGPU calls (there is no such buffer natively; only the web's
    /// adopt route, `web/transfer.rs`, makes one).
    #[allow(dead_code)]
    Foreign(crate::platform::ForeignBuffer),
}

impl Storage {
    pub fn buffer(&self) -> Option<&wgpu::Buffer> {
        match self {
            Storage::Pooled(lease) => Some(&lease.buffer),
            Storage::Adopted(buffer) => Some(buffer),
            Storage::Foreign(_) => None,
        }
    }
}

/// A tensor on the GPU: a shape, a dtype and a buffer leased from its engine's pool.
///
/// Clones are handles to the same tensor. The buffer goes back to the pool on [`Tensor::dispose`]
/// (or [`crate::PoolHandle::put`]), or when the last handle is dropped; after `dispose` every use
/// is a `Disposed` error. The buffer may be larger than [`Tensor::byte_len`] (its size class);
/// bytes past the tensor's end are unspecified.
#[derive(Clone)]
pub struct Tensor {
    inner: Arc<TensorInner>,
}

struct TensorInner {
    shared: Arc<Shared>,
    shape: Shape,
    dtype: DType,
    byte_len: u64,
    storage: Mutex<Option<Storage>>,
    /// Set when an asynchronous check found the tensor's data invalid (a foreign buffer of
    /// another device, say); every later use reports it.
    fault: Mutex<Option<Error>>,
}

impl Tensor {
    pub(crate) fn from_lease(
        shared: Arc<Shared>,
        shape: Shape,
        dtype: DType,
        lease: Lease,
    ) -> Tensor {
        Tensor::new(shared, shape, dtype, Storage::Pooled(lease))
    }

    pub(crate) fn new(shared: Arc<Shared>, shape: Shape, dtype: DType, storage: Storage) -> Tensor {
        #[allow(clippy::expect_used)] // invariant: checked when the lease or storage was sized
        let byte_len = byte_len(&shape, dtype).expect("checked when the lease was sized");
        #[allow(clippy::arc_with_non_send_sync)] // wgpu's web types are not Send; one thread there.
        let inner = Arc::new(TensorInner {
            shared,
            shape,
            dtype,
            byte_len,
            storage: Mutex::new(Some(storage)),
            fault: Mutex::new(None),
        });
        Tensor { inner }
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.inner.shape
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.inner.dtype
    }

    /// Bytes of tensor data (elements × element size; 16-bit types packed).
    pub fn byte_len(&self) -> u64 {
        self.inner.byte_len
    }

    /// Whether the tensor was disposed.
    pub fn is_disposed(&self) -> bool {
        self.storage().is_none()
    }

    /// Whether two handles are the same tensor.
    pub fn same_as(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The GPU buffer holding the data, for use by other code on the engine's device. Pending
    /// tmath work is submitted first, so work submitted afterwards sees the tensor's contents.
    pub fn buffer(&self) -> Result<wgpu::Buffer> {
        let shared = &self.inner.shared;
        shared.gpu.check_alive()?;
        let mut state = shared.lock();
        let buffer = self.raw_buffer()?;
        state.flush();
        Ok(buffer)
    }

    /// Return the buffer to the pool. `Disposed` if this tensor was already disposed.
    pub fn dispose(&self) -> Result<()> {
        let mut state = self.inner.shared.lock();
        let storage = self
            .storage()
            .take()
            .ok_or_else(|| Error::disposed(self.describe()))?;
        if let Storage::Pooled(lease) = storage {
            state.release(lease);
        }
        Ok(())
    }

    /// Read the tensor's bytes back (packed, little-endian as the GPU stores them). Tensors
    /// larger than [`crate::EngineConfig::transfer_chunk_bytes`] move through a bounded ring of
    /// staging buffers, chunk by chunk.
    pub async fn to_host_bytes(&self) -> Result<Vec<u8>> {
        read_back_as::<u8>(self).await
    }

    /// Read the tensor's bytes back into `out`, which must be exactly [`Tensor::byte_len`]
    /// bytes long (else `DataLengthMismatch`, and nothing is read): no allocation per read.
    pub async fn read_into_bytes(&self, out: &mut [u8]) -> Result<()> {
        read_into_bytes(self, out).await
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// The buffer without flushing; callers hold the engine state lock (lock order: state, lease).
    pub(crate) fn raw_buffer(&self) -> Result<wgpu::Buffer> {
        self.check_fault()?;
        match self.storage().as_ref() {
            None => Err(Error::disposed(self.describe())),
            Some(Storage::Pooled(lease)) if lease.is_refused() => Err(self.refused()),
            Some(storage) => storage.buffer().cloned().ok_or_else(|| Error::DeviceMismatch {
                reason: format!(
                    "{} is an adopted foreign GPUBuffer; this operation needs a tmath buffer (toDevice without adopt copies it)",
                    self.describe()
                ),
            }),
        }
    }

    /// The adopted foreign buffer, if this tensor has one (web only).
    pub(crate) fn foreign_buffer(&self) -> Result<Option<crate::platform::ForeignBuffer>> {
        self.check_fault()?;
        match self.storage().as_ref() {
            None => Err(Error::disposed(self.describe())),
            Some(Storage::Foreign(raw)) => Ok(Some(raw.clone())),
            Some(_) => Ok(None),
        }
    }

    /// Mark the tensor's data invalid; later uses return `error`. (Only the web's copies,
    /// whose errors arrive after the call that recorded them, need it.)
    #[allow(dead_code)]
    pub(crate) fn set_fault(&self, error: Error) {
        *self
            .inner
            .fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }

    fn check_fault(&self) -> Result<()> {
        match self
            .inner
            .fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// The error for a pooled buffer the device refused after the fact (web only).
    fn refused(&self) -> Error {
        Error::OutOfMemory {
            bytes: self.inner.byte_len,
            reason: format!(
                "the device could not allocate the buffer of {} (reported after the call that made it returned); dispose it, free memory, and make it again",
                self.describe()
            ),
        }
    }

    fn storage(&self) -> MutexGuard<'_, Option<Storage>> {
        self.inner
            .storage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn describe(&self) -> String {
        format!("tensor {} {}", self.inner.shape, self.inner.dtype)
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tensor")
            .field("shape", &self.inner.shape.dims())
            .field("dtype", &self.inner.dtype)
            .field("disposed", &self.is_disposed())
            .finish()
    }
}

impl Drop for TensorInner {
    fn drop(&mut self) {
        let storage = self
            .storage
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Storage::Pooled(lease)) = storage {
            // The last handle is gone: the buffer goes back to the pool.
            self.shared.lock().release(lease);
        }
    }
}

/// The largest readback into a new `Vec` appended on the calling thread (see [`read_back_as`]).
const APPEND_MAX_BYTES: u64 = 16 << 20;

/// Why a readback's new `Vec` could not be had.
const REFUSED_VEC: &str = "host memory: the allocator refused the readback's new Vec; read into a slice the caller holds instead";

/// Readback into a new `Vec<T>`: each chunk copied once, from its mapped staging range straight
/// into the result (see [`crate::stream::read_chunks`]).
pub(crate) async fn read_back_as<T: bytemuck::Pod>(tensor: &Tensor) -> Result<Vec<T>> {
    let len = usize::try_from(tensor.byte_len()).map_err(|_| Error::TooLarge {
        what: "readback on this host",
        requested: tensor.byte_len(),
        limit: usize::MAX as u64,
    })?;
    let refused = || Error::OutOfMemory {
        bytes: len as u64,
        reason: REFUSED_VEC.into(),
    };
    let elements = len / std::mem::size_of::<T>();
    let chunk = tensor.shared().config.transfer_chunk_bytes;
    if tensor.byte_len() <= chunk.min(APPEND_MAX_BYTES) {
        // One chunk of at most 16 MiB: appended to a Vec nothing zeroed, on this thread. A
        // block this small is one the allocator serves again from memory it holds and must
        // zero first, which costs as much as the copy (on the H100's host: 16 MiB zeroed and
        // copied on 8 threads 7.5 GB/s, appended on one 11). Larger blocks are fresh pages the
        // kernel zeroes as they fault: one thread appending them moved 1.1–1.8 GB/s there.
        let mut out: Vec<T> = Vec::new();
        out.try_reserve_exact(elements).map_err(|_| refused())?;
        crate::stream::read_chunks(tensor, None, |buffer, _at, n| {
            crate::platform::append_mapped(buffer, n, &mut out)?;
            Ok(std::future::ready(Ok(true)))
        })
        .await?;
        return Ok(out);
    }
    // Zeroed by the allocator (fresh pages, not written here), for every element type: `vec!`
    // does that only for the primitives it knows, and would write a float16 result twice.
    let mut out = bytemuck::allocation::try_zeroed_vec::<T>(elements).map_err(|()| refused())?;
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut out);
    // Fresh pages fault on first touch: touched on helper threads first, all at once, the
    // chunk copies then run at `read_into`'s speed (on the H100 to_vec went from 4–8 to
    // 8–11 GB/s from 64 MiB up).
    crate::platform::prefault(bytes);
    read_into_bytes(tensor, bytes).await?;
    Ok(out)
}

/// Readback into `out` (exactly the tensor's byte length), chunk by chunk.
pub(crate) async fn read_into_bytes(tensor: &Tensor, out: &mut [u8]) -> Result<()> {
    if out.len() as u64 != tensor.byte_len() {
        return Err(Error::DataLengthMismatch {
            expected: tensor.byte_len(),
            got: out.len() as u64,
        });
    }
    crate::stream::read_chunks(tensor, None, |buffer, at, n| {
        let dst = usize::try_from(at)
            .ok()
            .and_then(|at| out.get_mut(at..at + n as usize))
            .ok_or_else(|| Error::DeviceLost {
                reason: "a readback chunk past the tensor's end".into(),
            })?;
        crate::platform::read_mapped(buffer, dst)?;
        Ok(std::future::ready(Ok(true)))
    })
    .await
}
