//! Operations on a real adapter, natively (lavapipe in CI) and in headless Chromium's WebGPU
//! (`cargo test --target wasm32-unknown-unknown --test ops`), one body for both: matmul and
//! elementwise results against a CPU reference, shape errors, and the exact cost rules (no
//! buffers, copies or readbacks in resident chains, one submission per flush).

mod common;

use common::{new_engine, read, Rng};
use tmath::{DType, Engine, EngineConfig, Tensor, UploadRoute};

async fn engine_with(upload: UploadRoute) -> Engine {
    new_engine(EngineConfig {
        upload,
        ..EngineConfig::default()
    })
    .await
}

/// C = A × B in f64, batched, with batch stride 0 for broadcast operands.
#[allow(clippy::too_many_arguments)]
fn reference(
    a: &[f32],
    b: &[f32],
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    sa: usize,
    sb: usize,
) -> Vec<f64> {
    let mut c = vec![0.0f64; batch * m * n];
    for t in 0..batch {
        for i in 0..m {
            for j in 0..n {
                c[t * m * n + i * n + j] = (0..k)
                    .map(|p| a[t * sa + i * k + p] as f64 * b[t * sb + p * n + j] as f64)
                    .sum();
            }
        }
    }
    c
}

fn assert_close(got: &[f32], want: &[f64], rel: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g as f64 - w).abs() <= rel * (1.0 + w.abs()),
            "{what}[{i}]: {g} vs {w}"
        );
    }
}

async fn matmul_matches_the_reference_for_any_sizes_and_batches() {
    let engine = engine_with(UploadRoute::Auto).await;
    let mut rng = Rng::new(11);
    // (batch_a, batch_b, m, k, n); 0 means a 2-D operand.
    for (ba, bb, m, k, n) in [
        (0, 0, 1, 1, 1),
        (0, 0, 3, 5, 7),
        (0, 0, 64, 64, 64),
        (0, 0, 130, 70, 33),
        (0, 0, 1, 300, 65),
        (4, 0, 1420, 9, 1420), // 576 tiles of 128×128: the large variant, partial tiles
        (0, 0, 300, 77, 259),
        (3, 3, 17, 9, 11),
        (4, 0, 5, 6, 7),
        (0, 4, 5, 6, 7),
    ] {
        let batch = ba.max(bb).max(1);
        let a = rng.floats(ba.max(1) * m * k);
        let b = rng.floats(bb.max(1) * k * n);
        let shape =
            |bt: usize, r: usize, c: usize| if bt == 0 { vec![r, c] } else { vec![bt, r, c] };
        let ta = engine.to_device(&a, shape(ba, m, k), None).unwrap();
        let tb = engine.to_device(&b, shape(bb, k, n), None).unwrap();
        let c = engine.matmul(&ta, &tb).unwrap();
        let want_shape = if batch > 1 || ba > 0 || bb > 0 {
            vec![batch, m, n]
        } else {
            vec![m, n]
        };
        assert_eq!(c.shape().dims(), want_shape.as_slice());
        let want = reference(
            &a,
            &b,
            batch,
            m,
            k,
            n,
            if ba > 0 { m * k } else { 0 },
            if bb > 0 { k * n } else { 0 },
        );
        assert_close(
            &read::<f32>(&c).await,
            &want,
            1e-5,
            &format!("{ba}x{bb} {m}x{k}x{n}"),
        );
    }
    assert_eq!(engine.take_device_errors(), Vec::<String>::new());
}

async fn sixteen_bit_matmul_accumulates_in_f32_and_rounds_once() {
    let engine = engine_with(UploadRoute::Auto).await;
    let mut rng = Rng::new(5);
    let (m, k, n) = (37, 129, 19);
    for dtype in [DType::F16, DType::BF16] {
        let a = rng.floats(m * k);
        let b = rng.floats(k * n);
        let ta = engine.to_device(&a, [m, k], Some(dtype)).unwrap();
        let tb = engine.to_device(&b, [k, n], Some(dtype)).unwrap();
        let c = engine.matmul(&ta, &tb).unwrap();
        assert_eq!(c.dtype(), dtype);
        // The reference uses the inputs as stored (rounded to 16 bits), accumulated exactly.
        let widen = |bits: Vec<u16>| -> Vec<f32> {
            bits.iter()
                .map(|&h| match dtype {
                    DType::F16 => half::f16::from_bits(h).to_f32(),
                    _ => half::bf16::from_bits(h).to_f32(),
                })
                .collect()
        };
        let (sa, sb) = (read::<u16>(&ta).await, read::<u16>(&tb).await);
        let want = reference(&widen(sa), &widen(sb), 1, m, k, n, 0, 0);
        let got = widen(read::<u16>(&c).await);
        // One rounding to 16 bits at the end: half an ulp of the format, plus f32 accumulation.
        let ulp = if dtype == DType::F16 {
            1.0 / 1024.0
        } else {
            1.0 / 128.0
        };
        assert_close(&got, &want, ulp, &format!("{dtype}"));
    }
}

