//! Where a transfer is decided: plain data in (what the input is, what the adapter can do, the
//! engine's configuration), a plan out. No GPU anywhere, so every rule is unit-tested without an
//! adapter (as `pool/policy.rs` is for the pool); the router (native) and `web/transfer.rs` (the
//! browser) carry the plans out and never decide a route themselves.

use crate::config::{
    ConversionSite, GpuCopy, UploadRoute, COMPUTE_COPY_MIN_BYTES, GPU_CONVERSION_MIN_ELEMENTS,
    STAGED_WRITE_MIN_BYTES,
};
use crate::error::{Error, Result};
use crate::ledger::Route;
use crate::stream::UploadPath;

/// What the adapter offers, as far as transfers care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Adapter {
    /// Storage buffers the host can map (`MAPPABLE_PRIMARY_BUFFERS`: unified memory).
    pub unified_memory: bool,
    /// A GPU (discrete, integrated or virtual), not a CPU implementation.
    pub gpu: bool,
    /// A CPU implementation (lavapipe, SwiftShader).
    pub cpu: bool,
    /// The browser build (no kept-mapped upload buffers there).
    pub web: bool,
    /// WebGPU runs in another process (a browser's GPU process, not Dawn in Node or Deno):
    /// `writeBuffer` is a copy into shared memory the browser pipelines, a map a round trip.
    pub gpu_process: bool,
}

/// The engine's transfer settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// How host data reaches the GPU.
    pub upload: UploadRoute,
    /// Where uploads that change the dtype convert.
    pub conversion: ConversionSite,
    /// How GPU-to-GPU copies run.
    pub gpu_copy: GpuCopy,
}

/// The route a host upload of `bytes` takes.
pub fn upload(adapter: Adapter, settings: Settings, bytes: u64) -> Route {
    let staged = if adapter.web {
        Route::HostWrite
    } else {
        Route::StagedWrite
    };
    match settings.upload {
        UploadRoute::QueueWrite => Route::HostWrite,
        UploadRoute::Mapped => Route::MappedWrite,
        UploadRoute::Staged => staged,
        UploadRoute::Auto if adapter.unified_memory => Route::MappedWrite,
        UploadRoute::Auto if bytes >= STAGED_WRITE_MIN_BYTES => staged,
        UploadRoute::Auto => Route::HostWrite,
    }
}

/// How a streamed upload ([`crate::Upload`]) reaches the tensor: queue writes where the
/// configuration asks for them or WebGPU runs in a browser's GPU process, on the web (the JS side
/// paces them); the staging ring everywhere else. Natively always the ring: wgpu keeps a copy of
/// every queue write until the next submission, so nothing would bound them.
pub fn stream_upload(adapter: Adapter, settings: Settings) -> UploadPath {
    let queue = match settings.upload {
        UploadRoute::QueueWrite => true,
        UploadRoute::Auto => adapter.gpu_process,
        UploadRoute::Mapped | UploadRoute::Staged => false,
    };
    if adapter.web && queue {
        UploadPath::QueueWrites
    } else {
        UploadPath::Staged
    }
}

/// Whether an upload of `elements` that changes the dtype converts on the GPU (else the host).
pub fn converts_on_gpu(adapter: Adapter, settings: Settings, elements: u64) -> bool {
    match settings.conversion {
        ConversionSite::Host => false,
        ConversionSite::Gpu => true,
        ConversionSite::Auto => !adapter.cpu && elements >= GPU_CONVERSION_MIN_ELEMENTS,
    }
}

/// Whether a GPU copy of `bytes` runs as a compute copy (else `copyBufferToBuffer`); it needs
/// both buffers bound as storage and a multiple of 16 bytes.
pub fn compute_copy(adapter: Adapter, settings: Settings, bytes: u64, both_storage: bool) -> bool {
    let possible = both_storage && bytes.is_multiple_of(16);
    possible
        && match settings.gpu_copy {
            GpuCopy::Command => false,
            GpuCopy::Compute => true,
            GpuCopy::Auto => adapter.gpu && bytes >= COMPUTE_COPY_MIN_BYTES,
        }
}

/// How a host write of `bytes` into a buffer lands, given whether pending (recorded,
/// unsubmitted) commands use the buffer. Host writes run before pending commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostWrite {
    /// Straight into the buffer: nothing pending uses it.
    Direct,
    /// Into this submission's staging arena, then a GPU copy recorded after the pending work.
    Staged,
    /// Larger than a staging chunk: submit the pending work first, then straight in.
    SubmitFirst,
}

