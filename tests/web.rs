//! The pool in headless Chromium's WebGPU (SwiftShader), through wasm-bindgen-test:
//! `cargo test --target wasm32-unknown-unknown --test web` (see README for the driver setup).
#![cfg(target_arch = "wasm32")]

mod common;

use common::{golden, random_size_workload, Step};
use tmath::{DType, Engine, EngineConfig, PoolConfig};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn engine_with(pool: PoolConfig) -> Engine {
    match Engine::new(EngineConfig {
        pool,
        ..EngineConfig::default()
    })
    .await
    {
        Ok(engine) => engine,
        Err(e) => {
            panic!("these tests need WebGPU in the browser (Chromium --enable-unsafe-webgpu): {e}")
        }
    }
}

async fn f32s(t: &tmath::Tensor) -> Vec<f32> {
    bytemuck::pod_collect_to_vec(&t.to_host_bytes().await.unwrap())
}

#[wasm_bindgen_test]
async fn runs_on_the_browsers_webgpu_with_its_real_limits() {
    let engine = engine_with(PoolConfig::default()).await;
    assert_eq!(engine.adapter().backend, "webgpu");
    assert_eq!(
        engine.config().pool.max_buffer_bytes,
        engine.adapter().max_buffer_size
    );
}

#[wasm_bindgen_test]
async fn five_hundred_random_sizes_need_at_most_forty_buffers() {
    let budget = 32 << 20;
    let engine = engine_with(PoolConfig {
        budget_bytes: budget,
        ..PoolConfig::default()
    })
    .await;
    let pool = engine.pool();
    let mut live = Vec::new();
    for step in random_size_workload(7, 500, 8) {
        match step {
            Step::Take(elements) => live.push(pool.get([elements as usize], None).unwrap()),
            Step::Return(i) => pool.put(&live.remove(i)).unwrap(),
        }
        assert!(pool.stats().bytes_cached <= budget);
    }
    let stats = pool.stats();
    assert_eq!(stats.hits + stats.misses, 500);
    assert!(
        stats.buffers_created <= 40,
        "created {}",
        stats.buffers_created
    );
    assert_eq!(stats.bytes_in_use, 0);
}

#[wasm_bindgen_test]
async fn zeros_on_a_reused_buffer_reads_zeros() {
    let engine = engine_with(PoolConfig::default()).await;
    let pool = engine.pool();
    let t = pool.get([1000], Some(DType::F32)).unwrap();
    let data: Vec<f32> = (0..1000).map(|i| i as f32 - 7.25).collect();
    engine
        .queue()
        .write_buffer(&t.buffer().unwrap(), 0, bytemuck::cast_slice(&data));
    assert_eq!(f32s(&t).await, data);
    pool.put(&t).unwrap();

    let before = engine.stats();
    let z = pool.zeros([1000], Some(DType::F32)).unwrap();
    assert_eq!(pool.stats().hits, 1, "zeros must reuse the dirty buffer");
    assert_eq!(f32s(&z).await, vec![0.0; 1000]);
    let after = engine.stats();
    assert_eq!(after.counters.submits - before.counters.submits, 1);
    assert_eq!(after.counters.copies - before.counters.copies, 1);
    assert_eq!(after.pool.buffers_created - before.pool.buffers_created, 0);
}

#[wasm_bindgen_test]
async fn put_twice_foreign_and_too_large_are_typed_errors() {
    let engine = engine_with(PoolConfig::default()).await;
    let other = engine_with(PoolConfig::default()).await;
    let t = engine.pool().get([64, 64], None).unwrap();
    let foreign = other.pool().get([64, 64], None).unwrap();
    engine.pool().put(&t).unwrap();
    let before = engine.stats();
    assert_eq!(engine.pool().put(&t).unwrap_err().code(), "Disposed");
    assert_eq!(
        engine.pool().put(&foreign).unwrap_err().code(),
        "DeviceMismatch"
    );
    let too_many = (engine.adapter().max_buffer_size / 4 + 1) as usize;
    assert_eq!(
        engine.pool().get([too_many], None).unwrap_err().code(),
        "TooLarge"
    );
    assert_eq!(t.to_host_bytes().await.unwrap_err().code(), "Disposed");
    assert_eq!(engine.stats(), before);
}

#[wasm_bindgen_test]
async fn the_budget_bounds_idle_memory_and_trim_frees_it() {
    let engine = engine_with(PoolConfig {
        budget_bytes: 1 << 20,
        ..PoolConfig::default()
    })
    .await;
    let pool = engine.pool();
    let tensors: Vec<_> = (0..8)
        .map(|_| pool.get([64 * 1024], None).unwrap())
        .collect();
    for t in &tensors {
        pool.put(t).unwrap();
        assert!(pool.stats().bytes_cached <= 1 << 20);
    }
    assert_eq!(pool.stats().evictions, 4);
    assert_eq!(pool.trim(0), 1 << 20);
    assert_eq!(pool.stats().bytes_cached, 0);
}