async fn matmul_shape_and_dtype_errors_name_both_operands_and_change_nothing() {
    let engine = engine_with(UploadRoute::Auto).await;
    let a = engine.pool().zeros([2, 3], None).unwrap();
    let b = engine.pool().zeros([4, 5], None).unwrap();
    let v = engine.pool().zeros([3], None).unwrap();
    let b3 = engine.pool().zeros([2, 3, 5], None).unwrap();
    let a3 = engine.pool().zeros([3, 2, 3], None).unwrap();
    let h = engine.pool().zeros([3, 5], Some(DType::F16)).unwrap();
    let i = engine.pool().zeros([3, 5], Some(DType::I32)).unwrap();
    engine.flush().unwrap(); // the clears are submitted, so a dispose returns its buffer at once
    let before = engine.stats();
    let err = engine.matmul(&a, &b).unwrap_err();
    assert_eq!(err.code(), "InvalidShape");
    assert!(
        err.to_string().contains("[2, 3]") && err.to_string().contains("[4, 5]"),
        "{err}"
    );
    assert_eq!(engine.matmul(&a, &v).unwrap_err().code(), "InvalidShape");
    let err = engine.matmul(&a3, &b3).unwrap_err();
    assert!(err.to_string().contains("batch"), "{err}");
    assert_eq!(
        engine.matmul(&a, &h).unwrap_err().code(),
        "UnsupportedDtype"
    );
    assert_eq!(
        engine.matmul(&i, &i).unwrap_err().code(),
        "UnsupportedDtype"
    );
    v.dispose().unwrap();
    assert_eq!(engine.matmul(&a, &v).unwrap_err().code(), "Disposed");
    let after = engine.stats();
    // Only the disposed operand's buffer went back; nothing was allocated or dispatched.
    assert_eq!(before.pool.bytes_in_use - after.pool.bytes_in_use, 256);
    assert_eq!(after.pool.buffers_created, before.pool.buffers_created);
    assert_eq!(after.counters.dispatches, before.counters.dispatches);
}

async fn elementwise_ops_broadcast_like_numpy_and_take_scalars() {
    let engine = engine_with(UploadRoute::Auto).await;
    let a: Vec<f32> = (0..6).map(|x| x as f32 - 2.5).collect(); // [2, 3, 1]
    let b: Vec<f32> = vec![1.0, 2.0, 4.0, -8.0]; // [4]
    let ta = engine.to_device(&a, [2, 3, 1], None).unwrap();
    let tb = engine.to_device(&b, [4], None).unwrap();
    let sum = engine.add(&ta, &tb).unwrap();
    assert_eq!(sum.shape().dims(), &[2, 3, 4]);
    let want: Vec<f32> = a
        .iter()
        .flat_map(|x| b.iter().map(move |y| x + y))
        .collect();
    assert_eq!(read::<f32>(&sum).await, want);
    let prod = read::<f32>(&engine.mul(&ta, &tb).unwrap()).await;
    assert_eq!(
        prod,
        a.iter()
            .flat_map(|x| b.iter().map(move |y| x * y))
            .collect::<Vec<_>>()
    );
    let quot = read::<f32>(&engine.div(&tb, &tb).unwrap()).await;
    assert_eq!(quot, vec![1.0; 4]);
    assert_eq!(
        read::<f32>(&engine.sub(10.0, &tb).unwrap()).await,
        vec![9.0, 8.0, 6.0, 18.0]
    );
    assert_eq!(
        read::<f32>(&engine.sub(&tb, 1.0).unwrap()).await,
        vec![0.0, 1.0, 3.0, -9.0]
    );
    let relu = read::<f32>(&engine.relu(&ta).unwrap()).await;
    assert_eq!(
        relu,
        a.iter()
            .map(|&x| if x < 0.0 { 0.0 } else { x })
            .collect::<Vec<_>>()
    );
    let ints = engine.to_device(&[7i32, -7, 9, 0], [4], None).unwrap();
    assert_eq!(
        read::<i32>(&engine.div(&ints, 2).unwrap()).await,
        vec![3, -3, 4, 0]
    );
    assert_eq!(
        read::<i32>(&engine.relu(&ints).unwrap()).await,
        vec![7, 0, 9, 0]
    );
    assert_eq!(
        engine.mul(&ints, 2.5).unwrap_err().code(),
        "ValueOutOfRange"
    );
}

