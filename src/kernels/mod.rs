//! WGSL kernels and the pipeline cache. Pipelines are built once per engine and kernel variant
//! (cast pairs are variants of one module, selected by pipeline-overridable constants); every
//! kernel reads its sizes from `arrayLength`, so no uniform buffer is needed per dispatch.

use std::collections::HashMap;

/// A compute kernel tmath knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kernel {
    /// 16 bytes per invocation, storage to storage.
    Copy,
}

impl Kernel {
    fn source(self) -> &'static str {
        match self {
            Kernel::Copy => include_str!("copy.wgsl"),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kernel::Copy => "tmath copy",
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
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(kernel.label()),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
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
