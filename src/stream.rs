//! Bounded transfers: tensors of any size move between host and GPU through a ring of at most
//! [`TRANSFER_RING`] pooled staging buffers of [`EngineConfig::transfer_chunk_bytes`] each, so
//! staging stays bounded whatever the tensor's size and the host copy of one chunk overlaps the
//! GPU copy of the next.
//!
//! * [`read_chunks`] reads a tensor back chunk by chunk into a caller's sink (a `Vec`, a slice,
//!   a JS typed array, a JS async iterator). A tensor no larger than one chunk takes a single
//!   staging buffer of its own size, as before.
//! * [`Upload`] streams host bytes into a new pooled tensor as they arrive (pieces of any size),
//!   converting `int64` source data under the router's rule, and casts on the GPU at the end if
//!   asked. The bytes go through mapped upload staging buffers wherever WebGPU runs in the app's
//!   process (on the web straight from the JS pieces: `web/stream.rs`; there `js/index.js`
//!   awaits [`Upload::backpressure`] between pieces, since nothing may block); in a browser,
//!   through queue writes straight into the tensor, which `js/index.js` paces
//!   ([`UploadPath`], chosen by `crate::plan::stream_upload`).
//!
//! Staging buffers come from the pool like every other buffer, so they count in its stats and
//! go back to it on every path, errors included.
//!
//! [`EngineConfig::transfer_chunk_bytes`]: crate::EngineConfig::transfer_chunk_bytes

use crate::config::TRANSFER_RING;
use crate::context::Shared;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::ledger::{Route, Transfer};
use crate::platform::{now_us, MapSlot, MapWait};
use crate::pool::{BufferKind, Lease};
use crate::shape::Shape;
use crate::tensor::Tensor;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The staging slot for a readback of `len` bytes in chunks of at most `chunk` bytes: a single
/// buffer of the tensor's size when it fits one chunk, chunk-sized ring buffers above.
fn slot_bytes(len: u64, chunk: u64) -> u64 {
    len.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT).min(chunk)
}

/// A positive multiple of 4 bytes, as a chunk size must be (copies move whole words).
pub(crate) fn check_chunk(chunk: u64) -> Result<u64> {
    if chunk == 0 || !chunk.is_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT) {
        return Err(Error::invalid_argument(
            "chunkBytes",
            format!("expected a positive multiple of 4 bytes, got {chunk}"),
        ));
    }
    Ok(chunk)
}

/// How an [`Upload`]'s bytes reach the tensor's buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UploadPath {
    /// Copied into the engine's ring of mapped upload staging buffers, each full chunk copied
    /// into the tensor on the GPU. Staging stays bounded by the ring, which the upload waits for
    /// (natively) or reports through [`Upload::backpressure`] (the web). Where WebGPU runs in
    /// the app's own process (native, Dawn in Node, Deno) this is the fast path: Dawn's own
    /// `writeBuffer` allocates and frees staging per write (bench/RESULTS.md).
    #[default]
    Staged,
    /// Queue writes (`writeBuffer`) straight into the tensor's buffer, no staging of the
    /// upload's own; the caller bounds the bytes in flight (`js/index.js` paces them against
    /// the queue). For browsers, whose WebGPU runs in a GPU process: there `writeBuffer` is a
    /// copy into shared memory the browser already pipelines, while a mapped staging buffer
    /// costs a map round trip to that process per chunk.
    QueueWrites,
}

/// One chunk of a readback on its way: copied into `lease`'s buffer and being mapped.
struct InFlight {
    lease: Lease,
    at: u64,
    n: u64,
    mapped: Arc<Mutex<MapSlot>>,
    submission: Option<wgpu::SubmissionIndex>,
}