async fn elementwise_errors_are_typed() {
    let engine = engine_with(UploadRoute::Auto).await;
    let a = engine.pool().zeros([2, 3], None).unwrap();
    let b = engine.pool().zeros([4], None).unwrap();
    let h = engine.pool().zeros([2, 3], Some(DType::F16)).unwrap();
    let i = engine.pool().zeros([2, 3], Some(DType::I32)).unwrap();
    let err = engine.add(&a, &b).unwrap_err();
    assert_eq!(err.code(), "InvalidShape");
    assert!(
        err.to_string().contains("[2, 3]") && err.to_string().contains("[4]"),
        "{err}"
    );
    assert_eq!(engine.add(&h, &h).unwrap_err().code(), "UnsupportedDtype");
    assert_eq!(engine.add(&a, &i).unwrap_err().code(), "UnsupportedDtype");
    assert_eq!(engine.add(1.0, 2.0).unwrap_err().code(), "InvalidArgument");
}

async fn a_resident_chain_creates_nothing_copies_nothing_and_submits_once_per_flush() {
    let engine = engine_with(UploadRoute::Auto).await;
    let mut rng = Rng::new(3);
    let x = engine
        .to_device(&rng.floats(64 * 64), [64, 64], None)
        .unwrap();
    let w = engine
        .to_device(&rng.floats(64 * 64), [64, 64], None)
        .unwrap();
    let bias = engine.to_device(&rng.floats(64), [64], None).unwrap();
    let chain = |x: &Tensor| -> Tensor {
        let mut h = x.clone();
        for _ in 0..3 {
            let y = engine.matmul(&h, &w).unwrap();
            let y = engine.add(&y, &bias).unwrap();
            h = engine.relu(&y).unwrap();
        }
        engine.mul(&h, 0.5).unwrap()
    };
    let warm = chain(&x);
    engine.flush().unwrap();
    drop(warm);
    let before = engine.stats();
    let out = chain(&x);
    engine.flush().unwrap();
    let after = engine.stats();
    assert_eq!(
        after.pool.buffers_created, before.pool.buffers_created,
        "buffers created"
    );
    assert_eq!(after.counters.copies, before.counters.copies, "copies");
    assert_eq!(
        after.counters.crossings, before.counters.crossings,
        "crossings / readbacks"
    );
    assert_eq!(
        after.counters.submits - before.counters.submits,
        1,
        "one submit for the flush"
    );
    assert_eq!(after.counters.dispatches - before.counters.dispatches, 10);
    assert!(!out.is_disposed());
    assert_eq!(engine.take_device_errors(), Vec::<String>::new());
}

async fn host_in_host_out_matmul_costs_two_writes_one_readback_and_one_submit() {
    for upload in [UploadRoute::QueueWrite, UploadRoute::Auto] {
        let engine = engine_with(upload).await;
        let mut rng = Rng::new(9);
        let (a, b) = (rng.floats(128 * 96), rng.floats(96 * 80));
        let run = || async {
            let ta = engine.to_device(&a, [128, 96], None).unwrap();
            let tb = engine.to_device(&b, [96, 80], None).unwrap();
            read::<f32>(&engine.matmul(&ta, &tb).unwrap()).await
        };
        let first = run().await;
        let before = engine.stats();
        let second = run().await;
        let after = engine.stats();
        assert_eq!(first, second);
        assert_eq!(
            after.pool.buffers_created, before.pool.buffers_created,
            "{upload:?}"
        );
        assert_eq!(
            after.counters.copies - before.counters.copies,
            3,
            "2 writes + 1 readback, {upload:?}"
        );
        assert_eq!(
            after.counters.crossings - before.counters.crossings,
            3,
            "{upload:?}"
        );
        assert_eq!(
            after.counters.submits - before.counters.submits,
            1,
            "{upload:?}"
        );
    }
}

