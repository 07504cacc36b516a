//! The transfer router: the seed's `to_mlx` for WebGPU. Every input kind has a cheapest route;
//! a direct route that fails falls back to the host route exactly once; every transfer counts its
//! copies and crossings and lands in the ledger.
//!
//! | route | input | work |
//! | --- | --- | --- |
//! | `identity` | a tensor of this engine | none: the same tensor comes back |
//! | `host-write` | host data | one `writeBuffer` into a pooled buffer (1 copy, 1 crossing) |
//! | `mapped-write` | host data, unified-memory adapter | written into a mapped pooled storage buffer: no staging copy (1 copy, 1 crossing) |
//! | `same-device-copy` | a buffer of this device | one `copyBufferToBuffer` into a pooled buffer (1 copy, 0 crossings, 0 maps) |
//! | `adopt` | a buffer of this device, `adopt: true` | none: the buffer becomes the tensor's storage |
//! | `cross-device` | a buffer or tensor of another device | mapped read there, write here (2 copies, 2 crossings) |
//! | `readback` | `to_host` | copy into a pooled `MAP_READ` staging buffer, one copy out of the mapped range (1 copy, 1 crossing) |

use crate::context::{Shared, State};
use crate::dtype::{DType, HostData};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::pool::{BufferKind, Lease, WriteOrder};
use crate::shape::Shape;
use crate::tensor::Tensor;
use std::sync::Arc;

pub use crate::config::{
    ConversionSite, GpuCopy, UploadRoute, COMPUTE_COPY_MIN_BYTES, GPU_CONVERSION_MIN_ELEMENTS,
    STAGED_WRITE_MIN_BYTES, TRANSFER_CHUNK_BYTES, TRANSFER_RING,
};
pub use crate::ledger::{Route, Transfer};

pub(crate) use crate::platform::now_us;

/// What a new tensor from host data needs: its shape and dtype, checked against the data.
pub(crate) fn check_host_shape(len: u64, shape: &Shape) -> Result<()> {
    if len != shape.elements() {
        return Err(Error::DataLengthMismatch {
            expected: shape.elements(),
            got: len,
        });
    }
    Ok(())
}

/// The route a host upload of `len` bytes takes on this engine ([`crate::plan::upload`]).
pub(crate) fn upload_route(shared: &Shared, len: u64) -> Route {
    crate::plan::upload(adapter(shared), settings(shared), len)
}

/// The adapter as the planner sees it.
pub(crate) fn adapter(shared: &Shared) -> crate::plan::Adapter {
    let kind = shared.gpu.report.device_type;
    crate::plan::Adapter {
        unified_memory: shared.gpu.report.mappable_primary_buffers,
        gpu: kind.is_gpu(),
        cpu: kind == crate::gpu::DeviceKind::Cpu,
        web: !crate::platform::MAPPED_STAGING,
        gpu_process: crate::platform::webgpu_in_gpu_process(),
    }
}

/// The engine's transfer settings, as the planner sees them.
pub(crate) fn settings(shared: &Shared) -> crate::plan::Settings {
    crate::plan::Settings {
        upload: shared.config.upload,
        conversion: shared.config.upload_conversion,
        gpu_copy: shared.config.gpu_copy,
    }
}

fn converts_on_gpu(shared: &Shared, elements: u64) -> bool {
    crate::plan::converts_on_gpu(adapter(shared), settings(shared), elements)
}

/// Whether a GPU copy of `len` bytes between these buffers runs as a compute copy.
pub(crate) fn uses_compute_copy(
    shared: &Shared,
    src: &wgpu::Buffer,
    dst: &wgpu::Buffer,
    len: u64,
) -> bool {
    let storage = |b: &wgpu::Buffer| b.usage().contains(wgpu::BufferUsages::STORAGE);
    crate::plan::compute_copy(
        adapter(shared),
        settings(shared),
        len,
        storage(src) && storage(dst),
    )
}

