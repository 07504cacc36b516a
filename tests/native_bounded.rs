//! Bounded transfers on a real adapter: readbacks in chunks through a ring of pooled staging
//! buffers, uploads streamed in pieces of any size, and safetensors files streamed into pooled
//! tensors. Values are checked exactly; staging is checked through the pool's exact counts.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::HashMap;
use tmath::{DType, Engine, EngineConfig, PoolConfig, Route, SourceType, UploadPath, UploadRoute};

/// Small chunks, so ordinary test tensors span many of them.
const CHUNK: u64 = 1024;

/// Bytes in use once the GPU is idle and every staging buffer is back.
fn settled_in_use(engine: &Engine) -> u64 {
    engine.synchronize_blocking().unwrap();
    engine.pool().stats().bytes_in_use
}

fn engine_with(chunk: u64, upload: UploadRoute) -> Engine {
    common::engine(EngineConfig {
        transfer_chunk_bytes: chunk,
        upload,
        ..EngineConfig::default()
    })
}

fn ramp(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 * 0.25 - 7.0).collect()
}

#[test]
fn readback_in_chunks_is_exact_at_every_boundary() {
    let engine = engine_with(CHUNK, UploadRoute::Auto);
    for n in [1, 255, 256, 257, 511, 1000, 2048, 10_001] {
        let data = ramp(n);
        let t = engine.to_device(&data, [n], None).unwrap();
        assert_eq!(t.to_vec::<f32>().unwrap(), data, "{n} floats");
    }
    // Odd float16 lengths end mid-word: the last chunk's padding never reaches the result.
    for n in [1usize, 3, 511, 513, 1025, 4097] {
        let bits: Vec<u16> = (0..n).map(|i| 0x3c00 + i as u16).collect();
        let t = engine
            .to_device(
                tmath::HostData::Bytes(bytemuck::cast_slice(&bits), DType::F16),
                [n],
                None,
            )
            .unwrap();
        assert_eq!(t.to_vec::<u16>().unwrap(), bits, "{n} halves");
    }
}

/// A new `Vec` of several chunks has its pages touched on helper threads before the chunks
/// arrive (2 MiB a thread): large enough here for that to run, and every value lands.
#[test]
fn a_large_readback_into_a_new_vec_is_exact() {
    let engine = engine_with(1 << 20, UploadRoute::Auto);
    let n = (6 << 20) / 4 + 3; // 6 MiB and 3 floats: six whole chunks and a short one
    let data: Vec<f32> = (0..n).map(|i| (i % 65_521) as f32 - 0.5).collect();
    let t = engine.to_device(&data, [n], None).unwrap();
    let in_use = settled_in_use(&engine);
    assert_eq!(t.to_vec::<f32>().unwrap(), data);
    assert_eq!(settled_in_use(&engine), in_use, "staging all back");
}

#[test]
fn a_readback_holds_at_most_the_ring_of_staging_buffers() {
    let engine = engine_with(CHUNK, UploadRoute::Auto);
    let n = 64 * 1024; // 256 KiB: 256 chunks
    let data = ramp(n);
    let t = engine.to_device(&data, [n], None).unwrap();
    engine.flush().unwrap();
    let before = engine.pool().stats();
    let counters = engine.stats().counters;
    assert_eq!(t.to_vec::<f32>().unwrap(), data);
    let after = engine.pool().stats();
    assert_eq!(
        after.buffers_created - before.buffers_created,
        tmath::router::TRANSFER_RING as u64,
        "one staging buffer per ring slot, reused for every chunk"
    );
    assert_eq!(after.bytes_in_use, before.bytes_in_use, "staging all back");
    let now = engine.stats().counters;
    assert_eq!(now.crossings - counters.crossings, 1, "one readback");
    assert_eq!(now.copies - counters.copies, 1);
    // A second readback reuses the ring: nothing created.
    assert_eq!(t.to_vec::<f32>().unwrap(), data);
    assert_eq!(engine.pool().stats().buffers_created, after.buffers_created);
}

#[test]
fn read_into_fills_the_callers_array() {
    let engine = engine_with(CHUNK, UploadRoute::Auto);
    let data = ramp(3000);
    let t = engine.to_device(&data, [3000], None).unwrap();
    let mut out = vec![0f32; 3000];
    t.read_into(&mut out).unwrap();
    assert_eq!(out, data);
    let mut short = vec![0f32; 2999];
    assert_eq!(
        t.read_into(&mut short).unwrap_err().code(),
        "DataLengthMismatch"
    );
    let mut wrong = vec![0u16; 3000];
    assert_eq!(
        t.read_into(&mut wrong).unwrap_err().code(),
        "UnsupportedDtype"
    );
}

