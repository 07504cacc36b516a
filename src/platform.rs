//! What differs between the web and native builds, behind one interface: the clock, the
//! end-of-task timer, the future that waits for map and work-done callbacks, and out-of-memory
//! scopes. (Some branches remain elsewhere: the web's raw `GPUBuffer` routes, native upload
//! staging and device polling.)

/// Monotonic time in microseconds (performance.now on the web).
pub(crate) fn now_us() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        let performance = js_sys::Reflect::get(&js_sys::global(), &"performance".into());
        performance
            .ok()
            .and_then(|p| {
                let now = js_sys::Reflect::get(&p, &"now".into()).ok()?;
                let now: &js_sys::Function = wasm_bindgen::JsCast::dyn_ref(&now)?;
                now.call0(&p).ok()?.as_f64()
            })
            .unwrap_or_else(js_sys::Date::now)
            * 1e3
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e6
    }
}

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// Run `create` (a GPU allocation) inside an out-of-memory error scope. Natively the scope
/// resolves at once, so a refused allocation is `Err((what was created, the reason))` here. On
/// the web it resolves after this call returned: the result is `Ok`, and `refused` is set later
/// if the device refused it (the tensor on it then reports `OutOfMemory`).
pub(crate) fn out_of_memory_scope<T>(
    device: &wgpu::Device,
    refused: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    create: impl FnOnce() -> T,
) -> Result<T, (T, String)> {
    let scope = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let made = create();
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = refused;
        match block_on(scope.pop()) {
            Some(error) => Err((made, error.to_string())),
            None => Ok(made),
        }
    }
    #[cfg(target_arch = "wasm32")]
    {
        let flag = std::sync::Arc::clone(refused);
        let pop = scope.pop();
        wasm_bindgen_futures::spawn_local(async move {
            if pop.await.is_some() {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        });
        Ok(made)
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