/// Read `tensor` back in chunks of at most `chunk` bytes (the engine's chunk if `None`).
/// `sink(buffer, at, n)` runs while `buffer` is mapped over `0..n` (rounded up to 4) and holds
/// the tensor's bytes `at..at + n`; it copies them out and returns a future that resolves to
/// whether to go on (the JS iterator's backpressure: the next chunks are copied on the GPU
/// while it waits). Chunks arrive in order. Counts 1 copy and 1 crossing and one ledger entry
/// for the whole tensor; every staging buffer is back in the pool when this returns.
pub(crate) async fn read_chunks<S, F>(
    tensor: &Tensor,
    chunk: Option<u64>,
    mut sink: S,
) -> Result<()>
where
    S: FnMut(&wgpu::Buffer, u64, u64) -> Result<F>,
    F: Future<Output = Result<bool>>,
{
    let start = now_us();
    let shared = Arc::clone(tensor.shared());
    shared.gpu.check_alive()?;
    let len = tensor.byte_len();
    let chunk = check_chunk(chunk.unwrap_or(shared.config.transfer_chunk_bytes))?;
    let slot = slot_bytes(len, chunk);
    let mut ring: VecDeque<InFlight> = VecDeque::new();
    let mut spare: Vec<Lease> = Vec::new();
    let mut next = 0;
    let outcome: Result<()> = async {
        loop {
            while ring.len() < TRANSFER_RING && next < len {
                let n = chunk.min(len - next);
                ring.push_back(issue(&shared, tensor, next, n, slot, &mut spare)?);
                next += n;
            }
            let Some(front) = ring.pop_front() else {
                return Ok(());
            };
            if let Err(e) = wait(&shared, &front).await {
                shared.lock().pool.discard(&front.lease);
                return Err(e);
            }
            let taken = sink(&front.lease.buffer, front.at, front.n);
            front.lease.buffer.unmap();
            spare.push(front.lease);
            if !taken?.await? {
                return Ok(());
            }
        }
    }
    .await;
    // Early stop or error: the chunks still on their way finish mapping before their buffers
    // go back to the pool (a buffer is never reused mid-map).
    let mut lost = Vec::new();
    for in_flight in ring {
        match wait(&shared, &in_flight).await {
            Ok(()) => {
                in_flight.lease.buffer.unmap();
                spare.push(in_flight.lease);
            }
            Err(_) => lost.push(in_flight.lease),
        }
    }
    let mut state = shared.lock();
    for lease in spare {
        state.release(lease);
    }
    for lease in lost {
        state.pool.discard(&lease);
    }
    if outcome.is_ok() {
        state.record(Transfer::since(Route::Readback, tensor.dtype(), len, start));
    }
    outcome
}

/// Copy the tensor's bytes `at..at + n` into a staging slot (submitted at once) and start
/// mapping it.
fn issue(
    shared: &Shared,
    tensor: &Tensor,
    at: u64,
    n: u64,
    slot: u64,
    spare: &mut Vec<Lease>,
) -> Result<InFlight> {
    let n4 = n.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
    let mut state = shared.lock();
    // The source first (a disposed tensor takes no staging buffer), looked up per chunk: a
    // tensor disposed mid-read is `Disposed`.
    let source = Source::of(tensor)?;
    let lease = match spare.pop() {
        Some(lease) => lease,
        None => shared.acquire(&mut state, slot, BufferKind::Readback)?,
    };
    source.copy_out(shared, &mut state, at, &lease.buffer, n4);
    if at == 0 {
        state.charge_transfer(tensor.byte_len());
    }
    let submission = state.last_submission.clone();
    drop(state);
    let mapped: Arc<Mutex<MapSlot>> = Arc::default();
    let in_callback = Arc::clone(&mapped);
    lease
        .buffer
        .map_async(wgpu::MapMode::Read, 0..n4, move |result| {
            MapSlot::finish(&in_callback, result.is_ok())
        });
    Ok(InFlight {
        lease,
        at,
        n,
        mapped,
        submission,
    })
}

/// Where a readback copies from.
enum Source {
    Buffer(wgpu::Buffer),
    /// An adopted buffer wgpu did not create (a foreign `GPUBuffer`, web only).
    Foreign(crate::platform::ForeignBuffer),
}

impl Source {
    fn of(tensor: &Tensor) -> Result<Source> {
        if let Some(foreign) = tensor.foreign_buffer()? {
            return Ok(Source::Foreign(foreign));
        }
        tensor.raw_buffer().map(Source::Buffer)
    }

