//! Bounded transfers (issue 14): readbacks and uploads of 16 MiB to 1 GiB through the staging
//! ring at several chunk sizes, against the single staging buffer as large as the tensor (the
//! path before the ring: a chunk larger than the tensor) and against the raw wgpu calls. Also
//! the staging each one holds, and streaming a safetensors file from memory.

use crate::measure::*;
use crate::report::{Report, Value};
use tmath::{DType, Engine, EngineConfig, HostData, PoolConfig};

/// Chunk sizes measured; `u32::MAX`-ish stands for "one buffer for the whole tensor".
const CHUNKS: [u64; 4] = [4 << 20, 8 << 20, 16 << 20, 1 << 31];

pub(crate) fn bounded_suite(out: &mut Report) {
    let engine_with = |chunk| {
        Engine::new_blocking(EngineConfig {
            transfer_chunk_bytes: chunk,
            pool: PoolConfig {
                budget_bytes: 4 << 30,
                ..PoolConfig::default()
            },
            ..EngineConfig::default()
        })
        .expect("adapter")
    };
    let engines: Vec<(u64, Engine)> = CHUNKS.iter().map(|&c| (c, engine_with(c))).collect();
    let probe = &engines[0].1;
    let gpu = probe.adapter().device_type != tmath::DeviceKind::Cpu;
    let max = probe.adapter().max_buffer_size;
    let sizes: Vec<u64> = if gpu {
        vec![16 << 20, 64 << 20, 256 << 20, 1 << 30]
    } else {
        vec![1 << 20, 4 << 20, 16 << 20]
    };
    for bytes in sizes.into_iter().filter(|&b| b <= max) {
        let reps = ((1u64 << 30) / bytes).clamp(3, 20) as usize;
        let gb = |s: f64| bytes as f64 / s / 1e9;
        let data: Vec<u32> = (0..bytes / 4).map(|i| i as u32 ^ 0x5a5a_5a5a).collect();
        let host: &[u8] = bytemuck::cast_slice(&data);
        let mut into = vec![0u32; data.len()];

        // The raw calls: one queue write; one reused staging buffer as large as the data.
        let raw = raw_buffer(
            probe,
            "raw",
            bytes,
            wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
        );
        let staging = raw_buffer(
            probe,
            "raw staging",
            bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        );
        warm_up(probe, if gpu { 1.0 } else { 0.1 });
        let raw_up = seconds(reps, || {
            probe.queue().write_buffer(&raw, 0, host);
            probe.queue().submit([]);
            wait(probe);
        });
        let raw_down = seconds(reps, || {
            let mut encoder = probe.device().create_command_encoder(&Default::default());
            encoder.copy_buffer_to_buffer(&raw, 0, &staging, 0, bytes);
            probe.queue().submit([encoder.finish()]);
            staging.map_async(wgpu::MapMode::Read, .., |_| {});
            wait(probe);
            let view = staging.get_mapped_range(..).expect("mapped");
            bytemuck::cast_slice_mut::<u32, u8>(&mut into).copy_from_slice(&view);
            drop(view);
            staging.unmap();
        });
        raw.destroy();
        staging.destroy();

        for (chunk, engine) in &engines {
            warm_up(engine, if gpu { 0.5 } else { 0.05 });
            let upload = seconds(reps, || {
                let t = engine
                    .to_device(HostData::Bytes(host, DType::F32), [data.len()], None)
                    .expect("upload");
                engine.flush().expect("flush");
                wait(engine);
                drop(t);
            });
            let route = engine.ledger().last().map_or("?", |t| t.route.name());
            let t = engine
                .to_device(HostData::Bytes(host, DType::F32), [data.len()], None)
                .expect("upload");
            engine.synchronize_blocking().expect("sync");
            engine.pool().trim(0);
            let cached = engine.pool().stats().bytes_cached;
            let read_into = seconds(reps, || t.read_into(&mut into).expect("readback"));
            // Idle after the reads: the staging they took (nothing else was idle).
            let staging_bytes = engine.pool().stats().bytes_cached - cached;
            assert!(into == data, "read_into values");
            let read_vec = seconds(reps, || {
                std::hint::black_box(t.to_vec::<u32>().expect("readback"))
            });
            drop(t);
            engine.pool().trim(0);
            let label = if *chunk >= bytes {
                "single buffer".to_owned()
            } else {
                format!("{} MiB ring", chunk >> 20)
            };
            out.record(
                "bounded",
                &[
                    ("bytes", Value::Int(bytes)),
                    ("staging", Value::Str(label)),
                    ("readback_staging_bytes", Value::Int(staging_bytes)),
                    ("upload_route", Value::Str(route.into())),
                    ("upload_gb_s", Value::Num(gb(upload))),
                    ("raw_write_buffer_gb_s", Value::Num(gb(raw_up))),
                    ("read_into_gb_s", Value::Num(gb(read_into))),
                    ("read_new_vec_gb_s", Value::Num(gb(read_vec))),
                    ("raw_reused_staging_gb_s", Value::Num(gb(raw_down))),
                ],
            );
        }
    }
    safetensors_case(out, &engines[1].1, gpu);
}

