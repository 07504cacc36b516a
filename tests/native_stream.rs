//! Stream-ordered reuse on a real adapter: a buffer whose last use is still pending goes back to
//! the pool at once, later GPU work reuses it, and host writes into it are ordered after that
//! use. Every hazard is checked with exact values; every cost with exact counts. (The same
//! rules run in Chromium in tests/js/stream.test.mjs.)
#![cfg(not(target_arch = "wasm32"))]

mod common;

use tmath::{DType, Engine, EngineConfig, Route, Stats, Tensor, UploadRoute};

fn engine_with(upload: UploadRoute, zero_on_reuse: bool) -> Engine {
    common::engine(EngineConfig {
        upload,
        zero_on_reuse,
        ..EngineConfig::default()
    })
}

/// Every upload route the adapter can take: the web's queue write, and Auto (mapped writes on
/// unified-memory adapters such as lavapipe).
fn engines() -> Vec<Engine> {
    vec![
        engine_with(UploadRoute::QueueWrite, false),
        engine_with(UploadRoute::Auto, false),
        engine_with(UploadRoute::QueueWrite, true),
    ]
}

/// Values exact in float16 and bfloat16 (steps of 0.5 below 64).
fn data(n: usize, seed: f32) -> Vec<f32> {
    (0..n).map(|i| seed + (i % 64) as f32 * 0.5).collect()
}

fn plus(v: &[f32], x: f32) -> Vec<f32> {
    v.iter().map(|a| a + x).collect()
}

/// `x = A; y = f(x); x.dispose(); z = B` in one submission: `y` must be `f(A)` and `z` must be
/// `B`, whatever buffer `z` got.
fn check_hazard(engine: &Engine, what: &str, f: impl Fn(&Engine, &Tensor) -> Tensor) -> Vec<f32> {
    let n = 1024;
    let (a, b) = (data(n, 1.0), data(n, -700.0));
    let x = engine.to_device(&a, [32, 32], None).unwrap();
    let y = f(engine, &x);
    x.dispose().unwrap();
    let z = engine.to_device(&b, [32, 32], None).unwrap();
    assert_eq!(z.to_vec::<f32>().unwrap(), b, "{what}: z = B");
    y.to_vec::<f32>().unwrap()
}

#[test]
fn a_host_write_never_lands_before_pending_work_that_reads_the_reused_buffer() {
    for engine in engines() {
        let a = data(1024, 1.0);
        let got = check_hazard(&engine, "add", |e, x| e.add(x, 1.0).unwrap());
        assert_eq!(got, plus(&a, 1.0));
        let got = check_hazard(&engine, "relu", |e, x| e.relu(x).unwrap());
        assert_eq!(got, a.iter().map(|v| v.max(0.0)).collect::<Vec<_>>());
        let got = check_hazard(&engine, "copy", |e, x| e.copy(x).unwrap());
        assert_eq!(got, a);
        let got = check_hazard(&engine, "cast", |e, x| {
            let h = e.cast(x, DType::F16).unwrap();
            let back = e.cast(&h, DType::F32).unwrap();
            h.dispose().unwrap();
            back
        });
        assert_eq!(got, a, "these values are exact in float16");
        let got = check_hazard(&engine, "prepare_tensor", |e, x| {
            let h = e.prepare_tensor(x, Some(DType::BF16)).unwrap();
            let back = e.prepare_tensor(&h, Some(DType::F32)).unwrap();
            h.dispose().unwrap();
            back
        });
        assert_eq!(got, a, "these values are exact in bfloat16");
        let got = check_hazard(&engine, "matmul", |e, x| {
            // [32, 32] × identity = x
            let id: Vec<f32> = (0..32 * 32)
                .map(|i| if i / 32 == i % 32 { 1.0 } else { 0.0 })
                .collect();
            let eye = e.to_device(&id, [32, 32], None).unwrap();
            let out = e.matmul(x, &eye).unwrap();
            eye.dispose().unwrap();
            out
        });
        assert_eq!(got, a);
    }
}