#[wasm_bindgen_test]
async fn casts_match_the_golden_vectors_on_swiftshader() {
    let engine = engine_with(PoolConfig::default()).await;
    let (floats, ints) = golden::parse(golden::FILE);
    let input: Vec<u32> = floats.iter().map(|c| c.input).collect();
    let t = engine
        .to_device(
            tmath::HostData::Bytes(bytemuck::cast_slice(&input), DType::F32),
            [input.len()],
            None,
        )
        .unwrap();
    let read16 = |t: tmath::Tensor| async move {
        bytemuck::pod_collect_to_vec::<u8, u16>(&t.to_host_bytes().await.unwrap())
    };
    let f16s = read16(engine.cast(&t, DType::F16).unwrap()).await;
    let bf16s = read16(engine.cast(&t, DType::BF16).unwrap()).await;
    let i32s: Vec<i32> = bytemuck::pod_collect_to_vec(
        &engine
            .cast(&t, DType::I32)
            .unwrap()
            .to_host_bytes()
            .await
            .unwrap(),
    );
    for (k, c) in floats.iter().enumerate() {
        assert_eq!(f16s[k], c.f16, "f32 {:08x} -> f16", c.input);
        assert_eq!(bf16s[k], c.bf16, "f32 {:08x} -> bf16", c.input);
        assert_eq!(i32s[k], c.i32, "f32 {:08x} -> i32", c.input);
    }
    let input: Vec<i32> = ints.iter().map(|c| c.input).collect();
    let t = engine.to_device(&input, [input.len()], None).unwrap();
    let f32s: Vec<u32> = bytemuck::pod_collect_to_vec(
        &engine
            .cast(&t, DType::F32)
            .unwrap()
            .to_host_bytes()
            .await
            .unwrap(),
    );
    let f16s = read16(engine.cast(&t, DType::F16).unwrap()).await;
    let bf16s = read16(engine.cast(&t, DType::BF16).unwrap()).await;
    for (k, c) in ints.iter().enumerate() {
        assert_eq!(
            (f32s[k], f16s[k], bf16s[k]),
            (c.f32, c.f16, c.bf16),
            "i32 {}",
            c.input
        );
    }
}

#[wasm_bindgen_test]
async fn every_16_bit_pattern_casts_exactly_on_swiftshader() {
    let engine = engine_with(PoolConfig::default()).await;
    let all: Vec<u16> = (0..=u16::MAX).collect();
    for from in [DType::F16, DType::BF16] {
        let t = engine
            .to_device(
                tmath::HostData::Bytes(bytemuck::cast_slice(&all), from),
                [all.len()],
                None,
            )
            .unwrap();
        let f32s: Vec<u32> = bytemuck::pod_collect_to_vec(
            &engine
                .cast(&t, DType::F32)
                .unwrap()
                .to_host_bytes()
                .await
                .unwrap(),
        );
        for (k, &b) in all.iter().enumerate() {
            let want = if from == DType::F16 {
                half::f16::from_bits(b).to_f32()
            } else {
                half::bf16::from_bits(b).to_f32()
            };
            assert_eq!(f32s[k], want.to_bits(), "{from} {b:04x}");
        }
    }
}

#[wasm_bindgen_test]
async fn prepare_tensor_is_free_when_the_precision_matches() {
    let engine = engine_with(PoolConfig::default()).await;
    let t = engine.to_device(&[1.0f32, 2.0, 3.0], [3], None).unwrap();
    let before = engine.stats();
    assert!(engine.prepare_tensor(&t, None).unwrap().same_as(&t));
    assert_eq!(engine.stats(), before);
    let h = engine.prepare_tensor(&t, Some(DType::F16)).unwrap();
    let after = engine.stats();
    assert_eq!(after.counters.dispatches - before.counters.dispatches, 1);
    assert_eq!(after.counters.conversions - before.counters.conversions, 1);
    assert_eq!(h.byte_len(), 6);
}

#[wasm_bindgen_test]
async fn resident_chains_submit_once_and_host_matmuls_cost_what_they_should() {
    let engine = engine_with(PoolConfig::default()).await;
    let a: Vec<f32> = (0..48 * 40)
        .map(|i| ((i % 13) as f32 - 6.0) / 8.0)
        .collect();
    let b: Vec<f32> = (0..40 * 24).map(|i| ((i % 7) as f32 - 3.0) / 4.0).collect();
    let host_matmul = || async {
        let ta = engine.to_device(&a, [48, 40], None).unwrap();
        let tb = engine.to_device(&b, [40, 24], None).unwrap();
        f32s(&engine.matmul(&ta, &tb).unwrap()).await
    };
    let first = host_matmul().await;
    let before = engine.stats();
    let second = host_matmul().await;
    let after = engine.stats();
    assert_eq!(first, second);
    for i in [0usize, 100, 48 * 24 - 1] {
        let (r, c) = (i / 24, i % 24);
        let want: f32 = (0..40).map(|p| a[r * 40 + p] * b[p * 24 + c]).sum();
        assert!(
            (first[i] - want).abs() < 1e-4,
            "{i}: {} vs {want}",
            first[i]
        );
    }
    assert_eq!(after.pool.buffers_created, before.pool.buffers_created);
    assert_eq!(after.counters.copies - before.counters.copies, 3);
    assert_eq!(after.counters.submits - before.counters.submits, 1);

    let x = engine.to_device(&a, [48, 40], None).unwrap();
    let w = engine.to_device(&b, [40, 24], None).unwrap();
    let chain = || {
        let y = engine.matmul(&x, &w).unwrap();
        let y = engine.add(&y, 1.0).unwrap();
        engine.relu(&y).unwrap()
    };
    drop(chain());
    engine.flush().unwrap();
    let before = engine.stats();
    let out = chain();
    engine.flush().unwrap();
    let after = engine.stats();
    assert_eq!(after.pool.buffers_created, before.pool.buffers_created);
    assert_eq!(after.counters.copies, before.counters.copies);
    assert_eq!(after.counters.submits - before.counters.submits, 1);
    assert!(f32s(&out).await.iter().all(|&v| v >= 0.0));
}