    /// Record the copy of `n4` bytes at `at` into `staging` and submit it with pending work.
    fn copy_out(
        &self,
        shared: &Shared,
        state: &mut crate::context::State,
        at: u64,
        staging: &wgpu::Buffer,
        n4: u64,
    ) {
        match self {
            Source::Buffer(source) => {
                state
                    .encoder()
                    .copy_buffer_to_buffer(source, at, staging, 0, n4);
                state.flush();
            }
            Source::Foreign(foreign) => {
                // A copy on its own encoder, after the pending work.
                state.flush();
                crate::platform::copy_foreign(&shared.gpu.device, foreign, at, staging, n4);
                state.charge_submit();
            }
        }
    }
}

/// Wait until the chunk's map completed: natively by waiting for its own submission (not for
/// later ones), on the web by awaiting the browser's `mapAsync`.
async fn wait(shared: &Shared, in_flight: &InFlight) -> Result<()> {
    crate::platform::wait_for(&shared.gpu.device, in_flight.submission.clone())?;
    if MapWait(Arc::clone(&in_flight.mapped)).await {
        Ok(())
    } else {
        shared.gpu.check_alive()?;
        Err(Error::DeviceLost {
            reason: "a readback staging buffer could not be mapped".into(),
        })
    }
}

/// The bytes of a streamed upload's source: a tensor dtype's own, or `int64` narrowed to
/// `int32` on the way (under the router's rule: a value outside `int32` is `ValueOutOfRange`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceType {
    /// Bytes laid out as the tensor's dtype (little-endian, 16-bit types packed).
    Same,
    /// Little-endian `int64`, into an `int32` tensor.
    Int64,
}

/// Bytes streamed into a new tensor as they arrive, with constant host memory: made by
/// [`crate::Engine::upload_stream`], fed with [`Upload::write`] in pieces of any size, ended by
/// [`Upload::finish`]. Dropping it unfinished returns every buffer it took to the pool.
///
/// By [`UploadPath::Staged`] (natively, and on the web where WebGPU runs in the app's process)
/// the bytes are copied into a ring of at most [`TRANSFER_RING`] mapped upload staging buffers
/// of the engine's chunk size and copied on the GPU into the tensor's buffer: each full chunk
/// is submitted at once, so the GPU copies one while the host fills the next. A full ring waits
/// for its oldest chunk: natively here, on the web in `js/index.js`, which awaits it.
/// (On Dawn in Node this loads a file about three times as fast as `writeBuffer` calls, whose
/// own staging Dawn allocates and frees per write: bench/RESULTS.md.) By
/// [`UploadPath::QueueWrites`] (browsers) they are queue writes into the tensor's buffer.
pub struct Upload {
    shared: Arc<Shared>,
    path: UploadPath,
    shape: Shape,
    dtype: DType,
    source: SourceType,
    target: Option<Lease>,
    /// Bytes of tensor data.
    len: u64,
    /// Source bytes expected and received so far.
    expected: u64,
    received: u64,
    /// Target bytes emitted so far (a multiple of [`Upload::unit`] until the end).
    written: u64,
    /// Source bytes short of a whole unit, carried to the next piece.
    carry: Vec<u8>,
    /// The source's type name in the ledger.
    dtype_in: String,
    start: f64,
    /// The staging chunk being filled, and the bytes in it.
    staging: Option<(Lease, u64)>,
    /// Submissions of chunks still being copied, oldest first: natively a full ring waits for
    /// the oldest (on the web, [`Upload::backpressure`] counts the engine's staging maps).
    in_flight: VecDeque<wgpu::SubmissionIndex>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("shape", &self.shape.dims())
            .field("dtype", &self.dtype)
            .field("expected", &self.expected)
            .field("received", &self.received)
            .finish()
    }
}

impl Upload {
    /// A streamed upload into a new tensor of `shape` and `dtype` (its buffer leased now), by
    /// the path the planner picks ([`crate::plan::stream_upload`]).
    pub(crate) fn new(
        shared: &Arc<Shared>,
        shape: Shape,
        dtype: DType,
        source: SourceType,
    ) -> Result<Upload> {
        let path = crate::plan::stream_upload(
            crate::router::adapter(shared),
            crate::router::settings(shared),
        );
        Upload::new_via(shared, shape, dtype, source, path)
    }