#[test]
fn pool_get_put_and_zeros_are_ordered_after_pending_reads() {
    for engine in engines() {
        let n = 2048;
        let a = data(n, 3.0);
        // zeros: the clear is recorded after the add that reads x's old buffer.
        let x = engine.to_device(&a, [n], None).unwrap();
        let y = engine.add(&x, 1.0).unwrap();
        engine.pool().put(&x).unwrap();
        let z = engine.pool().zeros([n], None).unwrap();
        assert_eq!(z.to_vec::<f32>().unwrap(), vec![0.0; n]);
        assert_eq!(y.to_vec::<f32>().unwrap(), plus(&a, 1.0));
        // get: contents unspecified, but writing through its buffer (which submits pending work
        // first) must not disturb what pending work read.
        let x = engine.to_device(&a, [n], None).unwrap();
        let y = engine.mul(&x, 2.0).unwrap();
        x.dispose().unwrap();
        let g = engine.pool().get([n], None).unwrap();
        let b = data(n, -5.0);
        engine
            .queue()
            .write_buffer(&g.buffer().unwrap(), 0, bytemuck::cast_slice(&b));
        assert_eq!(g.to_vec::<f32>().unwrap(), b);
        assert_eq!(
            y.to_vec::<f32>().unwrap(),
            a.iter().map(|v| v * 2.0).collect::<Vec<_>>()
        );
    }
}

#[test]
fn an_op_output_reuses_a_buffer_pending_work_still_reads() {
    let engine = engine_with(UploadRoute::QueueWrite, false);
    let a = data(4096, 0.25);
    let x = engine.to_device(&a, [4096], None).unwrap();
    let y = engine.add(&x, 1.0).unwrap();
    x.dispose().unwrap();
    let before = engine.stats();
    // The add that reads x is pending; the next op's output takes x's buffer at once.
    let w = engine.add(&y, 1.0).unwrap();
    let after = engine.stats();
    assert_eq!(after.pool.hits - before.pool.hits, 1);
    assert_eq!(after.pool.buffers_created, before.pool.buffers_created);
    assert_eq!(after.counters.submits, before.counters.submits);
    assert_eq!(w.to_vec::<f32>().unwrap(), plus(&a, 2.0));
    assert_eq!(y.to_vec::<f32>().unwrap(), plus(&a, 1.0));
}

#[test]
fn a_host_write_into_an_in_stream_buffer_is_staged_and_counted() {
    let engine = engine_with(UploadRoute::QueueWrite, false);
    let (a, b) = (data(1000, 1.0), data(1000, 9.0));
    let x = engine.to_device(&a, [1000], None).unwrap();
    let y = engine.add(&x, 1.0).unwrap();
    let held = engine.stats().pool.bytes_in_use;
    x.dispose().unwrap();
    assert_eq!(
        held - engine.stats().pool.bytes_in_use,
        4096,
        "x's buffer is idle at once"
    );
    let before = engine.stats();
    let z = engine.to_device(&b, [1000], None).unwrap();
    let after = engine.stats();
    // x's buffer (the only idle one of the class) is reused; the write goes to staging and is
    // copied in stream: 2 copies, 1 crossing, no submission, one staging chunk.
    assert_eq!(after.pool.hits - before.pool.hits, 1);
    assert_eq!(after.counters.copies - before.counters.copies, 2);
    assert_eq!(after.counters.crossings - before.counters.crossings, 1);
    assert_eq!(after.counters.submits, before.counters.submits);
    assert_eq!(
        after.pool.staging_misses - before.pool.staging_misses,
        1,
        "one staging chunk"
    );
    assert_eq!(engine.ledger().last().unwrap().route, Route::StagedWrite);
    assert_eq!(z.to_vec::<f32>().unwrap(), b);
    assert_eq!(y.to_vec::<f32>().unwrap(), plus(&a, 1.0));
    // After the submission the buffers are settled: a plain host write again.
    y.dispose().unwrap();
    let u = engine.to_device(&a, [1000], None).unwrap();
    assert_eq!(engine.ledger().last().unwrap().route, Route::HostWrite);
    assert_eq!(u.to_vec::<f32>().unwrap(), a);
}

fn chain(engine: &Engine, n: usize, ops: usize) -> (Stats, Stats, Tensor) {
    chain_of(engine, n, ops, |_| 1.0)
}

/// `ops` times `x = add(x, scalar(i))` after 3 warm-up adds of 1.
fn chain_of(
    engine: &Engine,
    n: usize,
    ops: usize,
    scalar: impl Fn(usize) -> f32,
) -> (Stats, Stats, Tensor) {
    let mut x = engine.to_device(&vec![0.0f32; n], [n], None).unwrap();
    // Warm-up: pipelines, the classes' buffers, their bind groups.
    for _ in 0..3 {
        let y = engine.add(&x, 1.0).unwrap();
        x.dispose().unwrap();
        x = y;
    }
    // (The same submission: the params arena is already held, so bytes in use stay flat.)
    let before = engine.stats();
    for i in 0..ops {
        let y = engine.add(&x, scalar(i)).unwrap();
        x.dispose().unwrap();
        x = y;
    }
    let after = engine.stats();
    (before, after, x)
}