#[test]
fn a_tensor_over_half_the_memory_limit_reads_back() {
    let limit = 8 << 20;
    let engine = common::engine(EngineConfig {
        transfer_chunk_bytes: 256 << 10,
        pool: PoolConfig {
            memory_limit_bytes: limit,
            ..PoolConfig::default()
        },
        ..EngineConfig::default()
    });
    let n = 5 << 18; // 5 MiB of float32
    let data = ramp(n);
    let t = engine.to_device(&data, [n], None).unwrap();
    assert!(engine.pool().stats().bytes_in_use > limit / 2);
    assert_eq!(t.to_vec::<f32>().unwrap(), data);
}

/// Feed `bytes` to an upload in pieces of the given sizes, cycling.
fn feed(upload: &mut tmath::Upload, bytes: &[u8], sizes: &[usize]) {
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at == bytes.len() {
            break;
        }
        let end = (at + size).min(bytes.len());
        upload.write(&bytes[at..end]).unwrap();
        at = end;
    }
}

#[test]
fn uploads_stream_in_pieces_of_any_size() {
    for upload_route in [UploadRoute::Auto, UploadRoute::Staged] {
        let engine = engine_with(CHUNK, upload_route);
        let data = ramp(5001);
        let bytes: &[u8] = bytemuck::cast_slice(&data);
        for sizes in [&[1usize, 3, 7][..], &[13, 4099], &[bytes.len()]] {
            let mut upload = engine
                .upload_stream([5001], DType::F32, SourceType::Same)
                .unwrap();
            feed(&mut upload, bytes, sizes);
            let t = upload.finish(None).unwrap();
            assert_eq!(
                t.to_vec::<f32>().unwrap(),
                data,
                "{upload_route:?} {sizes:?}"
            );
        }
        // An odd number of float16s, converted on the GPU at the end.
        let halves: Vec<half::f16> = (0..1001).map(|i| half::f16::from_f32(i as f32)).collect();
        let mut upload = engine
            .upload_stream([7, 11, 13], DType::F16, SourceType::Same)
            .unwrap();
        feed(&mut upload, bytemuck::cast_slice(&halves), &[5, 333]);
        let t = upload.finish(Some(DType::F32)).unwrap();
        assert_eq!(t.dtype(), DType::F32);
        let expect: Vec<f32> = (0..1001).map(|i| i as f32).collect();
        assert_eq!(t.to_vec::<f32>().unwrap(), expect);
    }
}

/// Browsers stream through queue writes (`plan::stream_upload`); the same path runs natively
/// when asked for, so its bytes, carries and tail are checked here on a real adapter too.
#[test]
fn queue_write_uploads_land_every_byte_and_take_no_staging() {
    let engine = engine_with(CHUNK, UploadRoute::Auto);
    let data = ramp(5001);
    let bytes: &[u8] = bytemuck::cast_slice(&data);
    for sizes in [&[1usize, 3, 7][..], &[13, 4099], &[bytes.len()]] {
        engine.flush().unwrap();
        let before = engine.pool().stats();
        let mut upload = engine
            .upload_stream_via(
                [5001],
                DType::F32,
                SourceType::Same,
                UploadPath::QueueWrites,
            )
            .unwrap();
        feed(&mut upload, bytes, sizes);
        let t = upload.finish(None).unwrap();
        let after = engine.pool().stats();
        assert_eq!(
            after.staging_hits + after.staging_misses,
            before.staging_hits + before.staging_misses,
            "{sizes:?}: no staging taken"
        );
        assert_eq!(
            engine.ledger().last().map(|t| t.route),
            Some(Route::HostWrite)
        );
        assert_eq!(t.to_vec::<f32>().unwrap(), data, "{sizes:?}");
    }
    // An odd number of float16s (the last word padded), converted on the GPU at the end.
    let halves: Vec<half::f16> = (0..1001).map(|i| half::f16::from_f32(i as f32)).collect();
    let mut upload = engine
        .upload_stream_via(
            [7, 11, 13],
            DType::F16,
            SourceType::Same,
            UploadPath::QueueWrites,
        )
        .unwrap();
    feed(&mut upload, bytemuck::cast_slice(&halves), &[5, 333]);
    let t = upload.finish(Some(DType::F32)).unwrap();
    let expect: Vec<f32> = (0..1001).map(|i| i as f32).collect();
    assert_eq!(t.to_vec::<f32>().unwrap(), expect);
    // Too long, too short, dropped: refused, and the target back in the pool.
    let in_use = settled_in_use(&engine);
    let mut upload = engine
        .upload_stream_via([600], DType::F32, SourceType::Same, UploadPath::QueueWrites)
        .unwrap();
    upload.write(&bytes[..2000]).unwrap();
    assert_eq!(
        upload.write(&[0u8; 401]).unwrap_err().code(),
        "DataLengthMismatch"
    );
    upload.write(&bytes[2000..2399]).unwrap();
    assert_eq!(
        upload.finish(None).unwrap_err().code(),
        "DataLengthMismatch"
    );
    assert_eq!(settled_in_use(&engine), in_use);
}

