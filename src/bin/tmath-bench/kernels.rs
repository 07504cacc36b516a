//! The kernels against the hardware: the arithmetic peak (`peak.rs`), every matmul tile shape
//! and the tuner's choice, 16-bit inputs, and the bandwidth of elementwise ops and casts
//! (16 bytes per invocation, and one element or word per invocation on a length one short of
//! it) against a same-size buffer copy.

use crate::measure::*;
use crate::report::{Report, Value};
use tmath::{DType, Engine, EngineConfig, MatmulTiles, PoolConfig, Tensor};

/// Room for every buffer a case keeps, so no timing includes buffer creation.
fn config() -> EngineConfig {
    EngineConfig {
        pool: PoolConfig {
            budget_bytes: 8 << 30,
            ..PoolConfig::default()
        },
        ..EngineConfig::default()
    }
}

pub(crate) fn kernels_suite(out: &mut Report) {
    let engine = Engine::new_blocking(config()).expect("adapter");
    let gpu = engine.adapter().device_type != tmath::DeviceKind::Cpu;
    warm_up(&engine, if gpu { 1.0 } else { 0.1 });
    crate::peak::fma_peaks(out, &engine, gpu);
    tuning(out, &engine);
    matmul_shapes(out, &engine, gpu);
    bandwidth(out, &engine, gpu);
}

fn tuning(out: &mut Report, engine: &Engine) {
    let start = std::time::Instant::now();
    let tuned = engine.tune_matmul_blocking().expect("tune");
    let seconds = start.elapsed().as_secs_f64();
    for c in &tuned.choices {
        out.record(
            "kernels",
            &[
                ("case", Value::Str("tuned".into())),
                ("n", Value::Int(c.size as u64)),
                ("tiles", Value::Str(c.tiles.name())),
                ("ms", Value::Num(c.ms)),
                ("tuning_s", Value::Num(seconds)),
            ],
        );
    }
}

/// Milliseconds per product of `batch` products recorded into one submission: independent
/// `a × b` (the GPU may overlap them), or a chain `c ← c × b` (each waits for the one before).
fn product_ms(
    engine: &Engine,
    a: &Tensor,
    b: &Tensor,
    batch: usize,
    reps: usize,
    chain: bool,
    accumulate: DType,
) -> f64 {
    let product = |x: &Tensor| engine.matmul_with(x, b, accumulate).expect("matmul");
    let s = if chain {
        seconds(reps, || {
            let mut c = product(a);
            for _ in 1..batch {
                c = product(&c);
            }
            engine.flush().expect("flush");
            wait(engine);
        })
    } else {
        batch_seconds(engine, batch, reps, &|| product(a))
    };
    s * 1e3 / batch as f64
}

