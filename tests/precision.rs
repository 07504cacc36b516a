//! Precision management on a real adapter, natively (lavapipe in CI) and in headless Chromium's
//! WebGPU (`cargo test --target wasm32-unknown-unknown --test precision`), one body for both:
//! prepare_tensor's identity path, and casts that match the golden vectors (and the half crate)
//! bit for bit.

mod common;

use common::{golden, new_engine, read};
use half::{bf16, f16};
use tmath::{DType, Engine, EngineConfig, HostData, UploadRoute};

async fn engine_with(precision: DType) -> Engine {
    new_engine(EngineConfig {
        precision,
        upload: UploadRoute::QueueWrite,
        ..EngineConfig::default()
    })
    .await
}

async fn engine() -> Engine {
    engine_with(DType::F32).await
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
#[ignore = "writes tests/golden/casts.txt"]
fn regenerate() {
    let (floats, ints) = golden::inputs();
    let (f, i) = golden::expected(&floats, &ints);
    std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/casts.txt"),
        golden::render(&f, &i),
    )
    .unwrap();
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn the_golden_file_is_what_the_half_crate_says() {
    let (floats, ints) = golden::parse(golden::FILE);
    assert!(floats.len() > 4000 && ints.len() > 2000);
    let inputs: Vec<u32> = floats.iter().map(|c| c.input).collect();
    let int_inputs: Vec<i32> = ints.iter().map(|c| c.input).collect();
    assert_eq!(golden::expected(&inputs, &int_inputs), (floats, ints));
    // And the host conversions tmath uploads with agree with it.
    let (floats, ints) = golden::parse(golden::FILE);
    for c in &ints {
        let narrow = |f| tmath::dtype::narrow_f64(c.input as f64, f);
        assert_eq!(narrow(tmath::dtype::Narrow::F16), c.f16, "{}", c.input);
        assert_eq!(narrow(tmath::dtype::Narrow::BF16), c.bf16, "{}", c.input);
    }
    for c in floats.iter().filter(|c| !f32::from_bits(c.input).is_nan()) {
        let x = f32::from_bits(c.input) as f64;
        assert_eq!(
            tmath::dtype::narrow_f64(x, tmath::dtype::Narrow::F16),
            c.f16,
            "{:08x}",
            c.input
        );
        assert_eq!(
            tmath::dtype::narrow_f64(x, tmath::dtype::Narrow::BF16),
            c.bf16,
            "{:08x}",
            c.input
        );
    }
}

async fn gpu_casts_match_the_golden_vectors_bit_for_bit() {
    let engine = engine().await;
    let (floats, ints) = golden::parse(golden::FILE);
    // Twice: a length that is a multiple of 8 (16 bytes per invocation) and one that is not
    // (one word per invocation).
    let lengths = |n: usize| [n / 8 * 8, n / 8 * 8 - 1];
    assert!(floats.len() >= 16 && ints.len() >= 16);
    for len in lengths(floats.len()) {
        let input: Vec<u32> = floats[..len].iter().map(|c| c.input).collect();
        let t = engine
            .to_device(
                HostData::Bytes(bytemuck::cast_slice(&input), DType::F32),
                [len],
                None,
            )
            .unwrap();
        let f16s = read::<u16>(&engine.cast(&t, DType::F16).unwrap()).await;
        let bf16s = read::<u16>(&engine.cast(&t, DType::BF16).unwrap()).await;
        let i32s = read::<i32>(&engine.cast(&t, DType::I32).unwrap()).await;
        for (k, c) in floats[..len].iter().enumerate() {
            assert_eq!(f16s[k], c.f16, "f32 {:08x} -> f16 ({len})", c.input);
            assert_eq!(bf16s[k], c.bf16, "f32 {:08x} -> bf16 ({len})", c.input);
            assert_eq!(i32s[k], c.i32, "f32 {:08x} -> i32 ({len})", c.input);
        }
    }
    for len in lengths(ints.len()) {
        let input: Vec<i32> = ints[..len].iter().map(|c| c.input).collect();
        let t = engine.to_device(&input, [len], None).unwrap();
        let f32s = read::<u32>(&engine.cast(&t, DType::F32).unwrap()).await;
        let f16s = read::<u16>(&engine.cast(&t, DType::F16).unwrap()).await;
        let bf16s = read::<u16>(&engine.cast(&t, DType::BF16).unwrap()).await;
        for (k, c) in ints[..len].iter().enumerate() {
            assert_eq!(f32s[k], c.f32, "i32 {} -> f32 ({len})", c.input);
            assert_eq!(f16s[k], c.f16, "i32 {} -> f16 ({len})", c.input);
            assert_eq!(bf16s[k], c.bf16, "i32 {} -> bf16 ({len})", c.input);
        }
    }
}

async fn every_16_bit_pattern_casts_exactly() {
    let engine = engine().await;
    let every: Vec<u16> = (0..=u16::MAX).collect();
    // All 65536 (16 bytes per invocation) and all but the last (one word per invocation).
    for (all, (from, decode)) in [&every[..], &every[..65535]].into_iter().flat_map(|all| {
        [
            (
                DType::F16,
                (|b| f16::from_bits(b).to_f32()) as fn(u16) -> f32,
            ),
            (DType::BF16, |b| bf16::from_bits(b).to_f32()),
        ]
        .map(|p| (all, p))
    }) {
        let n = all.len();
        let t = engine
            .to_device(HostData::Bytes(bytemuck::cast_slice(all), from), [n], None)
            .unwrap();
        let f32s = read::<u32>(&engine.cast(&t, DType::F32).unwrap()).await;
        let i32s = read::<i32>(&engine.cast(&t, DType::I32).unwrap()).await;
        let other = if from == DType::F16 {
            DType::BF16
        } else {
            DType::F16
        };
        let others = read::<u16>(&engine.cast(&t, other).unwrap()).await;
        for (k, &b) in all.iter().enumerate() {
            let x = decode(b);
            assert_eq!(f32s[k], x.to_bits(), "{from} {b:04x} -> f32");
            assert_eq!(i32s[k], x as i32, "{from} {b:04x} -> i32");
            let want = if other == DType::BF16 {
                bf16::from_f32(x).to_bits()
            } else {
                f16::from_f32(x).to_bits()
            };
            assert_eq!(others[k], want, "{from} {b:04x} -> {other}");
        }
    }
}

async fn prepare_tensor_returns_the_same_tensor_when_the_precision_matches() {
    let engine = engine().await;
    let t = engine.to_device(&[1.0f32, 2.0], [2], None).unwrap();
    let before = engine.stats();
    let same = engine.prepare_tensor(&t, Some(DType::F32)).unwrap();
    assert!(same.same_as(&t));
    let same = engine.prepare_tensor(&t, None).unwrap();
    assert!(same.same_as(&t));
    assert_eq!(
        engine.stats(),
        before,
        "no copy, no dispatch, no allocation"
    );
}

async fn prepare_tensor_casts_once_into_a_pooled_buffer_and_leaves_the_input_alone() {
    let engine = engine().await;
    let data = [1.5f32, -2.25, 65504.0, 1e-8];
    let t = engine.to_device(&data, [4], None).unwrap();
    engine.prepare_tensor(&t, Some(DType::F16)).unwrap(); // warm-up: pipeline and buffer
    engine.flush().unwrap(); // the warm-up's output returns to the pool once its cast is submitted
    let before = engine.stats();
    let h = engine.prepare_tensor(&t, Some(DType::F16)).unwrap();
    let after = engine.stats();
    assert_eq!(h.dtype(), DType::F16);
    assert_eq!(after.counters.conversions - before.counters.conversions, 1);
    assert_eq!(after.counters.dispatches - before.counters.dispatches, 1);
    assert_eq!(after.counters.copies, before.counters.copies);
    assert_eq!(after.pool.buffers_created, before.pool.buffers_created);
    let want: Vec<u16> = data.iter().map(|&x| f16::from_f32(x).to_bits()).collect();
    assert_eq!(read::<u16>(&h).await, want);
    assert_eq!(read::<f32>(&t).await, data, "the input is untouched");
    assert_eq!(h.byte_len(), 8);
}

async fn odd_counts_stay_packed() {
    let engine = engine().await;
    let t = engine.to_device(&[1.0f32, 2.0, 3.0], [3], None).unwrap();
    let h = engine.prepare_tensor(&t, Some(DType::BF16)).unwrap();
    assert_eq!(h.byte_len(), 6);
    assert_eq!(read::<u16>(&h).await, vec![0x3f80, 0x4000, 0x4040]);
    let back = engine.prepare_tensor(&h, Some(DType::F32)).unwrap();
    assert_eq!(read::<f32>(&back).await, vec![1.0, 2.0, 3.0]);
}

async fn host_and_gpu_conversion_give_the_same_bits() {
    let engine = engine().await;
    let (floats, _) = golden::parse(golden::FILE);
    let input: Vec<u32> = floats.iter().map(|c| c.input).collect();
    let n = input.len();
    let raw = HostData::Bytes(bytemuck::cast_slice(&input), DType::F32);
    for dtype in [DType::F16, DType::BF16, DType::I32] {
        let on_host = engine.to_device(raw, [n], Some(dtype)).unwrap();
        let on_gpu = engine
            .cast(&engine.to_device(raw, [n], None).unwrap(), dtype)
            .unwrap();
        assert_eq!(
            on_host.to_host_bytes().await.unwrap(),
            on_gpu.to_host_bytes().await.unwrap(),
            "{dtype}"
        );
    }
}

async fn the_engine_precision_is_the_default_for_prepare_and_untyped_data() {
    let engine = engine_with(DType::F16).await;
    let t = engine.to_device(&[0.5f64, 1.0, 2.0], [3], None).unwrap();
    assert_eq!(t.dtype(), DType::F16);
    let f = engine.to_device(&[1.0f32], [1], None).unwrap();
    assert_eq!(f.dtype(), DType::F32, "typed data keeps its own dtype");
    let prepared = engine.prepare_tensor(&f, None).unwrap();
    assert_eq!(prepared.dtype(), DType::F16);
    assert_eq!(
        "fp8".parse::<DType>().unwrap_err().code(),
        "UnsupportedDtype"
    );
    assert!(tmath::precision_matches("half", "f16").unwrap());
}

async fn uploads_convert_on_the_host_or_the_gpu_with_the_same_bits_and_honest_counts() {
    use tmath::ConversionSite;
    let (floats, _) = golden::parse(golden::FILE);
    let input: Vec<f32> = floats.iter().map(|c| f32::from_bits(c.input)).collect();
    let n = input.len();
    let mut results = Vec::new();
    for (site, copies, dispatches) in [(ConversionSite::Host, 2, 0), (ConversionSite::Gpu, 1, 1)] {
        let engine = new_engine(EngineConfig {
            upload_conversion: site,
            ..EngineConfig::default()
        })
        .await;
        let before = engine.stats();
        let t = engine.to_device(&input, [n], Some(DType::BF16)).unwrap();
        let after = engine.stats();
        assert_eq!(t.dtype(), DType::BF16);
        assert_eq!(
            after.counters.conversions - before.counters.conversions,
            1,
            "{site:?}"
        );
        assert_eq!(
            after.counters.copies - before.counters.copies,
            copies,
            "{site:?}"
        );
        assert_eq!(
            after.counters.dispatches - before.counters.dispatches,
            dispatches,
            "{site:?}"
        );
        let bits = read::<u16>(&t).await;
        assert!(
            bits.iter().zip(&floats).all(|(&b, c)| b == c.bf16),
            "{site:?}"
        );
        results.push(bits);
    }
    assert_eq!(results[0], results[1]);
}

gpu_tests!(
    gpu_casts_match_the_golden_vectors_bit_for_bit,
    every_16_bit_pattern_casts_exactly,
    prepare_tensor_returns_the_same_tensor_when_the_precision_matches,
    prepare_tensor_casts_once_into_a_pooled_buffer_and_leaves_the_input_alone,
    odd_counts_stay_packed,
    host_and_gpu_conversion_give_the_same_bits,
    the_engine_precision_is_the_default_for_prepare_and_untyped_data,
    uploads_convert_on_the_host_or_the_gpu_with_the_same_bits_and_honest_counts,
);
