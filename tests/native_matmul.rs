//! Every matmul variant (each tile shape, vector and element-wise loads, float32, float16 and
//! bfloat16 inputs) against a float64 reference, on random and adversarial inputs; and the
//! per-adapter tuning that chooses among them.

#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::Rng;
use tmath::{DType, Engine, EngineConfig, MatmulTiles, MatmulTuning, Tensor};

/// The tile shapes this machine's device can run (its workgroup memory bounds them).
fn runnable() -> Vec<MatmulTiles> {
    let limit = engine_with(None).adapter().max_workgroup_storage_bytes;
    let shapes: Vec<_> = MatmulTiles::ALL
        .into_iter()
        .filter(|t| t.workgroup_bytes() <= limit)
        .collect();
    // WebGPU guarantees 16 KiB, which holds both defaults and more.
    assert!(shapes.len() >= 3, "{limit} bytes of workgroup memory");
    shapes
}

fn engine_with(tiles: Option<MatmulTiles>) -> Engine {
    common::engine(EngineConfig {
        matmul_tiles: tiles,
        ..EngineConfig::default()
    })
}

/// The values a tensor holds, widened exactly to f64.
fn values(t: &Tensor) -> Vec<f64> {
    match t.dtype() {
        DType::F32 => t
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|&x| x as f64)
            .collect(),
        DType::F16 => t
            .to_vec::<u16>()
            .unwrap()
            .iter()
            .map(|&h| half::f16::from_bits(h).to_f64())
            .collect(),
        _ => t
            .to_vec::<u16>()
            .unwrap()
            .iter()
            .map(|&h| half::bf16::from_bits(h).to_f64())
            .collect(),
    }
}

/// Check `c = a × b` (2-D) against a float64 product of the stored inputs. f32 accumulation of k
/// products may err by about k·2⁻²⁴·Σ|aᵢbᵢ| (the classic bound, with a factor 2 of slack); a
/// 16-bit output adds half an ulp of its format. Index or tiling mistakes give errors of the
/// size of the values themselves, far outside.
fn check(a: &Tensor, b: &Tensor, c: &Tensor, what: &str) {
    check_within(a, b, c, 0.0, what);
}

/// [`check`], allowing `step` more relative error per Σ|aᵢbᵢ| (float16 sums of a k step).
fn check_within(a: &Tensor, b: &Tensor, c: &Tensor, step: f64, what: &str) {
    let (m, k) = (a.shape().dims()[0], a.shape().dims()[1]);
    let n = b.shape().dims()[1];
    let (va, vb, vc) = (values(a), values(b), values(c));
    let out_ulp = match c.dtype() {
        DType::F32 => 0.0,
        DType::F16 => 2f64.powi(-11),
        _ => 2f64.powi(-8),
    };
    for i in 0..m {
        for j in 0..n {
            let (mut exact, mut magnitude) = (0.0f64, 0.0f64);
            for p in 0..k {
                let x = va[i * k + p] * vb[p * n + j];
                exact += x;
                magnitude += x.abs();
            }
            let bound = 2.0 * (k as f64 * 2f64.powi(-24) + step) * magnitude
                + out_ulp * exact.abs()
                + 1e-30;
            let got = vc[i * n + j];
            assert!(
                (got - exact).abs() <= bound,
                "{what}: c[{i}][{j}] = {got}, float64 says {exact} (bound {bound:e})"
            );
        }
    }
}

/// Mixed magnitudes that cancel: 1e4-sized terms of alternating sign among small ones.
fn adversarial(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let small = (rng.next_u64() % 1000) as f32 / 1e4;
            match i % 3 {
                0 => 4096.0 + small,
                1 => -4096.0 + small,
                _ => small,
            }
        })
        .collect()
}

#[test]
fn every_tile_shape_and_input_format_matches_a_float64_reference() {
    let mut rng = Rng::new(7);
    // (m, k, n): element-wise loads (k or n odd), vector loads (both multiples of 4), partial
    // tiles on every side, k shorter than, equal to and past one step of every depth.
    let shapes = [
        (1, 1, 1),
        (37, 29, 53),
        (67, 36, 132),
        (130, 260, 136),
        (3, 33, 260),
    ];
    for tiles in runnable() {
        let engine = engine_with(Some(tiles));
        for dtype in [DType::F32, DType::F16, DType::BF16] {
            for (m, k, n) in shapes {
                let a = engine
                    .to_device(&rng.floats(m * k), [m, k], Some(dtype))
                    .unwrap();
                let b = engine
                    .to_device(&rng.floats(k * n), [k, n], Some(dtype))
                    .unwrap();
                let c = engine.matmul(&a, &b).unwrap();
                assert_eq!(c.dtype(), dtype);
                check(&a, &b, &c, &format!("{tiles} {dtype} {m}x{k}x{n}"));
            }
        }
        assert_eq!(engine.take_device_errors(), Vec::<String>::new(), "{tiles}");
    }
}

