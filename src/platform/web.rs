//! The web side of [`crate::platform`]: the browser's WebGPU (or Dawn in Node, Deno's WebGPU),
//! driven by the JS event loop. Nothing here may block.

use crate::error::{Error, Result};
use crate::web::raw::{self, RawDevice};
use std::sync::Arc;
use wasm_bindgen::{closure::Closure, JsCast, JsValue};

/// WebGPU maps buffers only asynchronously, between tasks: a synchronous upload cannot wait for
/// a staging buffer to be mapped again, so `toDevice` writes with `writeBuffer`. (Streamed
/// uploads, which are async, go through mapped staging where WebGPU runs in the app's process:
/// `crate::plan::stream_upload`.)
pub(crate) const MAPPED_STAGING: bool = false;

/// `writeBuffer` runs on the queue by itself: a write needs no submission to reach the GPU.
pub(crate) const QUEUE_WRITES_WAIT_FOR_SUBMIT: bool = false;

/// The event loop settles maps by itself: a task may await any of them.
pub(crate) const MAPS_SETTLE_BY_THEMSELVES: bool = true;

/// A range of a mapped buffer, once handed out by `getMappedRange`, stays taken until unmap.
pub(crate) const MAPPED_RANGES_REUSABLE: bool = false;

/// Streamed uploads stage in chunks of at most 4 MiB (Dawn's own write path uses 4 MiB): on
/// Dawn on the H100 a ring of 4 MiB chunks loaded a file as fast as one of 16 MiB, and mapped
/// staging counts in the page's memory (bench/RESULTS.md, bench/pace-dawn.mjs).
pub(crate) const UPLOAD_CHUNK_MAX_BYTES: Option<u64> = Some(4 << 20);

/// No label on the hot path's encoders and passes: wgpu's WebGPU backend moves a label across
/// the JS boundary as a string each time (set on the descriptor, read back and set again at
/// `finish`), 1-2 µs a submission on the H100's host (a CPU profile of bench/hostio-profile.mjs).
pub(crate) const COMMAND_LABEL: Option<&str> = None;

/// WGSL goes to the browser as written, and WebGPU requires `enable subgroups;` before subgroup
/// operations (with the device's `subgroups` feature).
pub(crate) const WGSL_ENABLE_SUBGROUPS: &str = "enable subgroups;\n";

/// Whether WebGPU runs in another process: true in a browser (a page or a worker: the GPU
/// process), false where the runtime links its WebGPU in (Dawn in Node or Bun, Deno's wgpu),
/// told apart by their globals. Asked once. (An Electron renderer with Node integration has
/// Node's globals over Chromium's GPU process: it takes the staging ring, correct but slower.)
pub(crate) fn webgpu_in_gpu_process() -> bool {
    static IN_GPU_PROCESS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IN_GPU_PROCESS.get_or_init(|| {
        let global = js_sys::global();
        let get = |o: &JsValue, key: &str| js_sys::Reflect::get(o, &key.into()).ok();
        let defined = |v: Option<JsValue>| v.is_some_and(|v| !v.is_undefined() && !v.is_null());
        let node = get(&global, "process")
            .and_then(|p| get(&p, "versions"))
            .and_then(|v| get(&v, "node"))
            .is_some_and(|v| v.is_string());
        !(node || defined(get(&global, "Deno")) || defined(get(&global, "Bun")))
    })
}

/// Monotonic time in microseconds (`performance.now`).
pub(crate) fn now_us() -> f64 {
    // A direct import (browsers, workers, Node and Deno all have a global `performance`):
    // looking it up by name on every call cost more than the upload it timed.
    #[wasm_bindgen::prelude::wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = performance, js_name = now, catch)]
        fn performance_now() -> Result<f64, JsValue>;
    }
    performance_now().unwrap_or_else(|_| js_sys::Date::now()) * 1e3
}

/// Whether `device` runs subgroup operations: WebGPU's `subgroups` feature on the device.
/// wgpu 30's WebGPU backend does not know that feature (it never reports or requests it), so
/// `js/index.js` requests it where the adapter has it, and this asks the device itself.
pub(crate) fn has_subgroups(device: &wgpu::Device, _features: wgpu::Features) -> bool {
    raw::of_device(device).features().has("subgroups")
}

/// The browser's WebGPU. `NoAdapter` unless the global object is one wgpu's WebGPU backend
/// accepts: it reads `navigator.gpu` only on a `Window` or a worker's global scope, and panics
/// elsewhere. (In Node and Deno, `js/index.js` provides that for the length of the synchronous
/// call that makes the instance.)
pub(crate) fn default_instance() -> Result<wgpu::Instance> {
    let global = js_sys::global();
    let defined =
        |name: &str| js_sys::Reflect::get(&global, &name.into()).is_ok_and(|v| !v.is_undefined());
    if !(defined("Window") || defined("WorkerGlobalScope")) {
        return Err(Error::NoAdapter {
            reason: "this JS runtime's global object is neither a window nor a worker scope, \
                     where wgpu looks for navigator.gpu; load tmath through its package entry \
                     (js/index.js), which provides that, and pass { gpu } to Engine.create"
                .into(),
        });
    }
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::BROWSER_WEBGPU;
    Ok(wgpu::Instance::new(desc))
}

