//! Transfer routes between the host and the engine's GPU. Every route counts its copies and
//! crossings; each one borrows its staging buffers from the pool.

use crate::error::{Error, Result};
use crate::pool::BufferKind;
use crate::tensor::Tensor;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

/// Readback: copy the tensor into a pooled `MAP_READ` staging buffer (submitted together with
/// any pending work), map it, and copy the mapped range out once. The staging buffer returns to
/// the pool only after its map completed and it was unmapped, so it is never reused mid-map.
pub(crate) async fn read_back(tensor: &Tensor) -> Result<Vec<u8>> {
    let shared = Arc::clone(tensor.shared());
    let gpu = &shared.gpu;
    gpu.check_alive()?;
    let len = tensor.byte_len();
    let copy_len = len.next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
    let staging = {
        let mut state = shared.lock();
        let source = tensor.raw_buffer()?;
        let staging = shared.acquire(&mut state, copy_len, BufferKind::Readback)?;
        state
            .encoder(&gpu.device)
            .copy_buffer_to_buffer(&source, 0, &staging.buffer, 0, copy_len);
        state.flush(&gpu.queue);
        state.counters.copies += 1;
        state.counters.copy_bytes += len;
        state.counters.crossings += 1;
        staging
    };
    let mapped = map(gpu, &staging.buffer, wgpu::MapMode::Read, copy_len).await;
    let result = mapped.map(|()| {
        let view = staging.buffer.get_mapped_range(0..copy_len);
        let bytes = view.map(|v| v[..len as usize].to_vec());
        staging.buffer.unmap();
        bytes
    });
    let mut state = shared.lock();
    match result {
        Ok(Ok(bytes)) => {
            state.pool.release(&staging)?;
            Ok(bytes)
        }
        Ok(Err(e)) => {
            state.pool.discard(&staging);
            Err(Error::DeviceLost {
                reason: format!("mapped range unavailable: {e}"),
            })
        }
        Err(e) => {
            state.pool.discard(&staging);
            Err(e)
        }
    }
}

/// Map `buffer` and wait for it: natively by polling the device, on the web by awaiting the
/// browser's `mapAsync`. A lost device gives `DeviceLost` instead of hanging.
pub(crate) async fn map(
    gpu: &crate::gpu::Gpu,
    buffer: &wgpu::Buffer,
    mode: wgpu::MapMode,
    len: u64,
) -> Result<()> {
    let slot: Arc<Mutex<MapSlot>> = Arc::default();
    let in_callback = Arc::clone(&slot);
    buffer.map_async(mode, 0..len, move |result| {
        let mut slot = in_callback.lock().unwrap_or_else(PoisonError::into_inner);
        slot.result = Some(result.is_ok());
        if let Some(waker) = slot.waker.take() {
            waker.wake();
        }
    });
    #[cfg(not(target_arch = "wasm32"))]
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::DeviceLost {
            reason: format!("waiting for the GPU failed: {e}"),
        })?;
    let ok = MapWait(slot).await;
    if ok {
        Ok(())
    } else {
        gpu.check_alive()?;
        Err(Error::DeviceLost {
            reason: "the buffer could not be mapped".into(),
        })
    }
}

#[derive(Default)]
struct MapSlot {
    result: Option<bool>,
    waker: Option<Waker>,
}

struct MapWait(Arc<Mutex<MapSlot>>);

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