fn matmul_shapes(out: &mut Report, engine: &Engine, gpu: bool) {
    let sizes: &[usize] = if gpu {
        &[1024, 2048, 4096]
    } else {
        &[256, 512]
    };
    let limit = engine.adapter().max_workgroup_storage_bytes;
    for &n in sizes {
        let batch = if gpu { (1usize << 34) / (n * n * n) } else { 2 }.clamp(2, 64);
        let reps = if gpu { 10 } else { 3 };
        let flops = 2.0 * (n as f64).powi(3);
        let mut record = |label: String, dtype: DType, ms: f64, chain: bool| {
            out.record(
                "kernels",
                &[
                    (
                        "case",
                        Value::Str(if chain { "matmul_chain" } else { "matmul" }.into()),
                    ),
                    ("n", Value::Int(n as u64)),
                    ("dtype", Value::Str(dtype.name().into())),
                    ("tiles", Value::Str(label)),
                    ("ms", Value::Num(ms)),
                    ("tflop_s", Value::Num(flops / ms / 1e9)),
                ],
            );
        };
        for dtype in [DType::F32, DType::F16, DType::BF16] {
            let (a, b) = square_operands(engine, n, Some(dtype));
            warm_up(engine, if gpu { 0.5 } else { 0.05 });
            // The engine's choice (tuned above), then, for float32, every shape it could pick.
            for chain in [false, true] {
                let ms = product_ms(engine, &a, &b, batch, reps, chain, DType::F32);
                record("chosen".into(), dtype, ms, chain);
            }
            if dtype == DType::F16 {
                // float16 arithmetic allowed (each k step summed in float16).
                for chain in [false, true] {
                    let ms = product_ms(engine, &a, &b, batch, reps, chain, DType::F16);
                    record("chosen, f16 math".into(), dtype, ms, chain);
                }
                // Packed two to a word, as on a device without shader-f16 (Dawn in Node on the
                // H100 lists none): an engine on such a device of this adapter, with the engine's
                // choice and with the fastest portable shape the tuner measured.
                let portable = engine
                    .matmul_tuning()
                    .and_then(|t| t.pick_portable((n * n) as u64));
                for forced in [None, portable] {
                    let Some(packed) = packed_f16_engine(forced) else {
                        continue;
                    };
                    let (pa, pb) = square_operands(&packed, n, Some(dtype));
                    warm_up(&packed, if gpu { 0.3 } else { 0.02 });
                    let tiles = packed.matmul_tiles_for(1, n, n, dtype);
                    let ms = product_ms(&packed, &pa, &pb, batch, reps, false, DType::F32);
                    let label = if forced.is_some() {
                        "portable"
                    } else {
                        "chosen"
                    };
                    record(format!("{label}, packed ({tiles})"), dtype, ms, false);
                }
            }
            if dtype == DType::BF16 {
                continue;
            }
            if dtype == DType::F32 {
                // The tuned shape again, on a second engine over this device and fixed on an
                // engine of its own device: the per-shape figures below come from engines of
                // their own devices, as a second engine over one device ran large products
                // 1.7-2.3x slower on the H100 while each submission wrote its params (before
                // 8c1942b; bench/RESULTS.md).
                let tuned = engine.matmul_tuning().and_then(|t| t.pick((n * n) as u64));
                let second =
                    Engine::from_wgpu(engine.device().clone(), engine.queue().clone(), config())
                        .expect("engine");
                let own = Engine::new_blocking(EngineConfig {
                    matmul_tiles: tuned,
                    ..config()
                })
                .expect("engine");
                for (label, other) in [
                    ("chosen, second engine", &second),
                    ("chosen, own device", &own),
                ] {
                    let (oa, ob) = square_operands(other, n, None);
                    warm_up(other, if gpu { 0.3 } else { 0.02 });
                    let ms = product_ms(other, &oa, &ob, batch, reps, false, DType::F32);
                    record(label.into(), dtype, ms, false);
                }
                drop((second, own));
                // The first engine again, its operands as before: whether what the second engine
                // costs stays with the device once that engine is gone.
                warm_up(engine, if gpu { 0.3 } else { 0.02 });
                let ms = product_ms(engine, &a, &b, batch, reps, false, DType::F32);
                record(
                    "chosen, again after a second engine".into(),
                    dtype,
                    ms,
                    false,
                );
                // As many products per wait as the second engine's cost needs to fade.
                let ms = product_ms(engine, &a, &b, 8, reps, false, DType::F32);
                record("chosen, again, 8 per wait".into(), dtype, ms, false);
            }
            // Every shape, fixed on an engine of its own device: float32, and float16 inputs
            // with float16 arithmetic.
            for tiles in MatmulTiles::ALL {
                let f16 = dtype == DType::F16;
                if tiles.workgroup_bytes() > limit
                    || (tiles.subgroups && !engine.adapter().subgroups)
                {
                    continue;
                }
                let fixed = Engine::new_blocking(EngineConfig {
                    matmul_tiles: Some(tiles),
                    ..config()
                })
                .expect("engine");
                let (fa, fb) = square_operands(&fixed, n, Some(dtype));
                // Each shape from the same clocks: a large GPU's boost fades under long compute.
                warm_up(&fixed, if gpu { 0.3 } else { 0.02 });
                let (label, accumulate) = if f16 {
                    (format!("{tiles}, f16 math"), DType::F16)
                } else {
                    (tiles.name(), DType::F32)
                };
                for chain in [false, true] {
                    let ms = product_ms(&fixed, &fa, &fb, batch, reps, chain, accumulate);
                    record(label.clone(), dtype, ms, chain);
                }
            }
        }
    }
}

/// An engine on a device of the default adapter made without `shader-f16` but with subgroup
/// operations where the adapter has them, with these tiles fixed if given; `None` if that device
/// cannot be made.
fn packed_f16_engine(tiles: Option<MatmulTiles>) -> Option<Engine> {
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter = tmath::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
        power_preference: wgpu::PowerPreference::HighPerformance,
        ..Default::default()
    }))
    .ok()?;
    let descriptor = wgpu::DeviceDescriptor {
        required_features: adapter.features() & wgpu::Features::SUBGROUP,
        required_limits: adapter.limits(),
        ..Default::default()
    };
    let (device, queue) = tmath::block_on(adapter.request_device(&descriptor)).ok()?;
    let config = EngineConfig {
        matmul_tiles: tiles,
        ..config()
    };
    Engine::from_wgpu(device, queue, config).ok()
}