/// Whether `device` is known to be a CPU implementation its adapter does not report as one.
/// Browsers report no device type; SwiftShader (Chromium without a GPU) is a CPU device, and
/// the per-adapter rules (copy method, matmul tiles, conversion site) should know.
pub(crate) fn unreported_cpu(device: &wgpu::Device) -> bool {
    let Some(raw) = device.as_webgpu() else {
        return false;
    };
    let info = js_sys::Reflect::get(raw, &"adapterInfo".into()).unwrap_or_default();
    let architecture = js_sys::Reflect::get(&info, &"architecture".into())
        .ok()
        .and_then(|a| a.as_string())
        .unwrap_or_default();
    architecture == "swiftshader"
}

/// Run `create` (a GPU allocation) inside an out-of-memory error scope. On the web the scope
/// resolves after this call returned: the result is `Ok`, and `refused` is set later if the
/// device refused it (the tensor on it then reports `OutOfMemory`).
pub(crate) fn out_of_memory_scope<T>(
    device: &wgpu::Device,
    refused: &Arc<std::sync::atomic::AtomicBool>,
    create: impl FnOnce() -> T,
) -> Result<T, (T, String)> {
    // The raw scope, not wgpu's: wgpu panics on an error whose class the runtime has no global
    // for (Node on Dawn defines none).
    let raw = raw::of_device(device);
    raw.push_error_scope("out-of-memory");
    let made = create();
    let pop = wasm_bindgen_futures::JsFuture::from(raw.pop_error_scope());
    let flag = Arc::clone(refused);
    wasm_bindgen_futures::spawn_local(async move {
        if matches!(pop.await, Ok(error) if !error.is_null() && !error.is_undefined()) {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    Ok(made)
}

/// Where a device's uncaptured errors go: a listener of tmath's own on `uncapturederror`.
/// wgpu's handler would replace the app's `onuncapturederror` and panics on error classes it
/// cannot name (GPUInternalError, or any error where the runtime has no `GPUValidationError`
/// global, as in Node). Removed on [`ErrorHook::remove`] or drop, so an app's device outlives
/// the engine without calling into a freed closure.
pub(crate) struct ErrorHook(std::sync::Mutex<Option<ErrorListener>>);

struct ErrorListener {
    device: RawDevice,
    closure: Closure<dyn FnMut(JsValue)>,
}

impl ErrorHook {
    /// Listen on `device` (an event listener, so the app's own `onuncapturederror` stays; the
    /// same whoever made the device).
    pub fn install(
        device: &wgpu::Device,
        _owned: bool,
        keep: impl Fn(String) + Send + Sync + 'static,
    ) -> ErrorHook {
        let device = raw::of_device(device);
        let closure = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let error = js_sys::Reflect::get(&event, &"error".into()).unwrap_or_default();
            let message = js_sys::Reflect::get(&error, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| "a GPU error without a message".into());
            keep(message);
        });
        device.add_event_listener("uncapturederror", closure.as_ref().unchecked_ref());
        ErrorHook(std::sync::Mutex::new(Some(ErrorListener {
            device,
            closure,
        })))
    }

    /// Stop listening (the engine is disposed).
    pub fn remove(&self) {
        if let Ok(mut listener) = self.0.lock() {
            listener.take();
        }
    }
}

impl Drop for ErrorListener {
    fn drop(&mut self) {
        self.device
            .remove_event_listener("uncapturederror", self.closure.as_ref().unchecked_ref());
    }
}

/// Nothing to wait for on the web: the browser resolves maps and work-done promises from its
/// event loop, and the caller awaits them.
pub(crate) fn wait_for(
    _device: &wgpu::Device,
    _submission: Option<wgpu::SubmissionIndex>,
) -> Result<()> {
    Ok(())
}

/// Nothing to poll on the web (see [`wait_for`]).
pub(crate) fn poll(_device: &wgpu::Device) {}

/// A callback the engine's state keeps (one thread on the web: wgpu's web types are not `Send`).
pub(crate) type Hook = Box<dyn Fn()>;

/// The end-of-task timer: work recorded in a task is submitted at the end of that task.
pub(crate) fn end_of_task_timer() -> Option<fn(super::Deferred)> {
    Some(after_task)
}

/// Run `f` at the end of the current task (a macrotask, not a microtask: promises awaited within
/// the task, a readback say, must not split its work into two submissions). The timer is set
/// now, so it fires before any timer the caller sets after recording.
fn after_task(f: super::Deferred) {
    let timer = js_sys::Promise::new(&mut |resolve, _| {
        let set_timeout = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        match set_timeout {
            Some(f) => {
                let _ = f.call2(&JsValue::NULL, &resolve, &0.into());
            }
            None => {
                let _ = resolve.call0(&JsValue::NULL);
            }
        }
    });
    wasm_bindgen_futures::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(timer).await;
        f();
    });
}

