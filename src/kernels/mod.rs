//! WGSL kernels and the pipeline cache. Pipelines are built once per engine and kernel variant
//! (cast pairs are variants of one module, selected by pipeline-overridable constants). Kernels
//! read their sizes from a small params struct in a uniform slot of the context's params arena
//! (`context.rs`): one `writeBuffer` per submission, not one per dispatch, and consecutive ops
//! with equal params share a slot.

use crate::dtype::DType;
use crate::hashing::FastMap;

pub(crate) mod matmul;
pub(crate) use matmul::MatmulInput;
pub use matmul::MatmulTiles;

/// A compute kernel tmath knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kernel {
    /// 16 bytes per invocation, storage to storage.
    Copy,
    /// A dtype cast (`cast.wgsl`, specialised by constants): one output word per invocation, or
    /// 16 output bytes (`vector`, for lengths that are multiples of 8 elements).
    Cast {
        src: DType,
        dst: DType,
        vector: bool,
    },
    /// Tiled matmul with f32 output (`matmul.rs`; f32 accumulation except for
    /// `MatmulInput::F16Math`); `vector` where k and n are multiples of 4.
    Matmul {
        input: MatmulInput,
        tiles: MatmulTiles,
        vector: bool,
    },
    /// An elementwise op (`elementwise.wgsl`).
    /// `vector`: four elements per invocation (lengths that are multiples of 4, not broadcast).
    Elementwise {
        op: ElementOp,
        dtype: DType,
        mode: ElementMode,
        vector: bool,
    },
}

/// Elementwise operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b` (int32: truncating; division by zero gives `a`, as WGSL defines it)
    Div,
    /// `max(a, 0)`; NaN and -0 pass through
    Relu,
}

impl ElementOp {
    /// The op's name, for error messages.
    pub fn name(self) -> &'static str {
        match self {
            ElementOp::Add => "add",
            ElementOp::Sub => "sub",
            ElementOp::Mul => "mul",
            ElementOp::Div => "div",
            ElementOp::Relu => "relu",
        }
    }
}

/// How an elementwise op finds its operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ElementMode {
    SameShape,
    Broadcast,
    ScalarRight,
    ScalarLeft,
}

/// Bytes of one uniform slot: params of one dispatch (a multiple of the 256-byte uniform offset
/// alignment WebGPU guarantees).
pub(crate) const UNIFORM_SLOT: u64 = 256;

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
    fn source(self) -> String {
        let f16 = include_str!("f16.wgsl");
        match self {
            Kernel::Copy => include_str!("copy.wgsl").into(),
            Kernel::Cast { vector, .. } => format!(
                "{f16}\n{}\n{}",
                include_str!("cast.wgsl"),
                if vector {
                    include_str!("cast_vec4.wgsl")
                } else {
                    include_str!("cast_words.wgsl")
                }
            ),
            Kernel::Matmul { input, tiles, .. } if tiles.subgroups => {
                matmul::subgroup_source(input, tiles.rows)
            }
            Kernel::Matmul {
                input,
                tiles,
                vector,
            } => matmul::source(input, tiles, vector),
            Kernel::Elementwise { vector, .. } => format!(
                "{}\n{}",
                if vector {
                    "alias W = vec4<u32>; alias WI = vec4<i32>; alias WF = vec4<f32>; const WIDTH = 4u;"
                } else {
                    "alias W = u32; alias WI = i32; alias WF = f32; const WIDTH = 1u;"
                },
                include_str!("elementwise.wgsl")
            ),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kernel::Copy => "tmath copy",
            Kernel::Cast { .. } => "tmath cast",
            Kernel::Matmul { .. } => "tmath matmul",
            Kernel::Elementwise { .. } => "tmath elementwise",
        }
    }

    fn constants(self) -> Vec<(&'static str, f64)> {
        match self {
            Kernel::Copy => Vec::new(),
            Kernel::Cast { src, dst, .. } => vec![("SRC", code(src)), ("DST", code(dst))],
            Kernel::Matmul { .. } => Vec::new(),
            Kernel::Elementwise {
                op, dtype, mode, ..
            } => vec![
                ("OP", op as u32 as f64),
                ("TYPE", code(dtype)),
                (
                    "MODE",
                    match mode {
                        ElementMode::SameShape => 0.0,
                        ElementMode::Broadcast => 1.0,
                        ElementMode::ScalarRight => 2.0,
                        ElementMode::ScalarLeft => 3.0,
                    },
                ),
            ],
        }
    }

    /// Ops take three storage buffers and their params slot (a uniform binding at the slot's
    /// offset in the arena); copy and cast take two storage buffers and no params.
    fn has_params(self) -> bool {
        matches!(self, Kernel::Matmul { .. } | Kernel::Elementwise { .. })
    }
}

fn ops_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("tmath ops"),
        entries: &[
            storage(0, true),
            storage(1, true),
            storage(2, false),
            wgpu::BindGroupLayoutEntry {
                binding: 3,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: wgpu::BufferSize::new(UNIFORM_SLOT),
                },
                count: None,
            },
        ],
    })
}

/// Invocations per workgroup of every tmath kernel.
pub(crate) const WORKGROUP: u32 = 256;

/// Built pipelines by kernel, and bind groups by the buffers they bind.
#[derive(Default)]
pub(crate) struct Pipelines {
    built: FastMap<Kernel, wgpu::ComputePipeline>,
    ops_layout: Option<(wgpu::BindGroupLayout, wgpu::PipelineLayout)>,
    bind_groups: FastMap<BindKey, wgpu::BindGroup>,
    /// Bind groups created so far (cache misses).
    pub bind_groups_created: u64,
}