    /// A streamed upload whose bytes reach the tensor's buffer by `path`.
    pub(crate) fn new_via(
        shared: &Arc<Shared>,
        shape: Shape,
        dtype: DType,
        source: SourceType,
        path: UploadPath,
    ) -> Result<Upload> {
        let len = crate::shape::byte_len(&shape, dtype)?;
        let expected = match source {
            SourceType::Same => len,
            SourceType::Int64 => {
                if dtype != DType::I32 {
                    return Err(Error::UnsupportedDtype {
                        name: dtype.name().into(),
                        reason: "int64 data streams into int32 tensors only".into(),
                    });
                }
                shape.elements() * 8
            }
        };
        let target = {
            let mut state = shared.lock();
            match path {
                // The bytes land by GPU copies recorded in stream.
                UploadPath::Staged => {
                    let order = crate::pool::WriteOrder::InStream;
                    shared.acquire_for(&mut state, len, BufferKind::Storage, order)?
                }
                // Queue writes run ahead of the pending commands: a buffer they still read is
                // taken only when nothing else fits, and then submitted first.
                UploadPath::QueueWrites => {
                    let order = crate::pool::WriteOrder::AheadOfStream;
                    let lease = shared.acquire_for(&mut state, len, BufferKind::Storage, order)?;
                    state.before_host_access(&lease.buffer);
                    lease
                }
            }
        };
        Ok(Upload {
            shared: Arc::clone(shared),
            path,
            shape,
            dtype,
            source,
            target: Some(target),
            len,
            expected,
            received: 0,
            written: 0,
            carry: Vec::new(),
            dtype_in: match source {
                SourceType::Same => dtype.name().into(),
                SourceType::Int64 => "int64".into(),
            },
            start: now_us(),
            staging: None,
            in_flight: VecDeque::new(),
        })
    }

    /// The source type named in the ledger (the caller's host type, converted before).
    pub(crate) fn described_as(mut self, name: &str) -> Upload {
        self.dtype_in = name.into();
        self
    }

    /// Source bytes this upload takes in all.
    pub fn expected_bytes(&self) -> u64 {
        self.expected
    }

    /// Source bytes taken so far.
    pub fn received_bytes(&self) -> u64 {
        self.received
    }

    /// Source bytes per unit written at once: a whole 8-byte word (mapped ranges start on 8
    /// bytes); twice that for `int64`.
    pub(crate) fn unit(&self) -> usize {
        let word = 8;
        match self.source {
            SourceType::Same => word,
            SourceType::Int64 => word * 2,
        }
    }

    /// Take the next `piece` of source bytes. More bytes than the tensor holds is
    /// `DataLengthMismatch`, and nothing of the piece is taken.
    pub fn write(&mut self, piece: &[u8]) -> Result<()> {
        self.accept(piece.len() as u64)?;
        let unit = self.unit();
        let mut piece = piece;
        if !self.carry.is_empty() {
            let take = (unit - self.carry.len()).min(piece.len());
            let (head, rest) = piece.split_at(take);
            self.carry.extend_from_slice(head);
            piece = rest;
            if self.carry.len() == unit {
                let carry = std::mem::take(&mut self.carry);
                self.emit_source(&carry)?;
            }
        }
        let whole = piece.len() / unit * unit;
        let (middle, tail) = piece.split_at(whole);
        if !middle.is_empty() {
            self.emit_source(middle)?;
        }
        self.carry.extend_from_slice(tail);
        Ok(())
    }

    /// Count `n` more source bytes, refusing more than expected.
    fn accept(&mut self, n: u64) -> Result<()> {
        self.check_room(n)?;
        self.received += n;
        Ok(())
    }

    /// `DataLengthMismatch` if `n` more source bytes are more than the tensor holds.
    pub(crate) fn check_room(&self, n: u64) -> Result<()> {
        self.check_open()?;
        let total = self.received + n;
        if total > self.expected {
            return Err(Error::DataLengthMismatch {
                expected: self.expected,
                got: total,
            });
        }
        Ok(())
    }

    fn check_open(&self) -> Result<()> {
        if self.target.is_none() {
            return Err(Error::invalid_argument(
                "upload",
                "this upload was finished or failed; start a new one",
            ));
        }
        self.shared.gpu.check_alive()
    }

