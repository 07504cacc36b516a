//! How an engine is set up: [`EngineConfig`] and the transfer settings in it. Plain data, a
//! leaf: everything else reads it.

use crate::dtype::DType;
use crate::kernels::MatmulTiles;
use crate::pool::PoolConfig;

/// How an [`Engine`](crate::Engine) is set up. `Default` gives the documented defaults.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Default precision: the dtype of tensors made without one (default `float32`).
    pub precision: DType,
    /// The pool's classes, cap and budget. `max_buffer_bytes` is replaced by the device's
    /// `maxBufferSize`.
    pub pool: PoolConfig,
    /// Which adapter to prefer when there are several (default high performance).
    pub power_preference: wgpu::PowerPreference,
    /// How host data reaches the GPU (default: chosen per adapter; see [`UploadRoute`]).
    pub upload: UploadRoute,
    /// Where uploads that change the dtype convert (default: chosen per adapter and size; see
    /// [`ConversionSite`]).
    pub upload_conversion: ConversionSite,
    /// How GPU-to-GPU copies run (default: chosen per adapter and size; see [`GpuCopy`]).
    pub gpu_copy: GpuCopy,
    /// Transfers kept in the ledger (default 256).
    pub ledger_capacity: usize,
    /// Clear every reused tensor buffer on the GPU before handing it out (default off: `get`
    /// returns a reused buffer with whatever it held, as the seed's pool does). With it on, no
    /// value written through one tensor can be read through another, at the cost of a clear
    /// per reuse.
    pub zero_on_reuse: bool,
    /// Bytes of one chunk of a large transfer (default [`TRANSFER_CHUNK_BYTES`]): readbacks and
    /// streamed uploads larger than this move through a ring of [`TRANSFER_RING`] pooled staging
    /// buffers of this size, so staging stays bounded whatever the tensor's size.
    pub transfer_chunk_bytes: u64,
    /// One matmul tile shape for every product (default `None`: the adapter's measured
    /// [`MatmulTuning`](crate::MatmulTuning) if one was made in this process, else the defaults;
    /// see [`Engine::tune_matmul`](crate::Engine::tune_matmul)). Checked at engine creation
    /// against the device's workgroup memory.
    pub matmul_tiles: Option<MatmulTiles>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            precision: DType::F32,
            pool: PoolConfig::default(),
            power_preference: wgpu::PowerPreference::HighPerformance,
            upload: UploadRoute::Auto,
            gpu_copy: GpuCopy::Auto,
            upload_conversion: ConversionSite::Auto,
            ledger_capacity: 256,
            zero_on_reuse: false,
            transfer_chunk_bytes: TRANSFER_CHUNK_BYTES,
            matmul_tiles: None,
        }
    }
}

/// How host data is uploaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UploadRoute {
    /// Mapped writes where the adapter has unified memory and `MAPPABLE_PRIMARY_BUFFERS`
    /// (Apple Silicon, integrated GPUs, CPU devices); natively elsewhere, staged writes from
    /// [`STAGED_WRITE_MIN_BYTES`] up and queue writes below; on the web, queue writes.
    #[default]
    Auto,
    /// Always one queue write (`writeBuffer`).
    QueueWrite,
    /// Mapped writes; `InvalidArgument` at engine creation if the adapter cannot map storage.
    Mapped,
    /// Staged writes through pooled, kept-mapped upload buffers (native only; on the web this is
    /// `QueueWrite`).
    Staged,
}

/// Bytes of one chunk of a bounded transfer, by default ([`EngineConfig::transfer_chunk_bytes`]).
/// Measured on an H100 (bench/RESULTS.md, `tmath-bench bounded`): 4, 8 and 16 MiB chunks moved
/// 6, 11 and 15 GB/s back and 6, 13 and 20 GB/s up at 1 GiB; 16 MiB costs 64 MiB of staging
/// with the ring below. (Dawn's own `writeBuffer` stages in 4 MiB chunks.)
pub const TRANSFER_CHUNK_BYTES: u64 = 16 << 20;

/// Chunks in flight in a bounded transfer: while the host takes one out of (or puts one into)
/// its mapped staging buffer, the GPU copies the others.
pub const TRANSFER_RING: usize = 4;

/// Uploads from this size up take the staged-write route under [`UploadRoute::Auto`] on
/// adapters without unified memory: `queue.write_buffer` allocates a fresh staging buffer per
/// call, which costs more than a reused mapped one for large uploads. Measured on an H100
/// (bench/RESULTS.md): staged / write_buffer = 0.85 at 1 MiB, 1.0 at 16 and 64 MiB, 2.1 at
/// 256 MiB, 2.7 at 1 GiB.
pub const STAGED_WRITE_MIN_BYTES: u64 = 64 << 20;

/// How GPU-to-GPU copies of tensor data run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GpuCopy {
    /// A vec4 compute-shader copy on GPUs (discrete, integrated, virtual) from
    /// [`COMPUTE_COPY_MIN_BYTES`] up, where it beats `copyBufferToBuffer`; `copyBufferToBuffer`
    /// otherwise.
    #[default]
    Auto,
    /// Always `copyBufferToBuffer`.
    Command,
    /// The compute copy wherever both buffers allow it (storage usage, 16-byte multiple).
    Compute,
}

/// Copies from this size up use the compute copy under [`GpuCopy::Auto`] on GPUs. Measured on
/// an H100 (bench/RESULTS.md), compute / copy command = 0.48 at 1 MiB, 1.2 at 16 MiB, 3.0 at
/// 64 MiB, 3.1 at 1 GiB.
pub const COMPUTE_COPY_MIN_BYTES: u64 = 8 << 20;

/// Where a dtype conversion of uploaded data runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConversionSite {
    /// On the GPU for uploads from [`GPU_CONVERSION_MIN_ELEMENTS`] elements up on GPUs (the
    /// upload moves the source bytes, the cast is nearly free there); on the host otherwise.
    /// Both give the same bits.
    #[default]
    Auto,
    /// Always on the host (the `half` crate), uploading the converted bytes.
    Host,
    /// Always on the GPU: upload the data as it is, then one cast.
    Gpu,
}

/// Uploads with a conversion from this many elements up convert on the GPU under
/// [`ConversionSite::Auto`] on GPU adapters. Measured f32 → f16 uploads (bench/RESULTS.md): on
/// an H100 the GPU route took 0.54 ms against the host's 6.7 ms at 1M elements (30 ms against
/// 564 ms at 64M); on lavapipe, a CPU device, the host route took half the GPU route's time.
pub const GPU_CONVERSION_MIN_ELEMENTS: u64 = 1 << 16;