/// `f(a, b)` bit for bit (any NaN for a NaN), or, as WGSL allows f32 arithmetic to flush
/// subnormal operands and results to zero (SwiftShader does; lavapipe does not), the same with
/// subnormals flushed.
fn ieee_or_flushed(got: u32, a: f32, b: f32, f: fn(f32, f32) -> f32) -> bool {
    let flush = |v: f32| {
        if v.is_subnormal() {
            0.0f32.copysign(v)
        } else {
            v
        }
    };
    let got = f32::from_bits(got);
    [f(a, b), flush(f(a, b)), flush(f(flush(a), flush(b)))]
        .iter()
        .any(|want| got.to_bits() == want.to_bits() || (want.is_nan() && got.is_nan()))
}

async fn elementwise_results_are_the_same_bits_four_and_one_element_per_invocation() {
    let engine = engine_with(UploadRoute::Auto).await;
    let mut rng = Rng::new(17);
    let specials = [
        f32::NAN,
        -0.0,
        0.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e-40,
        -3.5,
    ];
    // 4096: four elements per invocation; 4093: one.
    for n in [4096usize, 4093] {
        let mut x = rng.floats(n);
        x[..specials.len()].copy_from_slice(&specials);
        let y: Vec<f32> = rng.floats(n).iter().map(|v| v + 1.5).collect();
        let (tx, ty) = (
            engine.to_device(&x, [n], None).unwrap(),
            engine.to_device(&y, [n], None).unwrap(),
        );
        type Reference = fn(f32, f32) -> f32;
        let ops: [(&str, Reference); 4] = [
            ("add", |a, b| a + b),
            ("sub", |a, b| a - b),
            ("mul", |a, b| a * b),
            ("div", |a, b| a / b),
        ];
        for (name, f) in ops {
            let op = |a: tmath::Operand, b: tmath::Operand| match name {
                "add" => engine.add(a, b),
                "sub" => engine.sub(a, b),
                "mul" => engine.mul(a, b),
                _ => engine.div(a, b),
            };
            let same = read::<u32>(&op((&tx).into(), (&ty).into()).unwrap()).await;
            let right = read::<u32>(&op((&tx).into(), 2.5f32.into()).unwrap()).await;
            let left = read::<u32>(&op(2.5f32.into(), (&tx).into()).unwrap()).await;
            for i in 0..n {
                let check = |got: u32, a: f32, b: f32, what: &str| {
                    assert!(
                        ieee_or_flushed(got, a, b, f),
                        "{name} {what} n={n} [{i}]: {:?} vs {:?}",
                        f32::from_bits(got),
                        f(a, b)
                    )
                };
                check(same[i], x[i], y[i], "tensor");
                check(right[i], x[i], 2.5, "scalar right");
                check(left[i], 2.5, x[i], "scalar left");
            }
        }
        let relu = read::<u32>(&engine.relu(&tx).unwrap()).await;
        for i in 0..n {
            let want = if x[i] < 0.0 { 0.0f32 } else { x[i] };
            assert_eq!(relu[i], want.to_bits(), "relu n={n} [{i}] of {}", x[i]);
        }
        let ints: Vec<i32> = (0..n as i32).map(|v| v * 7919 - 40_000).collect();
        let ti = engine.to_device(&ints, [n], None).unwrap();
        let q = read::<i32>(&engine.div(&ti, 7i32).unwrap()).await;
        let r = read::<i32>(&engine.relu(&ti).unwrap()).await;
        for i in 0..n {
            assert_eq!(q[i], ints[i] / 7, "int div n={n} [{i}]");
            assert_eq!(r[i], ints[i].max(0), "int relu n={n} [{i}]");
        }
    }
}

gpu_tests!(
    matmul_matches_the_reference_for_any_sizes_and_batches,
    sixteen_bit_matmul_accumulates_in_f32_and_rounds_once,
    matmul_shape_and_dtype_errors_name_both_operands_and_change_nothing,
    elementwise_ops_broadcast_like_numpy_and_take_scalars,
    elementwise_errors_are_typed,
    a_resident_chain_creates_nothing_copies_nothing_and_submits_once_per_flush,
    host_in_host_out_matmul_costs_two_writes_one_readback_and_one_submit,
    elementwise_results_are_the_same_bits_four_and_one_element_per_invocation,
);