/// Nothing blocks on the web: always `None` (the future is dropped unpolled).
pub(crate) fn try_block_on<F: std::future::Future>(_future: F) -> Option<F::Output> {
    None
}

/// A buffer wgpu did not create: an adopted foreign `GPUBuffer`, reached through raw WebGPU
/// calls (wgpu cannot wrap one).
pub(crate) type ForeignBuffer = raw::RawBuffer;

/// Copy `n` bytes at `at` of `source` into the start of `staging`: a raw copy on its own
/// encoder, submitted now (after the pending work, which the caller submitted first).
pub(crate) fn copy_foreign(
    device: &wgpu::Device,
    source: &ForeignBuffer,
    at: u64,
    staging: &wgpu::Buffer,
    n: u64,
) {
    raw::copy_range_now(
        &raw::of_device(device),
        source,
        at,
        &raw::of_buffer(staging),
        n,
    );
}

/// Nothing on the web: wasm memory is committed as it grows, and one thread copies anyway.
pub(crate) fn prefault(_fresh: &mut [u8]) {}

/// Append the mapped bytes `0..n` of a readback staging buffer (whole elements of `T`) to `out`:
/// copied from JS once, straight into `out`'s new elements.
pub(crate) fn append_mapped<T: bytemuck::Pod>(
    buffer: &wgpu::Buffer,
    n: u64,
    out: &mut Vec<T>,
) -> Result<()> {
    let start = out.len();
    out.resize(start + n as usize / std::mem::size_of::<T>(), T::zeroed());
    read_mapped(buffer, bytemuck::cast_slice_mut(out.split_at_mut(start).1))
}

/// Copy the mapped bytes `0..dst.len()` of a readback staging buffer into `dst` (wasm memory).
pub(crate) fn read_mapped(buffer: &wgpu::Buffer, dst: &mut [u8]) -> Result<()> {
    mapped_js(buffer, dst.len() as u64)?.copy_to(dst);
    Ok(())
}

/// The first `n` bytes of a mapped readback staging buffer as a `Uint8Array` over the mapped
/// range (JS memory: nothing is copied into wasm), for web sinks.
pub(crate) fn mapped_js(buffer: &wgpu::Buffer, n: u64) -> Result<js_sys::Uint8Array> {
    let range = raw::of_buffer(buffer)
        .get_mapped_range(0.0, n.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT) as f64)
        .map_err(|_| Error::DeviceLost {
            reason: "a readback staging range could not be mapped".into(),
        })?;
    Ok(js_sys::Uint8Array::new_with_byte_offset_and_length(
        &range, 0, n as u32,
    ))
}

/// Copy `bytes` into a mapped upload staging buffer at `at` (a multiple of 8), through a range
/// of its own as [`write_mapped_js`] maps.
pub(crate) fn write_mapped(buffer: &wgpu::Buffer, at: u64, bytes: &[u8]) -> Result<()> {
    let range = mapped_range(buffer, at, bytes.len())?;
    range.subarray(0, bytes.len() as u32).copy_from(bytes);
    Ok(())
}

/// Copy a JS `Uint8Array` into a mapped upload staging buffer at `at` (a multiple of 8), from
/// JS memory to the mapped range with no copy into wasm.
pub(crate) fn write_mapped_js(
    buffer: &wgpu::Buffer,
    at: u64,
    bytes: &js_sys::Uint8Array,
) -> Result<()> {
    mapped_range(buffer, at, bytes.length() as usize)?.set(bytes, 0);
    Ok(())
}

/// The mapped bytes `at..at + n` (rounded up to a 4-byte word) of an upload staging buffer.
/// Raw WebGPU, not wgpu's mapped views: wgpu maps the whole buffer at its first view, and
/// WebGPU refuses a range overlapping one already handed out; an upload's ranges follow each
/// other, so each write maps a range of its own.
fn mapped_range(buffer: &wgpu::Buffer, at: u64, n: usize) -> Result<js_sys::Uint8Array> {
    let n = (n as u64).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
    let range = raw::of_buffer(buffer)
        .get_mapped_range(at as f64, n as f64)
        .map_err(|_| Error::DeviceLost {
            reason: "an upload staging range could not be mapped".into(),
        })?;
    Ok(js_sys::Uint8Array::new(&range))
}
