//! The pool on a real adapter: natively on wgpu (lavapipe in CI) and in headless Chromium's
//! WebGPU (`cargo test --target wasm32-unknown-unknown --test pool`), one body for both. A missing
//! adapter fails these tests loudly.

mod common;

use common::{new_engine, random_size_workload, read, Step};
use tmath::{DType, Engine, EngineConfig, PoolConfig, UploadRoute};

async fn engine_with(pool: PoolConfig) -> Engine {
    new_engine(EngineConfig {
        pool,
        ..EngineConfig::default()
    })
    .await
}

async fn default_engine() -> Engine {
    engine_with(PoolConfig::default()).await
}

async fn reports_the_adapter_and_its_real_limits() {
    let engine = default_engine().await;
    let adapter = engine.adapter();
    assert!(!adapter.backend.is_empty());
    if cfg!(target_arch = "wasm32") {
        assert_eq!(adapter.backend, "webgpu");
    } else {
        assert!(!adapter.name.is_empty());
        // The device got the adapter's limits, not WebGPU's 256 MiB default.
        assert!(adapter.max_buffer_size >= 256 << 20);
    }
    assert_eq!(
        engine.config().pool.max_buffer_bytes,
        adapter.max_buffer_size
    );
}

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
    assert_eq!(stats.misses, stats.buffers_created);
    assert_eq!(stats.bytes_in_use, 0);
}

async fn get_may_return_old_contents_but_zeros_clears_on_the_gpu() {
    let engine = default_engine().await;
    let pool = engine.pool();
    let t = pool.get([1000], Some(DType::F32)).unwrap();
    let data: Vec<f32> = (0..1000).map(|i| i as f32 + 0.5).collect();
    engine
        .queue()
        .write_buffer(&t.buffer().unwrap(), 0, bytemuck::cast_slice(&data));
    assert_eq!(read::<f32>(&t).await, data);
    pool.put(&t).unwrap();

    // `get` reuses the buffer as it is: the seed's pool semantics, documented.
    let reused = pool.get([1000], Some(DType::F32)).unwrap();
    assert_eq!(pool.stats().hits, 1);
    assert_eq!(read::<f32>(&reused).await, data);
    pool.put(&reused).unwrap();

    let before = engine.stats();
    let z = pool.zeros([1000], Some(DType::F32)).unwrap();
    assert_eq!(pool.stats().hits, 2, "zeros must reuse the dirty buffer");
    assert_eq!(read::<f32>(&z).await, vec![0.0; 1000]);
    let after = engine.stats();
    // The clear and the readback copy went in one submission; nothing was uploaded.
    assert_eq!(after.counters.submits - before.counters.submits, 1);
    assert_eq!(after.counters.copies - before.counters.copies, 1);
    assert_eq!(after.counters.crossings - before.counters.crossings, 1);
    assert_eq!(after.pool.buffers_created, before.pool.buffers_created);
}

async fn sixteen_bit_tensors_are_packed_even_for_odd_counts() {
    let engine = default_engine().await;
    let t = engine.pool().zeros([3, 3], Some(DType::F16)).unwrap();
    assert_eq!(t.byte_len(), 18);
    assert_eq!(read::<u16>(&t).await, vec![0u16; 9]);
}

async fn readback_staging_buffers_are_pooled() {
    let engine = default_engine().await;
    let t = engine.pool().zeros([4096], None).unwrap();
    read::<f32>(&t).await;
    let created = engine.stats().pool.buffers_created;
    for _ in 0..5 {
        read::<f32>(&t).await;
    }
    assert_eq!(engine.stats().pool.buffers_created, created);
}

async fn put_twice_or_into_another_pool_is_an_error_and_changes_nothing() {
    let engine = default_engine().await;
    let other = default_engine().await;
    let t = engine.pool().get([64, 64], None).unwrap();
    let foreign = other.pool().get([64, 64], None).unwrap();
    engine.pool().put(&t).unwrap();
    let before = engine.stats();

    let err = engine.pool().put(&t).unwrap_err();
    assert_eq!(err.code(), "Disposed");
    let err = engine.pool().put(&foreign).unwrap_err();
    assert_eq!(err.code(), "DeviceMismatch");
    assert_eq!(engine.stats(), before);
    assert!(!foreign.is_disposed());

    // A disposed tensor refuses every use.
    assert!(t.is_disposed());
    assert_eq!(t.buffer().unwrap_err().code(), "Disposed");
    assert_eq!(t.to_host_bytes().await.unwrap_err().code(), "Disposed");
    assert_eq!(t.dispose().unwrap_err().code(), "Disposed");
    assert_eq!(engine.stats(), before);
}

