//! The native side of [`crate::platform`]: wgpu on Vulkan, Metal or DX12, driven by polling the
//! device from the calling thread.

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex, PoisonError};

/// Upload staging buffers can stay mapped between uses (wgpu maps them again once the GPU is
/// done with them), so large uploads go through a ring of them instead of queue writes.
pub(crate) const MAPPED_STAGING: bool = true;

/// wgpu runs queue writes only at the next submission: a write with nothing else pending needs
/// an (empty) submission of its own to reach the GPU.
pub(crate) const QUEUE_WRITES_WAIT_FOR_SUBMIT: bool = true;

/// Map callbacks run only inside a device poll ([`wait_for`], [`poll`]): a task must not await
/// one it has not polled for.
pub(crate) const MAPS_SETTLE_BY_THEMSELVES: bool = false;

/// A mapped buffer's ranges can be viewed again once the last view is dropped.
pub(crate) const MAPPED_RANGES_REUSABLE: bool = true;

/// Streamed uploads stage in chunks of the engine's `transfer_chunk_bytes` (16 MiB uploads at
/// 22-25 GB/s on the H100, 8 MiB at 17-20: bench/RESULTS.md).
pub(crate) const UPLOAD_CHUNK_MAX_BYTES: Option<u64> = None;

/// The label of tmath's command encoders and passes, so driver messages and captures name it.
pub(crate) const COMMAND_LABEL: Option<&str> = Some("tmath");

/// WGSL that uses subgroup operations needs no directive for naga (which rejects `enable
/// subgroups;` as not yet implemented); the SUBGROUP feature on the device is what allows it.
pub(crate) const WGSL_ENABLE_SUBGROUPS: &str = "";

/// Native wgpu runs in the app's own process.
pub(crate) fn webgpu_in_gpu_process() -> bool {
    false
}

/// Monotonic time in microseconds since the first call.
pub(crate) fn now_us() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e6
}

/// Whether `device` runs subgroup operations: wgpu's SUBGROUP feature.
pub(crate) fn has_subgroups(_device: &wgpu::Device, features: wgpu::Features) -> bool {
    features.contains(wgpu::Features::SUBGROUP)
}

/// Every native backend wgpu was built with (`WGPU_BACKEND` and friends respected).
pub(crate) fn default_instance() -> Result<wgpu::Instance> {
    Ok(wgpu::Instance::new(
        wgpu::InstanceDescriptor::new_without_display_handle_from_env(),
    ))
}

/// Whether `device` is known to be a CPU implementation its adapter does not report as one:
/// never natively, where the adapter's own device type is right.
pub(crate) fn unreported_cpu(_device: &wgpu::Device) -> bool {
    false
}

/// Run `create` (a GPU allocation) inside an out-of-memory error scope. Natively the scope
/// resolves at once, so a refused allocation is `Err((what was created, the reason))`.
pub(crate) fn out_of_memory_scope<T>(
    device: &wgpu::Device,
    _refused: &Arc<std::sync::atomic::AtomicBool>,
    create: impl FnOnce() -> T,
) -> Result<T, (T, String)> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let made = create();
    match block_on(scope.pop()) {
        Some(error) => Err((made, error.to_string())),
        None => Ok(made),
    }
}

/// Where a device's uncaptured errors go. Natively wgpu's default handler panics, so a device
/// tmath made reports them to `keep` instead; wgpu keeps one handler per device, so a device the
/// app lent keeps the app's.
pub(crate) struct ErrorHook;

impl ErrorHook {
    /// Report `device`'s uncaptured errors to `keep` (if tmath made the device: `owned`).
    pub fn install(
        device: &wgpu::Device,
        owned: bool,
        keep: impl Fn(String) + Send + Sync + 'static,
    ) -> ErrorHook {
        if owned {
            device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| keep(error.to_string())));
        }
        ErrorHook
    }

    /// Nothing to remove: the handler goes with the device.
    pub fn remove(&self) {}
}

/// Wait until the GPU finished `submission` (every submission if `None`), polling the device;
/// map and work-done callbacks of finished work run in the call.
pub(crate) fn wait_for(
    device: &wgpu::Device,
    submission: Option<wgpu::SubmissionIndex>,
) -> Result<()> {
    device
        .poll(wgpu::PollType::Wait {
            submission_index: submission,
            timeout: None,
        })
        .map(drop)
        .map_err(|e| Error::DeviceLost {
            reason: format!("waiting for the GPU failed: {e}"),
        })
}