#[test]
fn a_chain_of_a_thousand_ops_creates_nothing_and_submits_once() {
    let engine = engine_with(UploadRoute::QueueWrite, false);
    for n in [4096usize, 262_144] {
        let (before, after, x) = chain(&engine, n, 1000);
        assert_eq!(
            after.pool.buffers_created, before.pool.buffers_created,
            "n={n}"
        );
        assert_eq!(
            after.pool.bytes_in_use, before.pool.bytes_in_use,
            "n={n}: flat"
        );
        assert_eq!(after.pool.peak_bytes_in_use, before.pool.peak_bytes_in_use);
        assert_eq!(after.counters.dispatches - before.counters.dispatches, 1000);
        assert_eq!(
            after.counters.submits, before.counters.submits,
            "nothing yet"
        );
        assert!(after.counters.bind_groups - before.counters.bind_groups <= 10);
        engine.flush().unwrap();
        let flushed = engine.stats();
        assert_eq!(flushed.counters.submits - before.counters.submits, 1);
        engine.flush().unwrap();
        assert_eq!(
            flushed.counters.param_writes - before.counters.param_writes,
            1,
            "one params write per submission"
        );
        assert_eq!(x.to_vec::<f32>().unwrap(), vec![1003.0; n]);
        x.dispose().unwrap();
    }
}

/// The params buffer keeps what was last written: a submission whose params it already holds
/// writes none, and any other writes them, whatever came between.
#[test]
fn params_the_buffer_already_holds_are_not_written_again() {
    let engine = engine_with(UploadRoute::QueueWrite, false);
    let x = engine.to_device(&vec![1.0f32; 256], [256], None).unwrap();
    // Each step: the scalars added in one submission, the params writes it must make, and the
    // sums it must produce.
    let steps: [(&[f32], u64); 7] = [
        (&[1.0], 1),      // nothing written yet
        (&[1.0], 0),      // the same params
        (&[2.0], 1),      // other params
        (&[1.0], 1),      // back to the first: the buffer holds the second's
        (&[1.0, 2.0], 1), // a longer arena: its first slot matches, the second does not
        (&[1.0], 0),      // a prefix of what the buffer holds
        (&[2.0], 1),      // not a prefix
    ];
    for (i, (scalars, writes)) in steps.iter().enumerate() {
        let before = engine.stats().counters.param_writes;
        let sums: Vec<Tensor> = scalars
            .iter()
            .map(|&s| engine.add(&x, s).unwrap())
            .collect();
        engine.flush().unwrap();
        assert_eq!(
            engine.stats().counters.param_writes - before,
            *writes,
            "step {i}: {scalars:?}"
        );
        for (sum, s) in sums.iter().zip(scalars.iter()) {
            assert_eq!(sum.to_vec::<f32>().unwrap(), vec![1.0 + s; 256], "step {i}");
        }
    }
    // A trimmed pool frees the params buffer: the next one is written afresh.
    engine.synchronize_blocking().unwrap();
    engine.pool().trim(0);
    let before = engine.stats().counters.param_writes;
    let y = engine.add(&x, 2.0).unwrap();
    engine.flush().unwrap();
    assert_eq!(
        engine.stats().counters.param_writes - before,
        1,
        "after trim"
    );
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![3.0; 256]);
}

#[test]
fn a_full_params_arena_submits_once_and_goes_on() {
    let engine = engine_with(UploadRoute::QueueWrite, false);
    let ops = tmath_params_slots() + 10;
    // A different scalar each time: every op needs a slot of its own.
    let (before, after, x) = chain_of(&engine, 256, ops, distinct_scalar);
    assert_eq!(after.counters.submits - before.counters.submits, 1);
    assert_eq!(
        after.counters.param_writes - before.counters.param_writes,
        1
    );
    let want = 3.0 + (0..ops).map(distinct_scalar).sum::<f32>();
    assert_eq!(x.to_vec::<f32>().unwrap(), vec![want; 256]);
}

/// A scalar of its own for each of 2,048 ops (multiples of 1/1024, so every sum is exact).
fn distinct_scalar(i: usize) -> f32 {
    (i % 2048) as f32 / 1024.0
}

#[test]
fn equal_params_anywhere_in_a_submission_share_a_slot_and_bind_groups() {
    let engine = engine_with(UploadRoute::QueueWrite, false);
    // add(x, 0) and add(x, 2) alternating: two distinct params, so two slots, and the chain's
    // ping-ponging buffers meet the same few bind groups again and again.
    let (before, after, x) = chain_of(&engine, 256, 1000, |i| (i % 2) as f32 * 2.0);
    assert_eq!(after.counters.submits, before.counters.submits);
    assert!(
        after.counters.bind_groups - before.counters.bind_groups <= 4,
        "{} bind groups for 1,000 ops",
        after.counters.bind_groups - before.counters.bind_groups
    );
    assert_eq!(x.to_vec::<f32>().unwrap(), vec![1003.0; 256]);
    let flushed = engine.stats();
    assert_eq!(
        flushed.counters.param_writes - before.counters.param_writes,
        1
    );
}

