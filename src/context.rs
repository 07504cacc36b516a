//! The execution context: the pending command stream and everything charged to it. It owns the
//! pending encoder and its open compute pass, the set of buffers pending commands use, the
//! params arena, the write-staging arena, the pool, the counters and the ledger. Every op, copy
//! and transfer records through its methods, so each cost is charged here and nowhere else.
//!
//! # The stream
//!
//! Work is recorded into one pending encoder and submitted at once by [`State::flush`]: natively
//! when a read, [`crate::Engine::flush`] or a full arena asks for it; on the web also at the end
//! of the task that recorded it (see [`crate::platform::end_of_task_timer`]). Consecutive dispatches
//! share one compute pass; a copy or clear ends it.
//!
//! Buffers returned while pending commands still use them go back to the pool *in stream*
//! (see [`crate::pool`]): writers recorded later reuse them at once. Host writes run before
//! pending commands, so a host write that gets such a buffer is ordered into the stream through
//! the staging arena instead ([`State::write_ordered`]).
//!
//! # Params
//!
//! Ops' params go into one 256-byte slot each of a CPU-side arena, and the arena reaches the GPU
//! in one queue write per submission, just before it (queue writes land before the commands
//! submitted after them). Ops with equal params share one slot (a chain's `add(x, 1)`s, a
//! model's repeated layer shapes), and each op binds its slot at a fixed offset, so a chain whose
//! buffers repeat reuses its bind groups. A full arena ([`PARAMS_SLOTS`] distinct slots) submits
//! first.
//! The buffer (256 KiB) is kept from one submission to the next; `trim` frees it when nothing
//! is pending.

use crate::config::EngineConfig;
use crate::error::Result;
use crate::gpu::Gpu;
use crate::hashing::{FastMap, FastSet};
use crate::kernels::{Kernel, Pipelines, UNIFORM_SLOT};
use crate::ledger::Ledger;
use crate::plan::HostWrite;
use crate::platform::MapSlot;
use crate::pool::{BufferKind, Lease, Pool, WriteOrder};
use crate::stats::Counters;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

type ComputePass = wgpu::ComputePass<'static>;

/// Ops per submission at most: the params arena's slots (256 KiB of uniforms).
pub(crate) const PARAMS_SLOTS: u64 = 1024;

/// Bytes of one write-staging chunk (Dawn's own `writeBuffer` uses 4 MiB chunks).
pub(crate) const STAGING_CHUNK: u64 = 4 << 20;

/// Write-staging chunks per submission at most; one more ordered write submits first, so
/// staging never holds more than `STAGING_CHUNK * STAGING_CHUNKS` bytes.
pub(crate) const STAGING_CHUNKS: usize = 2;

/// State behind the engine's lock. Lock order: `State`, then a tensor's lease.
pub(crate) struct State {
    device: wgpu::Device,
    queue: wgpu::Queue,
    pub pool: Pool,
    /// Commands recorded and not yet submitted.
    encoder: Option<wgpu::CommandEncoder>,
    /// The compute pass open on `encoder`: consecutive dispatches share it.
    pass: Option<wgpu::ComputePass<'static>>,
    /// The kernel whose pipeline the open pass has set, if known (ops skip setting it again).
    pass_kernel: Option<Kernel>,
    /// Buffers the pending encoder uses. A host write into one of them must be ordered into the
    /// stream (or submitted after it).
    pending: FastSet<wgpu::Buffer>,
    /// Queue writes waiting for the next submission, which `flush` then makes even with no
    /// commands (see [`crate::platform::QUEUE_WRITES_WAIT_FOR_SUBMIT`]).
    pub writes_pending: bool,
    /// Every cost, charged through the `charge_*` methods below and nowhere else.
    counters: Counters,
    pub ledger: Ledger,
    pub pipelines: Pipelines,
    /// Params of the ops recorded since the last submission, `UNIFORM_SLOT` bytes each.
    params: Vec<u8>,
    /// Each distinct params value of this submission and the offset of its slot: ops with
    /// equal params share one slot, so their bind groups repeat with their buffers.
    param_slots: FastMap<Vec<u8>, u32>,
    /// The uniform buffer they go to at the next submission.
    params_lease: Option<Lease>,
    /// What that buffer holds from its start: the params last written. A submission whose
    /// params equal its prefix writes nothing (a loop repeating the same ops with the same
    /// shapes, such as a model's step, writes its params once).
    params_written: Vec<u8>,
    /// Write-staging chunks of this submission and the next free byte in the last one.
    staging: Vec<Lease>,
    staging_cursor: u64,
    /// Called once work is recorded into an empty stream: the web's end-of-task submission.
    /// (Natively there is none: the stream waits for a read or an explicit flush.)
    on_first_record: Option<crate::platform::Hook>,
    /// Whether work was recorded since the last submission.
    recorded: bool,
    /// Whether an end-of-task submission is scheduled and has not run yet: at most one is
    /// pending at a time, however often the task submits in between (a loop of awaited
    /// readbacks would otherwise set a timer per iteration).
    end_of_task_scheduled: bool,
    /// Set by [`State::close`]: buffers coming back are destroyed, not kept.
    closed: bool,
    /// The index of the last submission: a chunked transfer waits for one of its own natively.
    pub last_submission: Option<wgpu::SubmissionIndex>,
    /// Upload staging buffers used by pending commands: mapped again once submitted, then they
    /// return to the pool through `remapped` (see [`State::remap_after_flush`]).
    remap_after_flush: Vec<Lease>,
    /// The maps of upload staging buffers not yet done, for [`crate::Engine::synchronize`].
    pub remapping: Vec<Arc<Mutex<MapSlot>>>,
    /// Upload staging buffers whose map completed, waiting to go back to the pool. Map callbacks
    /// may run while the state is locked, so they only touch this list.
    pub remapped: Arc<Mutex<Vec<Lease>>>,
}

