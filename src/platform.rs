//! What differs between the web and native builds, behind one interface: the clock, the
//! end-of-task timer, the future that waits for map and work-done callbacks, out-of-memory
//! scopes, and on the web the device's error listener and the global wgpu looks for. (Some
//! branches remain elsewhere: the web's raw `GPUBuffer` routes, native upload staging and device
//! polling.)

#[cfg(target_arch = "wasm32")]
use crate::web::raw::RawDevice;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen::{closure::Closure, JsCast, JsValue};

/// Monotonic time in microseconds (performance.now on the web).
pub(crate) fn now_us() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        // A direct import (browsers, workers, Node and Deno all have a global `performance`):
        // looking it up by name on every call cost more than the upload it timed.
        #[wasm_bindgen::prelude::wasm_bindgen]
        extern "C" {
            #[wasm_bindgen(js_namespace = performance, js_name = now, catch)]
            fn performance_now() -> Result<f64, JsValue>;
        }
        performance_now().unwrap_or_else(|_| js_sys::Date::now()) * 1e3
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e6
    }
}

/// Run `create` (a GPU allocation) inside an out-of-memory error scope. Natively the scope
/// resolves at once, so a refused allocation is `Err((what was created, the reason))` here. On
/// the web it resolves after this call returned: the result is `Ok`, and `refused` is set later
/// if the device refused it (the tensor on it then reports `OutOfMemory`).
pub(crate) fn out_of_memory_scope<T>(
    device: &wgpu::Device,
    refused: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    create: impl FnOnce() -> T,
) -> Result<T, (T, String)> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = refused;
        let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let made = create();
        match block_on(scope.pop()) {
            Some(error) => Err((made, error.to_string())),
            None => Ok(made),
        }
    }
    // The raw scope, not wgpu's: wgpu panics on an error whose class the runtime has no global
    // for (Node on Dawn defines none).
    #[cfg(target_arch = "wasm32")]
    {
        let raw = crate::web::raw::of_device(device);
        raw.push_error_scope("out-of-memory");
        let made = create();
        let pop = wasm_bindgen_futures::JsFuture::from(raw.pop_error_scope());
        let flag = std::sync::Arc::clone(refused);
        wasm_bindgen_futures::spawn_local(async move {
            if matches!(pop.await, Ok(error) if !error.is_null() && !error.is_undefined()) {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
        Ok(made)
    }
}

/// `NoAdapter` unless the global object is one wgpu's WebGPU backend accepts: it reads
/// `navigator.gpu` only on a `Window` or a worker's global scope, and panics elsewhere. (In Node
/// and Deno, `js/index.js` provides that for the length of the synchronous call that makes the
/// instance.)
#[cfg(target_arch = "wasm32")]
pub(crate) fn check_web_gpu_global() -> Result<(), crate::Error> {
    let global = js_sys::global();
    let defined =
        |name: &str| js_sys::Reflect::get(&global, &name.into()).is_ok_and(|v| !v.is_undefined());
    if defined("Window") || defined("WorkerGlobalScope") {
        Ok(())
    } else {
        Err(crate::Error::NoAdapter {
            reason: "this JS runtime's global object is neither a window nor a worker scope, \
                     where wgpu looks for navigator.gpu; load tmath through its package entry \
                     (js/index.js), which provides that, and pass { gpu } to Engine.create"
                .into(),
        })
    }
}

/// The device's `uncapturederror` listener: each error's message goes to `keep`. Removed when
/// dropped, so an app's device outlives the engine without calling into a freed closure.
#[cfg(target_arch = "wasm32")]
pub(crate) struct ErrorListener {
    device: RawDevice,
    closure: Closure<dyn FnMut(JsValue)>,
}

#[cfg(target_arch = "wasm32")]
impl ErrorListener {
    /// Listen on `device` (an event listener, so the app's own `onuncapturederror` stays).
    pub fn new(device: RawDevice, keep: impl Fn(String) + 'static) -> ErrorListener {
        let closure = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let error = js_sys::Reflect::get(&event, &"error".into()).unwrap_or_default();
            let message = js_sys::Reflect::get(&error, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| "a GPU error without a message".into());
            keep(message);
        });
        device.add_event_listener("uncapturederror", closure.as_ref().unchecked_ref());
        ErrorListener { device, closure }
    }
}

#[cfg(target_arch = "wasm32")]
impl Drop for ErrorListener {
    fn drop(&mut self) {
        self.device
            .remove_event_listener("uncapturederror", self.closure.as_ref().unchecked_ref());
    }
}

/// Run `f` at the end of the current task (a macrotask, not a microtask: promises awaited within
/// the task, a readback say, must not split its work into two submissions). The timer is set
/// now, so it fires before any timer the caller sets after recording.
#[cfg(target_arch = "wasm32")]
pub(crate) fn after_task(f: impl FnOnce() + 'static) {
    use wasm_bindgen::JsCast;
    let timer = js_sys::Promise::new(&mut |resolve, _| {
        let set_timeout = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        match set_timeout {
            Some(f) => {
                let _ = f.call2(&wasm_bindgen::JsValue::NULL, &resolve, &0.into());
            }
            None => {
                let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
            }
        }
    });
    wasm_bindgen_futures::spawn_local(async move {
        let _ = wasm_bindgen_futures::JsFuture::from(timer).await;
        f();
    });
}

/// Where a map (or work-done) callback leaves its result for the task awaiting it; callbacks may
/// run while the engine is locked, so they touch only this.
#[derive(Default)]
pub(crate) struct MapSlot {
    result: Option<bool>,
    waker: Option<Waker>,
}

/// Resolves with the slot's result once a callback has set it.
pub(crate) struct MapWait(pub Arc<Mutex<MapSlot>>);

impl MapSlot {
    /// Record `ok` and wake the waiting task.
    pub fn finish(slot: &Mutex<MapSlot>, ok: bool) {
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.result = Some(ok);
        if let Some(waker) = slot.waker.take() {
            waker.wake();
        }
    }
}

impl Future for MapWait {
    type Output = bool;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.result {
            Some(ok) => Poll::Ready(ok),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Drive a future to completion on this thread. Native wgpu resolves adapter, device and error
/// scope futures without an event loop, so a parking waker is all the blocking API needs.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
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
