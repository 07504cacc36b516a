//! tmath: the GPU memory layer for web ML apps, on WebGPU in the browser and wgpu natively.
//!
//! * [`Engine`] owns a device, a buffer [pool] and the [counters](stats) of everything done;
//! * [`Tensor`] is a handle over a pooled buffer with a [`Shape`] and a [`DType`];
//! * [`Engine::pool`] is the seed's `TensorPool`: `get`, `zeros`, `put`, `stats`, `trim`.
//!
//! ```no_run
//! # fn main() -> tmath::Result<()> {
//! let engine = tmath::Engine::new_blocking(Default::default())?;
//! let t = engine.pool().zeros([256, 256], None)?; // float32, cleared on the GPU
//! assert!(t.to_vec::<f32>()?.iter().all(|&x| x == 0.0));
//! engine.pool().put(&t)?; // back to the pool; `t` is disposed
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Nothing a caller controls may panic: no unwrap, expect or indexing in the crate's own code.
// The few internal invariants that use them say why at the site.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

// Layers, imports pointing down only: leaves (error, dtype, shape, stats, config, ledger,
// hashing, and on wasm the raw WebGPU bindings of web::raw) -> platform -> gpu, pool -> plan,
// kernels -> context -> tensor -> engine -> the facade methods on Engine (router: transfers;
// ops; precision) -> native | web. `platform` is where the two targets differ: the only module
// that tests the target, besides the two gates below for the target-specific top layers.
mod autotune;
mod config;
mod context;
pub mod dtype;
mod engine;
pub mod error;
mod gpu;
mod hashing;
mod kernels;
mod ledger;
pub mod ops;
pub mod plan;
mod platform;
pub mod pool;
mod precision;
pub mod router;
pub mod shape;
pub mod stats;
mod stream;
mod tensor;
mod tuning;
pub(crate) mod weights;
#[cfg(feature = "bench")]
pub mod workload;

// What only the native build has: wgpu buffers as sources, the blocking API.
#[cfg(not(target_arch = "wasm32"))]
mod native;
// The wasm-bindgen layer under js/index.js: its exports reach JS through wasm-bindgen, not through
// Rust paths, so nothing of it is public Rust API.
#[cfg(target_arch = "wasm32")]
mod web;

pub use dtype::{precision_matches, DType, HostData};
pub use engine::{Engine, EngineConfig, PoolHandle};
pub use error::{Error, Result};
pub use gpu::{AdapterReport, DeviceKind};
pub use kernels::{ElementOp, MatmulTiles};
pub use ops::Operand;
/// Drive a future (tmath's async API, or wgpu's adapter and device requests for a device of an
/// app's own, as `Engine::from_wgpu` takes) to completion on this thread. Native only: the web
/// cannot block.
#[cfg(not(target_arch = "wasm32"))]
pub use platform::block_on;
pub use pool::{PoolConfig, PoolStats, SizeClass};
pub use router::{ConversionSite, GpuCopy, Route, Transfer, UploadRoute};
pub use shape::Shape;
pub use stats::{Counters, Stats};
pub use stream::{SourceType, Upload, UploadPath};
pub use tensor::Tensor;
pub use tuning::{MatmulChoice, MatmulTuning};