/// A queue write runs ahead of the pending commands: its tensor must not take a buffer pending
/// work still reads, or that work would read the new bytes.
#[test]
fn a_queue_write_upload_never_lands_before_pending_work_that_reads_its_buffer() {
    for zero_on_reuse in [false, true] {
        // x by a queue write, so it is an ordinary storage buffer (lavapipe's unified memory
        // would map it) that the upload's tensor could take.
        let engine = common::engine(EngineConfig {
            zero_on_reuse,
            upload: UploadRoute::QueueWrite,
            ..EngineConfig::default()
        });
        let n = 1024;
        let a: Vec<f32> = (0..n).map(|i| 1.0 + (i % 64) as f32 * 0.5).collect();
        let b: Vec<f32> = (0..n).map(|i| -700.0 + (i % 64) as f32 * 0.5).collect();
        let x = engine.to_device(&a, [n], None).unwrap();
        let y = engine.add(&x, 1.0).unwrap();
        x.dispose().unwrap();
        let mut upload = engine
            .upload_stream_via([n], DType::F32, SourceType::Same, UploadPath::QueueWrites)
            .unwrap();
        upload.write(bytemuck::cast_slice(&b)).unwrap();
        let z = upload.finish(None).unwrap();
        assert_eq!(z.to_vec::<f32>().unwrap(), b, "z = B");
        let expect: Vec<f32> = a.iter().map(|v| v + 1.0).collect();
        assert_eq!(y.to_vec::<f32>().unwrap(), expect, "y = A + 1");
    }
}

#[test]
fn a_streamed_upload_checks_its_length_and_returns_its_buffers() {
    let engine = engine_with(CHUNK, UploadRoute::Staged);
    let in_use = settled_in_use(&engine);
    let data = ramp(600);
    let bytes: &[u8] = bytemuck::cast_slice(&data);
    let mut upload = engine
        .upload_stream([600], DType::F32, SourceType::Same)
        .unwrap();
    upload.write(&bytes[..2000]).unwrap();
    // Too many bytes: refused whole, and the upload goes on.
    let e = upload.write(&[0u8; 401]).unwrap_err();
    assert_eq!(e.code(), "DataLengthMismatch");
    assert_eq!(upload.received_bytes(), 2000);
    upload.write(&bytes[2000..2399]).unwrap();
    // One byte short.
    let e = upload.finish(None).unwrap_err();
    assert_eq!(e.code(), "DataLengthMismatch");
    assert_eq!(settled_in_use(&engine), in_use, "target and staging back");
    // Dropped half way: everything back too.
    let mut upload = engine
        .upload_stream([600], DType::F32, SourceType::Same)
        .unwrap();
    upload.write(&bytes[..1500]).unwrap();
    drop(upload);
    assert_eq!(settled_in_use(&engine), in_use);
}

