//! The engine: the public handle over the shared context (device, pool, stream, counters; see
//! `context.rs`), its creation, recovery and the seed's pool API. Transfers, ops and precision
//! add their methods to [`Engine`] from `router.rs`, `ops.rs` and `precision.rs`.

pub use crate::config::EngineConfig;
use crate::config::UploadRoute;
pub(crate) use crate::context::{Shared, State};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::gpu::{AdapterReport, Gpu, Origin};
use crate::ledger::{Ledger, Transfer};
use crate::platform::{MapSlot, MapWait};
use crate::pool::{BufferKind, Pool, PoolConfig, PoolStats};
use crate::shape::{byte_len, Shape};
use crate::stats::Stats;
use crate::tensor::Tensor;
use std::sync::{Arc, Mutex};

/// The GPU memory layer: a device, its buffer pool, and the counters of everything done on it.
///
/// Cheap to clone (a handle); tensors keep the engine alive.
#[derive(Clone)]
pub struct Engine {
    pub(crate) shared: Arc<Shared>,
}

impl Engine {
    /// Acquire an adapter and device and set up an empty pool. Natively every backend wgpu was
    /// built with is tried (`WGPU_BACKEND` narrows it); on the web, the browser's WebGPU.
    pub async fn new(config: EngineConfig) -> Result<Engine> {
        Engine::with_instance(crate::platform::default_instance()?, config).await
    }

    /// Like [`Engine::new`], requesting the adapter from `instance` (backends, flags and
    /// environment chosen by the app). [`Engine::recover`] asks the same instance again.
    pub async fn with_instance(instance: wgpu::Instance, config: EngineConfig) -> Result<Engine> {
        let gpu = Gpu::acquire(instance, config.power_preference).await?;
        Engine::on(gpu, config)
    }

    /// Run on a device the app already made, sharing it with the app's own work (and with other
    /// libraries on it). tmath reads the device's features and limits and uses what it has (no
    /// `SHADER_F16`: 16-bit data takes the packed path). It never destroys the device:
    /// [`Engine::dispose`] releases tmath's buffers only, and after a device loss
    /// [`Engine::recover`] is a `DeviceLost` error saying to make a new device and call this
    /// again. wgpu keeps one device-lost callback per device and tmath sets it; the app's
    /// uncaptured-error handler stays (tmath's own errors are caught by error scopes). Work the
    /// app submits is ordered after tmath's once [`Engine::flush`] has run.
    pub fn from_wgpu(
        device: wgpu::Device,
        queue: wgpu::Queue,
        config: EngineConfig,
    ) -> Result<Engine> {
        Engine::on(Gpu::borrow(device, queue), config)
    }