impl State {
    pub fn new(device: wgpu::Device, queue: wgpu::Queue, pool: Pool, ledger: Ledger) -> State {
        State {
            device,
            queue,
            pool,
            encoder: None,
            pass: None,
            pass_kernel: None,
            pending: FastSet::default(),
            writes_pending: false,
            counters: Counters::default(),
            ledger,
            pipelines: Pipelines::default(),
            params: Vec::new(),
            param_slots: FastMap::default(),
            params_lease: None,
            params_written: Vec::new(),
            staging: Vec::new(),
            staging_cursor: 0,
            on_first_record: None,
            recorded: false,
            end_of_task_scheduled: false,
            closed: false,
            last_submission: None,
            remap_after_flush: Vec::new(),
            remapping: Vec::new(),
            remapped: Arc::default(),
        }
    }

    /// Run `hook` whenever work is recorded into an empty stream.
    pub fn set_on_first_record(&mut self, hook: crate::platform::Hook) {
        self.on_first_record = Some(hook);
    }

    fn note_recorded(&mut self) {
        if !self.recorded {
            self.recorded = true;
            self.pool.stream_opened();
            if !self.end_of_task_scheduled {
                if let Some(hook) = &self.on_first_record {
                    self.end_of_task_scheduled = true;
                    hook();
                }
            }
        }
    }

