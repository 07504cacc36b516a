//! `tmath-bench`: the native benchmark CLI.
//!
//! ```text
//! cargo run --release --bin tmath-bench -- [pool|all] [--json]
//! ```
//!
//! Every figure is measured in this run; comparisons are ratios of two measurements taken side by
//! side. `--json` prints one JSON object per line, each with a `suite` field.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

/// The tests' seeded generator and workloads, so the benchmark replays exactly what they check.
#[cfg(not(target_arch = "wasm32"))]
#[path = "../../tests/common/mod.rs"]
mod common;

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use crate::common::{random_size_workload, Step};
    use std::fmt::Write as _;
    use std::io::Write as _;
    use std::time::Instant;
    use tmath::{Engine, EngineConfig, PoolConfig};

    const SUITES: [&str; 5] = ["pool", "transfer", "precision", "matmul", "e2e"];

    pub fn main() {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let json = args.iter().any(|a| a == "--json");
        let mut suites: Vec<&str> = args
            .iter()
            .filter(|a| !a.starts_with("--"))
            .map(String::as_str)
            .collect();
        if suites.is_empty() || suites.contains(&"all") {
            suites = SUITES.to_vec();
        }
        if let Some(unknown) = suites.iter().find(|s| !SUITES.contains(s)) {
            eprintln!(
                "tmath-bench: unknown suite {unknown:?}; suites: {} or all",
                SUITES.join(", ")
            );
            std::process::exit(2);
        }
        let engine = match Engine::new_blocking(EngineConfig::default()) {
            Ok(engine) => engine,
            Err(e) => {
                eprintln!("tmath-bench: {e}");
                std::process::exit(1);
            }
        };
        let mut out = Report { json, lines: 0 };
        let a = engine.adapter();
        out.record(
            "adapter",
            &[
                ("name", Value::Str(a.name.clone())),
                ("backend", Value::Str(a.backend.clone())),
                ("device_type", Value::Str(a.device_type.clone())),
                ("driver", Value::Str(a.driver.clone())),
                ("max_buffer_size", Value::Int(a.max_buffer_size)),
            ],
        );
        for suite in suites {
            match suite {
                "pool" => pool_suite(&mut out),
                "transfer" => transfer_suite(&mut out),
                "precision" => precision_suite(&mut out),
                "matmul" => matmul_suite(&mut out),
                "e2e" => e2e_suite(&mut out),
                _ => unreachable!("checked above"),
            }
        }
    }

    /// Human-readable lines, or one JSON object per line.
    struct Report {
        json: bool,
        lines: usize,
    }

    enum Value {
        Str(String),
        Int(u64),
        Num(f64),
    }

    impl Report {
        fn record(&mut self, suite: &str, fields: &[(&str, Value)]) {
            self.lines += 1;
            let mut line = String::new();
            if self.json {
                let _ = write!(line, "{{\"suite\":\"{suite}\"");
                for (key, value) in fields {
                    let _ = match value {
                        Value::Str(s) => write!(line, ",\"{key}\":{}", json_string(s)),
                        Value::Int(n) => write!(line, ",\"{key}\":{n}"),
                        Value::Num(x) if x.is_finite() => write!(line, ",\"{key}\":{x}"),
                        Value::Num(_) => write!(line, ",\"{key}\":null"),
                    };
                }
                line.push('}');
            } else {
                let _ = write!(line, "[{suite}]");
                for (key, value) in fields {
                    let _ = match value {
                        Value::Str(s) => write!(line, " {key}={s}"),
                        Value::Int(n) => write!(line, " {key}={n}"),
                        Value::Num(x) => write!(line, " {key}={x:.3}"),
                    };
                }
            }
            // A closed pipe (`| head`) ends the run quietly instead of panicking.
            if writeln!(std::io::stdout().lock(), "{line}").is_err() {
                std::process::exit(0);
            }
        }
    }

    fn json_string(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// Median of `rounds` timings of `iters` calls of `f`, in nanoseconds per call.
    fn time_ns(rounds: usize, iters: usize, mut f: impl FnMut()) -> f64 {
        for _ in 0..iters {
            f(); // warm-up
        }
        let mut samples: Vec<f64> = (0..rounds)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..iters {
                    f();
                }
                start.elapsed().as_nanos() as f64 / iters as f64
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    }

    fn wait(engine: &Engine) {
        engine
            .device()
            .poll(wgpu::PollType::wait_indefinitely())
            .expect("device alive");
    }

    /// GPU clocks drop while idle: keep the device busy for about `seconds` before timing.
    fn warm_up(engine: &Engine, seconds: f64) {
        let bytes = 64u64 << 20;
        let usage = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        let make = || {
            engine.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("warm-up"),
                size: bytes,
                usage,
                mapped_at_creation: false,
            })
        };
        let (a, b) = (make(), make());
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < seconds {
            let mut encoder = engine.device().create_command_encoder(&Default::default());
            for _ in 0..8 {
                encoder.copy_buffer_to_buffer(&a, 0, &b, 0, bytes);
            }
            engine.queue().submit([encoder.finish()]);
            wait(engine);
        }
        a.destroy();
        b.destroy();
    }

    /// Seconds per call: the median of `reps` timed calls, after one untimed call.
    fn seconds(reps: usize, mut f: impl FnMut()) -> f64 {
        f();
        let mut samples: Vec<f64> = (0..reps)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64()
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    }

    fn transfer_sizes(engine: &Engine) -> Vec<u64> {
        let gpu = engine.adapter().device_type != "cpu";
        let cap = std::env::var("TMATH_BENCH_MAX_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if gpu { 1u64 << 30 } else { 64 << 20 });
        [
            4u64 << 10,
            64 << 10,
            1 << 20,
            16 << 20,
            64 << 20,
            256 << 20,
            1 << 30,
        ]
        .into_iter()
        .filter(|&b| b <= cap && b <= engine.adapter().max_buffer_size)
        .collect()
    }

    fn transfer_suite(out: &mut Report) {
        use tmath::{GpuCopy, HostData};
        // A batch of 8 copies of the largest size must stay in the pool between rounds, or the
        // budget would evict and re-create them and the suite would time allocations.
        let pool = PoolConfig {
            budget_bytes: 12 << 30,
            ..PoolConfig::default()
        };
        let with = |gpu_copy| {
            Engine::new_blocking(EngineConfig {
                gpu_copy,
                pool: pool.clone(),
                ..EngineConfig::default()
            })
            .expect("adapter")
        };
        let engine = with(GpuCopy::Auto);
        let gpu = engine.adapter().device_type != "cpu";
        let engines = [with(GpuCopy::Command), with(GpuCopy::Compute)];
        for bytes in transfer_sizes(&engine) {
            let reps = ((256u64 << 20) / bytes).clamp(5, 50) as usize;
            let gb = |s: f64| bytes as f64 / s / 1e9;
            let data = vec![0x5au8; bytes as usize];
            let elements = (bytes / 4) as usize;
            let raw = engine.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("raw"),
                size: bytes,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            warm_up(&engine, if gpu { 1.0 } else { 0.1 });

            // Upload: tmath's route for this adapter and size against one queue.write_buffer.
            let tmath_up = seconds(reps, || {
                let t = engine
                    .to_device(HostData::Bytes(&data, tmath::DType::F32), [elements], None)
                    .expect("upload");
                engine.flush().expect("flush");
                wait(&engine);
                drop(t);
            });
            let route = engine.ledger().last().map_or("?", |t| t.route.name());
            let raw_up = seconds(reps, || {
                engine.queue().write_buffer(&raw, 0, &data);
                engine.queue().submit([]);
                wait(&engine);
            });
            out.record(
                "transfer",
                &[
                    ("case", Value::Str("upload".into())),
                    ("bytes", Value::Int(bytes)),
                    ("route", Value::Str(route.into())),
                    ("tmath_gb_s", Value::Num(gb(tmath_up))),
                    ("raw_write_buffer_gb_s", Value::Num(gb(raw_up))),
                    ("ratio", Value::Num(raw_up / tmath_up)),
                ],
            );

            // Readback: tmath's pooled staging against a fresh staging buffer per read (the plain
            // wgpu pattern) and against one reused staging buffer.
            let t = engine
                .to_device(HostData::Bytes(&data, tmath::DType::F32), [elements], None)
                .expect("upload");
            let tmath_down = seconds(reps, || {
                let bytes = t.to_vec::<u32>().expect("readback");
                std::hint::black_box(bytes);
            });
            let read_raw = |staging: &wgpu::Buffer| {
                let mut encoder = engine.device().create_command_encoder(&Default::default());
                encoder.copy_buffer_to_buffer(&raw, 0, staging, 0, bytes);
                engine.queue().submit([encoder.finish()]);
                staging.map_async(wgpu::MapMode::Read, .., |_| {});
                wait(&engine);
                let host = staging.get_mapped_range(..).expect("mapped").to_vec();
                staging.unmap();
                std::hint::black_box(host);
            };
            let staging_desc = wgpu::BufferDescriptor {
                label: Some("raw staging"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            };
            let raw_fresh = seconds(reps, || {
                let staging = engine.device().create_buffer(&staging_desc);
                read_raw(&staging);
                staging.destroy();
            });
            let reused = engine.device().create_buffer(&staging_desc);
            let raw_reused = seconds(reps, || read_raw(&reused));
            reused.destroy();
            out.record(
                "transfer",
                &[
                    ("case", Value::Str("readback".into())),
                    ("bytes", Value::Int(bytes)),
                    ("route", Value::Str("readback".into())),
                    ("tmath_gb_s", Value::Num(gb(tmath_down))),
                    ("raw_fresh_staging_gb_s", Value::Num(gb(raw_fresh))),
                    ("raw_reused_staging_gb_s", Value::Num(gb(raw_reused))),
                    ("ratio_vs_fresh", Value::Num(raw_fresh / tmath_down)),
                    ("ratio_vs_reused", Value::Num(raw_reused / tmath_down)),
                ],
            );
            drop(t);

            // GPU to GPU, read + write counted: tmath's choice against copyBufferToBuffer, both
            // batched 8 to a submission.
            let batch = 8;
            let copy_gb = |s: f64| 2.0 * bytes as f64 * batch as f64 / s / 1e9;
            // Distinct destinations, as tmath's copies have (one buffer would stay in cache on a
            // CPU device and flatter the raw call).
            let raw_dsts: Vec<_> = (0..batch)
                .map(|_| {
                    engine.device().create_buffer(&wgpu::BufferDescriptor {
                        label: Some("raw dst"),
                        size: bytes,
                        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    })
                })
                .collect();
            let raw_copy = seconds(reps, || {
                let mut encoder = engine.device().create_command_encoder(&Default::default());
                for dst in &raw_dsts {
                    encoder.copy_buffer_to_buffer(&raw, 0, dst, 0, bytes);
                }
                engine.queue().submit([encoder.finish()]);
                wait(&engine);
            });
            raw_dsts.iter().for_each(wgpu::Buffer::destroy);
            let mut fields = vec![
                ("case", Value::Str("gpu_to_gpu".into())),
                ("bytes", Value::Int(bytes)),
                ("raw_copy_buffer_gb_s", Value::Num(copy_gb(raw_copy))),
            ];
            let mut auto_s = 0.0;
            for (name, e) in [
                ("auto", &engine),
                ("command", &engines[0]),
                ("compute", &engines[1]),
            ] {
                let src = e
                    .to_device(HostData::Bytes(&data, tmath::DType::F32), [elements], None)
                    .expect("upload");
                let s = seconds(reps, || {
                    let copies: Vec<_> = (0..batch).map(|_| e.copy(&src).expect("copy")).collect();
                    e.flush().expect("flush");
                    wait(e);
                    drop(copies);
                });
                if name == "auto" {
                    auto_s = s;
                }
                fields.push((
                    match name {
                        "auto" => "tmath_gb_s",
                        "command" => "tmath_command_gb_s",
                        _ => "tmath_compute_gb_s",
                    },
                    Value::Num(copy_gb(s)),
                ));
            }
            fields.push(("ratio", Value::Num(raw_copy / auto_s)));
            out.record("transfer", &fields);
            raw.destroy();
        }
    }

    fn precision_suite(out: &mut Report) {
        use tmath::{ConversionSite, DType, HostData};
        let pool = PoolConfig {
            budget_bytes: 8 << 30,
            ..PoolConfig::default()
        };
        let engine = Engine::new_blocking(EngineConfig {
            pool: pool.clone(),
            ..EngineConfig::default()
        })
        .expect("adapter");
        let gpu = engine.adapter().device_type != "cpu";
        let sizes: &[usize] = if gpu {
            &[1 << 20, 1 << 24, 1 << 26]
        } else {
            &[1 << 16, 1 << 20]
        };
        let batch = 8;
        for &n in sizes {
            warm_up(&engine, if gpu { 1.0 } else { 0.1 });
            let reps = if gpu { 20 } else { 5 };
            let sources: Vec<_> = DType::ALL
                .iter()
                .map(|&d| {
                    let bytes = vec![0x3cu8; n * d.size_bytes() as usize];
                    engine
                        .to_device(HostData::Bytes(&bytes, d), [n], None)
                        .expect("upload")
                })
                .collect();
            let timed = |f: &dyn Fn() -> tmath::Tensor| {
                seconds(reps, || {
                    let outs: Vec<_> = (0..batch).map(|_| f()).collect();
                    engine.flush().expect("flush");
                    wait(&engine);
                    drop(outs);
                })
            };
            for (i, &from) in DType::ALL.iter().enumerate() {
                let src = &sources[i];
                let copy_s = timed(&|| engine.copy(src).expect("copy"));
                let copy_bytes = 2.0 * (n as f64) * from.size_bytes() as f64 * batch as f64;
                for &to in DType::ALL.iter().filter(|&&t| t != from) {
                    let cast_s = timed(&|| engine.cast(src, to).expect("cast"));
                    let moved =
                        (n as f64) * (from.size_bytes() + to.size_bytes()) as f64 * batch as f64;
                    out.record(
                        "precision",
                        &[
                            ("case", Value::Str("cast".into())),
                            ("elements", Value::Int(n as u64)),
                            ("from", Value::Str(from.name().into())),
                            ("to", Value::Str(to.name().into())),
                            ("cast_gb_s", Value::Num(moved / cast_s / 1e9)),
                            ("copy_gb_s", Value::Num(copy_bytes / copy_s / 1e9)),
                            (
                                "cast_vs_copy",
                                Value::Num((moved / cast_s) / (copy_bytes / copy_s)),
                            ),
                        ],
                    );
                }
            }
            // The identity path: prepare_tensor of a tensor already in the precision.
            let src = &sources[0];
            let identity_ns = time_ns(9, 10_000, || {
                std::hint::black_box(engine.prepare_tensor(src, Some(DType::F32)).expect("same"));
            });
            out.record(
                "precision",
                &[
                    ("case", Value::Str("identity".into())),
                    ("elements", Value::Int(n as u64)),
                    ("prepare_same_dtype_ns", Value::Num(identity_ns)),
                ],
            );
            // Uploading float32 data into a float16 tensor: convert on the host, or upload as is
            // and cast on the GPU.
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 1e-3).collect();
            let mut fields = vec![
                ("case", Value::Str("upload_f32_to_f16".into())),
                ("elements", Value::Int(n as u64)),
            ];
            for (name, site) in [
                ("host_ms", ConversionSite::Host),
                ("gpu_ms", ConversionSite::Gpu),
            ] {
                let e = Engine::new_blocking(EngineConfig {
                    upload_conversion: site,
                    pool: pool.clone(),
                    ..EngineConfig::default()
                })
                .expect("adapter");
                let s = seconds(reps, || {
                    let t = e.to_device(&data, [n], Some(DType::F16)).expect("upload");
                    e.flush().expect("flush");
                    wait(&e);
                    drop(t);
                });
                fields.push((name, Value::Num(s * 1e3)));
            }
            out.record("precision", &fields);
        }
    }

    fn random_f32(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = crate::common::Rng::new(seed);
        (0..n)
            .map(|_| (rng.next_u64() % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    }

    fn matmul_suite(out: &mut Report) {
        use tmath::DType;
        let engine = Engine::new_blocking(EngineConfig::default()).expect("adapter");
        let gpu = engine.adapter().device_type != "cpu";
        let sizes: &[usize] = if gpu {
            &[256, 512, 1024, 2048, 4096]
        } else {
            &[256, 512]
        };
        for &n in sizes {
            for dtype in [DType::F32, DType::F16] {
                warm_up(&engine, if gpu { 1.0 } else { 0.1 });
                let a = engine
                    .to_device(&random_f32(n * n, 1), [n, n], Some(dtype))
                    .expect("upload");
                let b = engine
                    .to_device(&random_f32(n * n, 2), [n, n], Some(dtype))
                    .expect("upload");
                // Resident: a batch of products per submission, so launch overhead amortises.
                let batch = if gpu { (1usize << 33) / (n * n * n) } else { 2 }.clamp(2, 64);
                let s = seconds(if gpu { 10 } else { 3 }, || {
                    let outs: Vec<_> = (0..batch)
                        .map(|_| engine.matmul(&a, &b).expect("matmul"))
                        .collect();
                    engine.flush().expect("flush");
                    wait(&engine);
                    drop(outs);
                });
                let flops = 2.0 * (n as f64).powi(3);
                let per = s / batch as f64;
                let mut fields = vec![
                    ("case", Value::Str("resident".into())),
                    ("n", Value::Int(n as u64)),
                    (
                        "dtype",
                        Value::Str(format!("{}-in/float32-acc", dtype.name())),
                    ),
                    ("ms", Value::Num(per * 1e3)),
                    ("gflop_s", Value::Num(flops / per / 1e9)),
                ];
                if dtype == DType::F32 {
                    // Host in, host out: upload both operands, multiply, read the product back.
                    let (ha, hb) = (random_f32(n * n, 1), random_f32(n * n, 2));
                    let host = seconds(if gpu { 10 } else { 3 }, || {
                        let ta = engine.to_device(&ha, [n, n], None).expect("upload");
                        let tb = engine.to_device(&hb, [n, n], None).expect("upload");
                        let c = engine.matmul(&ta, &tb).expect("matmul");
                        std::hint::black_box(c.to_vec::<f32>().expect("readback"));
                    });
                    fields.push(("host_in_out_ms", Value::Num(host * 1e3)));
                }
                out.record("matmul", &fields);
            }
        }
    }

    /// The seed's table: the same work the old way (every op allocates fresh buffers and makes a
    /// host round trip: the "MPS → CPU → MLX → CPU → MPS" path) and the tmath way.
    fn e2e_suite(out: &mut Report) {
        let after = Engine::new_blocking(EngineConfig::default()).expect("adapter");
        // The old engine: no pool at all, so every buffer is created fresh and destroyed after.
        let before = Engine::new_blocking(EngineConfig {
            pool: PoolConfig {
                max_per_class: 0,
                budget_bytes: 0,
                ..PoolConfig::default()
            },
            ..EngineConfig::default()
        })
        .expect("adapter");
        let gpu = after.adapter().device_type != "cpu";
        let n = if gpu { 1024 } else { 256 };
        let reps = if gpu { 10 } else { 3 };
        let (ha, hb) = (random_f32(n * n, 1), random_f32(n * n, 2));
        let bias = random_f32(n, 3);
        warm_up(&after, if gpu { 1.0 } else { 0.1 });

        // Kernel time: many products in one submission (a resident chain), per product.
        let ta = after.to_device(&ha, [n, n], None).expect("upload");
        let tb = after.to_device(&hb, [n, n], None).expect("upload");
        let batch = 20;
        let kernel = seconds(reps, || {
            let outs: Vec<_> = (0..batch)
                .map(|_| after.matmul(&ta, &tb).expect("matmul"))
                .collect();
            after.flush().expect("flush");
            wait(&after);
            drop(outs);
        }) / batch as f64;
        // One resident product at a time: record, submit, wait.
        let resident = seconds(reps, || {
            let c = after.matmul(&ta, &tb).expect("matmul");
            after.flush().expect("flush");
            wait(&after);
            drop(c);
        });
        // Host in, host out, with the pool: uploads, product, readback.
        let host_op = |e: &Engine| {
            let x = e.to_device(&ha, [n, n], None).expect("upload");
            let y = e.to_device(&hb, [n, n], None).expect("upload");
            let c = e.matmul(&x, &y).expect("matmul");
            std::hint::black_box(c.to_vec::<f32>().expect("readback"));
        };
        let counted = |e: &Engine, f: &dyn Fn()| {
            f(); // warm-up
            let s0 = e.stats();
            let t = seconds(reps, f);
            let s1 = e.stats();
            let ops = (reps + 1) as f64; // `seconds` runs once untimed
            (
                t,
                (s1.counters.copies - s0.counters.copies) as f64 / ops,
                (s1.counters.crossings - s0.counters.crossings) as f64 / ops,
                (s1.pool.buffers_created - s0.pool.buffers_created) as f64 / ops,
            )
        };
        let (host_after, copies_after, cross_after, created_after) =
            counted(&after, &|| host_op(&after));
        let (host_before, copies_before, cross_before, created_before) =
            counted(&before, &|| host_op(&before));
        let (_, resident_copies, resident_cross, resident_created) = counted(&after, &|| {
            let c = after.matmul(&ta, &tb).expect("matmul");
            after.flush().expect("flush");
            wait(&after);
            drop(c);
        });

        // A 10-op chain: the old way round-trips every op; tmath keeps it on the GPU.
        let ops = 10.0;
        let chain_before = |e: &Engine| {
            let mut h = ha.clone();
            type Step<'s> = &'s dyn Fn(&Engine, &tmath::Tensor) -> tmath::Tensor;
            let steps: [Step; 10] = [
                &|e, x| {
                    e.matmul(x, &e.to_device(&hb, [n, n], None).unwrap())
                        .unwrap()
                },
                &|e, x| e.add(x, &e.to_device(&bias, [n], None).unwrap()).unwrap(),
                &|e, x| e.relu(x).unwrap(),
                &|e, x| e.mul(x, 0.5).unwrap(),
                &|e, x| {
                    e.matmul(x, &e.to_device(&hb, [n, n], None).unwrap())
                        .unwrap()
                },
                &|e, x| e.add(x, &e.to_device(&bias, [n], None).unwrap()).unwrap(),
                &|e, x| e.relu(x).unwrap(),
                &|e, x| e.sub(x, 0.25).unwrap(),
                &|e, x| {
                    e.matmul(x, &e.to_device(&hb, [n, n], None).unwrap())
                        .unwrap()
                },
                &|e, x| e.relu(x).unwrap(),
            ];
            for step in steps {
                let x = e.to_device(&h, [n, n], None).unwrap();
                h = step(e, &x).to_vec::<f32>().unwrap();
            }
            h
        };
        let chain_after = |e: &Engine| {
            let x = e.to_device(&ha, [n, n], None).unwrap();
            let w = e.to_device(&hb, [n, n], None).unwrap();
            let b = e.to_device(&bias, [n], None).unwrap();
            let h = e
                .relu(&e.add(&e.matmul(&x, &w).unwrap(), &b).unwrap())
                .unwrap();
            let h = e.mul(&h, 0.5).unwrap();
            let h = e
                .relu(&e.add(&e.matmul(&h, &w).unwrap(), &b).unwrap())
                .unwrap();
            let h = e.sub(&h, 0.25).unwrap();
            let h = e.relu(&e.matmul(&h, &w).unwrap()).unwrap();
            h.to_vec::<f32>().unwrap()
        };
        assert_eq!(
            chain_before(&before),
            chain_after(&after),
            "both ways compute the same"
        );
        let (chain_b, chain_copies_b, chain_cross_b, chain_created_b) = counted(&before, &|| {
            chain_before(&before);
        });
        let (chain_a, chain_copies_a, chain_cross_a, chain_created_a) = counted(&after, &|| {
            chain_after(&after);
        });

        let rows = [
            (
                format!("Matrix-Mult {n}x{n} efficiency (kernel / end-to-end)"),
                "~15% (85% overhead)",
                "~70% (30% overhead)",
                format!("{:.1}%", 100.0 * kernel / host_before),
                format!(
                    "{:.1}% resident, {:.1}% host-in/host-out",
                    100.0 * kernel / resident,
                    100.0 * kernel / host_after
                ),
            ),
            (
                "Copies per operation (matmul; host in/out, then resident)".to_owned(),
                "10-12",
                "3-4",
                format!("{copies_before:.1}"),
                format!("{copies_after:.1}, resident {resident_copies:.1}"),
            ),
            (
                "Device switches per operation (crossings)".to_owned(),
                "4-5",
                "1-2",
                format!("{cross_before:.1}"),
                format!("{cross_after:.1}, resident {resident_cross:.1}"),
            ),
            (
                "Buffers created per operation".to_owned(),
                "every op allocates",
                "reuse",
                format!("{created_before:.1}"),
                format!("{created_after:.1}, resident {resident_created:.1}"),
            ),
            (
                "10-op chain: ms, copies/op, crossings/op, buffers/op".to_owned(),
                "-",
                "-",
                format!(
                    "{:.2} ms, {:.1}, {:.1}, {:.1}",
                    chain_b * 1e3,
                    chain_copies_b / ops,
                    chain_cross_b / ops,
                    chain_created_b / ops
                ),
                format!(
                    "{:.2} ms ({:.1}x faster), {:.1}, {:.1}, {:.1}",
                    chain_a * 1e3,
                    chain_b / chain_a,
                    chain_copies_a / ops,
                    chain_cross_a / ops,
                    chain_created_a / ops
                ),
            ),
        ];
        if out.json {
            for (row, seed_now, seed_expected, measured_before, measured_after) in &rows {
                out.record(
                    "e2e",
                    &[
                        ("row", Value::Str(row.clone())),
                        ("seed_current", Value::Str((*seed_now).into())),
                        ("seed_expected", Value::Str((*seed_expected).into())),
                        ("measured_before", Value::Str(measured_before.clone())),
                        ("measured_after", Value::Str(measured_after.clone())),
                    ],
                );
            }
            out.record(
                "e2e",
                &[
                    ("case", Value::Str("timings".into())),
                    ("n", Value::Int(n as u64)),
                    ("kernel_ms", Value::Num(kernel * 1e3)),
                    ("resident_ms", Value::Num(resident * 1e3)),
                    ("host_in_out_after_ms", Value::Num(host_after * 1e3)),
                    ("host_in_out_before_ms", Value::Num(host_before * 1e3)),
                    ("chain_before_ms", Value::Num(chain_b * 1e3)),
                    ("chain_after_ms", Value::Num(chain_a * 1e3)),
                ],
            );
        } else {
            println!();
            println!(
                "The seed's table (section 5), measured on {} with {n}x{n} matrices:",
                after.adapter().name
            );
            println!(
                "| Operation | seed: current | seed: expected | measured: before (old way) | measured: after (tmath) |"
            );
            println!("|---|---|---|---|---|");
            for (row, a, b, c, d) in &rows {
                println!("| {row} | {a} | {b} | {c} | {d} |");
            }
            println!(
                "kernel {:.3} ms (resident batch), resident op {:.3} ms, host-in/host-out {:.3} ms after vs {:.3} ms before",
                kernel * 1e3,
                resident * 1e3,
                host_after * 1e3,
                host_before * 1e3
            );
        }
    }

    fn pool_suite(out: &mut Report) {
        // Hit latency against what a pool hit replaces: creating and destroying a buffer.
        for bytes in [4u64 << 10, 1 << 20, 16 << 20] {
            let engine = Engine::new_blocking(EngineConfig::default()).expect("adapter");
            let elements = (bytes / 4) as usize;
            let pool = engine.pool();
            let hit_ns = time_ns(9, 2000, || {
                let t = pool.get([elements], None).expect("get");
                pool.put(&t).expect("put");
            });
            let device = engine.device();
            let create_ns = time_ns(9, 200, || {
                let b = device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: bytes,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                b.destroy();
            });
            // Creation is lazy on some drivers; a first use makes it real, so time that too.
            let queue = engine.queue();
            let create_use_ns = time_ns(5, 50, || {
                let b = device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size: bytes,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                queue.write_buffer(&b, 0, &[0u8; 4]);
                queue.submit([]);
                b.destroy();
            });
            let hit_use_ns = time_ns(5, 50, || {
                let t = pool.get([elements], None).expect("get");
                queue.write_buffer(&t.buffer().expect("live"), 0, &[0u8; 4]);
                queue.submit([]);
                pool.put(&t).expect("put");
            });
            out.record(
                "pool",
                &[
                    ("case", Value::Str("hit_vs_create".into())),
                    ("bytes", Value::Int(bytes)),
                    ("pool_hit_ns", Value::Num(hit_ns)),
                    ("create_destroy_ns", Value::Num(create_ns)),
                    ("speedup", Value::Num(create_ns / hit_ns)),
                    ("pool_hit_first_use_ns", Value::Num(hit_use_ns)),
                    ("create_first_use_destroy_ns", Value::Num(create_use_ns)),
                    (
                        "speedup_with_first_use",
                        Value::Num(create_use_ns / hit_use_ns),
                    ),
                ],
            );
        }

        // The random-size workload of the tests: 500 tensors of 4 KiB–1 MiB, at most 8 alive.
        for (label, config) in [
            ("default", PoolConfig::default()),
            (
                "budget_4MiB",
                PoolConfig {
                    budget_bytes: 4 << 20,
                    ..PoolConfig::default()
                },
            ),
            (
                "exact_class_only",
                PoolConfig {
                    max_reuse_factor: 1,
                    ..PoolConfig::default()
                },
            ),
        ] {
            let engine = Engine::new_blocking(EngineConfig {
                pool: config,
                ..EngineConfig::default()
            })
            .expect("adapter");
            let pool = engine.pool();
            let mut live = Vec::new();
            let mut requested_bytes = 0u64;
            let start = Instant::now();
            for step in random_size_workload(7, 500, 8) {
                match step {
                    Step::Take(elements) => {
                        requested_bytes += elements * 4;
                        live.push(pool.get([elements as usize], None).expect("get"));
                    }
                    Step::Return(i) => pool.put(&live.remove(i)).expect("put"),
                }
            }
            let elapsed = start.elapsed().as_secs_f64();
            let s = pool.stats();
            out.record(
                "pool",
                &[
                    ("case", Value::Str(format!("random_500_{label}"))),
                    ("requests", Value::Int(s.hits + s.misses)),
                    (
                        "hit_rate",
                        Value::Num(s.hits as f64 / (s.hits + s.misses) as f64),
                    ),
                    ("hits_larger_class", Value::Int(s.hits_larger_class)),
                    ("buffers_created", Value::Int(s.buffers_created)),
                    ("buffers_created_without_pool", Value::Int(500)),
                    ("evictions", Value::Int(s.evictions)),
                    ("peak_bytes_in_use", Value::Int(s.peak_bytes_in_use)),
                    ("bytes_cached_end", Value::Int(s.bytes_cached)),
                    ("budget_bytes", Value::Int(s.budget_bytes)),
                    ("requested_bytes", Value::Int(requested_bytes)),
                    ("wall_ms", Value::Num(elapsed * 1e3)),
                ],
            );
        }
    }
}
