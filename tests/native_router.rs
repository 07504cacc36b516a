//! The transfer router on a real wgpu adapter: every route, its exact counts, and its fallback.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use tmath::{DType, Engine, EngineConfig, Route, Stats, UploadRoute};

fn engine_with(upload: UploadRoute) -> Engine {
    common::engine(EngineConfig {
        upload,
        ..EngineConfig::default()
    })
}

fn delta(before: &Stats, after: &Stats) -> [u64; 5] {
    [
        after.pool.buffers_created - before.pool.buffers_created,
        after.counters.copies - before.counters.copies,
        after.counters.crossings - before.counters.crossings,
        after.counters.submits - before.counters.submits,
        after.pool.staging_hits + after.pool.staging_misses
            - before.pool.staging_hits
            - before.pool.staging_misses,
    ]
}

const CREATED: usize = 0;
const COPIES: usize = 1;
const CROSSINGS: usize = 2;
const MAPS: usize = 4;

#[test]
fn host_write_after_warm_up_creates_nothing_and_makes_one_copy_and_one_crossing() {
    let engine = engine_with(UploadRoute::QueueWrite);
    let data: Vec<f32> = (0..10_000).map(|i| i as f32 * 0.25).collect();
    engine.to_device(&data, [100, 100], None).unwrap(); // warm-up; dropped back to the pool
    let before = engine.stats();
    let t = engine.to_device(&data, [100, 100], None).unwrap();
    let after = engine.stats();
    assert_eq!(delta(&before, &after), [0, 1, 1, 0, 0]);
    assert_eq!(engine.ledger().last().unwrap().route, Route::HostWrite);
    assert_eq!(t.to_vec::<f32>().unwrap(), data);
}

#[test]
fn mapped_write_on_a_unified_memory_adapter_needs_no_staging() {
    let engine = engine_with(UploadRoute::Auto);
    if !engine.adapter().mappable_primary_buffers {
        // Auto picks the queue write on discrete GPUs; lavapipe (CI) always maps.
        assert_eq!(engine.adapter().device_type, tmath::DeviceKind::DiscreteGpu);
        return;
    }
    let data: Vec<f32> = (0..4097).map(|i| (i as f32).sin()).collect();
    let first = engine.to_device(&data, [4097], None).unwrap();
    assert_eq!(engine.ledger().last().unwrap().route, Route::MappedWrite);
    assert_eq!(first.to_vec::<f32>().unwrap(), data);
    drop(first);
    // The second upload reuses the buffer: it is mapped again, after its earlier use finished.
    let other: Vec<f32> = data.iter().map(|x| x * -2.0).collect();
    let before = engine.stats();
    let second = engine.to_device(&other, [4097], None).unwrap();
    let after = engine.stats();
    assert_eq!(delta(&before, &after), [0, 1, 1, 0, 0]);
    assert_eq!(after.pool.hits - before.pool.hits, 1);
    assert_eq!(second.to_vec::<f32>().unwrap(), other);
}

#[test]
fn mapped_uploads_on_an_adapter_without_them_are_refused_up_front() {
    let probe = engine_with(UploadRoute::Auto);
    let result = Engine::new_blocking(EngineConfig {
        upload: UploadRoute::Mapped,
        ..EngineConfig::default()
    });
    match (probe.adapter().mappable_primary_buffers, result) {
        (true, Ok(_)) => {}
        (false, Err(e)) => assert_eq!(e.code(), "InvalidArgument"),
        (has, other) => panic!("mappable={has}: {other:?}", other = other.map(|_| ())),
    }
}

#[test]
fn identity_does_nothing_at_all() {
    let engine = engine_with(UploadRoute::Auto);
    let t = engine.to_device(&[1.0f32, 2.0, 3.0], [3], None).unwrap();
    let before = engine.stats();
    let same = engine.to_device_tensor(&t).unwrap();
    assert!(same.same_as(&t));
    assert_eq!(engine.stats(), before);
    assert_eq!(engine.ledger().last().unwrap().route, Route::Identity);
}

fn user_buffer(engine: &Engine, data: &[f32], usage: wgpu::BufferUsages) -> wgpu::Buffer {
    let buffer = engine.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("user"),
        size: (data.len() * 4) as u64,
        usage,
        mapped_at_creation: true,
    });
    buffer
        .get_mapped_range_mut(..)
        .unwrap()
        .copy_from_slice(bytemuck::cast_slice(data));
    buffer.unmap();
    buffer
}

