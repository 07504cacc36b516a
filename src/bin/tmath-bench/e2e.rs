//! End to end: the seed's table, before (no pool, every op through the host) and after.

use crate::measure::*;
use crate::report::{Report, Value};
use tmath::{Engine, EngineConfig, PoolConfig};

/// The seed's table: the same work the old way (every op allocates fresh buffers and makes a
/// host round trip: the "MPS → CPU → MLX → CPU → MPS" path) and the tmath way.
pub(crate) fn e2e_suite(out: &mut Report) {
    let after = Engine::new_blocking(EngineConfig::default()).expect("adapter");
    // The old engine: no pool at all, so every buffer is created fresh and destroyed after.
    let before = Engine::new_blocking(EngineConfig {
        pool: PoolConfig {
            max_per_class: 0,
            budget_bytes: 0,
            ..PoolConfig::default()
        },
        ..EngineConfig::default()
    })
    .expect("adapter");
    let gpu = after.adapter().device_type != tmath::DeviceKind::Cpu;
    let n = if gpu { 1024 } else { 256 };
    let reps = if gpu { 10 } else { 3 };
    let (ha, hb) = (random_f32(n * n, 1), random_f32(n * n, 2));
    let bias = random_f32(n, 3);
    warm_up(&after, if gpu { 1.0 } else { 0.1 });

    // Kernel time: many products in one submission (a resident chain), per product.
    let ta = after.to_device(&ha, [n, n], None).expect("upload");
    let tb = after.to_device(&hb, [n, n], None).expect("upload");
    let batch = 20;
    let kernel = batch_seconds(&after, batch, reps, &|| {
        after.matmul(&ta, &tb).expect("matmul")
    }) / batch as f64;
    // One resident product at a time: record, submit, wait.
    let resident = seconds(reps, || {
        let c = after.matmul(&ta, &tb).expect("matmul");
        after.flush().expect("flush");
        wait(&after);
        drop(c);
    });
    // Host in, host out, with the pool: uploads, product, readback.
    let host_op = |e: &Engine| {
        let x = e.to_device(&ha, [n, n], None).expect("upload");
        let y = e.to_device(&hb, [n, n], None).expect("upload");
        let c = e.matmul(&x, &y).expect("matmul");
        std::hint::black_box(c.to_vec::<f32>().expect("readback"));
    };
    let counted = |e: &Engine, f: &dyn Fn()| {
        f(); // warm-up
        let s0 = e.stats();
        let t = seconds(reps, f);
        let s1 = e.stats();
        let ops = (reps + 1) as f64; // `seconds` runs once untimed
        (
            t,
            (s1.counters.copies - s0.counters.copies) as f64 / ops,
            (s1.counters.crossings - s0.counters.crossings) as f64 / ops,
            (s1.pool.buffers_created - s0.pool.buffers_created) as f64 / ops,
        )
    };
    let (host_after, copies_after, cross_after, created_after) =
        counted(&after, &|| host_op(&after));
    let (host_before, copies_before, cross_before, created_before) =
        counted(&before, &|| host_op(&before));
    let (_, resident_copies, resident_cross, resident_created) = counted(&after, &|| {
        let c = after.matmul(&ta, &tb).expect("matmul");
        after.flush().expect("flush");
        wait(&after);
        drop(c);
    });

    // A 10-op chain: the old way round-trips every op; tmath keeps it on the GPU.
    let ops = 10.0;
    let chain_before = |e: &Engine| {
        let mut h = ha.clone();
        type Step<'s> = &'s dyn Fn(&Engine, &tmath::Tensor) -> tmath::Tensor;
        let steps: [Step; 10] = [
            &|e, x| {
                e.matmul(x, &e.to_device(&hb, [n, n], None).unwrap())
                    .unwrap()
            },
            &|e, x| e.add(x, &e.to_device(&bias, [n], None).unwrap()).unwrap(),
            &|e, x| e.relu(x).unwrap(),
            &|e, x| e.mul(x, 0.5).unwrap(),
            &|e, x| {
                e.matmul(x, &e.to_device(&hb, [n, n], None).unwrap())
                    .unwrap()
            },
            &|e, x| e.add(x, &e.to_device(&bias, [n], None).unwrap()).unwrap(),
            &|e, x| e.relu(x).unwrap(),
            &|e, x| e.sub(x, 0.25).unwrap(),
            &|e, x| {
                e.matmul(x, &e.to_device(&hb, [n, n], None).unwrap())
                    .unwrap()
            },
            &|e, x| e.relu(x).unwrap(),
        ];
        for step in steps {
            let x = e.to_device(&h, [n, n], None).unwrap();
            h = step(e, &x).to_vec::<f32>().unwrap();
        }
        h
    };
    let chain_after = |e: &Engine| {
        let x = e.to_device(&ha, [n, n], None).unwrap();
        let w = e.to_device(&hb, [n, n], None).unwrap();
        let b = e.to_device(&bias, [n], None).unwrap();
        let h = e
            .relu(&e.add(&e.matmul(&x, &w).unwrap(), &b).unwrap())
            .unwrap();
        let h = e.mul(&h, 0.5).unwrap();
        let h = e
            .relu(&e.add(&e.matmul(&h, &w).unwrap(), &b).unwrap())
            .unwrap();
        let h = e.sub(&h, 0.25).unwrap();
        let h = e.relu(&e.matmul(&h, &w).unwrap()).unwrap();
        h.to_vec::<f32>().unwrap()
    };
    assert_eq!(
        chain_before(&before),
        chain_after(&after),
        "both ways compute the same"
    );
    let (chain_b, chain_copies_b, chain_cross_b, chain_created_b) = counted(&before, &|| {
        chain_before(&before);
    });
    let (chain_a, chain_copies_a, chain_cross_a, chain_created_a) = counted(&after, &|| {
        chain_after(&after);
    });

    let rows = [
        (
            format!("Matrix-Mult {n}x{n} efficiency (kernel / end-to-end)"),
            "~15% (85% overhead)",
            "~70% (30% overhead)",
            format!("{:.1}%", 100.0 * kernel / host_before),
            format!(
                "{:.1}% resident, {:.1}% host-in/host-out",
                100.0 * kernel / resident,
                100.0 * kernel / host_after
            ),
        ),
        (
            "Copies per operation (matmul; host in/out, then resident)".to_owned(),
            "10-12",
            "3-4",
            format!("{copies_before:.1}"),
            format!("{copies_after:.1}, resident {resident_copies:.1}"),
        ),
        (
            "Device switches per operation (crossings)".to_owned(),
            "4-5",
            "1-2",
            format!("{cross_before:.1}"),
            format!("{cross_after:.1}, resident {resident_cross:.1}"),
        ),
        (
            "Buffers created per operation".to_owned(),
            "every op allocates",
            "reuse",
            format!("{created_before:.1}"),
            format!("{created_after:.1}, resident {resident_created:.1}"),
        ),
        (
            "10-op chain: ms, copies/op, crossings/op, buffers/op".to_owned(),
            "-",
            "-",
            format!(
                "{:.2} ms, {:.1}, {:.1}, {:.1}",
                chain_b * 1e3,
                chain_copies_b / ops,
                chain_cross_b / ops,
                chain_created_b / ops
            ),
            format!(
                "{:.2} ms ({:.1}x faster), {:.1}, {:.1}, {:.1}",
                chain_a * 1e3,
                chain_b / chain_a,
                chain_copies_a / ops,
                chain_cross_a / ops,
                chain_created_a / ops
            ),
        ),
    ];
    if out.json {
        for (row, seed_now, seed_expected, measured_before, measured_after) in &rows {
            out.record(
                "e2e",
                &[
                    ("row", Value::Str(row.clone())),
                    ("seed_current", Value::Str((*seed_now).into())),
                    ("seed_expected", Value::Str((*seed_expected).into())),
                    ("measured_before", Value::Str(measured_before.clone())),
                    ("measured_after", Value::Str(measured_after.clone())),
                ],
            );
        }
        out.record(
            "e2e",
            &[
                ("case", Value::Str("timings".into())),
                ("n", Value::Int(n as u64)),
                ("kernel_ms", Value::Num(kernel * 1e3)),
                ("resident_ms", Value::Num(resident * 1e3)),
                ("host_in_out_after_ms", Value::Num(host_after * 1e3)),
                ("host_in_out_before_ms", Value::Num(host_before * 1e3)),
                ("chain_before_ms", Value::Num(chain_b * 1e3)),
                ("chain_after_ms", Value::Num(chain_a * 1e3)),
            ],
        );
    } else {
        println!();
        println!(
            "The seed's table (section 5), measured on {} with {n}x{n} matrices:",
            after.adapter().name
        );
        println!(
            "| Operation | seed: current | seed: expected | measured: before (old way) | measured: after (tmath) |"
        );
        println!("|---|---|---|---|---|");
        for (row, a, b, c, d) in &rows {
            println!("| {row} | {a} | {b} | {c} | {d} |");
        }
        println!(
            "kernel {:.3} ms (resident batch), resident op {:.3} ms, host-in/host-out {:.3} ms after vs {:.3} ms before",
            kernel * 1e3,
            resident * 1e3,
            host_after * 1e3,
            host_before * 1e3
        );
    }
}