/// What a cached bind group binds: its layout (the shared ops layout, or the kernel whose own
/// automatic layout it was made for) and each buffer range.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct BindKey {
    layout: Option<Kernel>,
    /// Up to four `(buffer, offset, size)` entries, in binding order; no allocation per lookup.
    entries: [Option<(wgpu::Buffer, u64, u64)>; 4],
}

/// Bind groups kept at most; past that the cache starts over (entries of destroyed buffers
/// would otherwise linger).
const BIND_GROUP_CACHE: usize = 4096;

impl Pipelines {
    /// A bind group for `kernel` over `(buffer, offset, size)` ranges (the uniform slot last for
    /// kernels with params), from the cache when it was made before.
    pub fn bind_group(
        &mut self,
        device: &wgpu::Device,
        kernel: Kernel,
        entries: &[(&wgpu::Buffer, u64, u64)],
    ) -> wgpu::BindGroup {
        debug_assert!(entries.len() <= 4);
        let mut key = BindKey {
            layout: (!kernel.has_params()).then_some(kernel),
            entries: Default::default(),
        };
        for (slot, &(b, o, s)) in key.entries.iter_mut().zip(entries) {
            *slot = Some((b.clone(), o, s));
        }
        if let Some(found) = self.bind_groups.get(&key) {
            return found.clone();
        }
        let layout = if kernel.has_params() {
            self.ops_layout(device).0.clone()
        } else {
            self.get(device, kernel).get_bind_group_layout(0)
        };
        let resources: Vec<_> = entries
            .iter()
            .enumerate()
            .map(|(i, &(buffer, offset, size))| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer,
                    offset,
                    size: wgpu::BufferSize::new(size),
                }),
            })
            .collect();
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(kernel.label()),
            layout: &layout,
            entries: &resources,
        });
        self.bind_groups_created += 1;
        if self.bind_groups.len() >= BIND_GROUP_CACHE {
            self.bind_groups.clear();
        }
        self.bind_groups.insert(key, group.clone());
        group
    }

    fn ops_layout(
        &mut self,
        device: &wgpu::Device,
    ) -> &(wgpu::BindGroupLayout, wgpu::PipelineLayout) {
        self.ops_layout.get_or_insert_with(|| {
            let group = ops_layout(device);
            let pipeline = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("tmath ops"),
                bind_group_layouts: &[Some(&group)],
                immediate_size: 0,
            });
            (group, pipeline)
        })
    }

    /// The pipeline of `kernel`, built on first use.
    pub fn get(&mut self, device: &wgpu::Device, kernel: Kernel) -> &wgpu::ComputePipeline {
        if kernel.has_params() {
            self.ops_layout(device);
        }
        let layout = self.ops_layout.as_ref().map(|(_, l)| l.clone());
        self.built.entry(kernel).or_insert_with(|| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(kernel.label()),
                source: wgpu::ShaderSource::Wgsl(kernel.source().into()),
            });
            let constants = kernel.constants();
            let layout = if kernel.has_params() {
                layout.as_ref()
            } else {
                None
            };
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(kernel.label()),
                layout,
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

/// Record a vec4 compute copy of `len` bytes (a multiple of 16) from `src` to `dst` into `pass`,
/// in chunks no larger than the device's storage binding limit. Returns the dispatches recorded.
pub(crate) fn record_copy(
    device: &wgpu::Device,
    pipelines: &mut Pipelines,
    pass: &mut wgpu::ComputePass<'static>,
    src: &wgpu::Buffer,
    dst: &wgpu::Buffer,
    len: u64,
    max_binding: u64,
) -> u64 {
    debug_assert!(len.is_multiple_of(16));
    let pipeline = pipelines.get(device, Kernel::Copy).clone();
    // Chunks start at multiples of 256 bytes (the storage offset alignment WebGPU guarantees).
    let chunk = (max_binding / 256 * 256).max(256);
    let mut offset = 0;
    let mut dispatches = 0;
    while offset < len {
        let size = chunk.min(len - offset);
        let bind = pipelines.bind_group(
            device,
            Kernel::Copy,
            &[(src, offset, size), (dst, offset, size)],
        );
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        let (x, y) = groups(size / 16);
        pass.dispatch_workgroups(x, y, 1);
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
    pass: &mut wgpu::ComputePass<'static>,
    src: &wgpu::Buffer,
    from: DType,
    dst: &wgpu::Buffer,
    to: DType,
    elements: u64,
    max_binding: u64,
) -> u64 {
    let vector = elements.is_multiple_of(8);
    let kernel = Kernel::Cast {
        src: from,
        dst: to,
        vector,
    };
    let pipeline = pipelines.get(device, kernel).clone();
    // Chunks start at multiples of 128 elements: 256-byte offsets for 2-byte and 4-byte types.
    let chunk = (max_binding / 4 / 128 * 128).max(128);
    let words = |n: u64, dtype: DType| (n * dtype.size_bytes()).div_ceil(4) * 4;
    let mut start = 0;
    let mut dispatches = 0;
    while start < elements {
        let n = chunk.min(elements - start);
        let bind = pipelines.bind_group(
            device,
            kernel,
            &[
                (src, start * from.size_bytes(), words(n, from)),
                (dst, start * to.size_bytes(), words(n, to)),
            ],
        );
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        let per_invocation = if vector { 16 } else { 4 };
        let (x, y) = groups(words(n, to) / per_invocation);
        pass.dispatch_workgroups(x, y, 1);
        start += n;
        dispatches += 1;
    }
    dispatches
}