/// See [`HostWrite`]; `chunk` is the staging arena's chunk size.
pub fn host_write(target_pending: bool, bytes: u64, chunk: u64) -> HostWrite {
    match (target_pending, bytes.next_multiple_of(4) <= chunk) {
        (false, _) => HostWrite::Direct,
        (true, true) => HostWrite::Staged,
        (true, false) => HostWrite::SubmitFirst,
    }
}

/// What happens to a `GPUBuffer` / `wgpu::Buffer` of the engine's device handed to `toDevice`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BufferInput {
    /// The buffer becomes the tensor's storage (`adopt: true`).
    Adopt,
    /// One GPU copy into a pooled buffer.
    Copy,
    /// It cannot be copied (no `COPY_SRC`) but can be mapped: read through the host, once,
    /// recorded as a fallback from the copy with this reason.
    ReadThroughHost {
        /// Why the direct route does not apply.
        reason: String,
    },
}

/// The plan for a buffer of `size` bytes and `usage` holding a tensor of `len` bytes, or why
/// tmath cannot take it (`DataLengthMismatch`, `InvalidArgument`).
pub fn buffer_input(
    size: u64,
    usage: wgpu::BufferUsages,
    len: u64,
    adopt: bool,
) -> Result<BufferInput> {
    use wgpu::BufferUsages as U;
    if size < len {
        return Err(Error::DataLengthMismatch {
            expected: len,
            got: size,
        });
    }
    if adopt {
        let needed = U::STORAGE | U::COPY_SRC | U::COPY_DST;
        if !usage.contains(needed) {
            return Err(Error::invalid_argument(
                "adopt",
                format!(
                    "the buffer's usage {usage:?} lacks {:?}, which tensors need; create it with STORAGE | COPY_SRC | COPY_DST or pass adopt: false to copy it",
                    needed - usage
                ),
            ));
        }
        return Ok(BufferInput::Adopt);
    }
    if usage.contains(U::COPY_SRC) {
        return Ok(BufferInput::Copy);
    }
    if usage.contains(U::MAP_READ) {
        return Ok(BufferInput::ReadThroughHost {
            reason: "the buffer's usage lacks COPY_SRC".into(),
        });
    }
    Err(Error::invalid_argument(
        "buffer",
        format!("the buffer's usage {usage:?} has neither COPY_SRC nor MAP_READ, so tmath cannot read it"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wgpu::BufferUsages as U;

    const NATIVE_GPU: Adapter = Adapter {
        unified_memory: false,
        gpu: true,
        cpu: false,
        web: false,
        gpu_process: false,
    };
    /// A browser's WebGPU on a CPU device (Chromium on SwiftShader).
    const WEB_CPU: Adapter = Adapter {
        unified_memory: false,
        gpu: false,
        cpu: true,
        web: true,
        gpu_process: true,
    };
    /// Dawn in Node (or Deno's WebGPU): the web build, WebGPU in the app's process.
    const WEB_IN_PROCESS: Adapter = Adapter {
        gpu_process: false,
        ..WEB_CPU
    };
    const UNIFIED: Adapter = Adapter {
        unified_memory: true,
        gpu: true,
        cpu: false,
        web: false,
        gpu_process: false,
    };
    const AUTO: Settings = Settings {
        upload: UploadRoute::Auto,
        conversion: ConversionSite::Auto,
        gpu_copy: GpuCopy::Auto,
    };

    #[test]
    fn uploads_take_the_route_the_adapter_and_size_call_for() {
        assert_eq!(upload(NATIVE_GPU, AUTO, 1 << 20), Route::HostWrite);
        assert_eq!(
            upload(NATIVE_GPU, AUTO, STAGED_WRITE_MIN_BYTES),
            Route::StagedWrite
        );
        assert_eq!(upload(UNIFIED, AUTO, 16), Route::MappedWrite);
        // The web has no kept-mapped upload buffers: large uploads stay queue writes.
        assert_eq!(upload(WEB_CPU, AUTO, 1 << 30), Route::HostWrite);
        let staged = Settings {
            upload: UploadRoute::Staged,
            ..AUTO
        };
        assert_eq!(upload(WEB_CPU, staged, 16), Route::HostWrite);
        assert_eq!(upload(NATIVE_GPU, staged, 16), Route::StagedWrite);
        let queue = Settings {
            upload: UploadRoute::QueueWrite,
            ..AUTO
        };
        assert_eq!(upload(UNIFIED, queue, 1 << 30), Route::HostWrite);
    }

    #[test]
    fn streamed_uploads_write_through_the_queue_only_in_a_browser() {
        assert_eq!(stream_upload(WEB_CPU, AUTO), UploadPath::QueueWrites);
        assert_eq!(stream_upload(WEB_IN_PROCESS, AUTO), UploadPath::Staged);
        assert_eq!(stream_upload(NATIVE_GPU, AUTO), UploadPath::Staged);
        let with = |upload| Settings { upload, ..AUTO };
        assert_eq!(
            stream_upload(WEB_IN_PROCESS, with(UploadRoute::QueueWrite)),
            UploadPath::QueueWrites
        );
        assert_eq!(
            stream_upload(WEB_CPU, with(UploadRoute::Staged)),
            UploadPath::Staged
        );
        // Natively nothing would bound queue writes between submissions.
        assert_eq!(
            stream_upload(NATIVE_GPU, with(UploadRoute::QueueWrite)),
            UploadPath::Staged
        );
    }

    #[test]
    fn conversions_run_on_the_gpu_only_where_it_pays() {
        assert!(converts_on_gpu(
            NATIVE_GPU,
            AUTO,
            GPU_CONVERSION_MIN_ELEMENTS
        ));
        assert!(!converts_on_gpu(
            NATIVE_GPU,
            AUTO,
            GPU_CONVERSION_MIN_ELEMENTS - 1
        ));
        assert!(
            !converts_on_gpu(WEB_CPU, AUTO, 1 << 30),
            "a CPU device converts on the host"
        );
        let gpu = Settings {
            conversion: ConversionSite::Gpu,
            ..AUTO
        };
        assert!(converts_on_gpu(WEB_CPU, gpu, 1));
    }

    #[test]
    fn compute_copies_need_storage_and_whole_vec4s() {
        let big = COMPUTE_COPY_MIN_BYTES;
        assert!(compute_copy(NATIVE_GPU, AUTO, big, true));
        assert!(!compute_copy(NATIVE_GPU, AUTO, big, false));
        assert!(!compute_copy(NATIVE_GPU, AUTO, big + 4, true));
        assert!(!compute_copy(NATIVE_GPU, AUTO, big - 16, true));
        assert!(!compute_copy(WEB_CPU, AUTO, big, true));
        let compute = Settings {
            gpu_copy: GpuCopy::Compute,
            ..AUTO
        };
        assert!(compute_copy(WEB_CPU, compute, 16, true));
        assert!(!compute_copy(WEB_CPU, compute, 20, true));
    }

    #[test]
    fn host_writes_into_pending_buffers_are_ordered() {
        let chunk = 4 << 20;
        assert_eq!(host_write(false, 1 << 30, chunk), HostWrite::Direct);
        assert_eq!(host_write(true, chunk, chunk), HostWrite::Staged);
        assert_eq!(host_write(true, chunk - 2, chunk), HostWrite::Staged);
        assert_eq!(host_write(true, chunk + 1, chunk), HostWrite::SubmitFirst);
    }

    #[test]
    fn buffers_are_adopted_copied_read_through_the_host_or_refused() {
        let full = U::STORAGE | U::COPY_SRC | U::COPY_DST;
        assert_eq!(buffer_input(64, full, 64, true), Ok(BufferInput::Adopt));
        assert_eq!(
            buffer_input(64, U::COPY_SRC, 64, false),
            Ok(BufferInput::Copy)
        );
        assert!(matches!(
            buffer_input(64, U::MAP_READ | U::COPY_DST, 64, false),
            Ok(BufferInput::ReadThroughHost { .. })
        ));
        let code = |r: Result<BufferInput>| r.map_err(|e| e.code());
        assert_eq!(
            code(buffer_input(60, full, 64, false)),
            Err("DataLengthMismatch")
        );
        assert_eq!(
            code(buffer_input(64, U::COPY_SRC, 64, true)),
            Err("InvalidArgument")
        );
        assert_eq!(
            code(buffer_input(64, U::STORAGE, 64, false)),
            Err("InvalidArgument")
        );
    }
}
