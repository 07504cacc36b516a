//! Casts on the GPU against a same-size copy, and host against GPU conversion.

use crate::measure::*;
use crate::report::{Report, Value};
use tmath::{Engine, EngineConfig, PoolConfig};

pub(crate) fn precision_suite(out: &mut Report) {
    use tmath::{ConversionSite, DType, HostData};
    let pool = PoolConfig {
        budget_bytes: 8 << 30,
        ..PoolConfig::default()
    };
    let engine = Engine::new_blocking(EngineConfig {
        pool: pool.clone(),
        ..EngineConfig::default()
    })
    .expect("adapter");
    let gpu = engine.adapter().device_type != tmath::DeviceKind::Cpu;
    let sizes: &[usize] = if gpu {
        &[1 << 20, 1 << 24, 1 << 26]
    } else {
        &[1 << 16, 1 << 20]
    };
    let batch = 8;
    for &n in sizes {
        warm_up(&engine, if gpu { 1.0 } else { 0.1 });
        let reps = if gpu { 20 } else { 5 };
        let sources: Vec<_> = DType::ALL
            .iter()
            .map(|&d| {
                let bytes = vec![0x3cu8; n * d.size_bytes() as usize];
                engine
                    .to_device(HostData::Bytes(&bytes, d), [n], None)
                    .expect("upload")
            })
            .collect();
        let timed = |f: &dyn Fn() -> tmath::Tensor| batch_seconds(&engine, batch, reps, f);
        for (i, &from) in DType::ALL.iter().enumerate() {
            let src = &sources[i];
            let copy_s = timed(&|| engine.copy(src).expect("copy"));
            let copy_bytes = 2.0 * (n as f64) * from.size_bytes() as f64 * batch as f64;
            for &to in DType::ALL.iter().filter(|&&t| t != from) {
                let cast_s = timed(&|| engine.cast(src, to).expect("cast"));
                let moved =
                    (n as f64) * (from.size_bytes() + to.size_bytes()) as f64 * batch as f64;
                out.record(
                    "precision",
                    &[
                        ("case", Value::Str("cast".into())),
                        ("elements", Value::Int(n as u64)),
                        ("from", Value::Str(from.name().into())),
                        ("to", Value::Str(to.name().into())),
                        ("cast_gb_s", Value::Num(moved / cast_s / 1e9)),
                        ("copy_gb_s", Value::Num(copy_bytes / copy_s / 1e9)),
                        (
                            "cast_vs_copy",
                            Value::Num((moved / cast_s) / (copy_bytes / copy_s)),
                        ),
                    ],
                );
            }
        }
        // The identity path: prepare_tensor of a tensor already in the precision.
        let src = &sources[0];
        let identity_ns = time_ns(9, 10_000, || {
            std::hint::black_box(engine.prepare_tensor(src, Some(DType::F32)).expect("same"));
        });
        out.record(
            "precision",
            &[
                ("case", Value::Str("identity".into())),
                ("elements", Value::Int(n as u64)),
                ("prepare_same_dtype_ns", Value::Num(identity_ns)),
            ],
        );
        // Uploading float32 data into a float16 tensor: convert on the host, or upload as is
        // and cast on the GPU.
        let data: Vec<f32> = (0..n).map(|i| i as f32 * 1e-3).collect();
        let mut fields = vec![
            ("case", Value::Str("upload_f32_to_f16".into())),
            ("elements", Value::Int(n as u64)),
        ];
        for (name, site) in [
            ("host_ms", ConversionSite::Host),
            ("gpu_ms", ConversionSite::Gpu),
        ] {
            let e = Engine::new_blocking(EngineConfig {
                upload_conversion: site,
                pool: pool.clone(),
                ..EngineConfig::default()
            })
            .expect("adapter");
            let s = seconds(reps, || {
                let t = e.to_device(&data, [n], Some(DType::F16)).expect("upload");
                e.flush().expect("flush");
                wait(&e);
                drop(t);
            });
            fields.push((name, Value::Num(s * 1e3)));
        }
        out.record("precision", &fields);
    }
}