    /// Emit whole units of source bytes, converted to the tensor's layout.
    fn emit_source(&mut self, bytes: &[u8]) -> Result<()> {
        match self.source {
            SourceType::Same => self.emit(bytes),
            SourceType::Int64 => {
                let converted = self.narrow_int64(bytes)?;
                self.emit(&converted)
            }
        }
    }

    /// Whole little-endian `int64` elements as `int32` (the router's rule).
    fn narrow_int64(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let first = self.written / 4;
        let mut out = Vec::with_capacity(bytes.len() / 2);
        for (i, word) in bytes.chunks_exact(8).enumerate() {
            let mut le = [0u8; 8];
            le.copy_from_slice(word);
            let v = crate::dtype::narrow_i64(i64::from_le_bytes(le), first + i as u64)?;
            out.extend_from_slice(&v.to_le_bytes());
        }
        Ok(out)
    }

    /// The end: the last bytes (padded to a word) are written and submitted, and the tensor is
    /// returned, cast on the GPU to `precision` when given and different (`prepareTensor`'s
    /// semantics). Fewer bytes than the tensor holds is `DataLengthMismatch`.
    pub fn finish(mut self, precision: Option<DType>) -> Result<Tensor> {
        self.check_open()?;
        if self.received != self.expected {
            return Err(Error::DataLengthMismatch {
                expected: self.expected,
                got: self.received,
            });
        }
        if !self.carry.is_empty() {
            let carry = std::mem::take(&mut self.carry);
            self.emit_tail(&carry)?;
        }
        self.end()?;
        let len = self.len;
        let Some(target) = self.target.take() else {
            return Err(Error::invalid_argument("upload", "already finished"));
        };
        let tensor = Tensor::from_lease(
            Arc::clone(&self.shared),
            self.shape.clone(),
            self.dtype,
            target,
        );
        {
            let mut state = self.shared.lock();
            state.charge_transfer(len);
            if self.source == SourceType::Int64 {
                state.charge_conversion();
            }
            state.record(Transfer {
                route: match self.path {
                    UploadPath::Staged => Route::StagedWrite,
                    UploadPath::QueueWrites => Route::HostWrite,
                },
                fallback_from: None,
                reason: None,
                dtype_in: std::mem::take(&mut self.dtype_in),
                dtype_out: self.dtype,
                bytes: len,
                wall_us: now_us() - self.start,
                seq: 0,
            });
        }
        match precision {
            Some(p) if p != self.dtype => {
                let engine = crate::Engine {
                    shared: Arc::clone(&self.shared),
                };
                engine.cast(&tensor, p)
            }
            _ => Ok(tensor),
        }
    }

    /// The final partial unit: the tensor's last bytes, padded with zeros to a 4-byte word.
    fn emit_tail(&mut self, carry: &[u8]) -> Result<()> {
        let mut padded = match self.source {
            SourceType::Same => carry.to_vec(),
            // Only whole elements reach here: the length was checked.
            SourceType::Int64 => self.narrow_int64(carry)?,
        };
        padded.resize(padded.len().next_multiple_of(4), 0);
        self.emit(&padded)
    }
}

/// Direct writes from memory the crate cannot borrow as a slice: the web's JS typed arrays
/// (`web/stream.rs`), copied into the mapped staging from JS memory, and the backpressure the
/// web awaits. Natively every write is a slice and a full ring blocks.
#[allow(dead_code)]
impl Upload {
    /// How the source bytes are laid out.
    pub(crate) fn source(&self) -> SourceType {
        self.source
    }

    /// Source bytes a piece must give before whole units can be written from it directly: what
    /// completes the partial unit carried from the last piece (0 if none).
    pub(crate) fn carry_room(&self) -> usize {
        if self.carry.is_empty() {
            0
        } else {
            self.unit() - self.carry.len()
        }
    }

    /// Take `n` source bytes, whole units of a [`SourceType::Same`] source with nothing carried,
    /// that `put(staging, at, from, len)` copies itself: source bytes `from..from + len` (counted
    /// from the first of the `n`) into the mapped staging buffer at `at` (the web copies them
    /// from JS memory, never into wasm).
    pub(crate) fn write_direct(
        &mut self,
        n: u64,
        put: impl FnMut(&wgpu::Buffer, u64, usize, usize) -> Result<()>,
    ) -> Result<()> {
        debug_assert!(self.carry.is_empty() && self.source == SourceType::Same);
        self.check_room(n)?;
        let len = usize::try_from(n).map_err(|_| Error::invalid_argument("data", "too long"))?;
        self.emit_staged_with(len, put)?;
        self.received += n;
        Ok(())
    }

