//! WGSL kernels and the pipeline cache. Pipelines are built once per engine and kernel variant
//! (cast pairs are variants of one module, selected by pipeline-overridable constants); every
//! kernel reads its sizes from `arrayLength`, so no uniform buffer is needed per dispatch.

use crate::dtype::DType;
use std::collections::HashMap;

/// A compute kernel tmath knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kernel {
    /// 16 bytes per invocation, storage to storage.
    Copy,
    /// A dtype cast, one output word per invocation (`cast.wgsl`, specialised by constants).
    Cast { src: DType, dst: DType },
}

/// The dtype codes `cast.wgsl` uses.
fn code(dtype: DType) -> f64 {
    match dtype {
        DType::F32 => 0.0,
        DType::F16 => 1.0,
        DType::BF16 => 2.0,
        DType::I32 => 3.0,
    }
}

impl Kernel {
    fn source(self) -> &'static str {
        match self {
            Kernel::Copy => include_str!("copy.wgsl"),
            Kernel::Cast { .. } => include_str!("cast.wgsl"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kernel::Copy => "tmath copy",
            Kernel::Cast { .. } => "tmath cast",
        }
    }

    fn constants(self) -> Vec<(&'static str, f64)> {
        match self {
            Kernel::Copy => Vec::new(),
            Kernel::Cast { src, dst } => vec![("SRC", code(src)), ("DST", code(dst))],
        }
    }
}

/// Invocations per workgroup of every tmath kernel.
pub(crate) const WORKGROUP: u32 = 256;

/// Built pipelines, by kernel.
#[derive(Default)]
pub(crate) struct Pipelines {
    built: HashMap<Kernel, wgpu::ComputePipeline>,
}

impl Pipelines {
    /// The pipeline of `kernel`, built on first use.
    pub fn get(&mut self, device: &wgpu::Device, kernel: Kernel) -> &wgpu::ComputePipeline {
        self.built.entry(kernel).or_insert_with(|| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(kernel.label()),
                source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
            });
            let constants = kernel.constants();
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(kernel.label()),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: &constants,
                    ..Default::default()
                },
                cache: None,
            })
        })
    }
}

/// Workgroup counts covering `invocations`, folded into 2-D past the 65535-per-dimension limit.
pub(crate) fn groups(invocations: u64) -> (u32, u32) {
    let groups = invocations.div_ceil(WORKGROUP as u64).max(1);
    let x = groups.min(65_535);
    (x as u32, groups.div_ceil(x) as u32)
}

/// Record a vec4 compute copy of `len` bytes (a multiple of 16) from `src` to `dst`, in chunks
/// no larger than the device's storage binding limit. Returns the dispatches recorded.
pub(crate) fn record_copy(
    device: &wgpu::Device,
    pipelines: &mut Pipelines,
    encoder: &mut wgpu::CommandEncoder,
    src: &wgpu::Buffer,
    dst: &wgpu::Buffer,
    len: u64,
    max_binding: u64,
) -> u64 {
    debug_assert!(len.is_multiple_of(16));
    let pipeline = pipelines.get(device, Kernel::Copy).clone();
    let layout = pipeline.get_bind_group_layout(0);
    // Chunks start at multiples of 256 bytes (the storage offset alignment WebGPU guarantees).
    let chunk = (max_binding / 256 * 256).max(256);
    let mut offset = 0;
    let mut dispatches = 0;
    while offset < len {
        let size = chunk.min(len - offset);
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("tmath copy"),
            layout: &layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: src,
                        offset,
                        size: wgpu::BufferSize::new(size),
                    }),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: dst,
                        offset,
                        size: wgpu::BufferSize::new(size),
                    }),
                },
            ],
        });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("tmath copy"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        let (x, y) = groups(size / 16);
        pass.dispatch_workgroups(x, y, 1);
        drop(pass);
        offset += size;
        dispatches += 1;
    }
    dispatches
}

/// Record a cast of `elements` elements from `src` (`from`) to `dst` (`to`), in chunks within the
/// storage binding limit. Returns the dispatches recorded.
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_cast(
    device: &wgpu::Device,
    pipelines: &mut Pipelines,
    encoder: &mut wgpu::CommandEncoder,
    src: &wgpu::Buffer,
    from: DType,
    dst: &wgpu::Buffer,
    to: DType,
    elements: u64,
    max_binding: u64,
) -> u64 {
    let pipeline = pipelines
        .get(device, Kernel::Cast { src: from, dst: to })
        .clone();
    let layout = pipeline.get_bind_group_layout(0);
    // Chunks start at multiples of 128 elements: 256-byte offsets for 2-byte and 4-byte types.
    let chunk = (max_binding / 4 / 128 * 128).max(128);
    let words = |n: u64, dtype: DType| (n * dtype.size_bytes()).div_ceil(4) * 4;
    let mut start = 0;
    let mut dispatches = 0;
    while start < elements {
        let n = chunk.min(elements - start);
        let binding = |buffer, dtype: DType| {
            wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer,
                offset: start * dtype.size_bytes(),
                size: wgpu::BufferSize::new(words(n, dtype)),
            })
        };
        let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("tmath cast"),
            layout: &layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: binding(src, from),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: binding(dst, to),
                },
            ],
        });
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: Some("tmath cast"),
            timestamp_writes: None,
        });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        let (x, y) = groups(words(n, to) / 4);
        pass.dispatch_workgroups(x, y, 1);
        drop(pass);
        start += n;
        dispatches += 1;
    }
    dispatches
}