/// Run the callbacks of work the GPU has finished, without waiting.
pub(crate) fn poll(device: &wgpu::Device) {
    let _ = device.poll(wgpu::PollType::Poll);
}

/// A callback the engine's state keeps: `Send` natively, where engines cross threads.
pub(crate) type Hook = Box<dyn Fn() + Send + Sync>;

/// No tasks natively: recorded work waits for a read or an explicit flush.
pub(crate) fn end_of_task_timer() -> Option<fn(super::Deferred)> {
    None
}

/// Drive a future to completion on this thread. Native wgpu resolves adapter, device and error
/// scope futures without an event loop, so a parking waker is all the blocking API needs.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// `future`'s output, blocking for it (always `Some` natively).
pub(crate) fn try_block_on<F: std::future::Future>(future: F) -> Option<F::Output> {
    Some(block_on(future))
}

/// A buffer wgpu did not create. Natively every buffer is a `wgpu::Buffer`: there is none (the
/// field can never be made).
#[derive(Clone, Debug)]
pub(crate) struct ForeignBuffer(Void);

#[derive(Clone, Debug)]
enum Void {}

/// Copy `n` bytes at `at` of `source` into the start of `staging`, submitted on its own.
pub(crate) fn copy_foreign(
    _device: &wgpu::Device,
    source: &ForeignBuffer,
    _at: u64,
    _staging: &wgpu::Buffer,
    _n: u64,
) {
    match source.0 {}
}

/// Helper threads for a host copy of `len` bytes: one per 2 MiB, at most 8 (one thread moves a
/// few GB/s; below two, the copy stays on the calling thread).
fn copy_threads(len: usize) -> usize {
    const PER_THREAD: usize = 2 << 20;
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(8)
        .min(len / PER_THREAD)
}

/// Copy `src` into `dst` (same length), on helper threads when it is large enough for that to
/// measure faster ([`copy_threads`]); a staging chunk is copied while the GPU fills the next.
pub(crate) fn copy_parallel(dst: &mut [u8], src: &[u8]) {
    let threads = copy_threads(src.len());
    if threads < 2 || dst.len() != src.len() {
        dst.copy_from_slice(src);
        return;
    }
    let part = src.len().div_ceil(threads);
    on_helper_threads(dst.chunks_mut(part).zip(src.chunks(part)), |(d, s)| {
        d.copy_from_slice(s)
    });
}

/// Run `work` on each of `parts`, each on a helper thread of its own, and return when all are
/// done. A part the OS refuses a thread for runs on this thread instead (no panic).
fn on_helper_threads<P: Send>(parts: impl Iterator<Item = P>, work: impl Fn(P) + Sync) {
    // Each part waits in a slot its thread takes it from: a refused spawn drops its closure,
    // and the part is still there to run here.
    let slots: Vec<Mutex<Option<P>>> = parts.map(|p| Mutex::new(Some(p))).collect();
    let take = |slot: &Mutex<Option<P>>| slot.lock().unwrap_or_else(PoisonError::into_inner).take();
    std::thread::scope(|scope| {
        for slot in &slots {
            let (work, take) = (&work, &take);
            let spawned = std::thread::Builder::new().spawn_scoped(scope, move || {
                if let Some(part) = take(slot) {
                    work(part);
                }
            });
            if spawned.is_err() {
                if let Some(part) = take(slot) {
                    work(part);
                }
            }
        }
    });
}

/// Touch every page of `fresh` (memory just allocated, never written) on helper threads, one
/// per 2 MiB up to the host's cores, so the kernel maps its pages in parallel: on the H100's
/// host a copy into fresh memory moves 9–10 GB/s however it is split, touching first 22 GB/s,
/// and a copy into touched memory 24 or more (bench/RESULTS.md). Small buffers stay as they are.
pub(crate) fn prefault(fresh: &mut [u8]) {
    const PAGE: usize = 4096;
    const PER_THREAD: usize = 2 << 20;
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(fresh.len() / PER_THREAD);
    if threads < 2 {
        return;
    }
    let part = fresh.len().div_ceil(threads);
    on_helper_threads(fresh.chunks_mut(part), |part| {
        // An opaque zero: a store the compiler cannot drop as redundant with the allocator's
        // zeroing.
        for byte in part.iter_mut().step_by(PAGE) {
            *byte = std::hint::black_box(0);
        }
    });
}

