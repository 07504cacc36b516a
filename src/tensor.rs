//! `Tensor`: a small handle over a pooled buffer lease, with shape and dtype.

use crate::context::Shared;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ledger::{Route, Transfer};
use crate::platform::now_us;
use crate::pool::{BufferKind, Lease};
use crate::shape::{byte_len, Shape};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Where a tensor's bytes live.
#[derive(Debug)]
pub(crate) enum Storage {
    /// A buffer leased from the engine's pool; returned on dispose.
    Pooled(Lease),
    /// A buffer the caller handed over (`adopt`); dropped (never destroyed) on dispose.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    Adopted(wgpu::Buffer),
    /// On the web: a `GPUBuffer` the caller handed over (`adopt`). wgpu cannot wrap a foreign
    /// `GPUBuffer`, so tmath reaches it through raw WebGPU calls.
    #[cfg(target_arch = "wasm32")]
    Foreign(crate::web::raw::RawBuffer),
}

impl Storage {
    pub fn buffer(&self) -> Option<&wgpu::Buffer> {
        match self {
            Storage::Pooled(lease) => Some(&lease.buffer),
            Storage::Adopted(buffer) => Some(buffer),
            #[cfg(target_arch = "wasm32")]
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

    /// Read the tensor's bytes back (packed, little-endian as the GPU stores them).
    pub async fn to_host_bytes(&self) -> Result<Vec<u8>> {
        read_back(self).await
    }

    /// Read the tensor back as `T` (which must match the dtype's width: `f32`/`i32`/`u32` for
    /// 4-byte dtypes, `u16`/`half::f16`/`half::bf16` for 2-byte ones), blocking (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn to_vec<T: bytemuck::Pod>(&self) -> Result<Vec<T>> {
        if std::mem::size_of::<T>() as u64 != self.dtype().size_bytes() {
            return Err(Error::UnsupportedDtype {
                name: std::any::type_name::<T>().into(),
                reason: format!(
                    "a {} tensor reads back as {}-byte elements",
                    self.dtype(),
                    self.dtype().size_bytes()
                ),
            });
        }
        crate::gpu::block_on(read_back_as::<T>(self))
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

    /// The adopted foreign `GPUBuffer`, if this tensor has one (web only).
    #[cfg(target_arch = "wasm32")]
    pub(crate) fn foreign_buffer(&self) -> Result<Option<crate::web::raw::RawBuffer>> {
        self.check_fault()?;
        match self.storage().as_ref() {
            None => Err(Error::disposed(self.describe())),
            Some(Storage::Foreign(raw)) => Ok(Some(raw.clone())),
            Some(_) => Ok(None),
        }
    }

    /// Mark the tensor's data invalid; later uses return `error`.
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
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

/// Readback: copy the tensor into a pooled `MAP_READ` staging buffer (submitted together with
/// any pending work), map it, and copy the mapped range out once. The staging buffer returns to
/// the pool only after its map completed and it was unmapped, so it is never reused mid-map.
pub(crate) async fn read_back(tensor: &Tensor) -> Result<Vec<u8>> {
    read_back_with(tensor, |mapped| Ok(mapped.to_vec())).await
}

/// Readback into a `Vec<T>`: one copy out of the mapped range, straight into the result.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) async fn read_back_as<T: bytemuck::Pod>(tensor: &Tensor) -> Result<Vec<T>> {
    read_back_with(tensor, |mapped| {
        let mut out = vec![T::zeroed(); mapped.len() / std::mem::size_of::<T>()];
        bytemuck::cast_slice_mut(&mut out).copy_from_slice(mapped);
        Ok(out)
    })
    .await
}

/// Readback with `take` copying the tensor's bytes out of the mapped staging range, once.
pub(crate) async fn read_back_with<R>(
    tensor: &Tensor,
    take: impl FnOnce(&[u8]) -> Result<R>,
) -> Result<R> {
    read_back_mapped(tensor, |buffer, len| {
        let view = buffer
            .get_mapped_range(0..len.next_multiple_of(4))
            .map_err(|e| Error::DeviceLost {
                reason: format!("mapped range unavailable: {e}"),
            })?;
        take(crate::gpu::prefix(&view, len)?)
    })
    .await
}

/// Readback with `take` reading the mapped staging buffer (`buffer`, tensor length `len`);
/// the buffer is unmapped and returned to the pool afterwards.
pub(crate) async fn read_back_mapped<R>(
    tensor: &Tensor,
    take: impl FnOnce(&wgpu::Buffer, u64) -> Result<R>,
) -> Result<R> {
    let start = now_us();
    let shared = Arc::clone(tensor.shared());
    let gpu = &shared.gpu;
    gpu.check_alive()?;
    let len = tensor.byte_len();
    let copy_len = len.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
    let staging = {
        let mut state = shared.lock();
        #[cfg(target_arch = "wasm32")]
        let foreign = tensor.foreign_buffer()?;
        #[cfg(not(target_arch = "wasm32"))]
        let foreign: Option<()> = None;
        let source = if foreign.is_none() {
            Some(tensor.raw_buffer()?)
        } else {
            None
        };
        let staging = shared.acquire(&mut state, copy_len, BufferKind::Readback)?;
        if let Some(source) = source {
            state
                .encoder()
                .copy_buffer_to_buffer(&source, 0, &staging.buffer, 0, copy_len);
            state.flush();
        } else {
            // An adopted foreign GPUBuffer: wgpu cannot name it, so a raw copy, after pending work.
            state.flush();
            #[cfg(target_arch = "wasm32")]
            if let Some(raw) = &foreign {
                use crate::web::raw;
                raw::copy_now(
                    &raw::of_device(&gpu.device),
                    raw,
                    &raw::of_buffer(&staging.buffer),
                    copy_len,
                );
                state.charge_submit();
            }
        }
        state.charge_transfer(len);
        staging
    };
    let result = match crate::gpu::map(gpu, &staging.buffer, wgpu::MapMode::Read, copy_len).await {
        Ok(()) => {
            let taken = take(&staging.buffer, len);
            staging.buffer.unmap();
            taken
        }
        Err(e) => Err(e),
    };
    let mut state = shared.lock();
    match result {
        Ok(out) => {
            state.release(staging);
            state.record(Transfer::since(Route::Readback, tensor.dtype(), len, start));
            Ok(out)
        }
        Err(e) => {
            state.pool.discard(&staging);
            Err(e)
        }
    }
}