/// A safetensors file of about 50 tensors of mixed sizes and dtypes (1 GiB on a GPU), loaded
/// from memory through `load_safetensors`, against raw `write_buffer` calls moving the same bytes.
fn safetensors_case(out: &mut Report, engine: &Engine, gpu: bool) {
    let total: u64 = if gpu { 1 << 30 } else { 64 << 20 };
    let dtypes = ["F32", "F16", "BF16", "I32"];
    let mut header = String::from("{");
    let mut sizes = Vec::new();
    let mut at = 0u64;
    for i in 0..50u64 {
        // Mixed sizes: a few large, many small, summing to about `total`.
        let share = if i % 10 == 0 { total / 8 } else { total / 90 };
        let bytes = share / 1024 * 1024;
        let dtype = dtypes[(i % 4) as usize];
        let elements = bytes
            / if dtype == "F32" || dtype == "I32" {
                4
            } else {
                2
            };
        if i > 0 {
            header.push(',');
        }
        header += &format!(
            "\"layer{i}\":{{\"dtype\":\"{dtype}\",\"shape\":[{elements}],\"data_offsets\":[{at},{}]}}",
            at + bytes
        );
        sizes.push(bytes);
        at += bytes;
    }
    header.push('}');
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header.as_bytes());
    let data_at = file.len();
    file.extend((0..at).map(|i| (i % 251) as u8));
    warm_up(engine, if gpu { 1.0 } else { 0.1 });
    let load = seconds(3, || {
        let tensors = engine.load_safetensors(&file[..]).expect("load");
        engine.synchronize_blocking().expect("sync");
        drop(tensors);
    });
    let buffers: Vec<wgpu::Buffer> = sizes
        .iter()
        .map(|&b| {
            raw_buffer(
                engine,
                "raw layer",
                b,
                wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            )
        })
        .collect();
    let raw = seconds(3, || {
        let mut from = data_at;
        for (buffer, &b) in buffers.iter().zip(&sizes) {
            engine
                .queue()
                .write_buffer(buffer, 0, &file[from..from + b as usize]);
            from += b as usize;
        }
        engine.queue().submit([]);
        wait(engine);
    });
    buffers.iter().for_each(wgpu::Buffer::destroy);
    out.record(
        "bounded",
        &[
            ("case", Value::Str("safetensors".into())),
            ("tensors", Value::Int(sizes.len() as u64)),
            ("bytes", Value::Int(at)),
            ("load_gb_s", Value::Num(at as f64 / load / 1e9)),
            ("raw_write_buffer_gb_s", Value::Num(at as f64 / raw / 1e9)),
            ("ratio", Value::Num(raw / load)),
        ],
    );
}