async fn requests_beyond_the_device_limit_are_too_large() {
    let engine = default_engine().await;
    let before = engine.stats();
    let limit = engine.adapter().max_buffer_size;
    let elements = (limit / 4 + 1) as usize;
    let err = engine.pool().get([elements], None).unwrap_err();
    assert_eq!(err.code(), "TooLarge", "{err}");
    assert!(err.to_string().contains(&limit.to_string()));
    assert_eq!(
        engine.pool().zeros([0, 4], None).unwrap_err().code(),
        "InvalidShape"
    );
    assert_eq!(engine.stats(), before);
}

async fn the_budget_and_trim_bound_idle_memory() {
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
    let stats = pool.stats();
    assert_eq!(stats.bytes_cached, 1 << 20);
    assert_eq!(stats.evictions, 4);
    assert_eq!(pool.trim(256 << 10), 768 << 10);
    let stats = pool.stats();
    assert_eq!((stats.bytes_cached, stats.evictions), (256 << 10, 7));
    assert_eq!(stats.buffers_created - stats.buffers_destroyed, 1);
}

async fn dropping_the_last_handle_returns_the_buffer() {
    let engine = default_engine().await;
    {
        let t = engine.pool().get([1024], None).unwrap();
        let _clone = t.clone();
        assert_eq!(engine.stats().pool.bytes_in_use, 4096);
    }
    let stats = engine.stats().pool;
    assert_eq!((stats.bytes_in_use, stats.bytes_cached), (0, 4096));
}

async fn zero_on_reuse_keeps_one_tensors_data_from_another() {
    for upload in [UploadRoute::QueueWrite, UploadRoute::Auto] {
        let engine = new_engine(EngineConfig {
            zero_on_reuse: true,
            upload,
            ..EngineConfig::default()
        })
        .await;
        let secret: Vec<f32> = (0..1000).map(|i| i as f32 + 1.0).collect();
        let t = engine.to_device(&secret, [1000], None).unwrap();
        read::<f32>(&t).await;
        drop(t);
        // A smaller upload lands on the same (reused) buffer: the rest of that buffer, reachable
        // through buffer(), no longer holds the earlier data. (Reading a whole raw buffer is
        // `to_device_buffer`, native only; the web layer takes buffers from JS.)
        let small = engine.to_device(&secret[..980], [980], None).unwrap();
        assert_eq!(engine.stats().pool.hits, 1, "{upload:?}");
        #[cfg(not(target_arch = "wasm32"))]
        {
            let whole = engine
                .to_device_buffer(&small.buffer().unwrap(), [1000], DType::F32, false)
                .unwrap();
            let mut want = vec![0.0; 1000];
            want[..980].copy_from_slice(&secret[..980]);
            assert_eq!(read::<f32>(&whole).await, want, "{upload:?}");
        }
        assert_eq!(read::<f32>(&small).await, secret[..980], "{upload:?}");
        if upload == UploadRoute::QueueWrite {
            // get() of a reused buffer reads zeros too.
            drop(small);
            engine.flush().unwrap();
            let hits = engine.stats().pool.hits;
            let reused = engine.pool().get([990], None).unwrap();
            assert_eq!(engine.stats().pool.hits, hits + 1);
            assert_eq!(read::<f32>(&reused).await, vec![0.0; 990]);
        }
    }
}

gpu_tests!(
    reports_the_adapter_and_its_real_limits,
    five_hundred_random_sizes_need_at_most_forty_buffers,
    get_may_return_old_contents_but_zeros_clears_on_the_gpu,
    sixteen_bit_tensors_are_packed_even_for_odd_counts,
    readback_staging_buffers_are_pooled,
    put_twice_or_into_another_pool_is_an_error_and_changes_nothing,
    requests_beyond_the_device_limit_are_too_large,
    the_budget_and_trim_bound_idle_memory,
    dropping_the_last_handle_returns_the_buffer,
    zero_on_reuse_keeps_one_tensors_data_from_another,
);
