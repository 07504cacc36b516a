//! Helpers shared by the integration tests: engines that fail loudly without an adapter, the
//! golden cast vectors, and (from `tmath::workload`, which `tmath-bench` replays too) the seeded
//! generator and random-size workload.
#![allow(dead_code)]

#[allow(unused_imports)] // not every test file replays a workload
pub use tmath::workload::{random_size_workload, Rng, Step};

pub mod golden;

/// [`new_engine`] for the native-only tests, which are synchronous: the tests never skip for
/// want of an adapter.
#[cfg(not(target_arch = "wasm32"))]
pub fn engine(config: tmath::EngineConfig) -> tmath::Engine {
    block_on(new_engine(config))
}

/// A device of this machine's adapter made without optional features or raised limits, as an
/// app that makes its own device might; a loud failure when there is no adapter.
#[cfg(not(target_arch = "wasm32"))]
#[allow(dead_code)] // not every test file makes one
pub fn plain_device() -> (wgpu::Device, wgpu::Queue) {
    device_with(wgpu::Features::empty())
}

/// [`plain_device`] with these optional features (a loud failure where the adapter lacks one).
#[cfg(not(target_arch = "wasm32"))]
#[allow(dead_code)] // not every test file makes one
pub fn device_with(features: wgpu::Features) -> (wgpu::Device, wgpu::Queue) {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
        .unwrap_or_else(|e| panic!("these tests need a GPU adapter (CI uses lavapipe): {e}"));
    let descriptor = wgpu::DeviceDescriptor {
        required_features: features,
        ..wgpu::DeviceDescriptor::default()
    };
    block_on(adapter.request_device(&descriptor))
        .unwrap_or_else(|e| panic!("the adapter refused a device with {features:?}: {e}"))
}

/// Run a wgpu future to completion: natively wgpu resolves them without an event loop.
#[allow(dead_code)]
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}

/// An engine made asynchronously, as the web must, failing loudly without an adapter: the
/// scenarios of [`gpu_tests!`] start here on both targets.
pub async fn new_engine(config: tmath::EngineConfig) -> tmath::Engine {
    tmath::Engine::new(config).await.unwrap_or_else(|e| {
        panic!("these tests need a GPU adapter (lavapipe natively in CI, WebGPU in Chromium): {e}")
    })
}

/// A tensor's elements, read back through the async API both targets have.
pub async fn read<T: bytemuck::Pod>(t: &tmath::Tensor) -> Vec<T> {
    bytemuck::pod_collect_to_vec(&t.to_host_bytes().await.expect("readback"))
}

/// One async test body for both targets, as wgpu's `#[gpu_test]`: each named `async fn()` runs
/// natively as a `#[test]` (driven by [`block_on`], in module `native`) and in headless
/// Chromium's WebGPU through wasm-bindgen-test (module `web`).
#[macro_export]
macro_rules! gpu_tests {
    ($($name:ident),* $(,)?) => {
        #[cfg(not(target_arch = "wasm32"))]
        mod native {
            $(
                #[test]
                fn $name() {
                    $crate::common::block_on(super::$name())
                }
            )*
        }

        #[cfg(target_arch = "wasm32")]
        mod web {
            wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
            $(
                #[wasm_bindgen_test::wasm_bindgen_test]
                async fn $name() {
                    super::$name().await
                }
            )*
        }
    };
}
