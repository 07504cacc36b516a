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