/// Record a GPU copy of `len` bytes (rounded up to 4) into `encoder`, by the faster method.
pub(crate) fn record_gpu_copy(
    shared: &Shared,
    state: &mut State,
    encoder: Option<&mut wgpu::CommandEncoder>,
    src: &wgpu::Buffer,
    dst: &wgpu::Buffer,
    len: u64,
) {
    let len = len.next_multiple_of(4);
    let compute = uses_compute_copy(shared, src, dst, len);
    let max_binding = shared.gpu.report.max_storage_buffer_binding_size;
    let dispatches = match (encoder, compute) {
        (Some(encoder), true) => {
            let mut pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some("tmath copy"),
                    timestamp_writes: None,
                })
                .forget_lifetime();
            let device = &shared.gpu.device;
            crate::kernels::record_copy(
                device,
                &mut state.pipelines,
                &mut pass,
                src,
                dst,
                len,
                max_binding,
            )
        }
        (Some(encoder), false) => {
            encoder.copy_buffer_to_buffer(src, 0, dst, 0, len);
            0
        }
        (None, true) => {
            state.uses(src);
            state.uses(dst);
            let (device, pipelines, pass) = state.compute();
            crate::kernels::record_copy(device, pipelines, pass, src, dst, len, max_binding)
        }
        (None, false) => {
            state.uses(src);
            state.uses(dst);
            state.encoder().copy_buffer_to_buffer(src, 0, dst, 0, len);
            0
        }
    };
    state.charge_dispatches(dispatches);
}

/// Write `bytes` (the tensor's packed data) into `buffer` at `offset` with queue writes.
/// `writeBuffer` needs a multiple of 4 bytes; an odd 16-bit tail goes in a second 4-byte write
/// (no full copy).
pub(crate) fn queue_write(queue: &wgpu::Queue, buffer: &wgpu::Buffer, offset: u64, bytes: &[u8]) {
    let (whole, tail) = words(bytes);
    if !whole.is_empty() {
        queue.write_buffer(buffer, offset, whole);
    }
    if let Some(tail) = tail {
        queue.write_buffer(buffer, offset + whole.len() as u64, &tail);
    }
}

/// `bytes` as whole 4-byte words and, if its length is not a multiple of 4, the rest padded
/// with zeros to one more word.
fn words(bytes: &[u8]) -> (&[u8], Option<[u8; 4]>) {
    let (whole, rest) = bytes.split_at(bytes.len() / 4 * 4);
    let tail = (!rest.is_empty()).then(|| {
        let mut tail = [0u8; 4];
        tail.iter_mut().zip(rest).for_each(|(t, &b)| *t = b);
        tail
    });
    (whole, tail)
}

