//! The cast golden vectors (`tests/golden/casts.txt`): edge cases and seeded random inputs with
//! the bits IEEE round-to-nearest-even gives, as the `half` crate computes them. One file, read by
//! the native tests, the Chromium wasm tests and the JS tests.
#![allow(dead_code)]

use super::Rng;

/// Expected outputs for one float32 input (bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct F32Case {
    pub input: u32,
    pub f16: u16,
    pub bf16: u16,
    pub i32: i32,
}

/// Expected outputs for one int32 input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct I32Case {
    pub input: i32,
    pub f32: u32,
    pub f16: u16,
    pub bf16: u16,
}

pub const FILE: &str = include_str!("../golden/casts.txt");

pub fn parse(text: &str) -> (Vec<F32Case>, Vec<I32Case>) {
    let (mut floats, mut ints) = (Vec::new(), Vec::new());
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let hex = |s: &str| u32::from_str_radix(s, 16).expect("hex");
        match f[0] {
            "f32" => floats.push(F32Case {
                input: hex(f[1]),
                f16: hex(f[2]) as u16,
                bf16: hex(f[3]) as u16,
                i32: f[4].parse().expect("i32"),
            }),
            "i32" => ints.push(I32Case {
                input: f[1].parse().expect("i32"),
                f32: hex(f[2]),
                f16: hex(f[3]) as u16,
                bf16: hex(f[4]) as u16,
            }),
            other => panic!("unknown golden line kind {other}"),
        }
    }
    (floats, ints)
}

/// The inputs: edge cases, then 4,000 seeded random float32 bit patterns and 2,000 int32s.
pub fn inputs() -> (Vec<u32>, Vec<i32>) {
    let mut floats: Vec<u32> = vec![
        0x0000_0000,
        0x8000_0000, // ±0
        0x0000_0001,
        0x8000_0001,
        0x007f_ffff,
        0x0080_0000, // f32 subnormals, smallest normal
        0x3f80_0000,
        0xbf80_0000,
        0x3f00_0000,
        0x3fc0_0000,
        0xbfc0_0000,
        0x4020_0000, // ±1, .5, ±1.5, 2.5
        0xbf66_6666,
        0x47f1_2065, // -0.9, 123456.79
        0x477f_e000,
        0x477f_efff,
        0x477f_f000,
        0x477f_f001,
        0x4780_0000,
        0xc77f_e000, // around f16 max
        0x7f80_0000,
        0xff80_0000,
        0x7f7f_ffff,
        0xff7f_ffff, // ±Inf, ±f32 max
        0x7fc0_0000,
        0xffc0_0000,
        0x7f80_0001,
        0x7fa1_2345,
        0xff81_0000, // NaNs, quiet and signalling
        0x3380_0000,
        0x3300_0000,
        0x3300_0001,
        0x3340_0000,
        0x3840_0000,
        0x387f_c000,
        0x3880_0000, // f16 subnormals
        0x337f_ffff,
        0x3380_0001,
        0x3400_0000,
        0x38ff_e000,
        0x3f80_1000,
        0x3f80_3000,
        0x3f80_1001,
        0x3f80_0fff, // f16 ties
        0x3f80_8000,
        0x3f81_8000,
        0x3f80_8001,
        0x3f80_7fff,
        0x7f7f_8000, // bf16 ties, bf16 overflow
        0x4f00_0000,
        0xcf00_0000,
        0x4eff_ffff,
        0xceff_ffff,
        0x4f80_0000,
        0xcf80_0000, // i32 limits
        0x0040_0000,
        0x0001_0000,
        0x8040_0000, // subnormal bf16 rounding
    ];
    let mut rng = Rng::new(0x0007_4a74);
    for k in 0..4000 {
        let bits = rng.next_u64() as u32;
        floats.push(if k % 2 == 0 {
            bits
        } else {
            // Exponents 90..170: the f16 range, its subnormals, and int32 magnitudes.
            (bits & 0x807f_ffff) | ((90 + (bits >> 8) % 80) << 23)
        });
    }
    let mut ints: Vec<i32> = vec![
        0,
        1,
        -1,
        2047,
        2048,
        2049,
        2050,
        2051,
        -2049,
        65504,
        65519,
        65520,
        65535,
        65536,
        -65520,
        i32::MAX,
        i32::MIN,
        i32::MIN + 1,
        16_777_216,
        16_777_217,
        16_777_219,
        -16_777_217,
        257,
        259,
        -257,
        0x4040_0001,
        (1 << 30) + (1 << 22) + 1,
        (1 << 30) + (1 << 22),
        1 << 30,
    ];
    for _ in 0..2000 {
        let bits = rng.next_u64();
        ints.push(
            ((bits as u32) >> ((bits >> 40) % 32)) as i32 * if bits >> 63 == 1 { -1 } else { 1 },
        );
    }
    (floats, ints)
}

/// bfloat16 nearest-even to an integer, by comparing with its two neighbours exactly in f64 (an
/// oracle independent of the library's rounding code).
pub fn bf16_oracle(v: i32) -> u16 {
    let x = v as f64;
    let down = half::bf16::from_f32(x as f32);
    // `x as f32` may already have rounded; step to the bf16 values around the exact integer.
    let mut lo = down;
    while (lo.to_f64()).abs() > x.abs() {
        lo = half::bf16::from_bits(lo.to_bits() - 1);
    }
    let hi = half::bf16::from_bits(lo.to_bits() + 1);
    let (dl, dh) = ((x.abs() - lo.to_f64().abs()), (hi.to_f64().abs() - x.abs()));
    let pick = if dl < dh || (dl == dh && lo.to_bits() & 1 == 0) {
        lo
    } else {
        hi
    };
    pick.to_bits()
}

/// What the half crate (and Rust's `as` for int32) says for each input.
pub fn expected(floats: &[u32], ints: &[i32]) -> (Vec<F32Case>, Vec<I32Case>) {
    let f = floats
        .iter()
        .map(|&input| {
            let x = f32::from_bits(input);
            F32Case {
                input,
                f16: half::f16::from_f32(x).to_bits(),
                bf16: half::bf16::from_f32(x).to_bits(),
                i32: x as i32,
            }
        })
        .collect();
    let i = ints
        .iter()
        .map(|&input| I32Case {
            input,
            f32: (input as f32).to_bits(),
            // Exact: every int32 below 2^24 is an f32, and anything larger overflows f16 anyway.
            f16: half::f16::from_f32(input as f32).to_bits(),
            bf16: bf16_oracle(input),
        })
        .collect();
    (f, i)
}

pub fn render(floats: &[F32Case], ints: &[I32Case]) -> String {
    let mut out = String::from(
        "# tmath cast golden vectors. Regenerate: cargo test --test precision -- --ignored regenerate\n\
         # f32 <input bits> <float16 bits> <bfloat16 bits> <int32>\n\
         # i32 <input> <float32 bits> <float16 bits> <bfloat16 bits>\n",
    );
    for c in floats {
        out += &format!(
            "f32 {:08x} {:04x} {:04x} {}\n",
            c.input, c.f16, c.bf16, c.i32
        );
    }
    for c in ints {
        out += &format!(
            "i32 {} {:08x} {:04x} {:04x}\n",
            c.input, c.f32, c.f16, c.bf16
        );
    }
    out
}
