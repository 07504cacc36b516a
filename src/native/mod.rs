//! What the native build adds: wgpu buffers as tensor sources (a buffer of this engine's device
//! or of another one), and blocking forms of the async API. WebGPU cannot block, and the web
//! hands `GPUBuffer`s over through `js/index.js` instead (`web/transfer.rs`).

use crate::dtype::DType;
use crate::engine::{Engine, EngineConfig};
use crate::error::{Error, Result};
use crate::ledger::{Route, Transfer};
use crate::platform::{block_on, now_us, prefix, MapSlot};
use crate::pool::BufferKind;
use crate::router::{record_gpu_copy, upload_bytes};
use crate::shape::{byte_len, Shape};
use crate::tensor::{read_back_as, read_into_bytes, Storage, Tensor};
use crate::tuning::MatmulTuning;
use std::sync::{Arc, Mutex};

// Natively engines, tensors and uploads cross threads (readbacks from many threads, an engine
// in a server's shared state): a field that stops that is a compile error here, not a failing
// test somewhere else.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Engine>();
    send_sync::<Tensor>();
    send_sync::<crate::stream::Upload>();
};

impl Engine {
    /// [`Engine::new`], blocking the calling thread.
    pub fn new_blocking(config: EngineConfig) -> Result<Engine> {
        block_on(Engine::new(config))
    }

    /// [`Engine::synchronize`], blocking the calling thread.
    pub fn synchronize_blocking(&self) -> Result<()> {
        block_on(self.synchronize())
    }

    /// [`Engine::recover`], blocking the calling thread.
    pub fn recover_blocking(&mut self) -> Result<bool> {
        block_on(self.recover())
    }

    /// [`Engine::tune_matmul`], blocking the calling thread.
    pub fn tune_matmul_blocking(&self) -> Result<MatmulTuning> {
        block_on(self.tune_matmul())
    }