/// The mapped range of a readback staging buffer that holds its bytes `0..n` (rounded up to
/// wgpu's copy alignment; [`prefix`] cuts it to `n`).
fn readback_range(buffer: &wgpu::Buffer, n: u64) -> Result<wgpu::BufferView> {
    buffer
        .get_mapped_range(0..n.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT))
        .map_err(|e| Error::DeviceLost {
            reason: format!("mapped range unavailable: {e}"),
        })
}

/// Append the mapped bytes `0..n` of a readback staging buffer (whole elements of `T`) to `out`:
/// one copy where they are aligned for `T` (a mapped range is), element by element where not.
pub(crate) fn append_mapped<T: bytemuck::Pod>(
    buffer: &wgpu::Buffer,
    n: u64,
    out: &mut Vec<T>,
) -> Result<()> {
    let view = readback_range(buffer, n)?;
    let bytes = prefix(&view, n)?;
    match bytemuck::try_cast_slice::<u8, T>(bytes) {
        Ok(elements) => out.extend_from_slice(elements),
        Err(_) => out.extend(
            bytes
                .chunks_exact(std::mem::size_of::<T>())
                .map(bytemuck::pod_read_unaligned::<T>),
        ),
    }
    Ok(())
}

/// Copy the mapped bytes `0..dst.len()` of a readback staging buffer into `dst`.
pub(crate) fn read_mapped(buffer: &wgpu::Buffer, dst: &mut [u8]) -> Result<()> {
    let n = dst.len() as u64;
    let view = readback_range(buffer, n)?;
    copy_parallel(dst, prefix(&view, n)?);
    Ok(())
}

/// Copy `bytes` into a mapped upload staging buffer at `at` (a multiple of 8), on helper threads
/// for large pieces (disjoint mapped views, one per thread).
pub(crate) fn write_mapped(buffer: &wgpu::Buffer, at: u64, bytes: &[u8]) -> Result<()> {
    let threads = copy_threads(bytes.len());
    if threads < 2 {
        return write_mapped_here(buffer, at, bytes);
    }
    // Parts of whole 8-byte words, so each view starts where a mapped range may.
    let part = bytes.len().div_ceil(threads).next_multiple_of(8);
    let mut views = Vec::new();
    for (i, piece) in bytes.chunks(part).enumerate() {
        let from = at + (i * part) as u64;
        let to = from + piece.len().next_multiple_of(4) as u64;
        views.push((
            buffer
                .get_mapped_range_mut(from..to)
                .map_err(staging_not_mapped)?,
            piece,
        ));
    }
    on_helper_threads(views.into_iter(), |(mut view, piece)| {
        view.slice(..piece.len()).copy_from_slice(piece)
    });
    Ok(())
}

/// The first `len` bytes of a mapped range (a short range is `DeviceLost`, never a panic).
pub(crate) fn prefix(view: &[u8], len: u64) -> Result<&[u8]> {
    usize::try_from(len)
        .ok()
        .and_then(|len| view.get(..len))
        .ok_or_else(|| Error::DeviceLost {
            reason: format!(
                "a mapped range of {} bytes is shorter than the {len} bytes asked for",
                view.len()
            ),
        })
}

/// Copy `bytes` into a mapped upload staging buffer at `at` (a multiple of 8) on this thread.
fn write_mapped_here(buffer: &wgpu::Buffer, at: u64, bytes: &[u8]) -> Result<()> {
    let end = at + bytes.len().next_multiple_of(4) as u64;
    let mut view = buffer
        .get_mapped_range_mut(at..end)
        .map_err(staging_not_mapped)?;
    view.slice(..bytes.len()).copy_from_slice(bytes);
    Ok(())
}

fn staging_not_mapped(e: wgpu::MapRangeError) -> Error {
    Error::DeviceLost {
        reason: format!("upload staging not mapped: {e}"),
    }
}
