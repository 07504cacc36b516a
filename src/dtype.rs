//! Tensor element types and the precision names users write for them.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// The element type of a tensor. 16-bit types are stored packed, two bytes per element.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// IEEE binary32 (`float32`, `f32`).
    F32,
    /// IEEE binary16 (`float16`, `f16`, `half`).
    F16,
    /// bfloat16 (`bfloat16`, `bf16`).
    BF16,
    /// Two's-complement 32-bit integers (`int32`, `i32`).
    I32,
}

/// The names [`DType::from_str`] accepts, for error messages.
pub const ACCEPTED_NAMES: &str = "float32 (f32), float16 (f16, half), bfloat16 (bf16), int32 (i32)";

impl DType {
    /// Every tensor dtype.
    pub const ALL: [DType; 4] = [DType::F32, DType::F16, DType::BF16, DType::I32];

    /// The canonical name (`"float32"`, `"float16"`, `"bfloat16"`, `"int32"`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::I32 => "int32",
        }
    }

    /// Bytes per element.
    pub fn size_bytes(self) -> u64 {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 => 2,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = Error;

    /// Parse a dtype or precision name, aliases included, case-insensitively.
    fn from_str(name: &str) -> Result<DType> {
        match name.trim().to_ascii_lowercase().as_str() {
            "float32" | "f32" => Ok(DType::F32),
            "float16" | "f16" | "half" => Ok(DType::F16),
            "bfloat16" | "bf16" => Ok(DType::BF16),
            "int32" | "i32" => Ok(DType::I32),
            "int64" | "i64" => Err(Error::UnsupportedDtype {
                name: name.to_owned(),
                reason: format!(
                    "int64 is accepted only as input data (it becomes int32 when every value fits); tensor dtypes are {ACCEPTED_NAMES}"
                ),
            }),
            _ => Err(Error::UnsupportedDtype {
                name: name.to_owned(),
                reason: format!("accepted names are {ACCEPTED_NAMES}"),
            }),
        }
    }
}