#[test]
fn a_same_device_buffer_is_one_gpu_copy_with_no_crossing_and_no_map() {
    use wgpu::BufferUsages as U;
    let engine = engine_with(UploadRoute::Auto);
    let data: Vec<f32> = (0..1024).map(|i| i as f32).collect();
    let buffer = user_buffer(&engine, &data, U::STORAGE | U::COPY_SRC);
    engine
        .to_device_buffer(&buffer, [1024], DType::F32, false)
        .unwrap(); // warm-up
    let before = engine.stats();
    let t = engine
        .to_device_buffer(&buffer, [32, 32], DType::F32, false)
        .unwrap();
    let after = engine.stats();
    let d = delta(&before, &after);
    assert_eq!([d[CREATED], d[COPIES], d[CROSSINGS], d[MAPS]], [0, 1, 0, 0]);
    assert_eq!(engine.ledger().last().unwrap().route, Route::SameDeviceCopy);
    assert_eq!(t.to_vec::<f32>().unwrap(), data);
}

#[test]
fn adopt_takes_the_buffer_itself() {
    use wgpu::BufferUsages as U;
    let engine = engine_with(UploadRoute::Auto);
    let data = [5.0f32; 64];
    let buffer = user_buffer(&engine, &data, U::STORAGE | U::COPY_SRC | U::COPY_DST);
    let before = engine.stats();
    let t = engine
        .to_device_buffer(&buffer, [64], DType::F32, true)
        .unwrap();
    assert_eq!(delta(&before, &engine.stats())[..3], [0, 0, 0]);
    assert_eq!(engine.ledger().last().unwrap().route, Route::Adopt);
    assert_eq!(t.buffer().unwrap(), buffer);
    assert_eq!(t.to_vec::<f32>().unwrap(), data);
    assert_eq!(engine.ledger().last().unwrap().route, Route::Readback);
    t.dispose().unwrap(); // not the pool's: nothing returns to it
    assert_eq!(engine.stats().pool.bytes_in_use, 0);

    let read_only = user_buffer(&engine, &data, U::STORAGE | U::COPY_SRC);
    let err = engine
        .to_device_buffer(&read_only, [64], DType::F32, true)
        .unwrap_err();
    assert_eq!(err.code(), "InvalidArgument");
    assert!(err.to_string().contains("COPY_DST"), "{err}");
    let small = engine
        .to_device_buffer(&read_only, [65], DType::F32, false)
        .unwrap_err();
    assert_eq!(small.code(), "DataLengthMismatch");
}

#[test]
fn a_buffer_without_copy_src_falls_back_to_the_host_route_once() {
    use wgpu::BufferUsages as U;
    let engine = engine_with(UploadRoute::QueueWrite);
    let data: Vec<f32> = (0..256).map(|i| -(i as f32)).collect();
    let buffer = user_buffer(&engine, &data, U::MAP_READ | U::COPY_DST);
    let t = engine
        .to_device_buffer(&buffer, [256], DType::F32, false)
        .unwrap();
    let entry = engine.ledger().last().unwrap().clone();
    assert_eq!(entry.route, Route::HostWrite);
    assert_eq!(entry.fallback_from, Some(Route::SameDeviceCopy));
    assert!(entry.reason.unwrap().contains("COPY_SRC"));
    assert_eq!(t.to_vec::<f32>().unwrap(), data);

    let unreadable = user_buffer(&engine, &data, U::STORAGE);
    let before = engine.stats();
    let err = engine
        .to_device_buffer(&unreadable, [256], DType::F32, false)
        .unwrap_err();
    assert_eq!(err.code(), "InvalidArgument");
    assert_eq!(engine.stats(), before);
}

