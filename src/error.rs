//! One error type for the whole crate. Every variant carries the context a user needs to act on
//! it, and [`Error::code`] gives the stable code string the JS API exposes as `error.code`.

use std::fmt;

/// Everything that can go wrong in tmath. Operations that return one of these changed nothing:
/// inputs are untouched and every buffer taken for the failed operation is back in the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // variant fields are named for what they hold
pub enum Error {
    /// A shape with a zero, negative, non-integer or overflowing dimension, or shapes that do not
    /// fit together.
    InvalidShape { reason: String },
    /// Data whose element count does not match the shape.
    DataLengthMismatch { expected: u64, got: u64 },
    /// A dtype or precision name tmath does not know, or one not allowed here.
    UnsupportedDtype { name: String, reason: String },
    /// A value that does not fit the target dtype.
    ValueOutOfRange { reason: String },
    /// A request beyond the device's limits.
    TooLarge {
        what: &'static str,
        requested: u64,
        limit: u64,
    },
    /// A tensor used after `dispose()` (or after it went back to the pool).
    Disposed { what: String },
    /// A tensor or buffer that belongs to another engine or device.
    DeviceMismatch { reason: String },
    /// The GPU device was lost; create a new engine (or recover) to go on.
    DeviceLost { reason: String },
    /// The device could not allocate memory, even after the pool freed its idle buffers (or, for
    /// a readback into a new `Vec`, the host allocator refused it).
    OutOfMemory { bytes: u64, reason: String },
    /// No GPU adapter was found.
    NoAdapter { reason: String },
    /// An argument or option of the wrong type or out of its range.
    InvalidArgument { name: String, reason: String },
}

impl Error {
    /// The stable code string (`"InvalidShape"`, `"TooLarge"`, …); the JS API's `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidShape { .. } => "InvalidShape",
            Error::DataLengthMismatch { .. } => "DataLengthMismatch",
            Error::UnsupportedDtype { .. } => "UnsupportedDtype",
            Error::ValueOutOfRange { .. } => "ValueOutOfRange",
            Error::TooLarge { .. } => "TooLarge",
            Error::Disposed { .. } => "Disposed",
            Error::DeviceMismatch { .. } => "DeviceMismatch",
            Error::DeviceLost { .. } => "DeviceLost",
            Error::OutOfMemory { .. } => "OutOfMemory",
            Error::NoAdapter { .. } => "NoAdapter",
            Error::InvalidArgument { .. } => "InvalidArgument",
        }
    }

    pub(crate) fn invalid_shape(reason: impl Into<String>) -> Error {
        Error::InvalidShape {
            reason: reason.into(),
        }
    }

    pub(crate) fn disposed(what: impl Into<String>) -> Error {
        Error::Disposed { what: what.into() }
    }

    pub(crate) fn invalid_argument(name: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            name: name.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidShape { reason } => write!(f, "invalid shape: {reason}"),
            Error::DataLengthMismatch { expected, got } => write!(
                f,
                "data has {got} elements but the shape needs {expected}; pass data of that length or a shape matching the data"
            ),
            Error::UnsupportedDtype { name, reason } => {
                write!(f, "unsupported dtype {name:?}: {reason}")
            }
            Error::ValueOutOfRange { reason } => write!(f, "value out of range: {reason}"),
            Error::TooLarge {
                what,
                requested,
                limit,
            } => write!(
                f,
                "{what} of {requested} bytes exceeds the device limit of {limit} bytes by {} bytes; split the tensor or use an adapter with larger limits",
                requested.saturating_sub(*limit)
            ),
            Error::Disposed { what } => write!(
                f,
                "{what} was disposed (returned to the pool) and cannot be used any more"
            ),
            Error::DeviceMismatch { reason } => write!(f, "device mismatch: {reason}"),
            Error::DeviceLost { reason } => write!(
                f,
                "the GPU device was lost ({reason}); create a new Engine to continue"
            ),
            Error::OutOfMemory { bytes, reason } => write!(
                f,
                "out of memory allocating {bytes} bytes ({reason}); dispose tensors you no longer need or lower the pool budget"
            ),
            Error::NoAdapter { reason } => write!(f, "no GPU adapter: {reason}"),
            Error::InvalidArgument { name, reason } => {
                write!(f, "invalid argument `{name}`: {reason}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<std::convert::Infallible> for Error {
    fn from(never: std::convert::Infallible) -> Error {
        match never {}
    }
}

/// `Result` with tmath's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