/// GB/s of `f`, which reads and writes `moved_bytes` in all per output.
fn gb_s(engine: &Engine, moved_bytes: f64, reps: usize, f: &dyn Fn() -> Tensor) -> f64 {
    let batch = 8;
    moved_bytes * batch as f64 / batch_seconds(engine, batch, reps, f) / 1e9
}

fn bandwidth(out: &mut Report, engine: &Engine, gpu: bool) {
    let n: usize = if gpu { 1 << 26 } else { 1 << 20 };
    let reps = if gpu { 20 } else { 5 };
    // The copy command over the largest buffer the cases touch (float32), bytes read + written.
    let bytes = (n * 4) as u64;
    let usage = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
    let (src, dst) = (
        raw_buffer(engine, "copy src", bytes, usage),
        raw_buffer(engine, "copy dst", bytes, usage),
    );
    warm_up(engine, if gpu { 1.0 } else { 0.1 });
    let copy_s = seconds(reps, || {
        let mut encoder = engine.device().create_command_encoder(&Default::default());
        for _ in 0..8 {
            encoder.copy_buffer_to_buffer(&src, 0, &dst, 0, bytes);
        }
        engine.queue().submit([encoder.finish()]);
        wait(engine);
    });
    let copy_gb_s = 2.0 * bytes as f64 * 8.0 / copy_s / 1e9;
    src.destroy();
    dst.destroy();
    out.record(
        "kernels",
        &[
            ("case", Value::Str("copy".into())),
            ("bytes", Value::Int(bytes)),
            ("gb_s", Value::Num(copy_gb_s)),
        ],
    );
    // 16 bytes per invocation at n (a multiple of 8), one element or word at n - 1.
    for (form, len) in [("vec4", n), ("words", n - 1)] {
        let x = engine
            .to_device(&random_f32(len, 3), [len], None)
            .expect("upload");
        if form == "vec4" {
            // tmath's own copy (a compute copy on GPUs from 8 MiB), the same bytes.
            let rate = gb_s(engine, 8.0 * len as f64, reps, &|| {
                engine.copy(&x).expect("copy")
            });
            out.record(
                "kernels",
                &[
                    ("case", Value::Str("tmath_copy".into())),
                    ("bytes", Value::Int(4 * len as u64)),
                    ("gb_s", Value::Num(rate)),
                ],
            );
        }
        let y = engine
            .to_device(&random_f32(len, 4), [len], None)
            .expect("upload");
        let ops: [(&str, &dyn Fn() -> Tensor); 3] = [
            ("add", &|| engine.add(&x, &y).expect("add")),
            ("mul", &|| engine.mul(&x, &y).expect("mul")),
            ("add_scalar", &|| engine.add(&x, 1.0f32).expect("add")),
        ];
        for (op, f) in ops {
            let operands = if op == "add_scalar" { 2.0 } else { 3.0 };
            let rate = gb_s(engine, operands * 4.0 * len as f64, reps, f);
            out.record(
                "kernels",
                &[
                    ("case", Value::Str("elementwise".into())),
                    ("op", Value::Str(op.into())),
                    ("form", Value::Str(form.into())),
                    ("elements", Value::Int(len as u64)),
                    ("gb_s", Value::Num(rate)),
                    ("of_copy", Value::Num(rate / copy_gb_s)),
                ],
            );
        }
        for (from, to) in [
            (DType::F32, DType::F16),
            (DType::F16, DType::F32),
            (DType::F32, DType::BF16),
            (DType::BF16, DType::F32),
            (DType::F32, DType::I32),
            (DType::I32, DType::F32),
            (DType::F16, DType::BF16),
        ] {
            let source = engine.cast(&x, from).expect("cast");
            let moved = len as f64 * (from.size_bytes() + to.size_bytes()) as f64;
            let rate = gb_s(engine, moved, reps, &|| {
                engine.cast(&source, to).expect("cast")
            });
            out.record(
                "kernels",
                &[
                    ("case", Value::Str("cast".into())),
                    ("from", Value::Str(from.name().into())),
                    ("to", Value::Str(to.name().into())),
                    ("form", Value::Str(form.into())),
                    ("elements", Value::Int(len as u64)),
                    ("gb_s", Value::Num(rate)),
                    ("of_copy", Value::Num(rate / copy_gb_s)),
                ],
            );
        }
    }
}