#[test]
fn another_devices_buffer_is_a_device_mismatch_here_and_cross_device_through_the_host() {
    use wgpu::BufferUsages as U;
    let engine = engine_with(UploadRoute::QueueWrite);
    let other = engine_with(UploadRoute::QueueWrite);
    let data: Vec<f32> = (0..300).map(|i| i as f32 / 3.0).collect();
    let theirs = user_buffer(&other, &data, U::STORAGE | U::COPY_SRC);
    let before = engine.stats();
    let err = engine
        .to_device_buffer(&theirs, [300], DType::F32, false)
        .unwrap_err();
    assert_eq!(err.code(), "DeviceMismatch", "{err}");
    assert_eq!(engine.stats().pool.bytes_in_use, before.pool.bytes_in_use);

    let before = engine.stats();
    let t = engine
        .to_device_from_device(&theirs, other.device(), other.queue(), [300], DType::F32)
        .unwrap();
    let after = engine.stats();
    assert_eq!(after.counters.crossings - before.counters.crossings, 2);
    assert_eq!(after.counters.copies - before.counters.copies, 2);
    assert_eq!(engine.ledger().last().unwrap().route, Route::CrossDevice);
    assert_eq!(t.to_vec::<f32>().unwrap(), data);

    let their_tensor = other.to_device(&data, [300], None).unwrap();
    let moved = engine.to_device_tensor(&their_tensor).unwrap();
    assert!(engine.owns(&moved) && !moved.same_as(&their_tensor));
    assert_eq!(moved.to_vec::<f32>().unwrap(), data);
}

#[test]
fn int64_becomes_int32_only_when_every_value_fits() {
    let engine = engine_with(UploadRoute::Auto);
    let t = engine
        .to_device(&[1i64, -2, 3, i32::MAX as i64], [4], None)
        .unwrap();
    assert_eq!(t.dtype(), DType::I32);
    assert_eq!(t.to_vec::<i32>().unwrap(), vec![1, -2, 3, i32::MAX]);
    let before = engine.stats();
    let err = engine.to_device(&[1i64, 1 << 31], [2], None).unwrap_err();
    assert_eq!(err.code(), "ValueOutOfRange");
    assert!(err.to_string().contains("index 1"), "{err}");
    assert_eq!(engine.stats(), before);
}

#[test]
fn data_must_match_the_shape() {
    let engine = engine_with(UploadRoute::Auto);
    let before = engine.stats();
    let err = engine.to_device(&[1.0f32; 5], [2, 3], None).unwrap_err();
    assert_eq!(err.code(), "DataLengthMismatch");
    assert!(err.to_string().contains("5") && err.to_string().contains("6"));
    let err = engine
        .to_device(tmath::HostData::Bytes(&[0u8; 7], DType::F32), [2], None)
        .unwrap_err();
    assert_eq!(err.code(), "DataLengthMismatch");
    let err = engine
        .to_device(&[0.5f64, 1.0], [2], Some(DType::I32))
        .unwrap_err();
    assert_eq!(err.code(), "ValueOutOfRange");
    assert_eq!(engine.stats(), before);
}

#[test]
fn converting_on_upload_is_counted_once() {
    let engine = engine_with(UploadRoute::QueueWrite);
    let data = [1.0f32, 0.1, 65504.0, 1e-7, -0.0, 70000.0, f32::NAN];
    let before = engine.stats();
    let t = engine.to_device(&data, [7], Some(DType::F16)).unwrap();
    let after = engine.stats();
    assert_eq!(after.counters.conversions - before.counters.conversions, 1);
    assert_eq!(after.counters.copies - before.counters.copies, 2);
    let expected: Vec<u16> = data
        .iter()
        .map(|&x| half::f16::from_f32(x).to_bits())
        .collect();
    assert_eq!(t.to_vec::<u16>().unwrap(), expected);
    assert_eq!(t.byte_len(), 14);
}

#[test]
fn a_buffer_that_pending_work_uses_returns_to_the_pool_at_once_and_uploads_into_it_are_ordered() {
    let engine = engine_with(UploadRoute::QueueWrite);
    // zeros records a clear that is not yet submitted; disposing the tensor returns the buffer
    // in stream at once, and the upload that reuses it is ordered after the clear.
    let z = engine.pool().zeros([2048], None).unwrap();
    z.dispose().unwrap();
    assert_eq!(engine.stats().pool.bytes_in_use, 0, "idle at once");
    let data = vec![7.0f32; 2048];
    let t = engine.to_device(&data, [2048], None).unwrap();
    assert_eq!(engine.stats().pool.hits, 1);
    assert_eq!(engine.ledger().last().unwrap().route, Route::StagedWrite);
    assert_eq!(t.to_vec::<f32>().unwrap(), data);
    // After the submission that ran the readback, a plain host write.
    t.dispose().unwrap();
    let u = engine.to_device(&data, [2048], None).unwrap();
    assert_eq!(engine.stats().pool.hits, 2);
    assert_eq!(engine.ledger().last().unwrap().route, Route::HostWrite);
    assert_eq!(u.to_vec::<f32>().unwrap(), data);
}

