//! The arithmetic peak a WGSL kernel reaches on this adapter: fused multiply-adds only, float32
//! against float16 (with `shader-f16`), in `vec4`s, 16 independent chains per invocation. It is
//! the ceiling for the matmul kernels, and says whether float16 arithmetic runs faster than
//! float32 at all on this adapter, through this compiler stack.

use crate::measure::*;
use crate::report::{Report, Value};
use tmath::Engine;

/// Independent accumulators per invocation, enough to hide the FMA latency.
const CHAINS: usize = 16;
/// Multiply-adds per chain per loop iteration (the loop is unrolled by this much).
const UNROLL: usize = 4;

fn source(scalar: &str) -> String {
    let ty = format!("vec4<{scalar}>");
    let enable = if scalar == "f16" { "enable f16;\n" } else { "" };
    let mut s = format!(
        "{enable}struct Params {{ iters: u32 }}
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> p: Params;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {{
    let m = {ty}({scalar}(0.999));
    let c = {ty}({scalar}(f32(id.x & 7u) * 0.0001));
"
    );
    for i in 0..CHAINS {
        s += &format!("    var a{i} = {ty}({scalar}({i}.0 * 0.01));\n");
    }
    s += "    for (var i = 0u; i < p.iters; i++) {\n";
    for _ in 0..UNROLL {
        for i in 0..CHAINS {
            s += &format!("        a{i} = fma(a{i}, m, c);\n");
        }
    }
    s += "    }\n    var t = 0.0;\n";
    for i in 0..CHAINS {
        s += &format!("    t += f32(dot(a{i}, {ty}(1.0)));\n");
    }
    s + "    out[id.x] = t;\n}\n"
}

/// TFLOP/s of the FMA kernel in `scalar` ("f32" or "f16").
fn tflop_s(engine: &Engine, scalar: &str, gpu: bool) -> f64 {
    let device = engine.device();
    let (invocations, iters): (u64, u32) = if gpu { (1 << 20, 4096) } else { (1 << 14, 64) };
    let out = raw_buffer(
        engine,
        "fma out",
        invocations * 4,
        wgpu::BufferUsages::STORAGE,
    );
    let params = raw_buffer(
        engine,
        "fma params",
        16,
        wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    );
    engine
        .queue()
        .write_buffer(&params, 0, bytemuck::cast_slice(&[iters, 0, 0, 0]));
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("fma peak"),
        source: wgpu::ShaderSource::Wgsl(source(scalar).into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("fma peak"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: out.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: params.as_entire_binding(),
            },
        ],
    });
    let dispatches = 4;
    let s = seconds(5, || {
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind, &[]);
            for _ in 0..dispatches {
                pass.dispatch_workgroups((invocations / 256) as u32, 1, 1);
            }
        }
        engine.queue().submit([encoder.finish()]);
        wait(engine);
    });
    out.destroy();
    params.destroy();
    // Four lanes, two operations per multiply-add.
    let flops = (invocations * u64::from(iters) * (UNROLL * CHAINS * 4 * 2) as u64) as f64
        * f64::from(dispatches);
    flops / s / 1e12
}

/// The peaks' rows; the caller warms the GPU up first.
pub(crate) fn fma_peaks(out: &mut Report, engine: &Engine, gpu: bool) {
    let f32_rate = tflop_s(engine, "f32", gpu);
    let mut rows = vec![("float32", f32_rate)];
    if engine.adapter().shader_f16 {
        rows.push(("float16", tflop_s(engine, "f16", gpu)));
    }
    for (dtype, rate) in rows {
        out.record(
            "kernels",
            &[
                ("case", Value::Str("fma_peak".into())),
                ("dtype", Value::Str(dtype.into())),
                ("tflop_s", Value::Num(rate)),
                ("of_f32", Value::Num(rate / f32_rate)),
            ],
        );
    }
}