#[test]
fn large_k_and_cancelling_magnitudes_stay_within_the_float32_bound() {
    let mut rng = Rng::new(3);
    for tiles in runnable() {
        let engine = engine_with(Some(tiles));
        // k = 4096 takes vector loads, 4099 element-wise ones.
        for (m, k, n) in [(9, 4096, 12), (5, 4099, 7)] {
            let a = engine
                .to_device(&adversarial(&mut rng, m * k), [m, k], None)
                .unwrap();
            let b = engine.to_device(&rng.floats(k * n), [k, n], None).unwrap();
            let c = engine.matmul(&a, &b).unwrap();
            check(&a, &b, &c, &format!("{tiles} adversarial {m}x{k}x{n}"));
        }
    }
}

#[test]
fn batched_and_broadcast_products_match_in_every_tile_shape() {
    let mut rng = Rng::new(9);
    let (batch, m, k, n) = (3, 70, 20, 68);
    let a = rng.floats(batch * m * k);
    let b = rng.floats(k * n);
    for tiles in runnable() {
        let engine = engine_with(Some(tiles));
        let ta = engine.to_device(&a, [batch, m, k], None).unwrap();
        let tb = engine.to_device(&b, [k, n], None).unwrap();
        let c = engine.matmul(&ta, &tb).unwrap().to_vec::<f32>().unwrap();
        let b2 = engine.to_device(&b, [k, n], None).unwrap();
        for t in 0..batch {
            let at = engine
                .to_device(&a[t * m * k..(t + 1) * m * k], [m, k], None)
                .unwrap();
            let one = engine.matmul(&at, &b2).unwrap().to_vec::<f32>().unwrap();
            // The same kernel over the same values: bit for bit.
            assert_eq!(one, c[t * m * n..(t + 1) * m * n], "{tiles} batch {t}");
        }
    }
}

#[test]
fn tuning_measures_every_shape_keeps_the_fastest_per_size_and_serves_later_engines() {
    let engine = engine_with(None);
    assert_eq!(engine.matmul_tuning(), None);
    let tuning = engine.tune_matmul_blocking().unwrap();
    assert!(!tuning.choices.is_empty());
    assert!(tuning.choices.windows(2).all(|w| w[0].size < w[1].size));
    assert!(tuning.choices.iter().all(|c| c.ms > 0.0));
    assert_eq!(engine.matmul_tuning().as_ref(), Some(&tuning));
    // Another engine on the same adapter starts with it; results stay right with it.
    let later = engine_with(None);
    assert_eq!(later.matmul_tuning().as_ref(), Some(&tuning));
    let mut rng = Rng::new(1);
    let a = later
        .to_device(&rng.floats(200 * 96), [200, 96], None)
        .unwrap();
    let b = later
        .to_device(&rng.floats(96 * 256), [96, 256], None)
        .unwrap();
    check(&a, &b, &later.matmul(&a, &b).unwrap(), "tuned");
    // A stored tuning comes back; shapes the device cannot run are dropped; None resets.
    let mut stored = tuning.clone();
    stored.choices[0].tiles = MatmulTiles::new(3, 3, 3);
    later.set_matmul_tuning(Some(stored));
    assert_eq!(
        later.matmul_tuning().unwrap().choices.len(),
        tuning.choices.len() - 1
    );
    later.set_matmul_tuning(None);
    assert_eq!(later.matmul_tuning(), None);
    engine.set_matmul_tuning(Some(MatmulTuning { ..tuning }));
}