    /// The way this upload's bytes reach the tensor.
    pub(crate) fn path(&self) -> UploadPath {
        self.path
    }

    /// [`UploadPath::QueueWrites`]: take `n` source bytes, whole units of a
    /// [`SourceType::Same`] source with nothing carried, that `put(target, at)` writes itself
    /// into the tensor's buffer at byte `at` with a queue write (the web's `writeBuffer` from
    /// the JS piece).
    pub(crate) fn write_queued_direct(
        &mut self,
        n: u64,
        put: impl FnOnce(&wgpu::Buffer, u64) -> Result<()>,
    ) -> Result<()> {
        debug_assert!(self.carry.is_empty() && self.source == SourceType::Same);
        debug_assert!(self.path == UploadPath::QueueWrites && n.is_multiple_of(4));
        self.check_room(n)?;
        if let Some(target) = &self.target {
            put(&target.buffer, self.written)?;
        }
        self.written += n;
        self.received += n;
        Ok(())
    }

    /// The most source bytes to hand [`Upload::write`] at once where the host cannot block: a
    /// piece of at most this many takes at most one staging chunk beyond the one being filled.
    pub(crate) fn piece_bytes(&self) -> u64 {
        self.config_chunk()
    }

    /// Where the host cannot block (the web): before a piece of at most
    /// [`Upload::piece_bytes`], a wait for the engine's oldest upload staging buffer still being
    /// copied, when [`TRANSFER_RING`] of them are busy counting this upload's open chunk;
    /// `None` when there is room. Engine-wide, not per upload: a file of many small tensors
    /// starts a new upload per tensor while the last ones' chunks are still being copied.
    pub(crate) fn backpressure(&self) -> Option<MapWait> {
        if self.path == UploadPath::QueueWrites {
            return None;
        }
        let state = self.shared.lock();
        let mut busy = state
            .remapping
            .iter()
            .filter(|slot| !MapSlot::is_done(slot));
        let open = usize::from(self.staging.is_some());
        let oldest = busy.next()?;
        if 1 + busy.count() + open < TRANSFER_RING {
            return None;
        }
        Some(MapWait(Arc::clone(oldest)))
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let staging = self.staging.take();
        if self.target.is_none() && staging.is_none() {
            return;
        }
        // Unfinished: let the chunks in flight land, so their staging buffers are back in the
        // pool when the failed upload is gone.
        if self.target.is_some() {
            if let Some(last) = self.in_flight.pop_back() {
                let _ = crate::platform::wait_for(&self.shared.gpu.device, Some(last));
            }
        }
        let mut state = self.shared.lock();
        state.collect_remapped();
        if let Some((lease, _)) = staging {
            state.release_unused_staging(lease);
        }
        if let Some(target) = self.target.take() {
            state.release(target);
        }
    }
}

impl Upload {
    /// Write target bytes at the running offset, through the mapped staging chunk or a queue
    /// write.
    fn emit(&mut self, bytes: &[u8]) -> Result<()> {
        if self.path == UploadPath::QueueWrites {
            if let Some(target) = &self.target {
                let queue = &self.shared.gpu.queue;
                crate::router::queue_write(queue, &target.buffer, self.written, bytes);
            }
            self.written += bytes.len() as u64;
            return Ok(());
        }
        self.emit_staged_with(bytes.len(), |staging, at, from, n| {
            let part = bytes
                .get(from..from + n)
                .ok_or_else(|| Error::invalid_argument("data", "shorter than counted"))?;
            crate::platform::write_mapped(staging, at, part)
        })
    }

