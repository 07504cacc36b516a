//! Which matmul tile shape runs a product. Plain data and pure functions, testable without a GPU:
//! the engine measures ([`Engine::tune_matmul`](crate::Engine::tune_matmul)), this module keeps
//! and applies the result.
//!
//! The choice goes, first match wins: the engine's fixed [`EngineConfig::matmul_tiles`]; the
//! adapter's measured [`MatmulTuning`] (kept for the process, keyed by adapter name, driver and
//! backend, so every engine on that adapter uses it once one has measured); the defaults below,
//! measured on an H100 and on lavapipe.
//!
//! [`EngineConfig::matmul_tiles`]: crate::EngineConfig::matmul_tiles

use crate::dtype::DType;
use crate::gpu::{AdapterReport, DeviceKind};
use crate::kernels::MatmulTiles;
use std::sync::Mutex;

/// The fastest tile shape measured at each product size on one adapter.
#[derive(Clone, Debug, PartialEq)]
pub struct MatmulTuning {
    /// The adapter measured: name, driver and backend (see `adapter_key`).
    pub adapter: String,
    /// One choice per measured size, smallest first.
    pub choices: Vec<MatmulChoice>,
}

/// The winner at one size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatmulChoice {
    /// The square product measured: `size × size` times `size × size`, float32.
    pub size: u32,
    /// The fastest tile shape there.
    pub tiles: MatmulTiles,
    /// Its time per product, milliseconds.
    pub ms: f64,
    /// Where `tiles` is a subgroup shape: the fastest portable shape at this size, which runs the
    /// products the subgroup kernels do not take (n not a multiple of 4; float16 without
    /// `shader-f16` unless the caller fixed the shape: see `subgroups_allowed`).
    pub portable: Option<MatmulTiles>,
}

impl MatmulTuning {
    /// The tile shape measured at the size nearest (in outputs, on a log scale) to a product of
    /// `outputs` output elements; `None` when nothing was measured.
    pub fn pick(&self, outputs: u64) -> Option<MatmulTiles> {
        self.nearest(outputs).map(|c| c.tiles)
    }

    /// The portable tile shape measured fastest at the size nearest to `outputs`: the choice
    /// itself where it is portable, else its [`MatmulChoice::portable`].
    pub fn pick_portable(&self, outputs: u64) -> Option<MatmulTiles> {
        let nearest = self.nearest(outputs)?;
        if nearest.tiles.subgroups {
            nearest.portable
        } else {
            Some(nearest.tiles)
        }
    }

    fn nearest(&self, outputs: u64) -> Option<&MatmulChoice> {
        let target = (outputs.max(1) as f64).ln();
        self.choices.iter().min_by(|x, y| {
            let dx = (2.0 * (x.size as f64).ln() - target).abs();
            let dy = (2.0 * (y.size as f64).ln() - target).abs();
            dx.total_cmp(&dy)
        })
    }
}

/// The key a tuning is kept under: adapter name, driver and backend.
pub fn adapter_key(report: &AdapterReport) -> String {
    format!("{} | {} | {}", report.name, report.driver, report.backend)
}

/// Tile shapes whose workgroup memory fits the device, and the subgroup kernels where it has
/// subgroup operations and is a GPU: on CPU devices they gain nothing, and SwiftShader (Chrome's
/// CPU WebGPU) spends minutes and gigabytes compiling the 16-row one.
pub(crate) fn candidates(max_workgroup_bytes: u32, subgroups: bool) -> Vec<MatmulTiles> {
    MatmulTiles::ALL
        .into_iter()
        .filter(|t| t.runs_within(max_workgroup_bytes) && (subgroups || !t.subgroups))
        .collect()
}

/// The untuned choice. GPUs: 128×128 blocks when there are at least 512 of them to spread over
/// the cores (an H100 has 132 SMs; fewer leave SMs idle), 64×64 blocks below. CPU devices
/// (lavapipe, SwiftShader) have few cores to fill and gain from the larger block from 256 up.
pub(crate) fn default_tiles(
    m: u64,
    n: u64,
    batch: u64,
    kind: DeviceKind,
    max_workgroup_bytes: u32,
) -> MatmulTiles {
    let large = MatmulTiles::new(8, 8, 8);
    let small = MatmulTiles::new(4, 4, 16);
    let blocks = m.div_ceil(128) * n.div_ceil(128) * batch;
    let pick = if kind == DeviceKind::Cpu {
        if m >= 256 && n >= 256 {
            large
        } else {
            small
        }
    } else if blocks >= 512 {
        large
    } else {
        small
    };
    // Both defaults need 16 KiB, WebGPU's guaranteed minimum; a device below it gets the smallest.
    if pick.workgroup_bytes() <= max_workgroup_bytes {
        pick
    } else {
        MatmulTiles::ALL
            .into_iter()
            .filter(|t| !t.subgroups)
            .min_by_key(|t| t.workgroup_bytes())
            .unwrap_or(small)
    }
}

