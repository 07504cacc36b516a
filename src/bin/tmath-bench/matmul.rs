//! Matmul throughput by size and dtype.

use crate::measure::*;
use crate::report::{Report, Value};
use tmath::{Engine, EngineConfig};

pub(crate) fn matmul_suite(out: &mut Report) {
    use tmath::DType;
    let engine = Engine::new_blocking(EngineConfig::default()).expect("adapter");
    let gpu = engine.adapter().device_type != tmath::DeviceKind::Cpu;
    let sizes: &[usize] = if gpu {
        &[256, 512, 1024, 2048, 4096]
    } else {
        &[256, 512]
    };
    for &n in sizes {
        for dtype in [DType::F32, DType::F16] {
            warm_up(&engine, if gpu { 1.0 } else { 0.1 });
            let (a, b) = square_operands(&engine, n, Some(dtype));
            // Resident: a batch of products per submission, so launch overhead amortises.
            let batch = if gpu { (1usize << 33) / (n * n * n) } else { 2 }.clamp(2, 64);
            let s = batch_seconds(&engine, batch, if gpu { 10 } else { 3 }, &|| {
                engine.matmul(&a, &b).expect("matmul")
            });
            let flops = 2.0 * (n as f64).powi(3);
            let per = s / batch as f64;
            let mut fields = vec![
                ("case", Value::Str("resident".into())),
                ("n", Value::Int(n as u64)),
                (
                    "dtype",
                    Value::Str(format!("{}-in/float32-acc", dtype.name())),
                ),
                ("ms", Value::Num(per * 1e3)),
                ("gflop_s", Value::Num(flops / per / 1e9)),
            ];
            if dtype == DType::F32 {
                // Host in, host out: upload both operands, multiply, read the product back.
                let (ha, hb) = (random_f32(n * n, 1), random_f32(n * n, 2));
                let host = seconds(if gpu { 10 } else { 3 }, || {
                    let ta = engine.to_device(&ha, [n, n], None).expect("upload");
                    let tb = engine.to_device(&hb, [n, n], None).expect("upload");
                    let c = engine.matmul(&ta, &tb).expect("matmul");
                    std::hint::black_box(c.to_vec::<f32>().expect("readback"));
                });
                fields.push(("host_in_out_ms", Value::Num(host * 1e3)));
            }
            out.record("matmul", &fields);
        }
    }
}
