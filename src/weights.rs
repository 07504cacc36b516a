//! The safetensors format's header: an 8-byte little-endian length, then that many bytes of
//! JSON naming each tensor's dtype, shape and byte range in the data that follows. The header
//! is parsed and checked by the `safetensors` crate (its `Metadata`: offsets contiguous from 0,
//! no overlap or gap, sizes matching dtype × shape). Its `SafeTensors::read_metadata` wants the
//! whole file in memory, so tmath reads the header itself and streams the data after it.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::shape::Shape;
use crate::stream::SourceType;
use ::safetensors::tensor::Metadata;
use ::safetensors::Dtype;

/// Bytes of the length prefix.
pub(crate) const PREFIX_BYTES: usize = 8;

/// The largest header tmath reads (the format's own limit).
pub(crate) const MAX_HEADER_BYTES: u64 = 100_000_000;

/// One tensor of a safetensors file, in file order.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub name: String,
    /// The tensor's dtype in tmath (`int32` for `I64` data).
    pub dtype: DType,
    /// How the file's bytes map to it.
    pub source: SourceType,
    pub shape: Shape,
    /// Bytes of this tensor in the file.
    pub bytes: u64,
}

/// The header's length from the file's first 8 bytes.
pub(crate) fn header_len(prefix: &[u8]) -> Result<u64> {
    let prefix: [u8; PREFIX_BYTES] = prefix.try_into().map_err(|_| {
        Error::invalid_argument(
            "header",
            format!(
                "a safetensors file starts with an {PREFIX_BYTES}-byte header length; got {} bytes",
                prefix.len()
            ),
        )
    })?;
    let n = u64::from_le_bytes(prefix);
    if n > MAX_HEADER_BYTES {
        return Err(Error::invalid_argument(
            "header",
            format!("the safetensors header claims {n} bytes; the format allows at most {MAX_HEADER_BYTES}"),
        ));
    }
    Ok(n)
}

/// The tensors a header describes, in file order, and the bytes of data after the header.
pub(crate) fn parse_header(header: &[u8]) -> Result<(Vec<Entry>, u64)> {
    let text = std::str::from_utf8(header).map_err(|e| {
        Error::invalid_argument(
            "header",
            format!("the safetensors header is not UTF-8: {e}"),
        )
    })?;
    let metadata: Metadata = serde_json::from_str(text).map_err(|e| {
        Error::invalid_argument(
            "header",
            format!("the safetensors header is not a valid tensor table: {e}"),
        )
    })?;
    let mut entries = Vec::new();
    for name in metadata.offset_keys() {
        let Some(info) = metadata.info(&name) else {
            continue;
        };
        let (dtype, source) = match info.dtype {
            Dtype::F32 => (DType::F32, SourceType::Same),
            Dtype::F16 => (DType::F16, SourceType::Same),
            Dtype::BF16 => (DType::BF16, SourceType::Same),
            Dtype::I32 => (DType::I32, SourceType::Same),
            Dtype::I64 => (DType::I32, SourceType::Int64),
            other => {
                return Err(Error::UnsupportedDtype {
                    name: format!("{other:?}"),
                    reason: format!(
                        "tensor {name:?} is {other:?}; tmath loads F32, F16, BF16, I32 and I64 (as int32)"
                    ),
                })
            }
        };
        let shape = Shape::new(&info.shape)
            .map_err(|e| Error::invalid_shape(format!("tensor {name:?}: {e}")))?;
        let (begin, end) = info.data_offsets;
        entries.push(Entry {
            name,
            dtype,
            source,
            shape,
            bytes: (end - begin) as u64,
        });
    }
    Ok((entries, metadata.data_len() as u64))
}

impl crate::Engine {
    /// Load a safetensors file from `reader`, streaming each tensor into a pooled buffer in file
    /// order with constant host memory (one chunk of [`crate::EngineConfig::transfer_chunk_bytes`]
    /// read at a time, plus the header). Tensors keep their file dtype (`I64` becomes `int32`
    /// under the router's rule, `ValueOutOfRange` past it); see [`Self::load_safetensors_as`].
    ///
    /// Errors: a header that is not UTF-8 or not a valid tensor table (overlapping offsets,
    /// gaps, sizes not matching dtype × shape) is `InvalidArgument`; a file shorter or longer
    /// than its header says is `DataLengthMismatch`; a dtype tmath does not hold is
    /// `UnsupportedDtype` naming the tensor; a failing reader is `InvalidArgument` with its
    /// error. On any error every buffer taken for the load is back in the pool.
    pub fn load_safetensors(
        &self,
        reader: impl std::io::Read,
    ) -> Result<std::collections::HashMap<String, crate::Tensor>> {
        self.load_safetensors_as(reader, None)
    }

    /// [`Self::load_safetensors`], with every tensor converted on the GPU to `precision` when
    /// given (`prepare_tensor`'s semantics: a tensor already in it is kept as loaded).
    pub fn load_safetensors_as(
        &self,
        mut reader: impl std::io::Read,
        precision: Option<DType>,
    ) -> Result<std::collections::HashMap<String, crate::Tensor>> {
        let mut prefix = [0u8; PREFIX_BYTES];
        let mut got = read_full(&mut reader, &mut prefix)?;
        if got < PREFIX_BYTES {
            return Err(Error::DataLengthMismatch {
                expected: PREFIX_BYTES as u64,
                got: got as u64,
            });
        }
        let n = header_len(&prefix)?;
        let mut header = vec![0u8; n as usize];
        got = read_full(&mut reader, &mut header)?;
        if got < header.len() {
            return Err(Error::invalid_argument(
                "header",
                format!("the safetensors header claims {n} bytes but the file ends after {got}"),
            ));
        }
        let (entries, data_len) = parse_header(&header)?;
        drop(header);
        let chunk = self.shared.config.transfer_chunk_bytes.max(8) as usize;
        let mut buffer = vec![0u8; chunk];
        let mut tensors = std::collections::HashMap::new();
        let mut read = 0u64;
        for entry in entries {
            let mut upload =
                crate::Upload::new(&self.shared, entry.shape, entry.dtype, entry.source)?;
            let mut left = entry.bytes;
            while left > 0 {
                let want = (left.min(chunk as u64)) as usize;
                let piece = buffer.get_mut(..want).unwrap_or_default();
                let n = read_full(&mut reader, piece)?;
                read += n as u64;
                if n < want {
                    return Err(Error::DataLengthMismatch {
                        expected: data_len,
                        got: read,
                    });
                }
                upload.write(piece)?;
                left -= n as u64;
            }
            let tensor = upload.finish(None)?;
            let tensor = self.prepare_tensor(&tensor, precision.or(Some(tensor.dtype())))?;
            tensors.insert(entry.name, tensor);
        }
        // Nothing may follow the data the header describes.
        let mut extra = 0u64;
        loop {
            let n = read_full(&mut reader, &mut buffer)?;
            extra += n as u64;
            if n < buffer.len() {
                break;
            }
        }
        if extra > 0 {
            return Err(Error::DataLengthMismatch {
                expected: data_len,
                got: data_len + extra,
            });
        }
        Ok(tensors)
    }
}

/// Fill `out` from `reader` as far as it goes; returns the bytes read (fewer only at its end).
fn read_full(reader: &mut impl std::io::Read, out: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while let Some(rest) = out.get_mut(got..).filter(|r| !r.is_empty()) {
        match reader.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::invalid_argument(
                    "reader",
                    format!("reading the safetensors data failed: {e}"),
                ))
            }
        }
    }
    Ok(got)
}