/// Host data handed to [`crate::Engine::to_device`], borrowed. The variant is the data's own
/// element type; the tensor's dtype may differ (then the data is converted, and counted).
#[derive(Clone, Copy, Debug)]
pub enum HostData<'a> {
    /// `float32` values.
    F32(&'a [f32]),
    /// `float16` values.
    F16(&'a [half::f16]),
    /// `bfloat16` values.
    BF16(&'a [half::bf16]),
    /// `int32` values.
    I32(&'a [i32]),
    /// `int64` values: accepted as input only; they become `int32` if every value fits.
    I64(&'a [i64]),
    /// Untyped numbers (JS plain arrays): the target dtype is the engine's precision unless given.
    F64(&'a [f64]),
    /// Raw little-endian bytes of the given dtype (packed for 16-bit types).
    Bytes(&'a [u8], DType),
}

impl HostData<'_> {
    /// Element count.
    pub fn len(&self) -> u64 {
        (match self {
            HostData::F32(d) => d.len(),
            HostData::F16(d) => d.len(),
            HostData::BF16(d) => d.len(),
            HostData::I32(d) => d.len(),
            HostData::I64(d) => d.len(),
            HostData::F64(d) => d.len(),
            HostData::Bytes(b, dtype) => b.len() / dtype.size_bytes() as usize,
        }) as u64
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The data's own dtype, if it is a tensor dtype.
    pub fn dtype(&self) -> Option<DType> {
        match self {
            HostData::F32(_) => Some(DType::F32),
            HostData::F16(_) => Some(DType::F16),
            HostData::BF16(_) => Some(DType::BF16),
            HostData::I32(_) => Some(DType::I32),
            HostData::Bytes(_, dtype) => Some(*dtype),
            HostData::I64(_) | HostData::F64(_) => None,
        }
    }

    /// The data's element type name, as recorded in the transfer ledger.
    pub fn type_name(&self) -> &'static str {
        match self {
            HostData::I64(_) => "int64",
            HostData::F64(_) => "number",
            other => other.dtype().map_or("bytes", DType::name),
        }
    }

    /// The dtype a tensor made from this data gets when the caller names none: the data's own,
    /// `int32` for `int64`, `default` for untyped numbers.
    pub fn default_target(&self, default: DType) -> DType {
        match self {
            HostData::I64(_) => DType::I32,
            HostData::F64(_) => default,
            other => other.dtype().unwrap_or(default),
        }
    }

    /// The data as `target`'s packed bytes: borrowed when no conversion is needed, else converted
    /// on the host, bit-exact (IEEE round-to-nearest-even; see [`narrow_f64`] and the `half`
    /// crate). `int64` is checked to fit `int32`; untyped numbers bound for `int32` must be
    /// integers in range. Nothing is converted twice.
    pub fn encode(&self, target: DType) -> Result<std::borrow::Cow<'_, [u8]>> {
        use std::borrow::Cow;
        if self.dtype() == Some(target) {
            return Ok(Cow::Borrowed(match self {
                HostData::F32(d) => bytemuck::cast_slice(d),
                HostData::F16(d) => bytemuck::cast_slice(d),
                HostData::BF16(d) => bytemuck::cast_slice(d),
                HostData::I32(d) => bytemuck::cast_slice(d),
                HostData::Bytes(b, _) => b,
                HostData::I64(_) | HostData::F64(_) => unreachable!("no tensor dtype"),
            }));
        }
        let mut out = Vec::with_capacity(self.len() as usize * target.size_bytes() as usize);
        match *self {
            HostData::I64(d) => {
                for (i, &v) in d.iter().enumerate() {
                    push_from_i32(&mut out, narrow_i64(v, i as u64)?, target);
                }
            }
            HostData::F64(d) => {
                for (i, &v) in d.iter().enumerate() {
                    push_from_f64(&mut out, v, target).map_err(|_| Error::ValueOutOfRange {
                        reason: format!(
                            "value {v} at index {i} is not an int32 (integers in {}..={} only)",
                            i32::MIN,
                            i32::MAX
                        ),
                    })?;
                }
            }
            HostData::I32(d) => d.iter().for_each(|&v| push_from_i32(&mut out, v, target)),
            HostData::F32(d) => d
                .iter()
                .for_each(|&v| push_from_f32_bits(&mut out, v.to_bits(), target)),
            HostData::F16(d) => d
                .iter()
                .for_each(|&v| push_from_f32_bits(&mut out, v.to_f32().to_bits(), target)),
            HostData::BF16(d) => d
                .iter()
                .for_each(|&v| push_from_f32_bits(&mut out, v.to_f32().to_bits(), target)),
            HostData::Bytes(b, dtype) => match dtype {
                DType::F32 => b.chunks_exact(4).for_each(|w| {
                    if let &[a, b, c, d] = w {
                        push_from_f32_bits(&mut out, u32::from_le_bytes([a, b, c, d]), target)
                    }
                }),
                DType::I32 => b.chunks_exact(4).for_each(|w| {
                    if let &[a, b, c, d] = w {
                        push_from_i32(&mut out, i32::from_le_bytes([a, b, c, d]), target)
                    }
                }),
                DType::F16 => b.chunks_exact(2).for_each(|h| {
                    if let &[a, b] = h {
                        let v = half::f16::from_bits(u16::from_le_bytes([a, b]));
                        push_from_f32_bits(&mut out, v.to_f32().to_bits(), target)
                    }
                }),
                DType::BF16 => b.chunks_exact(2).for_each(|h| {
                    if let &[a, b] = h {
                        let v = half::bf16::from_bits(u16::from_le_bytes([a, b]));
                        push_from_f32_bits(&mut out, v.to_f32().to_bits(), target)
                    }
                }),
            },
        }
        Ok(Cow::Owned(out))
    }
}

macro_rules! host_data_from {
    ($($t:ty => $variant:ident),*) => {$(
        impl<'a> From<&'a [$t]> for HostData<'a> {
            fn from(data: &'a [$t]) -> Self {
                HostData::$variant(data)
            }
        }
        impl<'a> From<&'a Vec<$t>> for HostData<'a> {
            fn from(data: &'a Vec<$t>) -> Self {
                HostData::$variant(data)
            }
        }
        impl<'a, const N: usize> From<&'a [$t; N]> for HostData<'a> {
            fn from(data: &'a [$t; N]) -> Self {
                HostData::$variant(data)
            }
        }
    )*};
}

host_data_from!(f32 => F32, half::f16 => F16, half::bf16 => BF16, i32 => I32, i64 => I64, f64 => F64);

/// The router's rule for `int64` data: element `index`, `v`, as `int32`, or `ValueOutOfRange`.
pub(crate) fn narrow_i64(v: i64, index: u64) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::ValueOutOfRange {
        reason: format!(
            "int64 value {v} at index {index} does not fit int32 ({}..={}); int64 data becomes int32 only if every value fits",
            i32::MIN,
            i32::MAX
        ),
    })
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn push_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// f32 (given as bits, so NaN payloads survive) to `target`, as the GPU casts do.
fn push_from_f32_bits(out: &mut Vec<u8>, bits: u32, target: DType) {
    let x = f32::from_bits(bits);
    match target {
        DType::F32 => push_u32(out, bits),
        DType::F16 => push_u16(out, half::f16::from_f32(x).to_bits()),
        DType::BF16 => push_u16(out, half::bf16::from_f32(x).to_bits()),
        // Truncates toward zero and saturates; NaN becomes 0 (Rust's `as`, and the GPU kernel's).
        DType::I32 => push_u32(out, (x as i32) as u32),
    }
}