/// Whether a product of `dtype` inputs and `n` columns may run a subgroup shape: the device has
/// subgroup operations, n is whole vec4s, the inputs are floats. float16 packed two to a word
/// (a device without `shader-f16`) runs one only where the caller `fixed` the shape: the tuner
/// times float32 products, and packed float16 ran up to a third slower in the subgroup kernel
/// than in the best portable shape on the H100, and nowhere faster, natively and on Dawn
/// (bench/RESULTS.md), while bfloat16, packed too but widened by a shift, gained 14–20%
/// natively.
pub(crate) fn subgroups_allowed(report: &AdapterReport, n: u64, dtype: DType, fixed: bool) -> bool {
    let packed_f16 = dtype == DType::F16 && !report.shader_f16;
    report.subgroups && n.is_multiple_of(4) && dtype != DType::I32 && (fixed || !packed_f16)
}

static MEASURED: Mutex<Vec<MatmulTuning>> = Mutex::new(Vec::new());

/// The tuning measured for this adapter in this process, if any.
pub(crate) fn measured(key: &str) -> Option<MatmulTuning> {
    let list = MEASURED.lock().ok()?;
    list.iter().find(|t| t.adapter == key).cloned()
}

/// Keep `tuning` for its adapter (replacing an earlier one).
pub(crate) fn remember(tuning: &MatmulTuning) {
    if let Ok(mut list) = MEASURED.lock() {
        list.retain(|t| t.adapter != tuning.adapter);
        list.push(tuning.clone());
    }
}

