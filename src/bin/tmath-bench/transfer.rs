//! Uploads, GPU copies and readbacks at each size, against the raw wgpu calls.

use crate::measure::*;
use crate::report::{Report, Value};
use tmath::{Engine, EngineConfig, PoolConfig};

pub(crate) fn transfer_suite(out: &mut Report) {
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
    let gpu = engine.adapter().device_type != tmath::DeviceKind::Cpu;
    let engines = [with(GpuCopy::Command), with(GpuCopy::Compute)];
    for bytes in transfer_sizes(&engine) {
        let reps = ((256u64 << 20) / bytes).clamp(5, 50) as usize;
        let gb = |s: f64| bytes as f64 / s / 1e9;
        let data = vec![0x5au8; bytes as usize];
        let elements = (bytes / 4) as usize;
        let raw = raw_buffer(
            &engine,
            "raw",
            bytes,
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
        );
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
                raw_buffer(
                    &engine,
                    "raw dst",
                    bytes,
                    wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
                )
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
