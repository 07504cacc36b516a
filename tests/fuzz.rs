//! Seeded fuzzing of what users hand tmath before any GPU work: shapes (as JS numbers and as
//! integers), broadcasting, dtype names, host data conversion, and the pool policy driven by
//! arbitrary byte strings. Each target is a `fn(&[u8])` in the shape of a `cargo fuzz` target;
//! `cargo fuzz` needs a nightly toolchain and libFuzzer that CI does not install, so a seeded
//! generator feeds them here: 20,000 inputs per target, edge values mixed in, in about a second.
//! The property in every case: no panic, and the result agrees with a plain restatement of the
//! rule. `TMATH_FUZZ_CASES` raises the count for a longer local run.

mod common;

use common::Rng;
use tmath::ops::broadcast_shapes;
use tmath::pool::policy::{BufferId, BufferKind, PolicyError, PoolConfig, PoolPolicy};
use tmath::{DType, HostData, Shape};

fn cases() -> u64 {
    std::env::var("TMATH_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}

/// Random bytes of random length, for the byte-driven targets.
fn inputs(seed: u64) -> impl Iterator<Item = Vec<u8>> {
    let mut rng = Rng::new(seed);
    (0..cases()).map(move |_| {
        let len = rng.range(0, 96) as usize;
        (0..len).map(|_| rng.next_u64() as u8).collect()
    })
}

/// Reads numbers out of fuzz bytes, with edge values over-represented.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u64(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for _ in 0..8 {
            v = v << 8 | self.byte()? as u64;
        }
        Some(v)
    }

    fn dim_f64(&mut self) -> Option<f64> {
        const EDGES: [f64; 12] = [
            0.0,
            -0.0,
            -1.0,
            0.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9007199254740991.0,
            9007199254740992.0,
            4294967296.0,
            1e300,
            f64::MIN_POSITIVE,
        ];
        Some(match self.byte()? % 4 {
            0 => EDGES[self.byte()? as usize % EDGES.len()],
            1 => f64::from_bits(self.u64()?),
            _ => (self.byte()? % 9) as f64,
        })
    }
}

fn fuzz_shape_from_f64(data: &[u8]) {
    let mut b = Bytes(data);
    let mut dims = Vec::new();
    while let Some(d) = b.dim_f64() {
        dims.push(d);
    }
    let valid_dims = dims
        .iter()
        .all(|&d| d.is_finite() && d >= 1.0 && d.fract() == 0.0 && d < 9007199254740992.0);
    let product = dims.iter().try_fold(1u64, |acc, &d| {
        acc.checked_mul(d as u64).filter(|&n| n < 1 << 53)
    });
    match Shape::from_f64(&dims) {
        Ok(shape) => {
            assert!(valid_dims, "{dims:?} accepted");
            assert_eq!(Some(shape.elements()), product, "{dims:?}");
            assert_eq!(shape.rank(), dims.len());
        }
        Err(e) => {
            assert_eq!(e.code(), "InvalidShape", "{dims:?}: {e}");
            assert!(!valid_dims || product.is_none(), "{dims:?} refused: {e}");
        }
    }
}