    /// An engine on `gpu` with an empty pool: the end of every constructor.
    pub(crate) fn on(gpu: Gpu, config: EngineConfig) -> Result<Engine> {
        if config.transfer_chunk_bytes < 256 || !config.transfer_chunk_bytes.is_multiple_of(256) {
            return Err(Error::invalid_argument(
                "transferChunkBytes",
                format!(
                    "expected a multiple of 256 bytes (at least 256), got {}",
                    config.transfer_chunk_bytes
                ),
            ));
        }
        if config.upload == UploadRoute::Mapped && !gpu.report.mappable_primary_buffers {
            return Err(Error::invalid_argument(
                "upload",
                format!(
                    "mapped uploads need a unified-memory adapter with MAPPABLE_PRIMARY_BUFFERS; {:?} ({}) has none; use UploadRoute::Auto",
                    gpu.report.name, gpu.report.device_type
                ),
            ));
        }
        if let Some(tiles) = config.matmul_tiles {
            let limit = gpu.report.max_workgroup_storage_bytes;
            if !tiles.runs_within(limit) {
                return Err(Error::invalid_argument(
                    "matmulTiles",
                    format!(
                        "{tiles} is not a tile shape this device runs: one of {} within its {limit} bytes of workgroup memory",
                        crate::tuning::candidates(limit, gpu.report.subgroups)
                            .iter()
                            .map(|t| t.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        }
        let mut config = config;
        config.pool.max_buffer_bytes = gpu.report.max_buffer_size;
        let state = State::new(
            gpu.device.clone(),
            gpu.queue.clone(),
            Pool::new(config.pool.clone()),
            Ledger::new(config.ledger_capacity),
        );
        #[allow(clippy::arc_with_non_send_sync)] // wgpu's web types are not Send; one thread there.
        let shared = Arc::new(Shared::new(gpu, config, state));
        if let Some(after_task) = crate::platform::end_of_task_timer() {
            // Work recorded in a task is submitted at the end of that task (the web).
            let weak = Arc::downgrade(&shared);
            shared.lock().set_on_first_record(Box::new(move || {
                let weak = weak.clone();
                after_task(Box::new(move || {
                    if let Some(shared) = weak.upgrade() {
                        shared.lock().end_of_task();
                    }
                }));
            }));
        }
        Ok(Engine { shared })
    }

    /// The adapter and its capabilities.
    pub fn adapter(&self) -> &AdapterReport {
        &self.shared.gpu.report
    }

    /// The configuration in force (with the device's real buffer limit filled in).
    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// The wgpu device, to share with other code. Work submitted on it is ordered after tmath's
    /// only once [`Engine::flush`] has run.
    pub fn device(&self) -> &wgpu::Device {
        &self.shared.gpu.device
    }

    /// The device's queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.shared.gpu.queue
    }

    /// The seed's `TensorPool`: get, zeros, put, stats, trim.
    pub fn pool(&self) -> PoolHandle<'_> {
        PoolHandle { engine: self }
    }

    /// A snapshot of every counter.
    pub fn stats(&self) -> Stats {
        let mut state = self.shared.lock();
        state.collect_remapped();
        Stats {
            pool: state.pool.stats(),
            counters: state.counters(),
        }
    }

    /// Submit recorded GPU work (and, natively, queued writes) now: at most one submission.
    /// Reads flush on their own; call this before using a tensor's buffer from other code on the
    /// same device.
    pub fn flush(&self) -> Result<()> {
        self.shared.gpu.check_alive()?;
        let mut state = self.shared.lock();
        state.flush();
        Ok(())
    }

    /// Submit recorded work and wait until the GPU has finished everything submitted so far.
    pub async fn synchronize(&self) -> Result<()> {
        self.flush()?;
        let slot: Arc<Mutex<MapSlot>> = Arc::default();
        let done = Arc::clone(&slot);
        self.shared
            .gpu
            .queue
            .on_submitted_work_done(move || MapSlot::finish(&done, true));
        crate::platform::wait_for(&self.shared.gpu.device, None)?;
        MapWait(slot).await;
        // Upload staging buffers whose work is done are mapped again: back to the pool. On the
        // web their maps may settle after the work-done promise; natively the poll above ran
        // their callbacks.
        let remapping = std::mem::take(&mut self.shared.lock().remapping);
        if crate::platform::MAPS_SETTLE_BY_THEMSELVES {
            for slot in remapping {
                MapWait(slot).await;
            }
        }
        self.shared.lock().collect_remapped();
        self.shared.gpu.check_alive()
    }

    /// Release every idle buffer, and the device if tmath made it (a device from
    /// [`Engine::from_wgpu`] stays the app's, working). Every later call on this engine or its
    /// tensors is a `Disposed` error (disposing a tensor stays harmless).
    pub fn dispose(&self) {
        self.shared.lock().close();
        self.shared.gpu.dispose();
    }

    /// Why the device was lost (`None` while it works). After a loss every call on this engine
    /// and its tensors is a `DeviceLost` error until [`Engine::recover`].
    pub fn device_lost(&self) -> Option<String> {
        self.shared.gpu.lost_reason()
    }

    /// After the device was lost (a driver reset, the browser reclaiming the GPU,
    /// `GPUDevice.destroy()`), acquire a new device from the same instance with the same
    /// configuration and an empty pool, and make this handle use it. Returns whether it did: on a
    /// working device it does nothing. Tensors made before stay `DeviceLost` (their data is gone),
    /// and so do other clones of this handle; counters start from zero. tmath does not recover on
    /// its own, because the caller must re-upload its weights anyway: call this where it does.
    /// On a device the app made ([`Engine::from_wgpu`]) a loss is a `DeviceLost` error: only the
    /// app can make its replacement.
    pub async fn recover(&mut self) -> Result<bool> {
        let gpu = &self.shared.gpu;
        if gpu.is_disposed() {
            return Err(Error::disposed("the engine"));
        }
        let Some(reason) = gpu.lost_reason() else {
            return Ok(false);
        };
        let instance = match &gpu.origin {
            Origin::Acquired(instance) => instance.clone(),
            Origin::Borrowed => {
                return Err(Error::DeviceLost {
                    reason: format!(
                        "{reason}; this engine runs on a device the app made, which tmath cannot replace: make a new device and create a new engine on it (Engine.fromDevice, Engine::from_wgpu)"
                    ),
                })
            }
        };
        let fresh = Engine::with_instance(instance, self.shared.config.clone()).await?;
        self.shared = fresh.shared;
        Ok(true)
    }

    /// Errors the device reported that no operation caught (validation errors of foreign work
    /// on a shared device, say), oldest first; the list is emptied.
    pub fn take_device_errors(&self) -> Vec<String> {
        self.shared.gpu.take_uncaptured_errors()
    }

    /// The last transfers (oldest first), up to [`EngineConfig::ledger_capacity`].
    pub fn ledger(&self) -> Vec<Transfer> {
        self.shared.lock().ledger.entries()
    }

    /// Whether `tensor` belongs to this engine.
    pub fn owns(&self, tensor: &Tensor) -> bool {
        Arc::ptr_eq(&self.shared, tensor.shared())
    }
}

/// The engine's pool, seen through the seed's `TensorPool` API. Get it with [`Engine::pool`].
pub struct PoolHandle<'a> {
    engine: &'a Engine,
}

impl PoolHandle<'_> {
    /// A tensor of `shape` and `dtype` (the engine's precision if `None`) on a pooled buffer.
    /// Its contents are unspecified: a reused buffer keeps what was last written to it.
    pub fn get<S>(&self, shape: S, dtype: Option<DType>) -> Result<Tensor>
    where
        S: TryInto<Shape>,
        Error: From<S::Error>,
    {
        self.take(shape.try_into()?, dtype, false)
    }

    /// Like [`PoolHandle::get`], cleared to zero on the GPU (`clearBuffer`, recorded into the
    /// pending commands; no data is uploaded).
    pub fn zeros<S>(&self, shape: S, dtype: Option<DType>) -> Result<Tensor>
    where
        S: TryInto<Shape>,
        Error: From<S::Error>,
    {
        self.take(shape.try_into()?, dtype, true)
    }

    /// A pooled tensor, cleared on the GPU first when `clear` (the clear is recorded into the
    /// pending commands, so it runs before any later work on the buffer).
    fn take(&self, shape: Shape, dtype: Option<DType>, clear: bool) -> Result<Tensor> {
        let dtype = dtype.unwrap_or(self.engine.shared.config.precision);
        let shared = &self.engine.shared;
        let mut state = shared.lock();
        let lease = shared.acquire(&mut state, byte_len(&shape, dtype)?, BufferKind::Storage)?;
        if clear {
            state.encoder().clear_buffer(&lease.buffer, 0, None);
            state.uses(&lease.buffer);
        }
        drop(state);
        Ok(Tensor::from_lease(Arc::clone(shared), shape, dtype, lease))
    }

    /// Return a tensor's buffer to the pool; the tensor is disposed. `Disposed` if it already
    /// was, `DeviceMismatch` if another engine made it.
    pub fn put(&self, tensor: &Tensor) -> Result<()> {
        if !self.engine.owns(tensor) {
            return Err(Error::DeviceMismatch {
                reason: "this tensor was made by another Engine; put() it into that engine's pool"
                    .into(),
            });
        }
        tensor.dispose()
    }

    /// The pool's usage.
    pub fn stats(&self) -> PoolStats {
        let mut state = self.engine.shared.lock();
        state.collect_remapped();
        state.pool.stats()
    }

    /// Free idle buffers, least recently used first, until at most `target_bytes` stay idle.
    /// Returns the bytes freed.
    pub fn trim(&self, target_bytes: u64) -> u64 {
        self.engine.shared.lock().trim(target_bytes)
    }

    /// Change the idle-byte budget (evicts at once if the idle bytes exceed it).
    pub fn set_budget(&self, budget_bytes: u64) {
        self.engine.shared.lock().pool.set_budget(budget_bytes)
    }

    /// The pool's configuration.
    pub fn config(&self) -> PoolConfig {
        self.engine.shared.lock().pool.config().clone()
    }
}