    /// Emit `len` target bytes at the running offset: `put(staging, at, from, n)` copies bytes
    /// `from..from + n` of them into the mapped staging chunk at `at`; each full chunk is
    /// submitted.
    fn emit_staged_with(
        &mut self,
        len: usize,
        mut put: impl FnMut(&wgpu::Buffer, u64, usize, usize) -> Result<()>,
    ) -> Result<()> {
        let target_len = self.target_len();
        let mut from = 0;
        while from < len {
            let slot = self.config_chunk().min(target_len.next_multiple_of(8));
            if self.staging.is_none() {
                let lease = self.take_staging(slot)?;
                self.staging = Some((lease, 0));
            }
            let Some((lease, fill)) = self.staging.as_mut() else {
                return Ok(());
            };
            let n = ((slot - *fill) as usize).min(len - from);
            put(&lease.buffer, *fill, from, n)?;
            *fill += n as u64;
            self.written += n as u64;
            from += n;
            if *fill == slot || self.written >= target_len {
                self.submit_chunk()?;
            }
        }
        Ok(())
    }

    /// The staging chunk: the engine's transfer chunk, at most [`UPLOAD_CHUNK_MAX_BYTES`].
    ///
    /// [`UPLOAD_CHUNK_MAX_BYTES`]: crate::platform::UPLOAD_CHUNK_MAX_BYTES
    fn config_chunk(&self) -> u64 {
        let chunk = self.shared.config.transfer_chunk_bytes;
        crate::platform::UPLOAD_CHUNK_MAX_BYTES
            .map_or(chunk, |most| chunk.min(most))
            .next_multiple_of(8)
    }

    /// The tensor's bytes as written: whole 4-byte words.
    fn target_len(&self) -> u64 {
        self.len.next_multiple_of(4)
    }

    /// A mapped upload staging buffer: an idle one of the pool, after the oldest chunk in flight
    /// finished when the ring is full.
    fn take_staging(&mut self, bytes: u64) -> Result<Lease> {
        let device = &self.shared.gpu.device;
        if self.in_flight.len() >= TRANSFER_RING {
            crate::platform::wait_for(device, self.in_flight.pop_front())?;
        } else {
            crate::platform::poll(device);
        }
        let mut state = self.shared.lock();
        state.collect_remapped();
        self.shared.acquire(&mut state, bytes, BufferKind::Upload)
    }

    /// Copy the filled staging chunk into the tensor on the GPU and submit it; the staging
    /// buffer is mapped again after that and then returns to the pool.
    fn submit_chunk(&mut self) -> Result<()> {
        let Some((lease, fill)) = self.staging.take() else {
            return Ok(());
        };
        lease.buffer.unmap();
        let fill4 = fill.next_multiple_of(4);
        let at = self.written - fill;
        let mut state = self.shared.lock();
        if let Some(target) = &self.target {
            state
                .encoder()
                .copy_buffer_to_buffer(&lease.buffer, 0, &target.buffer, at, fill4);
            state.uses(&target.buffer);
        }
        state.remap_after_flush(lease);
        state.flush();
        if let Some(index) = state.last_submission.clone() {
            self.in_flight.push_back(index);
        }
        Ok(())
    }

    /// The last staged chunk submitted (queue writes are all on the queue already).
    fn end(&mut self) -> Result<()> {
        self.submit_chunk()
    }
}

impl crate::Engine {
    /// Start streaming host bytes into a new tensor of `shape` and `dtype` (its buffer is leased
    /// now): feed it with [`Upload::write`], end it with [`Upload::finish`]. `source` says how
    /// the bytes are laid out: as `dtype` itself, or `int64` into an `int32` tensor.
    pub fn upload_stream<S>(&self, shape: S, dtype: DType, source: SourceType) -> Result<Upload>
    where
        S: TryInto<Shape>,
        Error: From<S::Error>,
    {
        Upload::new(&self.shared, shape.try_into()?, dtype, source)
    }

    /// [`Engine::upload_stream`] by a chosen [`UploadPath`]. With
    /// [`UploadPath::QueueWrites`] nothing bounds the bytes the queue holds but the caller:
    /// natively wgpu keeps a staging copy of every write until the next submission.
    ///
    /// [`Engine::upload_stream`]: crate::Engine::upload_stream
    pub fn upload_stream_via<S>(
        &self,
        shape: S,
        dtype: DType,
        source: SourceType,
        path: UploadPath,
    ) -> Result<Upload>
    where
        S: TryInto<Shape>,
        Error: From<S::Error>,
    {
        Upload::new_via(&self.shared, shape.try_into()?, dtype, source, path)
    }
}