    /// A buffer of this engine's device becomes a tensor: one GPU copy into a pooled buffer
    /// (`same-device-copy`), or with `adopt` the buffer itself (`adopt`, no copy; its usage must
    /// include `STORAGE | COPY_SRC | COPY_DST`).
    ///
    /// If the buffer lacks `COPY_SRC` but can be mapped for reading, the host route runs once
    /// instead (recorded with `fallback_from`); natively that blocks until the map completes.
    pub fn to_device_buffer<S>(
        &self,
        buffer: &wgpu::Buffer,
        shape: S,
        dtype: DType,
        adopt: bool,
    ) -> Result<Tensor>
    where
        S: TryInto<Shape>,
        Error: From<S::Error>,
    {
        let start = now_us();
        let shape = shape.try_into()?;
        let len = byte_len(&shape, dtype)?;
        let plan = crate::plan::buffer_input(buffer.size(), buffer.usage(), len, adopt)?;
        let shared = &self.shared;
        if plan == crate::plan::BufferInput::Adopt {
            let tensor = Tensor::new(
                Arc::clone(shared),
                shape,
                dtype,
                Storage::Adopted(buffer.clone()),
            );
            shared
                .lock()
                .record(Transfer::since(Route::Adopt, dtype, 0, start));
            return Ok(tensor);
        }
        if let crate::plan::BufferInput::ReadThroughHost { reason } = plan {
            // Host route, once: map the caller's buffer, read it, write ours.
            block_on(crate::gpu::map(
                &shared.gpu,
                buffer,
                wgpu::MapMode::Read,
                len.next_multiple_of(4),
            ))?;
            let bytes = buffer
                .get_mapped_range(0..len.next_multiple_of(4))
                .map_err(|e| Error::invalid_argument("buffer", e.to_string()))
                .and_then(|v| prefix(&v, len).map(<[u8]>::to_vec));
            buffer.unmap();
            let bytes = bytes?;
            let mut state = shared.lock();
            state.charge_transfer(len);
            let (tensor, route) = upload_bytes(shared, &mut state, shape, dtype, &bytes)?;
            state.record(Transfer {
                fallback_from: Some(Route::SameDeviceCopy),
                reason: Some(reason),
                ..Transfer::since(route, dtype, len, start)
            });
            return Ok(tensor);
        }
        let device = &shared.gpu.device;
        let mut state = shared.lock();
        let lease = shared.acquire(&mut state, len, BufferKind::Storage)?;
        // The caller's buffer may belong to another device; an error scope tells, and the copy
        // goes in its own encoder so a failure cannot spoil pending work.
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("tmath same-device copy"),
        });
        record_gpu_copy(
            shared,
            &mut state,
            Some(&mut encoder),
            buffer,
            &lease.buffer,
            len,
        );
        state.flush();
        shared.gpu.queue.submit([encoder.finish()]);
        if let Some(error) = block_on(scope.pop()) {
            state.release(lease);
            return Err(Error::DeviceMismatch {
                reason: format!(
                    "the buffer could not be copied on this engine's device ({error}); a buffer of another device needs to_device_from_device"
                ),
            });
        }
        state.charge_submit();
        state.charge_copy(len);
        state.record(Transfer::since(Route::SameDeviceCopy, dtype, len, start));
        drop(state);
        Ok(Tensor::from_lease(Arc::clone(shared), shape, dtype, lease))
    }

    /// A buffer of another wgpu device (`source_device`, `source_queue`) becomes a tensor here:
    /// read on its device through a staging buffer there, written here (`cross-device`). WebGPU
    /// shares nothing between devices, so this is the host route, once.
    pub fn to_device_from_device<S>(
        &self,
        buffer: &wgpu::Buffer,
        source_device: &wgpu::Device,
        source_queue: &wgpu::Queue,
        shape: S,
        dtype: DType,
    ) -> Result<Tensor>
    where
        S: TryInto<Shape>,
        Error: From<S::Error>,
    {
        let start = now_us();
        let shape = shape.try_into()?;
        let len = byte_len(&shape, dtype)?;
        crate::plan::buffer_input(buffer.size(), buffer.usage(), len, false)?;
        let copy_len = len.next_multiple_of(4);
        let staging = source_device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("tmath cross-device staging"),
            size: copy_len,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = source_device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, copy_len);
        source_queue.submit([encoder.finish()]);
        let slot: Arc<Mutex<MapSlot>> = Arc::default();
        let in_callback = Arc::clone(&slot);
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            MapSlot::finish(&in_callback, r.is_ok())
        });
        source_device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::DeviceLost {
                reason: format!("the source device: {e}"),
            })?;
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| Error::DeviceLost {
                reason: format!("the source device could not map its staging buffer: {e}"),
            })
            .and_then(|v| prefix(&v, len).map(<[u8]>::to_vec))?;
        staging.destroy();
        let tensor = self.cross_device_write(&bytes, shape, dtype, start)?;
        let mut state = self.shared.lock();
        // The read on the source device: one more copy and crossing.
        state.charge_transfer(len);
        Ok(tensor)
    }
}

impl Tensor {
    /// Read the tensor back into `out` (elements of the dtype's width, as [`Tensor::to_vec`]),
    /// blocking. `DataLengthMismatch` unless `out` holds exactly the tensor.
    pub fn read_into<T: bytemuck::Pod>(&self, out: &mut [T]) -> Result<()> {
        self.check_element::<T>()?;
        block_on(read_into_bytes(self, bytemuck::cast_slice_mut(out)))
    }

    /// Read the tensor back as `T` (which must match the dtype's width: `f32`/`i32`/`u32` for
    /// 4-byte dtypes, `u16`/`half::f16`/`half::bf16` for 2-byte ones), blocking.
    pub fn to_vec<T: bytemuck::Pod>(&self) -> Result<Vec<T>> {
        self.check_element::<T>()?;
        block_on(read_back_as::<T>(self))
    }

    fn check_element<T>(&self) -> Result<()> {
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
        Ok(())
    }
}
