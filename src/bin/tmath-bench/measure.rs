//! Timing, GPU waits and warm-up, and the seeded inputs every suite uses.

use std::time::Instant;
use tmath::Engine;

/// Median of `rounds` timings of `iters` calls of `f`, in nanoseconds per call.
pub(crate) fn time_ns(rounds: usize, iters: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..iters {
        f(); // warm-up
    }
    let mut samples: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

pub(crate) fn wait(engine: &Engine) {
    engine
        .device()
        .poll(wgpu::PollType::wait_indefinitely())
        .expect("device alive");
}

/// GPU clocks drop while idle: keep the device busy for about `seconds` before timing.
pub(crate) fn warm_up(engine: &Engine, seconds: f64) {
    let bytes = 64u64 << 20;
    let usage = wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
    let make = || {
        engine.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("warm-up"),
            size: bytes,
            usage,
            mapped_at_creation: false,
        })
    };
    let (a, b) = (make(), make());
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < seconds {
        let mut encoder = engine.device().create_command_encoder(&Default::default());
        for _ in 0..8 {
            encoder.copy_buffer_to_buffer(&a, 0, &b, 0, bytes);
        }
        engine.queue().submit([encoder.finish()]);
        wait(engine);
    }
    a.destroy();
    b.destroy();
}

/// Seconds per call: the median of `reps` timed calls, after one untimed call.
pub(crate) fn seconds<T>(reps: usize, mut f: impl FnMut() -> T) -> f64 {
    drop(f());
    let mut samples: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            let result = f();
            let elapsed = start.elapsed().as_secs_f64();
            // What `f` returns is dropped off the clock (a freed readback is not its cost).
            drop(result);
            elapsed
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

pub(crate) fn transfer_sizes(engine: &Engine) -> Vec<u64> {
    let gpu = engine.adapter().device_type != tmath::DeviceKind::Cpu;
    let cap = std::env::var("TMATH_BENCH_MAX_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if gpu { 1u64 << 30 } else { 64 << 20 });
    [
        4u64 << 10,
        64 << 10,
        1 << 20,
        16 << 20,
        64 << 20,
        256 << 20,
        1 << 30,
    ]
    .into_iter()
    .filter(|&b| b <= cap && b <= engine.adapter().max_buffer_size)
    .collect()
}

pub(crate) fn random_f32(n: usize, seed: u64) -> Vec<f32> {
    tmath::workload::Rng::new(seed).floats(n)
}

/// Seconds per round of `batch` outputs of `f` recorded into one submission and waited for (the
/// median of `reps` rounds, after one untimed round); the outputs are held until the wait, so
/// each round takes `batch` distinct buffers from the pool.
pub(crate) fn batch_seconds(
    engine: &Engine,
    batch: usize,
    reps: usize,
    f: &dyn Fn() -> tmath::Tensor,
) -> f64 {
    seconds(reps, || {
        let outs: Vec<_> = (0..batch).map(|_| f()).collect();
        engine.flush().expect("flush");
        wait(engine);
        drop(outs);
    })
}

/// Two seeded `n × n` operands of `dtype` (the engine's precision for `None`).
pub(crate) fn square_operands(
    engine: &Engine,
    n: usize,
    dtype: Option<tmath::DType>,
) -> (tmath::Tensor, tmath::Tensor) {
    let upload = |seed| {
        engine
            .to_device(&random_f32(n * n, seed), [n, n], dtype)
            .expect("upload")
    };
    (upload(1), upload(2))
}

/// A plain buffer for the raw side of a comparison.
pub(crate) fn raw_buffer(
    engine: &Engine,
    label: &str,
    bytes: u64,
    usage: wgpu::BufferUsages,
) -> wgpu::Buffer {
    engine.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes,
        usage,
        mapped_at_creation: false,
    })
}