impl Engine {
    /// Bring host data onto the GPU: the seed's `to_mlx` for typed data. `dtype` defaults to the
    /// data's own (`int32` for `int64`, the engine's precision for untyped numbers); a different
    /// dtype converts on the host, bit-exact, and counts one conversion.
    ///
    /// Route: `mapped-write` on unified-memory adapters (see [`UploadRoute`]), else `host-write`.
    /// Either makes 1 copy (2 with a conversion) and 1 crossing, and takes its buffer from the pool.
    pub fn to_device<'a, S>(
        &self,
        data: impl Into<HostData<'a>>,
        shape: S,
        dtype: Option<DType>,
    ) -> Result<Tensor>
    where
        S: TryInto<Shape>,
        Error: From<S::Error>,
    {
        self.upload(data.into(), shape.try_into()?, dtype)
    }

    fn upload(&self, data: HostData<'_>, shape: Shape, dtype: Option<DType>) -> Result<Tensor> {
        let start = now_us();
        if let HostData::Bytes(bytes, dtype) = data {
            if !(bytes.len() as u64).is_multiple_of(dtype.size_bytes()) {
                return Err(Error::DataLengthMismatch {
                    expected: shape.elements() * dtype.size_bytes(),
                    got: bytes.len() as u64,
                });
            }
        }
        check_host_shape(data.len(), &shape)?;
        let target = dtype.unwrap_or_else(|| data.default_target(self.shared.config.precision));
        if let Some(own) = data.dtype().filter(|&own| own != target) {
            if converts_on_gpu(&self.shared, data.len()) {
                // Upload as it is, cast on the GPU (counted by cast), the upload returned at once.
                let raw = self.upload(data, shape, Some(own))?;
                return self.cast(&raw, target);
            }
        }
        let bytes = data.encode(target)?;
        let converted = matches!(bytes, std::borrow::Cow::Owned(_));
        let shared = &self.shared;
        let len = bytes.len() as u64;
        if upload_route(shared, len) == Route::StagedWrite
            && len > shared.config.transfer_chunk_bytes
        {
            // Larger than one chunk: through the bounded staging ring, not one staging buffer
            // as large as the tensor. (Never on the web, where the planner has no staged route.)
            let mut upload =
                crate::stream::Upload::new(shared, shape, target, crate::stream::SourceType::Same)?
                    .described_as(data.type_name());
            upload.write(&bytes)?;
            let tensor = upload.finish(None)?;
            if converted {
                let mut state = shared.lock();
                state.charge_conversion();
                state.charge_copy(len);
            }
            return Ok(tensor);
        }
        let mut state = shared.lock();
        let (tensor, route) = upload_bytes(shared, &mut state, shape, target, &bytes)?;
        if converted {
            state.charge_conversion();
            state.charge_copy(bytes.len() as u64);
        }
        state.record(Transfer {
            route,
            fallback_from: None,
            reason: None,
            dtype_in: data.type_name().to_owned(),
            dtype_out: target,
            bytes: bytes.len() as u64,
            wall_us: now_us() - start,
            seq: 0,
        });
        drop(state);
        Ok(tensor)
    }

    /// A copy of `tensor` in a new pooled buffer, made on the GPU with the pending commands
    /// (route `same-device-copy`: 1 copy, 0 crossings; a compute copy where that is faster, see
    /// [`GpuCopy`]).
    pub fn copy(&self, tensor: &Tensor) -> Result<Tensor> {
        let start = now_us();
        if !self.owns(tensor) {
            return Err(Error::DeviceMismatch {
                reason: "copy() takes tensors of this engine; move others with to_device_tensor"
                    .into(),
            });
        }
        let shared = &self.shared;
        let len = tensor.byte_len();
        let mut state = shared.lock();
        let source = tensor.raw_buffer()?;
        let lease = shared.acquire(&mut state, len, BufferKind::Storage)?;
        record_gpu_copy(shared, &mut state, None, &source, &lease.buffer, len);
        state.charge_copy(len);
        state.record(Transfer::since(
            Route::SameDeviceCopy,
            tensor.dtype(),
            len,
            start,
        ));
        drop(state);
        Ok(Tensor::from_lease(
            Arc::clone(shared),
            tensor.shape().clone(),
            tensor.dtype(),
            lease,
        ))
    }

    /// A tensor of this engine comes back as the same tensor (route `identity`: no work, nothing
    /// counted but the ledger entry). A tensor of another engine is read there and written here
    /// (`cross-device`).
    pub fn to_device_tensor(&self, tensor: &Tensor) -> Result<Tensor> {
        let start = now_us();
        tensor.shared().gpu.check_alive()?;
        if self.owns(tensor) {
            if tensor.is_disposed() {
                return Err(Error::disposed(format!(
                    "tensor {} {}",
                    tensor.shape(),
                    tensor.dtype()
                )));
            }
            self.shared.lock().record(Transfer {
                route: Route::Identity,
                fallback_from: None,
                reason: None,
                dtype_in: tensor.dtype().name().into(),
                dtype_out: tensor.dtype(),
                bytes: 0,
                wall_us: now_us() - start,
                seq: 0,
            });
            return Ok(tensor.clone());
        }
        match crate::platform::try_block_on(tensor.to_host_bytes()) {
            Some(bytes) => {
                self.cross_device_write(&bytes?, tensor.shape().clone(), tensor.dtype(), start)
            }
            // The web cannot block for the read.
            None => Err(Error::DeviceMismatch {
                reason: "this tensor belongs to another Engine (another GPUDevice); use toDeviceAsync to move it through the host".into(),
            }),
        }
    }

    /// [`Engine::to_device_tensor`] for tensors of other engines without blocking (the only way
    /// on the web).
    pub async fn to_device_tensor_async(&self, tensor: &Tensor) -> Result<Tensor> {
        if self.owns(tensor) {
            return self.to_device_tensor(tensor);
        }
        let start = now_us();
        let bytes = tensor.to_host_bytes().await?;
        self.cross_device_write(&bytes, tensor.shape().clone(), tensor.dtype(), start)
    }

    pub(crate) fn cross_device_write(
        &self,
        bytes: &[u8],
        shape: Shape,
        dtype: DType,
        start: f64,
    ) -> Result<Tensor> {
        let shared = &self.shared;
        let mut state = shared.lock();
        let len = bytes.len() as u64;
        let (tensor, _) = upload_bytes(shared, &mut state, shape, dtype, bytes)?;
        state.record(Transfer::since(Route::CrossDevice, dtype, len, start));
        Ok(tensor)
    }
}

