//! Tensor shapes with checked element counts.

use crate::dtype::DType;
use crate::error::{Error, Result};
use std::fmt;

/// A tensor shape: every dimension at least 1, element count known not to overflow. A scalar
/// has the empty shape `[]` and one element.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: Vec<usize>,
    elements: u64,
}

impl Shape {
    /// Check `dims`: no zero dimension, element count within `u64` (and a 2^53 safe-integer
    /// bound, so JS sees exact numbers).
    pub fn new(dims: &[usize]) -> Result<Shape> {
        let mut elements: u64 = 1;
        for (axis, &d) in dims.iter().enumerate() {
            if d == 0 {
                return Err(Error::invalid_shape(format!(
                    "dimension {axis} of {dims:?} is 0; tensors need at least one element per dimension"
                )));
            }
            elements = elements
                .checked_mul(d as u64)
                .filter(|&n| n <= MAX_SAFE_INTEGER)
                .ok_or_else(|| {
                    Error::invalid_shape(format!(
                        "{dims:?} has more than 2^53 elements; no device holds that"
                    ))
                })?;
        }
        Ok(Shape {
            dims: dims.to_vec(),
            elements,
        })
    }

    /// Check dimensions given as JS numbers: each a finite non-negative integer.
    pub fn from_f64(dims: &[f64]) -> Result<Shape> {
        let mut out = Vec::with_capacity(dims.len());
        for (axis, &d) in dims.iter().enumerate() {
            if !(d.is_finite() && d >= 0.0 && d.fract() == 0.0 && d <= MAX_SAFE_INTEGER as f64) {
                return Err(Error::invalid_shape(format!(
                    "dimension {axis} of {dims:?} is {d}; dimensions must be positive integers"
                )));
            }
            // On wasm32 `usize` is 32 bits: a larger dimension must not wrap or saturate.
            let d = usize::try_from(d as u64).map_err(|_| {
                Error::invalid_shape(format!(
                    "dimension {axis} of {dims:?} is {d}; this build indexes at most {} elements per dimension",
                    usize::MAX
                ))
            })?;
            out.push(d);
        }
        Shape::new(&out)
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    /// Number of elements.
    pub fn elements(&self) -> u64 {
        self.elements
    }
}

const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Bytes a tensor of `shape` and `dtype` occupies (packed; 16-bit types take 2 bytes each).
pub(crate) fn byte_len(shape: &Shape, dtype: DType) -> Result<u64> {
    shape
        .elements()
        .checked_mul(dtype.size_bytes())
        .ok_or_else(|| Error::invalid_shape(format!("{shape} of {dtype} overflows a byte count")))
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.dims)
    }
}

impl TryFrom<&[usize]> for Shape {
    type Error = Error;
    fn try_from(dims: &[usize]) -> Result<Shape> {
        Shape::new(dims)
    }
}

impl<const N: usize> TryFrom<[usize; N]> for Shape {
    type Error = Error;
    fn try_from(dims: [usize; N]) -> Result<Shape> {
        Shape::new(&dims)
    }
}

impl TryFrom<Vec<usize>> for Shape {
    type Error = Error;
    fn try_from(dims: Vec<usize>) -> Result<Shape> {
        Shape::new(&dims)
    }
}

impl From<&Shape> for Shape {
    fn from(shape: &Shape) -> Shape {
        shape.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_shapes() {
        assert_eq!(Shape::new(&[2, 3, 4]).unwrap().elements(), 24);
        assert_eq!(Shape::new(&[]).unwrap().elements(), 1);
        assert_eq!(Shape::new(&[2, 0]).unwrap_err().code(), "InvalidShape");
        assert_eq!(
            Shape::new(&[usize::MAX, 2]).unwrap_err().code(),
            "InvalidShape"
        );
        assert_eq!(
            Shape::new(&[1 << 27, 1 << 27]).unwrap_err().code(),
            "InvalidShape"
        );
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 1e300] {
            assert_eq!(
                Shape::from_f64(&[bad]).unwrap_err().code(),
                "InvalidShape",
                "{bad}"
            );
        }
        assert_eq!(Shape::from_f64(&[3.0, 5.0]).unwrap().dims(), &[3, 5]);
    }
}