/// The winner among `(tiles, ms)` timings at one size: the fastest, ties to the earlier.
pub(crate) fn fastest(size: u32, timings: &[(MatmulTiles, f64)]) -> Option<MatmulChoice> {
    let best = |portable_only: bool| {
        timings
            .iter()
            .filter(|(tiles, ms)| ms.is_finite() && !(portable_only && tiles.subgroups))
            .min_by(|x, y| x.1.total_cmp(&y.1))
    };
    best(false).map(|&(tiles, ms)| MatmulChoice {
        size,
        tiles,
        ms,
        portable: if tiles.subgroups {
            best(true).map(|&(t, _)| t)
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuning(choices: &[(u32, MatmulTiles)]) -> MatmulTuning {
        MatmulTuning {
            adapter: "test".into(),
            choices: choices
                .iter()
                .map(|&(size, tiles)| MatmulChoice {
                    size,
                    tiles,
                    ms: 1.0,
                    portable: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_product_takes_the_choice_of_the_nearest_measured_size() {
        let (small, large) = (MatmulTiles::new(4, 4, 16), MatmulTiles::new(8, 8, 8));
        let t = tuning(&[(256, small), (4096, large)]);
        assert_eq!(t.pick(1), Some(small));
        assert_eq!(t.pick(300 * 300), Some(small));
        // 1500² outputs lie 2^5.1 from 256² and 2^2.9 from 4096²: the larger wins.
        assert_eq!(t.pick(1500 * 1500), Some(large));
        assert_eq!(t.pick(100_000 * 100_000), Some(large));
        assert_eq!(tuning(&[]).pick(1024), None);
    }

    #[test]
    fn candidates_fit_the_workgroup_memory() {
        assert_eq!(candidates(u32::MAX, true).len(), MatmulTiles::ALL.len());
        let webgpu_minimum = candidates(16 << 10, true);
        assert!(webgpu_minimum.contains(&MatmulTiles::new(4, 4, 16)));
        assert!(webgpu_minimum.contains(&MatmulTiles::new(8, 8, 8)));
        assert!(webgpu_minimum.contains(&MatmulTiles::subgroup(8)));
        // Without subgroup operations, only the portable kernels.
        let portable = candidates(u32::MAX, false);
        assert_eq!(portable.len(), MatmulTiles::ALL.len() - 3);
        assert!(portable.iter().all(|t| !t.subgroups));
        assert!(webgpu_minimum
            .iter()
            .all(|t| t.workgroup_bytes() <= 16 << 10));
    }

    #[test]
    fn defaults_follow_the_device_kind_and_the_product_size() {
        let gpu = DeviceKind::DiscreteGpu;
        let (small, large) = (MatmulTiles::new(4, 4, 16), MatmulTiles::new(8, 8, 8));
        assert_eq!(default_tiles(1024, 1024, 1, gpu, 16 << 10), small);
        assert_eq!(default_tiles(4096, 4096, 1, gpu, 16 << 10), large);
        assert_eq!(default_tiles(256, 256, 1, DeviceKind::Cpu, 16 << 10), large);
        assert_eq!(default_tiles(64, 256, 1, DeviceKind::Cpu, 16 << 10), small);
        // A device below WebGPU's minimum gets the smallest shape there is.
        let tiny = default_tiles(4096, 4096, 1, gpu, 8 << 10);
        assert!(!tiny.subgroups);
        assert!(MatmulTiles::ALL
            .iter()
            .all(|t| t.workgroup_bytes() >= tiny.workgroup_bytes()));
    }

    #[test]
    fn the_fastest_finite_timing_wins_and_ties_go_to_the_first() {
        let (a, b) = (MatmulTiles::new(4, 4, 16), MatmulTiles::new(8, 8, 8));
        assert_eq!(fastest(64, &[(a, 2.0), (b, 1.0)]).map(|c| c.tiles), Some(b));
        assert_eq!(fastest(64, &[(a, 1.0), (b, 1.0)]).map(|c| c.tiles), Some(a));
        assert_eq!(
            fastest(64, &[(a, f64::NAN), (b, 3.0)]).map(|c| c.tiles),
            Some(b)
        );
        assert_eq!(fastest(64, &[]), None);
    }

    #[test]
    fn a_subgroup_winner_keeps_the_fastest_portable_shape_for_the_products_it_cannot_take() {
        let (a, b, sg) = (
            MatmulTiles::new(4, 4, 16),
            MatmulTiles::new(8, 8, 8),
            MatmulTiles::subgroup(8),
        );
        let won = fastest(1024, &[(a, 3.0), (sg, 1.0), (b, 2.0)]).unwrap();
        assert_eq!((won.tiles, won.portable), (sg, Some(b)));
        let portable_won = fastest(1024, &[(a, 3.0), (sg, 2.0), (b, 1.0)]).unwrap();
        assert_eq!((portable_won.tiles, portable_won.portable), (b, None));
        let t = MatmulTuning {
            adapter: "test".into(),
            choices: vec![won, fastest(64, &[(a, 1.0), (sg, 2.0)]).unwrap()],
        };
        assert_eq!(t.pick(1024 * 1024), Some(sg));
        assert_eq!(t.pick_portable(1024 * 1024), Some(b));
        assert_eq!(t.pick_portable(64 * 64), Some(a));
        // Only subgroup shapes measured: nothing portable to fall back on.
        let only = fastest(64, &[(sg, 1.0)]).unwrap();
        assert_eq!(only.portable, None);
    }

    #[test]
    fn packed_float16_runs_a_subgroup_shape_only_where_the_caller_fixed_it() {
        let gpu = |subgroups, shader_f16| AdapterReport {
            name: "test".into(),
            backend: "vulkan".into(),
            device_type: DeviceKind::DiscreteGpu,
            driver: String::new(),
            shader_f16,
            timestamp_query: false,
            mappable_primary_buffers: false,
            subgroups,
            max_buffer_size: 1 << 30,
            max_storage_buffer_binding_size: 1 << 30,
            max_workgroup_storage_bytes: 32768,
        };
        let (both, no_f16, no_subgroups) = (gpu(true, true), gpu(true, false), gpu(false, true));
        for fixed in [false, true] {
            for dtype in [DType::F32, DType::BF16, DType::F16] {
                assert!(
                    subgroups_allowed(&both, 128, dtype, fixed),
                    "{dtype} {fixed}"
                );
                assert!(
                    !subgroups_allowed(&both, 130, dtype, fixed),
                    "{dtype} {fixed}"
                );
                assert!(!subgroups_allowed(&no_subgroups, 128, dtype, fixed));
            }
            assert!(!subgroups_allowed(&both, 128, DType::I32, fixed));
            assert!(subgroups_allowed(&no_f16, 128, DType::F32, fixed));
            assert!(subgroups_allowed(&no_f16, 128, DType::BF16, fixed));
        }
        // float16 packed two to a word: the portable kernels, unless fixed.
        assert!(!subgroups_allowed(&no_f16, 128, DType::F16, false));
        assert!(subgroups_allowed(&no_f16, 128, DType::F16, true));
    }
}