/// Put `bytes` into a new tensor by the engine's upload route. Counts 1 copy and 1 crossing.
pub(crate) fn upload_bytes(
    shared: &Arc<Shared>,
    state: &mut State,
    shape: Shape,
    dtype: DType,
    bytes: &[u8],
) -> Result<(Tensor, Route)> {
    let len = bytes.len() as u64;
    let route = upload_route(shared, len);
    let lease = match route {
        Route::MappedWrite => {
            let lease = shared.acquire_for(
                state,
                len,
                BufferKind::MappableStorage,
                WriteOrder::AheadOfStream,
            )?;
            if state.is_pending(&lease.buffer) {
                // Mapping would wait for pending work (a submission per upload): order the write
                // into the stream through staging instead.
                let (tensor, staged) =
                    host_write_tensor(shared, state, lease, shape, dtype, len, |buffer, at| {
                        queue_write(&shared.gpu.queue, buffer, at, bytes);
                        Ok(())
                    })?;
                return Ok((tensor, host_route(staged)));
            }
            if let Err(e) = mapped_write(shared, state, &lease, bytes) {
                state.pool.discard(&lease);
                return Err(e);
            }
            lease
        }
        Route::StagedWrite => staged_write(shared, state, bytes)?,
        _ => {
            let (tensor, staged) = upload_with(shared, state, shape, dtype, len, |buffer, at| {
                queue_write(&shared.gpu.queue, buffer, at, bytes);
                Ok(())
            })?;
            return Ok((tensor, host_route(staged)));
        }
    };
    count_upload(state, len);
    let tensor = Tensor::from_lease(Arc::clone(shared), shape, dtype, lease);
    Ok((tensor, route))
}

/// Write into a pooled upload buffer that is already mapped (idle upload buffers are kept
/// mapped), then copy it into a pooled storage buffer with the pending commands. The upload
/// buffer is mapped again after the next submission and only then returns to the pool.
/// (Natively only: the web's planner never picks it, see [`crate::platform::MAPPED_STAGING`].)
fn staged_write(shared: &Shared, state: &mut State, bytes: &[u8]) -> Result<Lease> {
    let len = bytes.len() as u64;
    let len4 = len.next_multiple_of(4);
    // Let finished maps report, so their buffers can serve this upload.
    crate::platform::poll(&shared.gpu.device);
    state.collect_remapped();
    let staging = shared.acquire(state, len4, BufferKind::Upload)?;
    let written = (|| {
        let mut view =
            staging
                .buffer
                .get_mapped_range_mut(0..len4)
                .map_err(|e| Error::DeviceLost {
                    reason: format!("upload staging not mapped: {e}"),
                })?;
        write_padded(&mut view, bytes);
        Ok(())
    })();
    if let Err(e) = written {
        state.pool.discard(&staging);
        return Err(e);
    }
    staging.buffer.unmap();
    let target = match shared.acquire(state, len, BufferKind::Storage) {
        Ok(target) => target,
        Err(e) => {
            state.remap_after_flush(staging);
            return Err(e);
        }
    };
    state
        .encoder()
        .copy_buffer_to_buffer(&staging.buffer, 0, &target.buffer, 0, len4);
    state.uses(&target.buffer);
    state.remap_after_flush(staging);
    Ok(target)
}