fn fuzz_broadcast(data: &[u8]) {
    let mut b = Bytes(data);
    let mut side = || -> Vec<usize> {
        let rank = b.byte().unwrap_or(0) % 5;
        (0..rank)
            .map(|_| [1, 2, 3, 4][b.byte().unwrap_or(0) as usize % 4])
            .collect()
    };
    let (a, c) = (side(), side());
    let (sa, sc) = (Shape::new(&a).unwrap(), Shape::new(&c).unwrap());
    // NumPy's rule, restated: align from the right; each pair equal or one of them 1.
    let rank = a.len().max(c.len());
    let at = |s: &[usize], i: usize| {
        if i < rank - s.len() {
            1
        } else {
            s[i - (rank - s.len())]
        }
    };
    let want: Option<Vec<usize>> = (0..rank)
        .map(|i| match (at(&a, i), at(&c, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect();
    match (broadcast_shapes(&sa, &sc), want) {
        (Ok(got), Some(want)) => assert_eq!(got.dims(), &want[..], "{a:?} {c:?}"),
        (Err(e), None) => assert_eq!(e.code(), "InvalidShape"),
        (got, want) => panic!("{a:?} with {c:?}: {got:?}, wanted {want:?}"),
    }
    // Symmetric.
    assert_eq!(
        broadcast_shapes(&sa, &sc).ok(),
        broadcast_shapes(&sc, &sa).ok()
    );
}

fn fuzz_dtype_name(data: &[u8]) {
    let name = String::from_utf8_lossy(data);
    let known = |n: &str| {
        matches!(
            n.trim().to_ascii_lowercase().as_str(),
            "float32" | "f32" | "float16" | "f16" | "half" | "bfloat16" | "bf16" | "int32" | "i32"
        )
    };
    match name.parse::<DType>() {
        Ok(dtype) => {
            assert!(known(&name), "{name:?} accepted");
            assert_eq!(dtype.name().parse::<DType>().ok(), Some(dtype));
        }
        Err(e) => {
            assert!(!known(&name));
            assert_eq!(e.code(), "UnsupportedDtype");
        }
    }
}

fn fuzz_host_conversion(data: &[u8]) {
    let mut b = Bytes(data);
    let mut values = Vec::new();
    while let Some(v) = b.dim_f64() {
        values.push(if values.len() % 2 == 0 { v } else { -v });
    }
    let host = HostData::F64(&values);
    for target in [DType::F32, DType::F16, DType::BF16, DType::I32] {
        match host.encode(target) {
            Ok(bytes) => {
                assert_eq!(
                    bytes.len() as u64,
                    values.len() as u64 * target.size_bytes()
                );
                if target == DType::I32 {
                    for (chunk, &v) in bytes.chunks(4).zip(&values) {
                        let got = i32::from_le_bytes(chunk.try_into().unwrap());
                        assert_eq!(got as f64, v, "{v} became {got}");
                    }
                }
            }
            Err(e) => {
                assert_eq!(target, DType::I32, "{target}: {e}");
                assert_eq!(e.code(), "ValueOutOfRange");
                assert!(values.iter().any(|&v| v.fract() != 0.0
                    || !(i32::MIN as f64..=i32::MAX as f64).contains(&v)
                    || v.is_nan()));
            }
        }
    }
    let ints: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    let fits = ints.iter().all(|&v| i32::try_from(v).is_ok());
    match HostData::I64(&ints).encode(DType::I32) {
        Ok(_) => assert!(fits),
        Err(e) => assert!(!fits && e.code() == "ValueOutOfRange"),
    }
}

/// The pool policy driven by bytes: each 3-byte command takes or returns a buffer; the policy's
/// invariants hold after every step, under a config the first bytes choose.
fn fuzz_pool_policy(data: &[u8]) {
    let mut b = Bytes(data);
    let config = PoolConfig {
        min_class_bytes: [4, 256, 1000][b.byte().unwrap_or(0) as usize % 3],
        max_per_class: b.byte().unwrap_or(3) as usize % 5,
        budget_bytes: [0, 4096, 1 << 20, u64::MAX][b.byte().unwrap_or(0) as usize % 4],
        max_reuse_factor: b.byte().unwrap_or(0) as u64 % 4,
        max_buffer_bytes: 1 << 20,
        memory_limit_bytes: [u64::MAX, 64 << 10, 2 << 20][b.byte().unwrap_or(0) as usize % 3],
    };
    let mut policy = PoolPolicy::new(config);
    let mut live: Vec<BufferId> = Vec::new();
    while let (Some(op), Some(hi), Some(lo)) = (b.byte(), b.byte(), b.byte()) {
        let n = (hi as u64) << 8 | lo as u64;
        match op % 4 {
            0 | 1 => {
                let bytes = n * [1, 16, 64][op as usize / 4 % 3];
                let kind = [
                    BufferKind::Storage,
                    BufferKind::Readback,
                    BufferKind::Upload,
                ][op as usize / 16 % 3];
                match policy.acquire(bytes, kind) {
                    Ok(decision) => {
                        assert!(decision.bytes() >= bytes);
                        assert!(!live.contains(&decision.id()));
                        live.push(decision.id());
                    }
                    Err(PolicyError::TooLarge { .. }) => assert!(bytes > 1 << 20),
                    Err(PolicyError::OverMemoryLimit { .. }) => {}
                    Err(other) => panic!("{other}"),
                }
            }
            2 if !live.is_empty() => {
                let id = live.swap_remove(n as usize % live.len());
                policy.release(id).unwrap();
                // Idle (AlreadyReturned) or already destroyed by the cap or budget (NotFromPool).
                let stats = policy.stats();
                assert!(policy.release(id).is_err());
                assert_eq!(policy.stats(), stats);
            }
            _ => {
                policy.trim(n);
                assert!(policy.stats().bytes_cached <= n);
            }
        }
        for id in policy.take_evicted() {
            assert!(!live.contains(&id), "evicted a buffer in use");
        }
        if let Err(broken) = policy.check_invariants() {
            panic!("{broken}");
        }
    }
}

#[test]
fn shapes_from_js_numbers() {
    inputs(1).for_each(|d| fuzz_shape_from_f64(&d));
}

#[test]
fn broadcasting() {
    inputs(2).for_each(|d| fuzz_broadcast(&d));
}

#[test]
fn dtype_names() {
    let corpus = [
        "float32", " F16 ", "BFLOAT16", "int64", "i32\0", "ｆ32", "float",
    ];
    corpus.iter().for_each(|n| fuzz_dtype_name(n.as_bytes()));
    inputs(3).for_each(|d| fuzz_dtype_name(&d));
}

#[test]
fn host_data_conversion() {
    inputs(4).for_each(|d| fuzz_host_conversion(&d));
}

#[test]
fn pool_policy_from_bytes() {
    inputs(5).for_each(|d| fuzz_pool_policy(&d));
}