#[test]
fn a_fixed_tile_shape_is_checked_when_the_engine_is_made() {
    let err = Engine::new_blocking(EngineConfig {
        matmul_tiles: Some(MatmulTiles::new(8, 8, 64)),
        ..EngineConfig::default()
    })
    .err()
    .expect("8x8x64 is not a tmath tile shape");
    assert_eq!(err.code(), "InvalidArgument");
    assert!(err.to_string().contains("4x4x16"), "{err}");
    assert_eq!(
        MatmulTiles::parse("8x8x16"),
        Some(MatmulTiles::new(8, 8, 16))
    );
    assert_eq!(MatmulTiles::parse("8x8"), None);
    assert_eq!(MatmulTiles::parse("5x5x5"), None);
}

#[test]
fn the_subgroup_kernels_run_where_they_can_and_the_portable_ones_elsewhere() {
    let mut rng = Rng::new(13);
    let featureless = featureless_engine();
    assert!(!featureless.adapter().subgroups);
    for tiles in MatmulTiles::ALL.into_iter().filter(|t| t.subgroups) {
        let engine = engine_with(Some(tiles));
        assert!(engine.adapter().subgroups, "CI's lavapipe has subgroups");
        for dtype in [DType::F32, DType::F16, DType::BF16] {
            assert_eq!(engine.matmul_tiles_for(1, 64, 132, dtype), tiles);
        }
        // Rows that are not whole vec4s run the default portable shape.
        for (n, dtype) in [(53, DType::F32), (54, DType::F16), (130, DType::BF16)] {
            let other = engine.matmul_tiles_for(1, 64, n, dtype);
            assert!(!other.subgroups, "{tiles} {dtype} n = {n}: {other}");
        }
        // Partial blocks on every side, k past one step, a batch; every value against float64
        // and against the same product on a device without subgroup operations.
        for (batch, m, k, n) in [(1, 1, 1, 4), (1, 70, 45, 132), (2, 9, 100, 260)] {
            let a = rng.floats(batch * m * k);
            let b = rng.floats(k * n);
            let c = |engine: &Engine| {
                let ta = engine.to_device(&a, [batch, m, k], None).unwrap();
                let tb = engine.to_device(&b, [k, n], None).unwrap();
                engine.matmul(&ta, &tb).unwrap().to_vec::<f32>().unwrap()
            };
            let (got, portable) = (c(&engine), c(&featureless));
            for t in 0..batch {
                let one = |v: &[f32]| v[t * m * n..(t + 1) * m * n].to_vec();
                let ta = engine
                    .to_device(&a[t * m * k..(t + 1) * m * k], [m, k], None)
                    .unwrap();
                let tb = engine.to_device(&b, [k, n], None).unwrap();
                let tc = engine.to_device(&one(&got), [m, n], None).unwrap();
                check(&ta, &tb, &tc, &format!("{tiles} {batch}x{m}x{k}x{n}"));
                let tp = engine.to_device(&one(&portable), [m, n], None).unwrap();
                check(&ta, &tb, &tp, &format!("portable {batch}x{m}x{k}x{n}"));
            }
        }
        assert_eq!(engine.take_device_errors(), Vec::<String>::new(), "{tiles}");
    }
    assert_eq!(
        MatmulTiles::parse("8x4x32-sg"),
        Some(MatmulTiles::subgroup(8))
    );
    assert_eq!(MatmulTiles::subgroup(16).name(), "16x4x32-sg");
    assert_eq!(MatmulTiles::parse("8x8x32-sg"), None);
    // Without subgroup operations (asserted above) every product runs a portable shape.
    for dtype in [DType::F32, DType::F16, DType::BF16] {
        assert!(!featureless.matmul_tiles_for(1, 64, 132, dtype).subgroups);
    }
}

/// Engines with fixed tile shapes on one device with subgroup operations but not `shader-f16`,
/// where float16 arrives packed two to a word.
fn packed_f16_engines() -> impl Fn(MatmulTiles) -> Engine {
    let (device, queue) = common::device_with(wgpu::Features::SUBGROUP);
    move |tiles| {
        let config = EngineConfig {
            matmul_tiles: Some(tiles),
            ..EngineConfig::default()
        };
        Engine::from_wgpu(device.clone(), queue.clone(), config).unwrap()
    }
}