/// Copy `bytes` into a mapped range, padding an odd 16-bit tail to a whole word with zeros.
fn write_padded(view: &mut wgpu::BufferViewMut, bytes: &[u8]) {
    let (whole, tail) = words(bytes);
    view.slice(..whole.len()).copy_from_slice(whole);
    if let Some(tail) = tail {
        view.slice(whole.len()..whole.len() + 4)
            .copy_from_slice(&tail);
    }
}

/// The host-write route with the caller's write (a queue write natively, a write straight from
/// a JS typed array on the web) of `len` bytes, `write(buffer, offset)`, into a pooled storage
/// buffer. Counts 1 copy and 1 crossing, and one more copy when the write had to be ordered
/// after pending work through the staging arena (returned as `true`).
pub(crate) fn upload_with(
    shared: &Arc<Shared>,
    state: &mut State,
    shape: Shape,
    dtype: DType,
    len: u64,
    write: impl FnOnce(&wgpu::Buffer, u64) -> Result<()>,
) -> Result<(Tensor, bool)> {
    let lease = shared.acquire_for(state, len, BufferKind::Storage, WriteOrder::AheadOfStream)?;
    host_write_tensor(shared, state, lease, shape, dtype, len, write)
}

/// [`host_write`] into `lease`, which becomes a tensor of `shape` and `dtype`; on failure the
/// lease goes back to the pool.
fn host_write_tensor(
    shared: &Arc<Shared>,
    state: &mut State,
    lease: Lease,
    shape: Shape,
    dtype: DType,
    len: u64,
    write: impl FnOnce(&wgpu::Buffer, u64) -> Result<()>,
) -> Result<(Tensor, bool)> {
    match host_write(state, &lease.buffer, len, write) {
        Ok(staged) => Ok((
            Tensor::from_lease(Arc::clone(shared), shape, dtype, lease),
            staged,
        )),
        Err(e) => {
            state.release(lease);
            Err(e)
        }
    }
}

/// The route a host write took: through the staging arena or straight in.
pub(crate) fn host_route(staged: bool) -> Route {
    if staged {
        Route::StagedWrite
    } else {
        Route::HostWrite
    }
}

/// Write `len` bytes of host data into `target` with `write(buffer, offset)`: directly, or,
/// when pending work still uses `target`, through the staging arena in stream order (returns
/// `true`). Counts 1 copy and 1 crossing, plus the staging copy.
fn host_write(
    state: &mut State,
    target: &wgpu::Buffer,
    len: u64,
    write: impl FnOnce(&wgpu::Buffer, u64) -> Result<()>,
) -> Result<bool> {
    // Ordered after pending work that uses `target`, or direct (crate::plan::host_write).
    let staged = state.write_ordered(target, len, write)?;
    state.writes_pending = crate::platform::QUEUE_WRITES_WAIT_FOR_SUBMIT;
    count_upload(state, len);
    if staged {
        state.charge_copy(len);
    }
    Ok(staged)
}

fn count_upload(state: &mut State, len: u64) {
    state.charge_transfer(len);
}

/// Write into a mappable storage buffer: a new one was created mapped; a reused one is mapped
/// first (after any pending work that uses it has run).
fn mapped_write(shared: &Shared, state: &mut State, lease: &Lease, bytes: &[u8]) -> Result<()> {
    let len = (bytes.len() as u64).next_multiple_of(4);
    if lease.reused {
        state.before_host_access(&lease.buffer);
        let map = crate::gpu::map(&shared.gpu, &lease.buffer, wgpu::MapMode::Write, len);
        crate::platform::try_block_on(map).ok_or_else(|| {
            Error::invalid_argument(
                "upload",
                "mapped writes need MAPPABLE_PRIMARY_BUFFERS, which the web never has",
            )
        })??;
    }
    {
        let mut view =
            lease
                .buffer
                .get_mapped_range_mut(0..len)
                .map_err(|e| Error::DeviceLost {
                    reason: format!("mapped range unavailable: {e}"),
                })?;
        write_padded(&mut view, bytes);
    }
    // A new buffer is mapped in full; what lies past this tensor stays as created (zeros).
    lease.buffer.unmap();
    Ok(())
}