    /// The pending encoder (created on first use) for a copy or clear: any open compute pass
    /// ends first. Counts as recording work.
    pub fn encoder(&mut self) -> &mut wgpu::CommandEncoder {
        self.pass = None;
        self.note_recorded();
        let device = &self.device;
        self.encoder.get_or_insert_with(|| {
            device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: crate::platform::COMMAND_LABEL,
            })
        })
    }

    /// The pipelines and the open compute pass (begun on first use) for dispatches that set
    /// their own pipelines.
    pub fn compute(&mut self) -> (&wgpu::Device, &mut Pipelines, &mut ComputePass) {
        let (device, pipelines, pass, _) = self.compute_kernel(None);
        (device, pipelines, pass)
    }

    /// The open compute pass with `kernel`'s pipeline set (not set again when the previous
    /// dispatch in the pass used it: a chain of one op makes two WebGPU calls per op, not three).
    pub fn compute_with(
        &mut self,
        kernel: Kernel,
    ) -> (&wgpu::Device, &mut Pipelines, &mut ComputePass) {
        let (device, pipelines, pass, set) = self.compute_kernel(Some(kernel));
        if !set {
            pass.set_pipeline(pipelines.get(device, kernel));
        }
        (device, pipelines, pass)
    }

    /// The open pass; records `kernel` as the pass's pipeline and returns whether it already was.
    fn compute_kernel(
        &mut self,
        kernel: Option<Kernel>,
    ) -> (&wgpu::Device, &mut Pipelines, &mut ComputePass, bool) {
        if self.pass.is_none() {
            self.pass_kernel = None;
            let pass = self
                .encoder()
                .begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: crate::platform::COMMAND_LABEL,
                    timestamp_writes: None,
                })
                .forget_lifetime();
            self.pass = Some(pass);
        }
        let already = kernel.is_some() && self.pass_kernel == kernel;
        self.pass_kernel = kernel;
        #[allow(clippy::expect_used)] // invariant: opened just above when there was none
        let pass = self.pass.as_mut().expect("just opened");
        (&self.device, &mut self.pipelines, pass, already)
    }

    /// Submit the pending encoder, if any (this submission's params written just before it,
    /// unless the params buffer already holds them). Returns whether anything was submitted.
    pub fn flush(&mut self) -> bool {
        self.pass = None;
        if let Some(lease) = &self.params_lease {
            let n = self.params.len();
            if n > 0 && self.params_written.get(..n) != Some(self.params.as_slice()) {
                self.queue.write_buffer(&lease.buffer, 0, &self.params);
                self.counters.param_writes += 1;
                match self.params_written.get_mut(..n) {
                    Some(prefix) => prefix.copy_from_slice(&self.params),
                    None => self.params_written.clone_from(&self.params),
                }
            }
        }
        let submitted = match self.encoder.take() {
            Some(encoder) => {
                self.last_submission = Some(self.queue.submit([encoder.finish()]));
                true
            }
            None if self.writes_pending => {
                self.last_submission = Some(self.queue.submit([]));
                true
            }
            None => false,
        };
        self.writes_pending = false;
        self.recorded = false;
        self.pending.clear();
        self.pool.stream_submitted();
        self.params.clear();
        self.param_slots.clear();
        // The params buffer stays for the next submission (cached bind groups name it) until
        // `trim` frees it; staging chunks go back to the pool settled.
        for lease in std::mem::take(&mut self.staging) {
            self.release(lease);
        }
        self.staging_cursor = 0;
        if submitted {
            self.counters.submits += 1;
        }
        self.remapping.retain(|slot| !MapSlot::is_done(slot));
        for lease in std::mem::take(&mut self.remap_after_flush) {
            self.remap(lease);
        }
        submitted
    }

    /// Map the (unmapped) upload staging buffer `lease` again; it returns to the pool through
    /// `remapped` once mapped, and its slot in `remapping` is finished then.
    fn remap(&mut self, lease: Lease) {
        let buffer = lease.buffer.clone();
        let back = Arc::clone(&self.remapped);
        let slot: Arc<Mutex<MapSlot>> = Arc::default();
        self.remapping.push(Arc::clone(&slot));
        buffer.map_async(wgpu::MapMode::Write, .., move |result| {
            let ok = result.is_ok();
            if ok {
                back.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(lease);
            }
            // A failed map means a lost device: the lease is dropped with it.
            MapSlot::finish(&slot, ok);
        });
    }

    /// An upload staging buffer the GPU never used, partly written: idle as it is where its
    /// mapped ranges can be handed out again (natively), else unmapped and mapped afresh (on the
    /// web a range once handed out stays taken until the buffer is unmapped).
    pub fn release_unused_staging(&mut self, lease: Lease) {
        if crate::platform::MAPPED_RANGES_REUSABLE {
            self.release(lease);
        } else {
            lease.buffer.unmap();
            self.remap(lease);
        }
    }

    /// Map the upload staging buffer `lease` again once the pending commands (which copy from
    /// it) are submitted; it returns to the pool when mapped ([`State::collect_remapped`]).
    /// Until then its map counts in `remapping`: where the host cannot block (the web),
    /// uploads await the oldest to keep the engine's staging bounded.
    pub fn remap_after_flush(&mut self, lease: Lease) {
        self.remap_after_flush.push(lease);
    }

    /// The end-of-task submission: submit what the task recorded; the next recording schedules
    /// another.
    pub fn end_of_task(&mut self) {
        self.end_of_task_scheduled = false;
        self.flush();
    }

    /// Free idle buffers down to `target_bytes`, the params arena's buffer included when no work
    /// is pending (the next op takes one again). Returns the bytes freed.
    pub fn trim(&mut self, target_bytes: u64) -> u64 {
        if self.encoder.is_none() {
            if let Some(lease) = self.params_lease.take() {
                self.release(lease);
                self.params_written.clear();
            }
        }
        self.pool.trim(target_bytes)
    }

    /// Return upload staging buffers whose map completed to the pool.
    pub fn collect_remapped(&mut self) {
        let ready =
            std::mem::take(&mut *self.remapped.lock().unwrap_or_else(PoisonError::into_inner));
        for lease in ready {
            self.release(lease);
        }
    }

    /// Record that pending commands use `buffer`.
    pub fn uses(&mut self, buffer: &wgpu::Buffer) {
        if !self.pending.contains(buffer) {
            self.pending.insert(buffer.clone());
        }
    }

    /// Whether pending commands use `buffer`.
    pub fn is_pending(&self, buffer: &wgpu::Buffer) -> bool {
        self.pending.contains(buffer)
    }

    /// Make a host access of `buffer` that cannot be ordered into the stream (a map, a copy
    /// submitted on its own) safe: submit first if pending commands use it.
    pub fn before_host_access(&mut self, buffer: &wgpu::Buffer) {
        if self.pending.contains(buffer) {
            self.flush();
        }
    }

    /// A lease from the pool for a writer running in `order`.
    pub fn acquire(&mut self, bytes: u64, kind: BufferKind, order: WriteOrder) -> Result<Lease> {
        self.pool.acquire(&self.device, bytes, kind, order)
    }

    /// Return a lease to the pool: in stream if pending commands still use its buffer. Pooled
    /// leases only come from this pool, so this cannot fail except through a tmath bug, which is
    /// reported in debug builds. After [`State::close`] the buffer is destroyed instead.
    pub fn release(&mut self, lease: Lease) {
        let in_stream = self.pending.contains(&lease.buffer);
        let result = self.pool.release(&lease, in_stream);
        debug_assert!(result.is_ok(), "{result:?}");
        if self.closed {
            self.pool.trim(0);
        }
    }

    /// The engine is going: submit what is pending, free every idle buffer, and destroy each
    /// buffer still leased as it comes back (a device the app owns outlives the engine, so
    /// nothing may stay allocated on it).
    pub fn close(&mut self) {
        self.flush();
        self.closed = true;
        self.trim(0);
    }

    /// The counters, with the pipelines' bind-group count.
    pub fn counters(&self) -> Counters {
        Counters {
            bind_groups: self.pipelines.bind_groups_created,
            ..self.counters
        }
    }

    /// One copy of `bytes` of tensor data that stays in its memory domain (a GPU copy, a
    /// host-side conversion).
    pub fn charge_copy(&mut self, bytes: u64) {
        self.counters.copies += 1;
        self.counters.copy_bytes += bytes;
    }

    /// One copy of `bytes` that crosses a memory domain (host ↔ GPU, device ↔ device).
    pub fn charge_transfer(&mut self, bytes: u64) {
        self.charge_copy(bytes);
        self.counters.crossings += 1;
    }

    /// One dtype conversion (GPU or host).
    pub fn charge_conversion(&mut self) {
        self.counters.conversions += 1;
    }

    /// One queue submission made outside [`State::flush`] (a raw copy on its own encoder).
    pub fn charge_submit(&mut self) {
        self.counters.submits += 1;
    }

    /// `n` compute dispatches.
    pub fn charge_dispatches(&mut self, n: u64) {
        self.counters.dispatches += n;
    }

    /// Count one transfer and keep it in the ledger.
    pub fn record(&mut self, transfer: crate::ledger::Transfer) {
        self.ledger.push(transfer);
    }

    /// Put an op's params into this submission's arena (the slot of an equal earlier value, else
    /// the next one); returns the uniform buffer and the slot's offset. A full arena submits the
    /// pending work first.
    pub fn params(&mut self, bytes: &[u8]) -> Result<(wgpu::Buffer, u32)> {
        debug_assert!(bytes.len() as u64 <= UNIFORM_SLOT);
        if self.params.len() as u64 >= PARAMS_SLOTS * UNIFORM_SLOT {
            self.flush();
        }
        if self.params_lease.is_none() {
            let lease = self.acquire(
                PARAMS_SLOTS * UNIFORM_SLOT,
                BufferKind::Uniform,
                WriteOrder::AheadOfStream,
            )?;
            self.params_lease = Some(lease);
        }
        let offset = match self.param_slots.get(bytes) {
            Some(&offset) => offset,
            None => {
                let offset = self.params.len() as u32;
                self.params.extend_from_slice(bytes);
                self.params
                    .resize(offset as usize + UNIFORM_SLOT as usize, 0);
                self.param_slots.insert(bytes.to_vec(), offset);
                offset
            }
        };
        #[allow(clippy::expect_used)] // invariant: acquired just above when there was none
        let buffer = self
            .params_lease
            .as_ref()
            .map(|l| l.buffer.clone())
            .expect("acquired above");
        Ok((buffer, offset))
    }

    /// Write `len` bytes into `target` at offset 0 with `write(buffer, offset)`, a host write,
    /// as [`crate::plan::host_write`] decides: straight in when no pending command uses
    /// `target`; else into this submission's staging arena and copied on the GPU after the
    /// pending work (returns `true`: one extra copy); or, for writes larger than a staging chunk,
    /// straight in after submitting the pending work.
    pub fn write_ordered(
        &mut self,
        target: &wgpu::Buffer,
        len: u64,
        write: impl FnOnce(&wgpu::Buffer, u64) -> Result<()>,
    ) -> Result<bool> {
        let len4 = len.next_multiple_of(4);
        match crate::plan::host_write(self.pending.contains(target), len, STAGING_CHUNK) {
            HostWrite::Direct => {
                write(target, 0)?;
                return Ok(false);
            }
            HostWrite::SubmitFirst => {
                self.flush();
                write(target, 0)?;
                return Ok(false);
            }
            HostWrite::Staged => {}
        }
        let room = self
            .staging
            .last()
            .is_some_and(|_| self.staging_cursor + len4 <= STAGING_CHUNK);
        if !room {
            if self.staging.len() == STAGING_CHUNKS {
                self.flush();
            }
            let chunk = self.acquire(
                STAGING_CHUNK,
                BufferKind::Staging,
                WriteOrder::AheadOfStream,
            )?;
            self.staging.push(chunk);
            self.staging_cursor = 0;
        }
        #[allow(clippy::expect_used)] // invariant: a chunk with room was pushed above if needed
        let chunk = self.staging.last().expect("pushed above").buffer.clone();
        let offset = self.staging_cursor;
        write(&chunk, offset)?;
        self.staging_cursor += len4.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        self.encoder()
            .copy_buffer_to_buffer(&chunk, offset, target, 0, len4);
        self.uses(target);
        Ok(true)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // A pass must end before its encoder is dropped.
        self.pass = None;
    }
}