#[test]
fn the_ledger_keeps_the_last_transfers() {
    let engine = common::engine(EngineConfig {
        ledger_capacity: 3,
        ..EngineConfig::default()
    });
    for n in 1..=5usize {
        engine.to_device(&vec![0i32; n], [n], None).unwrap();
    }
    let ledger = engine.ledger();
    assert_eq!(ledger.len(), 3);
    assert_eq!(
        ledger.iter().map(|t| t.bytes).collect::<Vec<_>>(),
        [12, 16, 20]
    );
    assert!(ledger
        .iter()
        .all(|t| t.dtype_in == "int32" && t.wall_us >= 0.0));
}

#[test]
fn staged_writes_reuse_a_kept_mapped_upload_buffer() {
    let engine = common::engine(EngineConfig {
        upload: UploadRoute::Staged,
        ..EngineConfig::default()
    });
    let data: Vec<f32> = (0..100_000).map(|i| i as f32 * 0.5).collect();
    let first = engine.to_device(&data, [100_000], None).unwrap();
    assert_eq!(engine.ledger().last().unwrap().route, Route::StagedWrite);
    assert_eq!(first.to_vec::<f32>().unwrap(), data); // flushes: the upload buffer is mapped again
    drop(first);
    let before = engine.stats();
    let other: Vec<f32> = data.iter().map(|x| -x).collect();
    let second = engine.to_device(&other, [100_000], None).unwrap();
    let after = engine.stats();
    assert_eq!(after.pool.buffers_created, before.pool.buffers_created);
    assert_eq!(after.pool.staging_hits - before.pool.staging_hits, 1);
    assert_eq!(delta(&before, &after)[COPIES..=CROSSINGS], [1, 1]);
    assert_eq!(second.to_vec::<f32>().unwrap(), other);
    // Odd 16-bit counts are padded to whole words.
    let halves: Vec<half::f16> = (0..7).map(|i| half::f16::from_f32(i as f32)).collect();
    let h = engine.to_device(&halves, [7], None).unwrap();
    assert_eq!(h.to_vec::<half::f16>().unwrap(), halves);
}

#[test]
fn gpu_copies_use_the_compute_copy_where_chosen_and_the_copy_command_otherwise() {
    for (method, aligned_dispatches) in [(tmath::GpuCopy::Compute, 1), (tmath::GpuCopy::Command, 0)]
    {
        let engine = common::engine(EngineConfig {
            gpu_copy: method,
            ..EngineConfig::default()
        });
        let data: Vec<f32> = (0..300_000).map(|i| (i % 977) as f32).collect();
        let t = engine.to_device(&data, [300_000], None).unwrap();
        let before = engine.stats();
        let c = engine.copy(&t).unwrap();
        let after = engine.stats();
        assert_eq!(
            after.counters.dispatches - before.counters.dispatches,
            aligned_dispatches
        );
        assert_eq!(delta(&before, &after)[COPIES..=CROSSINGS], [1, 0]);
        assert_eq!(engine.ledger().last().unwrap().route, Route::SameDeviceCopy);
        assert!(!c.same_as(&t));
        assert_eq!(c.to_vec::<f32>().unwrap(), data);
        // 3 floats are not a whole number of vec4s: the copy command does it.
        let odd = engine.to_device(&[1.0f32, 2.0, 3.0], [3], None).unwrap();
        let before = engine.stats();
        let odd_copy = engine.copy(&odd).unwrap();
        assert_eq!(
            engine.stats().counters.dispatches,
            before.counters.dispatches
        );
        assert_eq!(odd_copy.to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0]);
    }
}

#[test]
fn flush_submits_queued_writes_once() {
    let engine = engine_with(UploadRoute::QueueWrite);
    let _t = engine.to_device(&[1.0f32; 16], [16], None).unwrap();
    let before = engine.stats().counters.submits;
    engine.flush().unwrap();
    engine.flush().unwrap();
    assert_eq!(engine.stats().counters.submits - before, 1);
}