#[test]
fn int64_streams_into_int32_under_the_routers_rule() {
    let engine = engine_with(CHUNK, UploadRoute::Staged);
    let values: Vec<i64> = (0..777).map(|i| i * 1000 - 300_000).collect();
    // Narrowed on the host, in pieces that split its elements, by either path.
    for path in [UploadPath::Staged, UploadPath::QueueWrites] {
        let mut upload = engine
            .upload_stream_via([777], DType::I32, SourceType::Int64, path)
            .unwrap();
        feed(&mut upload, bytemuck::cast_slice(&values), &[3, 29, 1001]);
        let t = upload.finish(None).unwrap();
        let expect: Vec<i32> = values.iter().map(|&v| v as i32).collect();
        assert_eq!(t.to_vec::<i32>().unwrap(), expect, "{path:?}");
    }

    let in_use = settled_in_use(&engine);
    let mut upload = engine
        .upload_stream([4], DType::I32, SourceType::Int64)
        .unwrap();
    let e = upload
        .write(bytemuck::cast_slice(&[1i64, 2, 1 << 40, 3]))
        .unwrap_err();
    assert_eq!(e.code(), "ValueOutOfRange");
    drop(upload);
    assert_eq!(settled_in_use(&engine), in_use);
    assert_eq!(
        engine
            .upload_stream([4], DType::F32, SourceType::Int64)
            .unwrap_err()
            .code(),
        "UnsupportedDtype"
    );
}

#[test]
fn large_staged_uploads_go_through_the_ring() {
    let engine = engine_with(CHUNK, UploadRoute::Staged);
    let n = 50_000; // 200 KiB: 196 chunks of 1 KiB
    let data = ramp(n);
    engine.flush().unwrap();
    let before = engine.pool().stats();
    let t = engine.to_device(&data, [n], None).unwrap();
    let after = engine.pool().stats();
    // The tensor's buffer and at most a ring of staging buffers (plus one being filled).
    assert!(
        after.buffers_created - before.buffers_created <= 2 + tmath::router::TRANSFER_RING as u64,
        "{} buffers",
        after.buffers_created - before.buffers_created
    );
    assert_eq!(t.to_vec::<f32>().unwrap(), data);
    let last = engine
        .ledger()
        .into_iter()
        .rev()
        .find(|t| t.route != tmath::Route::Readback);
    assert_eq!(last.map(|t| t.route), Some(tmath::Route::StagedWrite));
}

/// A safetensors file: the 8-byte length, the JSON header, the data.
fn safetensors_file(tensors: &[(&str, &str, &[usize], Vec<u8>)]) -> Vec<u8> {
    let mut header = String::from("{\"__metadata__\":{\"by\":\"tmath tests\"}");
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in tensors {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        header += &format!(
            ",\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
            dims.join(","),
            data.len(),
            data.len() + bytes.len()
        );
        data.extend_from_slice(bytes);
    }
    header.push('}');
    with_header(header.as_bytes(), &data)
}

