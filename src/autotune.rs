//! Measuring matmul tile shapes on this adapter ([`Engine::tune_matmul`]); what the result means
//! and how it is applied is `tuning.rs`.

use crate::engine::Engine;
use crate::error::Result;
use crate::gpu::DeviceKind;
use crate::kernels::MatmulTiles;
use crate::tuning::{self, MatmulTuning};

/// Square sizes measured: products GPUs and CPU devices meet, within a second or two of tuning.
/// Larger products pick the largest size's choice.
fn sizes(kind: DeviceKind) -> &'static [u32] {
    if kind == DeviceKind::Cpu {
        &[64, 128, 256]
    } else {
        &[128, 256, 512, 1024, 2048, 4096]
    }
}

/// Milliseconds each timing aims at (products per timing follow from one product's time).
const TIMING_MS: f64 = 15.0;

/// Past a size whose single product takes this long, larger sizes are not measured (the device
/// is slow enough that tuning would take long, and the largest choice serves them).
const SLOW_PRODUCT_MS: f64 = 40.0;

impl Engine {
    /// Measure every tile shape the device can run (the subgroup kernels on GPUs with subgroup
    /// operations) on float32 products of several square sizes, keep the fastest per size for
    /// this adapter (every engine on it in this process uses them from then on, unless
    /// [`EngineConfig::matmul_tiles`](crate::EngineConfig::matmul_tiles) fixes one), and return
    /// them, for an app to store and give back with [`Engine::set_matmul_tuning`] on a later run.
    /// Takes two to four seconds on an H100, a few on a CPU device; it submits and waits, so call
    /// it while nothing else is pending.
    pub async fn tune_matmul(&self) -> Result<MatmulTuning> {
        let report = &self.shared.gpu.report;
        let shapes = tuning::candidates(
            report.max_workgroup_storage_bytes,
            report.subgroups && report.device_type != DeviceKind::Cpu,
        );
        let mut choices = Vec::new();
        for &size in sizes(report.device_type) {
            let n = size as usize;
            if (n * n * 4) as u64 > report.max_storage_buffer_binding_size {
                break;
            }
            // Small values: a chain of products by it stays finite.
            let data: Vec<f32> = (0..n * n)
                .map(|i| ((i % 13) as f32 - 6.0) / (8.0 * n as f32))
                .collect();
            let a = self.to_device(&data, [n, n], None)?;
            let mut timings = Vec::new();
            for &tiles in &shapes {
                let ms = self.time_products(&a, tiles).await?;
                timings.push((tiles, ms));
            }
            let choice = tuning::fastest(size, &timings);
            choices.extend(choice);
            if choice.is_none_or(|c| c.ms > SLOW_PRODUCT_MS) {
                break;
            }
        }
        let measured = MatmulTuning {
            adapter: tuning::adapter_key(report),
            choices,
        };
        self.set_matmul_tuning(Some(measured.clone()));
        Ok(measured)
    }

    /// Best of two timings of a chain of products `c ← c × a` with `tiles` (as many per timing as
    /// fill about [`TIMING_MS`]), after one untimed product (which builds the pipeline) and one
    /// timed alone, in milliseconds per product. A chain, as layers run: each product waits for
    /// the one before, so a tile shape that leaves cores idle cannot hide behind the next one.
    async fn time_products(&self, a: &crate::Tensor, tiles: MatmulTiles) -> Result<f64> {
        drop(self.matmul_tiled(a, a, Some(tiles), crate::DType::F32)?);
        self.synchronize().await?;
        let start = crate::platform::now_us();
        drop(self.matmul_tiled(a, a, Some(tiles), crate::DType::F32)?);
        self.synchronize().await?;
        let once = (crate::platform::now_us() - start) / 1e3;
        if once > SLOW_PRODUCT_MS {
            return Ok(once);
        }
        let reps = (TIMING_MS / once.max(1e-3)).clamp(1.0, 256.0) as usize;
        let mut best = f64::INFINITY;
        for _ in 0..2 {
            let start = crate::platform::now_us();
            let mut c = self.matmul_tiled(a, a, Some(tiles), crate::DType::F32)?;
            for _ in 1..reps {
                c = self.matmul_tiled(&c, a, Some(tiles), crate::DType::F32)?;
            }
            self.synchronize().await?;
            best = best.min((crate::platform::now_us() - start) / 1e3 / reps as f64);
        }
        Ok(best)
    }

    /// The matmul tile shapes this engine uses ([`Engine::tune_matmul`]), if measured or given.
    pub fn matmul_tuning(&self) -> Option<MatmulTuning> {
        self.shared.matmul_tuning.lock().ok()?.clone()
    }

    /// Use `tuning` (one measured earlier, perhaps in another run) for this adapter, or the
    /// defaults (`None`). A tuning is kept for the process under its `adapter` key, so engines
    /// made later on the same adapter use it too. Choices whose tile shape this device cannot run
    /// are dropped.
    pub fn set_matmul_tuning(&self, tuning: Option<MatmulTuning>) {
        let limit = self.shared.gpu.report.max_workgroup_storage_bytes;
        let tuning = tuning.map(|mut t| {
            t.choices.retain(|c| c.tiles.runs_within(limit));
            for c in &mut t.choices {
                c.portable = c.portable.filter(|p| !p.subgroups && p.runs_within(limit));
            }
            t.choices.sort_by_key(|c| c.size);
            t
        });
        if let Some(t) = tuning
            .as_ref()
            .filter(|t| t.adapter == tuning::adapter_key(&self.shared.gpu.report))
        {
            tuning::remember(t);
        }
        if let Ok(mut slot) = self.shared.matmul_tuning.lock() {
            *slot = tuning;
        }
    }
}
