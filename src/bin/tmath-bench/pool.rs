//! The seed's TensorPool workload against creating and destroying a buffer per tensor.

use crate::measure::*;
use crate::report::{Report, Value};
use std::time::Instant;
use tmath::workload::{random_size_workload, Step};
use tmath::{Engine, EngineConfig, PoolConfig};

pub(crate) fn pool_suite(out: &mut Report) {
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
        // The buffer a pool hit stands in for: a tensor's storage.
        let raw_desc = wgpu::BufferDescriptor {
            label: None,
            size: bytes,
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        };
        let create_ns = time_ns(9, 200, || {
            let b = device.create_buffer(&raw_desc);
            b.destroy();
        });
        // Creation is lazy on some drivers; a first use makes it real, so time that too.
        let queue = engine.queue();
        let create_use_ns = time_ns(5, 50, || {
            let b = device.create_buffer(&raw_desc);
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