fn with_header(header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut file = (header.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(header);
    file.extend_from_slice(data);
    file
}

fn le<T: bytemuck::Pod>(v: &[T]) -> Vec<u8> {
    bytemuck::cast_slice(v).to_vec()
}

fn model() -> Vec<u8> {
    let halves: Vec<half::f16> = (0..301)
        .map(|i| half::f16::from_f32(i as f32 - 150.0))
        .collect();
    let brains: Vec<half::bf16> = (0..64)
        .map(|i| half::bf16::from_f32(i as f32 * 2.0))
        .collect();
    safetensors_file(&[
        ("embed", "F32", &[40, 70], le(&ramp(2800))),
        ("norm.weight", "F16", &[301], le(&halves)),
        ("scale", "BF16", &[8, 8], le(&brains)),
        ("ids", "I64", &[5], le(&[1i64, -2, 3, -4, 2_000_000_000])),
        ("count", "I32", &[], le(&[42i32])),
    ])
}

#[test]
fn safetensors_load_in_file_order_with_every_value() {
    let engine = engine_with(CHUNK, UploadRoute::Staged);
    let file = model();
    let tensors = engine.load_safetensors(&file[..]).unwrap();
    assert_eq!(tensors.len(), 5);
    let embed = &tensors["embed"];
    assert_eq!(
        (embed.shape().dims(), embed.dtype()),
        (&[40, 70][..], DType::F32)
    );
    assert_eq!(embed.to_vec::<f32>().unwrap(), ramp(2800));
    let norm = tensors["norm.weight"].to_vec::<half::f16>().unwrap();
    assert_eq!(norm[0].to_f32(), -150.0);
    assert_eq!(norm[300].to_f32(), 150.0);
    assert_eq!(tensors["scale"].dtype(), DType::BF16);
    assert_eq!(
        tensors["scale"].to_vec::<half::bf16>().unwrap()[63].to_f32(),
        126.0
    );
    assert_eq!(tensors["ids"].dtype(), DType::I32);
    assert_eq!(
        tensors["ids"].to_vec::<i32>().unwrap(),
        [1, -2, 3, -4, 2_000_000_000]
    );
    assert_eq!(tensors["count"].shape().dims(), &[] as &[usize]);
    assert_eq!(tensors["count"].to_vec::<i32>().unwrap(), [42]);

    // With a precision, every tensor is converted on the GPU (prepareTensor's semantics).
    let half = engine
        .load_safetensors_as(&file[..], Some(DType::F16))
        .unwrap();
    assert!(half.values().all(|t| t.dtype() == DType::F16));
    let ids = half["ids"].to_vec::<half::f16>().unwrap();
    assert_eq!(ids[1].to_f32(), -2.0);
    assert_eq!(
        half["embed"].to_vec::<half::f16>().unwrap()[5].to_f32(),
        ramp(6)[5]
    );
}

/// Every bad file: its error code, and the pool exactly as before.
#[test]
fn bad_safetensors_are_typed_errors_and_leave_the_pool_as_it_was() {
    let engine = engine_with(CHUNK, UploadRoute::Staged);
    let good = model();
    // Warm the pool, so a failed load's buffers show up as idle, not as missing.
    drop(engine.load_safetensors(&good[..]).unwrap());
    let in_use = settled_in_use(&engine);
    let floats = le(&ramp(8));
    let header = |json: &str| with_header(json.as_bytes(), &floats);
    let t = |name: &str, begin: usize, end: usize| {
        format!(
            "\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{begin},{end}]}}",
            (end - begin) / 4
        )
    };
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated data",
            good[..good.len() - 3].to_vec(),
            "DataLengthMismatch",
        ),
        (
            "trailing bytes",
            [good.clone(), vec![0; 5]].concat(),
            "DataLengthMismatch",
        ),
        ("truncated prefix", good[..5].to_vec(), "DataLengthMismatch"),
        (
            "overlapping offsets",
            header(&format!("{{{},{}}}", t("a", 0, 16), t("b", 8, 24))),
            "InvalidArgument",
        ),
        (
            "a gap",
            header(&format!("{{{},{}}}", t("a", 0, 8), t("b", 12, 32))),
            "InvalidArgument",
        ),
        (
            "offsets past the data",
            header(&format!("{{{},{}}}", t("a", 0, 16), t("b", 16, 48))),
            "DataLengthMismatch",
        ),
        (
            "non-UTF-8 header",
            with_header(&[b'{', 0xff, 0xfe, b'}'], &floats),
            "InvalidArgument",
        ),
        (
            "non-JSON header",
            header("{\"a\": [1, 2"),
            "InvalidArgument",
        ),
        (
            "unsupported dtype",
            header("{\"bytes\":{\"dtype\":\"U8\",\"shape\":[32],\"data_offsets\":[0,32]}}"),
            "UnsupportedDtype",
        ),
        (
            "int64 out of range",
            safetensors_file(&[("big", "I64", &[1], le(&[1i64 << 33]))]),
            "ValueOutOfRange",
        ),
    ];
    let mut larger = (1000u64).to_le_bytes().to_vec();
    larger.extend_from_slice(b"{}");
    cases.push(("header larger than the file", larger, "InvalidArgument"));
    let mut huge = (u64::MAX).to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    cases.push(("header over the format's limit", huge, "InvalidArgument"));
    for (what, file, code) in cases {
        let e = engine.load_safetensors(&file[..]).unwrap_err();
        assert_eq!(e.code(), code, "{what}: {e}");
        assert_eq!(settled_in_use(&engine), in_use, "{what}: buffers back");
    }
    let e = engine
        .load_safetensors(
            &header("{\"bytes\":{\"dtype\":\"U8\",\"shape\":[32],\"data_offsets\":[0,32]}}")[..],
        )
        .unwrap_err();
    assert!(e.to_string().contains("\"bytes\""), "names the tensor: {e}");

    // A reader that fails half way.
    struct Failing<'a>(&'a [u8]);
    impl std::io::Read for Failing<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("connection reset"));
            }
            let n = out.len().min(self.0.len()).min(700);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let e = engine
        .load_safetensors(Failing(&good[..good.len() / 2]))
        .unwrap_err();
    assert_eq!(e.code(), "InvalidArgument");
    assert!(e.to_string().contains("connection reset"), "{e}");
    assert_eq!(settled_in_use(&engine), in_use);
    let _: HashMap<String, tmath::Tensor> = engine.load_safetensors(&good[..]).unwrap();
}