#[test]
fn sixteen_bit_inputs_run_the_subgroup_kernels_packed_or_not() {
    let mut rng = Rng::new(17);
    // float16 without `shader-f16` arrives packed two to a word, as bfloat16 always does. Such
    // float16 runs a subgroup shape only where the caller fixed it, as these engines do (the
    // tuner's choice sends it to a portable shape: `tuning::subgroups_allowed`).
    let packed_subgroups = packed_f16_engines();
    for tiles in MatmulTiles::ALL.into_iter().filter(|t| t.subgroups) {
        let (with_f16, packed) = (engine_with(Some(tiles)), packed_subgroups(tiles));
        assert!(
            with_f16.adapter().shader_f16,
            "CI's lavapipe has shader-f16"
        );
        assert!(packed.adapter().subgroups && !packed.adapter().shader_f16);
        // Partial blocks on every side, odd k (A's rows start mid-word), k past one step, a batch.
        for (batch, m, k, n) in [(1, 1, 1, 4), (1, 70, 45, 132), (2, 9, 100, 260)] {
            let (a, b) = (rng.floats(batch * m * k), rng.floats(k * n));
            for dtype in [DType::F16, DType::BF16] {
                let mut bits = Vec::new();
                for engine in [&with_f16, &packed] {
                    assert_eq!(engine.matmul_tiles_for(batch, m, n, dtype), tiles);
                    let ta = engine.to_device(&a, [batch, m, k], Some(dtype)).unwrap();
                    let tb = engine.to_device(&b, [k, n], Some(dtype)).unwrap();
                    let c = engine.matmul(&ta, &tb).unwrap();
                    assert_eq!(c.dtype(), dtype);
                    let got = c.to_vec::<u16>().unwrap();
                    // The 16-bit results as float32 (exact), to upload again per batch entry.
                    let widened: Vec<f32> = got
                        .iter()
                        .map(|&h| match dtype {
                            DType::F16 => half::f16::from_bits(h).to_f32(),
                            _ => half::bf16::from_bits(h).to_f32(),
                        })
                        .collect();
                    for t in 0..batch {
                        let ta = engine
                            .to_device(&a[t * m * k..(t + 1) * m * k], [m, k], Some(dtype))
                            .unwrap();
                        let tc = engine
                            .to_device(&widened[t * m * n..(t + 1) * m * n], [m, n], Some(dtype))
                            .unwrap();
                        let what = format!(
                            "{tiles} {dtype} shader-f16 {} {batch}x{m}x{k}x{n}",
                            engine.adapter().shader_f16
                        );
                        check(&ta, &tb, &tc, &what);
                    }
                    bits.push(got);
                }
                // Both widen exactly and sum in the same order: the same bits.
                assert_eq!(bits[0], bits[1], "{tiles} {dtype} {batch}x{m}x{k}x{n}");
            }
        }
        for engine in [&with_f16, &packed] {
            assert_eq!(engine.take_device_errors(), Vec::<String>::new(), "{tiles}");
        }
    }
}

/// An engine on a device made without optional features: no `shader-f16`, so float16 inputs
/// take the packed path (integer unpacking) whatever the adapter offers.
fn featureless_engine() -> Engine {
    let (device, queue) = common::plain_device();
    Engine::from_wgpu(device, queue, EngineConfig::default()).unwrap()
}

#[test]
fn float16_inputs_agree_with_and_without_shader_f16() {
    let with = engine_with(None);
    let without = featureless_engine();
    assert!(!without.adapter().shader_f16);
    let mut rng = Rng::new(21);
    for (m, k, n) in [(33, 64, 40), (20, 37, 9)] {
        let (a, b) = (rng.floats(m * k), rng.floats(k * n));
        let mut products = Vec::new();
        for engine in [&with, &without] {
            let ta = engine.to_device(&a, [m, k], Some(DType::F16)).unwrap();
            let tb = engine.to_device(&b, [k, n], Some(DType::F16)).unwrap();
            let c = engine.matmul(&ta, &tb).unwrap();
            check(
                &ta,
                &tb,
                &c,
                &format!("shader-f16 {} {m}x{k}x{n}", engine.adapter().shader_f16),
            );
            products.push(c.to_vec::<u16>().unwrap());
        }
        // Both widen exactly and use the same tiles: the same bits.
        assert_eq!(products[0], products[1], "{m}x{k}x{n}");
    }
}

