//! Precision management: the seed's `prepare_tensor`. A tensor already in the wanted precision
//! comes back as itself (no copy, no dispatch, no allocation); otherwise one GPU cast into a
//! pooled buffer, bit-exact on every adapter (see `kernels/cast.wgsl`).

use crate::dtype::DType;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::kernels::record_cast;
use crate::pool::BufferKind;
use crate::tensor::Tensor;
use std::sync::Arc;

impl Engine {
    /// `tensor` in `precision` (the engine's default precision if `None`): the same tensor when
    /// the dtype already matches, else a new tensor cast on the GPU (the input is untouched).
    ///
    /// Casts round to nearest even; ±0, subnormals, ±Inf and NaN (quiet) are kept; overflow
    /// gives ±Inf. Casts to `int32` truncate toward zero and saturate, and NaN becomes 0.
    pub fn prepare_tensor(&self, tensor: &Tensor, precision: Option<DType>) -> Result<Tensor> {
        let target = precision.unwrap_or(self.shared.config.precision);
        if !self.owns(tensor) {
            return Err(Error::DeviceMismatch {
                reason: "prepare_tensor takes tensors of this engine; bring others over with to_device_tensor first".into(),
            });
        }
        if tensor.dtype() == target {
            if tensor.is_disposed() {
                return Err(Error::disposed(format!(
                    "tensor {} {}",
                    tensor.shape(),
                    tensor.dtype()
                )));
            }
            return Ok(tensor.clone());
        }
        self.cast(tensor, target)
    }

    /// A new tensor holding `tensor` cast to `dtype` (a GPU copy when the dtype is the same).
    pub fn cast(&self, tensor: &Tensor, dtype: DType) -> Result<Tensor> {
        if tensor.dtype() == dtype {
            return self.copy(tensor);
        }
        if !self.owns(tensor) {
            return Err(Error::DeviceMismatch {
                reason: "cast takes tensors of this engine; bring others over with to_device_tensor first".into(),
            });
        }
        let shared = &self.shared;
        let elements = tensor.shape().elements();
        let len = elements * dtype.size_bytes();
        let mut state = shared.lock();
        let source = tensor.raw_buffer()?;
        let lease = shared.acquire(&mut state, len, BufferKind::Storage)?;
        state.uses(&source);
        state.uses(&lease.buffer);
        let max_binding = shared.gpu.report.max_storage_buffer_binding_size;
        let (device, pipelines, pass) = state.compute();
        let dispatches = record_cast(
            device,
            pipelines,
            pass,
            &source,
            tensor.dtype(),
            &lease.buffer,
            dtype,
            elements,
            max_binding,
        );
        state.charge_dispatches(dispatches);
        state.charge_conversion();
        drop(state);
        Ok(Tensor::from_lease(
            Arc::clone(shared),
            tensor.shape().clone(),
            dtype,
            lease,
        ))
    }
}