fn push_from_i32(out: &mut Vec<u8>, v: i32, target: DType) {
    match target {
        DType::F32 => push_u32(out, (v as f32).to_bits()),
        // Rounded once, from the exact integer (via f64, which holds every i32 exactly).
        DType::F16 => push_u16(out, narrow_f64(v as f64, Narrow::F16)),
        DType::BF16 => push_u16(out, narrow_f64(v as f64, Narrow::BF16)),
        DType::I32 => push_u32(out, v as u32),
    }
}

fn push_from_f64(out: &mut Vec<u8>, v: f64, target: DType) -> std::result::Result<(), ()> {
    match target {
        DType::F32 => push_u32(out, (v as f32).to_bits()),
        DType::F16 => push_u16(out, narrow_f64(v, Narrow::F16)),
        DType::BF16 => push_u16(out, narrow_f64(v, Narrow::BF16)),
        DType::I32 => {
            if v.fract() != 0.0 || !(i32::MIN as f64..=i32::MAX as f64).contains(&v) {
                return Err(());
            }
            push_u32(out, (v as i32) as u32)
        }
    }
    Ok(())
}

/// A 16-bit float format [`narrow_f64`] rounds to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Narrow {
    /// IEEE binary16: 5 exponent bits, 10 mantissa bits.
    F16,
    /// bfloat16: 8 exponent bits, 7 mantissa bits.
    BF16,
}

/// Round an `f64` to a 16-bit float's bits, once, to nearest with ties to even: subnormals kept,
/// overflow to ±Inf, ±0 kept, NaN stays a quiet NaN. (`half`'s own `from_f64` drops the low 32
/// mantissa bits first, which can round ties wrongly; this does not.)
pub fn narrow_f64(x: f64, format: Narrow) -> u16 {
    let (e_bits, m_bits) = match format {
        Narrow::F16 => (5u32, 10u32),
        Narrow::BF16 => (8, 7),
    };
    let bits = x.to_bits();
    let sign = ((bits >> 63) as u32) << (e_bits + m_bits);
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let man = bits & ((1u64 << 52) - 1);
    let max_exp = (1u32 << e_bits) - 1;
    let inf = sign | (max_exp << m_bits);
    if exp == 0x7ff {
        return if man == 0 {
            inf as u16
        } else {
            (inf | (1 << (m_bits - 1)) | (man >> (52 - m_bits)) as u32) as u16
        };
    }
    if exp == 0 {
        // f64 zeros and subnormals are far below any 16-bit subnormal.
        return sign as u16;
    }
    let bias = (1i32 << (e_bits - 1)) - 1;
    let target_exp = exp - 1023 + bias;
    if target_exp >= max_exp as i32 {
        return inf as u16;
    }
    let sig = (1u64 << 52) | man;
    let shift = (52 - m_bits as i32) + if target_exp >= 1 { 0 } else { 1 - target_exp };
    if shift >= 54 {
        return sign as u16; // below half the smallest subnormal
    }
    let kept = sig >> shift;
    let rest = sig & ((1u64 << shift) - 1);
    let halfway = 1u64 << (shift - 1);
    let rounded = kept + u64::from(rest > halfway || (rest == halfway && kept & 1 == 1));
    // Adding the significand to (exponent - 1) lets a carry out of the mantissa bump the exponent;
    // subnormals have exponent field 0 and may round up into the smallest normal the same way.
    let magnitude = if target_exp >= 1 {
        (((target_exp - 1) as u64) << m_bits) + rounded
    } else {
        rounded
    };
    if magnitude >= u64::from(max_exp) << m_bits {
        return inf as u16;
    }
    (sign | magnitude as u32) as u16
}

/// Whether two precision names mean the same dtype (`"half"` matches `"float16"`). The one place
/// that decides it; unknown names are `UnsupportedDtype`.
pub fn precision_matches(a: &str, b: &str) -> Result<bool> {
    Ok(a.parse::<DType>()? == b.parse::<DType>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        for (name, dtype) in [
            ("float32", DType::F32),
            ("F32", DType::F32),
            ("half", DType::F16),
            ("f16", DType::F16),
            ("bf16", DType::BF16),
            ("bfloat16", DType::BF16),
            ("i32", DType::I32),
        ] {
            assert_eq!(name.parse::<DType>().unwrap(), dtype, "{name}");
        }
        assert!(precision_matches("half", "float16").unwrap());
        assert!(!precision_matches("bf16", "float16").unwrap());
        assert_eq!(
            "float64".parse::<DType>().unwrap_err().code(),
            "UnsupportedDtype"
        );
        assert_eq!(
            "int64".parse::<DType>().unwrap_err().code(),
            "UnsupportedDtype"
        );
        assert_eq!(
            precision_matches("x", "f32").unwrap_err().code(),
            "UnsupportedDtype"
        );
    }
}
