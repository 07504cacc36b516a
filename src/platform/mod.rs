//! What differs between the web and native builds, behind one interface. Everything else in the
//! crate is the same code on both targets: where they differ, it asks this module (a function
//! here, or a capability constant such as [`MAPPED_STAGING`]) instead of testing the target.
//!
//! Each target implements the same items in its own file:
//!
//! * the clock ([`now_us`]) and the default wgpu instance;
//! * waiting for the GPU: native wgpu needs the device polled, the browser resolves maps and
//!   work-done promises from its event loop ([`wait_for`], [`poll`]); blocking at all
//!   ([`try_block_on`]: never on the web);
//! * the end-of-task submission (the web only: [`end_of_task_timer`]);
//! * out-of-memory scopes, and where uncaptured device errors go ([`ErrorHook`]);
//! * host copies out of and into mapped staging ([`read_mapped`], [`append_mapped`],
//!   [`write_mapped`]): on helper threads natively for large copies, a typed-array copy on the
//!   web; a new readback's memory touched in parallel first ([`prefault`], native only);
//! * buffers wgpu did not create ([`ForeignBuffer`]: a `GPUBuffer` on the web, none natively).
//!
//! The two top-level layers built on it are target-specific by nature and gated once in
//! `lib.rs`: `native` (the blocking API and wgpu-buffer routes) and `web` (the wasm-bindgen API
//! under `js/index.js`).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

#[cfg(not(target_arch = "wasm32"))]
mod native;
#[cfg(not(target_arch = "wasm32"))]
pub use native::block_on;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::*;
#[cfg(target_arch = "wasm32")]
mod web;
#[cfg(target_arch = "wasm32")]
pub(crate) use web::*;

/// Work run later, on the thread that scheduled it ([`end_of_task_timer`]).
pub(crate) type Deferred = Box<dyn FnOnce()>;

/// Where a map (or work-done) callback leaves its result for the task awaiting it; callbacks may
/// run while the engine is locked, so they touch only this.
#[derive(Default)]
pub(crate) struct MapSlot {
    result: Option<bool>,
    /// Every task awaiting the slot (an upload's backpressure and `synchronize` may both).
    wakers: Vec<Waker>,
}

/// Resolves with the slot's result once a callback has set it.
pub(crate) struct MapWait(pub Arc<Mutex<MapSlot>>);

impl MapSlot {
    /// Record `ok` and wake the waiting task.
    pub fn finish(slot: &Mutex<MapSlot>, ok: bool) {
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        slot.result = Some(ok);
        for waker in std::mem::take(&mut slot.wakers) {
            waker.wake();
        }
    }

    /// Whether the callback has run.
    pub fn is_done(slot: &Mutex<MapSlot>) -> bool {
        slot.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .result
            .is_some()
    }
}

impl Future for MapWait {
    type Output = bool;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.result {
            Some(ok) => Poll::Ready(ok),
            None => {
                if !slot.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    slot.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}