/// Ops per submission (the params arena's slots), as documented in the README.
fn tmath_params_slots() -> usize {
    1024
}

#[test]
fn five_hundred_uploads_and_ops_in_one_submission_reuse_a_few_buffers() {
    for engine in engines() {
        let mut rng = common::Rng::new(7);
        let mut created_at_start = None;
        let mut expected = Vec::new();
        let mut kept = Vec::new();
        for i in 0..500 {
            let n = rng.range(1024, 256 * 1024) as usize; // 4 KiB to 1 MiB
            let x = engine.to_device(&vec![i as f32; n], [n], None).unwrap();
            let y = engine.add(&x, 1.0).unwrap();
            x.dispose().unwrap();
            if i % 100 == 0 {
                kept.push(engine.copy(&y).unwrap());
                expected.push((n, i as f32 + 1.0));
            }
            y.dispose().unwrap();
            created_at_start.get_or_insert(engine.stats().pool.buffers_created);
        }
        let s = engine.stats();
        let live: u64 = kept.iter().map(|t| t.byte_len()).sum();
        assert!(
            s.pool.buffers_created <= 40,
            "{} buffers created",
            s.pool.buffers_created
        );
        // Held for one submission at most, whatever the number of ops: the write-staging arena
        // (2 chunks of 4 MiB) and the params arena (256 KiB), plus one iteration's x and y.
        let arenas = (8 << 20) + (256 << 10);
        let in_flight = 2 * (1 << 20) + (1 << 17) * 2;
        for (what, bytes) in [
            ("in use", s.pool.bytes_in_use),
            ("peak", s.pool.peak_bytes_in_use),
        ] {
            assert!(
                bytes <= 2 * live + arenas + in_flight,
                "{bytes} bytes {what} for {live} live"
            );
        }
        for (t, (n, v)) in kept.iter().zip(expected) {
            assert_eq!(t.to_vec::<f32>().unwrap(), vec![v; n]);
        }
    }
}

#[test]
fn idle_buffers_freed_while_work_is_pending_are_destroyed_after_submission() {
    let engine = engine_with(UploadRoute::QueueWrite, false);
    let a = data(4096, 1.0);
    let x = engine.to_device(&a, [4096], None).unwrap();
    let y = engine.add(&x, 1.0).unwrap();
    x.dispose().unwrap();
    // Evicting x's buffer now must not invalidate the pending add that reads it.
    assert_eq!(
        engine.pool().trim(0),
        16384,
        "x's buffer (the params arena is pending)"
    );
    assert_eq!(engine.stats().pool.bytes_cached, 0);
    assert_eq!(y.to_vec::<f32>().unwrap(), plus(&a, 1.0));
    assert!(engine.take_device_errors().is_empty());
}

#[test]
fn the_params_arena_is_bounded_and_trim_frees_it() {
    let engine = engine_with(UploadRoute::QueueWrite, false);
    let (_, _, x) = chain_of(&engine, 64, 5000, distinct_scalar);
    x.dispose().unwrap();
    engine.flush().unwrap();
    let s = engine.stats();
    // 5,000 ops in one go: one 256 KiB params buffer, whatever the number of ops.
    assert_eq!(s.pool.bytes_in_use, 256 << 10);
    assert_eq!(s.counters.submits, 5, "one per 1,024 ops");
    engine.pool().trim(0);
    let s = engine.stats();
    assert_eq!((s.pool.bytes_in_use, s.pool.bytes_cached), (0, 0));
    // And it comes back when needed.
    let y = engine.to_device(&[1.0f32, 2.0], [2], None).unwrap();
    assert_eq!(
        engine.add(&y, 1.0).unwrap().to_vec::<f32>().unwrap(),
        [2.0, 3.0]
    );
}

#[test]
fn ops_with_the_same_params_share_a_slot() {
    let engine = engine_with(UploadRoute::QueueWrite, false);
    // Three arenas' worth of identical adds: one slot, so no submission for a full arena.
    let ops = 3 * tmath_params_slots();
    let (before, after, x) = chain(&engine, 256, ops);
    assert_eq!(after.counters.submits, before.counters.submits);
    assert_eq!(x.to_vec::<f32>().unwrap(), vec![(ops + 3) as f32; 256]);
}