/// What tensors and the web layer share with the engine.
pub(crate) struct Shared {
    pub gpu: Gpu,
    pub config: EngineConfig,
    state: Mutex<State>,
    /// The adapter's measured matmul tile shapes, if any (`tuning.rs`).
    pub matmul_tuning: Mutex<Option<crate::tuning::MatmulTuning>>,
}

impl Shared {
    /// The device, the configuration in force, and a fresh state over them.
    pub fn new(gpu: Gpu, config: EngineConfig, state: State) -> Shared {
        let tuning = crate::tuning::measured(&crate::tuning::adapter_key(&gpu.report));
        Shared {
            gpu,
            config,
            state: Mutex::new(state),
            matmul_tuning: Mutex::new(tuning),
        }
    }

    /// Lock the state. A panic elsewhere cannot poison tmath for good: the counters and pool are
    /// kept consistent before any call that could panic.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A lease of at least `bytes` for `kind`, from the pool, for a writer recorded into the
    /// stream (op outputs, casts, copies, clears): it may be a buffer pending work still reads.
    pub fn acquire(&self, state: &mut State, bytes: u64, kind: BufferKind) -> Result<Lease> {
        self.acquire_for(state, bytes, kind, WriteOrder::InStream)
    }

    /// A lease of at least `bytes` for `kind` for a writer running in `order`. With
    /// `zero_on_reuse`, a reused tensor buffer is cleared (in stream) first.
    pub fn acquire_for(
        &self,
        state: &mut State,
        bytes: u64,
        kind: BufferKind,
        order: WriteOrder,
    ) -> Result<Lease> {
        self.gpu.check_alive()?;
        let lease = state.acquire(bytes, kind, order)?;
        if self.config.zero_on_reuse && lease.reused && kind.is_tensor_storage() {
            // The whole buffer, not just the new tensor's bytes: gpuBuffer exposes all of it.
            // Recorded in stream, so a host write must then be ordered after it too.
            state.encoder().clear_buffer(&lease.buffer, 0, None);
            state.uses(&lease.buffer);
        }
        Ok(lease)
    }
}