#[test]
fn float16_arithmetic_is_a_permission_with_its_own_error_bound() {
    let mut rng = Rng::new(31);
    for tiles in runnable() {
        let engine = engine_with(Some(tiles));
        assert!(engine.adapter().shader_f16, "CI's lavapipe has shader-f16");
        for (m, k, n) in [(37, 29, 53), (67, 36, 132), (5, 1000, 12)] {
            let a = engine
                .to_device(&rng.floats(m * k), [m, k], Some(DType::F16))
                .unwrap();
            let b = engine
                .to_device(&rng.floats(k * n), [k, n], Some(DType::F16))
                .unwrap();
            let c = engine.matmul_with(&a, &b, DType::F16).unwrap();
            assert_eq!(c.dtype(), DType::F16);
            // Each step's sum of `depth` products rounds in float16 (2⁻¹¹ per addition).
            let step = tiles.depth as f64 * 2f64.powi(-11);
            check_within(&a, &b, &c, step, &format!("{tiles} f16 math {m}x{k}x{n}"));
        }
        // float32 inputs: the permission changes nothing.
        let x = engine
            .to_device(&rng.floats(40 * 24), [40, 24], None)
            .unwrap();
        let y = engine
            .to_device(&rng.floats(24 * 36), [24, 36], None)
            .unwrap();
        assert_eq!(
            engine
                .matmul_with(&x, &y, DType::F16)
                .unwrap()
                .to_vec::<f32>()
                .unwrap(),
            engine.matmul(&x, &y).unwrap().to_vec::<f32>().unwrap()
        );
        let err = engine.matmul_with(&x, &y, DType::I32).unwrap_err();
        assert_eq!(err.code(), "InvalidArgument");
    }
    // Without shader-f16 it is float32 accumulation, bit for bit.
    let plain = featureless_engine();
    let a = plain
        .to_device(&rng.floats(30 * 40), [30, 40], Some(DType::F16))
        .unwrap();
    let b = plain
        .to_device(&rng.floats(40 * 20), [40, 20], Some(DType::F16))
        .unwrap();
    assert_eq!(
        plain
            .matmul_with(&a, &b, DType::F16)
            .unwrap()
            .to_vec::<u16>()
            .unwrap(),
        plain.matmul(&a, &b).unwrap().to_vec::<u16>().unwrap()
    );
}

#[test]
fn float16_inputs_widen_exactly_on_every_path_subnormals_included() {
    // B holds every finite float16 class: zeros, subnormals (the smallest, the largest, others),
    // the smallest normal, the largest finite, values of each exponent, both signs. A is the
    // identity, so each product's exact value is one of B's, which float16 holds again: any path
    // that flushes, rounds or misplaces a value changes a result's bits.
    let (k, n) = (64, 132);
    let mut rng = Rng::new(41);
    let specials = [
        0x0000u16, 0x0001, 0x0002, 0x03ff, 0x0200, 0x0400, 0x7bff, 0x3c00, 0x0401,
    ];
    let b: Vec<half::f16> = (0..k * n)
        .map(|i| {
            let bits = match specials.get(i % 32) {
                Some(&s) => s,
                None => (rng.next_u64() % 0x7c00) as u16,
            };
            half::f16::from_bits(bits | if i % 3 == 0 { 0x8000 } else { 0 })
        })
        .collect();
    let identity: Vec<half::f16> = (0..k * k)
        .map(|i| half::f16::from_f32(if i / k == i % k { 1.0 } else { 0.0 }))
        .collect();
    let packed_subgroups = packed_f16_engines();
    let mut engines = vec![("portable, packed".to_string(), featureless_engine())];
    for tiles in runnable() {
        engines.push((format!("{tiles}, shader-f16"), engine_with(Some(tiles))));
        if tiles.subgroups {
            engines.push((format!("{tiles}, packed"), packed_subgroups(tiles)));
        }
    }
    for (what, engine) in &engines {
        let ta = engine.to_device(&identity, [k, k], None).unwrap();
        let tb = engine.to_device(&b, [k, n], None).unwrap();
        assert_eq!(ta.dtype(), DType::F16);
        let c = engine.matmul(&ta, &tb).unwrap().to_vec::<u16>().unwrap();
        for (i, (&got, want)) in c.iter().zip(&b).enumerate() {
            // -0 plus the row's +0 products is +0: compare values, which tells -0 and +0 apart
            // only where it must not matter.
            assert_eq!(
                half::f16::from_bits(got).to_f32(),
                want.to_f32(),
                "{what}: element {i}: {got:#06x} for {:#06x}",
                want.to_bits()
            );
        }
        assert_eq!(engine.take_device_errors(), Vec::<String>::new(), "{what}");
    }
}
