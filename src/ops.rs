//! Operations on tensors: matmul and elementwise ops with broadcasting. Outputs come from the
//! pool, params go into the engine's uniform slots, pipelines and bind groups are cached, and
//! everything is recorded into the pending encoder: a chain of ops is one submission.

use crate::context::{Shared, State};
use crate::dtype::DType;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::kernels::{
    groups, ElementMode, ElementOp, Kernel, MatmulInput, MatmulTiles, UNIFORM_SLOT,
};
use crate::pool::{BufferKind, Lease};
use crate::shape::Shape;
use crate::tensor::Tensor;
use std::sync::Arc;

/// An operand of an elementwise op: a tensor or a scalar.
#[derive(Clone, Copy, Debug)]
pub enum Operand<'a> {
    /// A tensor of the engine.
    Tensor(&'a Tensor),
    /// A number, converted to the tensor operand's dtype (int32 needs an integer).
    Scalar(f64),
}

impl<'a> From<&'a Tensor> for Operand<'a> {
    fn from(t: &'a Tensor) -> Self {
        Operand::Tensor(t)
    }
}

impl From<f64> for Operand<'_> {
    fn from(x: f64) -> Self {
        Operand::Scalar(x)
    }
}

impl From<f32> for Operand<'_> {
    fn from(x: f32) -> Self {
        Operand::Scalar(x as f64)
    }
}

impl From<i32> for Operand<'_> {
    fn from(x: i32) -> Self {
        Operand::Scalar(x as f64)
    }
}

/// Most dimensions an elementwise op broadcasts over.
pub const MAX_RANK: usize = 8;

fn shape_str(shape: &Shape) -> String {
    format!("{:?}", shape.dims())
}

/// The NumPy broadcast of two shapes, or `InvalidShape` naming both.
pub fn broadcast_shapes(a: &Shape, b: &Shape) -> Result<Shape> {
    let rank = a.rank().max(b.rank());
    let dim = |s: &Shape, i: usize| {
        let offset = rank - s.rank();
        i.checked_sub(offset)
            .and_then(|j| s.dims().get(j).copied())
            .unwrap_or(1)
    };
    let mut out = Vec::with_capacity(rank);
    for i in 0..rank {
        let (x, y) = (dim(a, i), dim(b, i));
        if x != y && x != 1 && y != 1 {
            return Err(Error::invalid_shape(format!(
                "shapes {} and {} do not broadcast: dimension {i} is {x} against {y} (each must be equal or 1)",
                shape_str(a),
                shape_str(b)
            )));
        }
        out.push(x.max(y));
    }
    Shape::new(&out)
}

/// Element strides of `shape` seen through the broadcast `out` shape (0 where broadcast).
fn broadcast_strides(shape: &Shape, out: &Shape) -> [u32; MAX_RANK] {
    let mut strides = [0u32; MAX_RANK];
    let offset = out.rank().saturating_sub(shape.rank());
    let mut stride = 1u64;
    // Right-aligned: the last dimension of `shape` is the last of `out` (ranks <= MAX_RANK).
    for (slot, &d) in strides.iter_mut().skip(offset).zip(shape.dims()).rev() {
        *slot = if d == 1 { 0 } else { stride as u32 };
        stride *= d as u64;
    }
    strides
}

fn check_owned(engine: &Engine, t: &Tensor, op: &str) -> Result<()> {
    if !engine.owns(t) {
        // A tensor of a lost device (made before `recover`) is lost, not foreign.
        t.shared().gpu.check_alive()?;
        return Err(Error::DeviceMismatch {
            reason: format!(
                "{op} takes tensors of this engine; bring others over with to_device_tensor first"
            ),
        });
    }
    if t.is_disposed() {
        return Err(Error::disposed(format!(
            "tensor {} {} passed to {op}",
            t.shape(),
            t.dtype()
        )));
    }
    Ok(())
}

fn words(bytes: u64) -> u64 {
    bytes.next_multiple_of(4).max(4)
}

impl Engine {
    /// `a × b` for float32, float16 or bfloat16 tensors of one dtype, with float32 accumulation:
    /// 2-D `[m, k] × [k, n]`, or batched `[batch, m, k] × [batch, k, n]` where a 2-D side is
    /// broadcast over the batch. The result has the inputs' dtype.
    pub fn matmul(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        self.matmul_tiled(a, b, None, DType::F32)
    }

    /// [`Engine::matmul`], allowing float16 arithmetic: with `accumulate` = `F16`, float16
    /// inputs on an adapter with `shader-f16` are multiplied in float16, the products of each k
    /// step (8 to 32 of them, the tile shape's depth) summed in float16 and added into float32
    /// accumulators between steps. On GPUs with fast float16 that is up to twice the arithmetic
    /// rate; the error grows with the step's length, and a step's sum past 65504 overflows to
    /// infinity. A permission, as PyTorch's `allow_tf32`: other inputs and adapters without
    /// `shader-f16` accumulate in float32 as `matmul` does. `accumulate` = `F32` is `matmul`.
    pub fn matmul_with(&self, a: &Tensor, b: &Tensor, accumulate: DType) -> Result<Tensor> {
        if !matches!(accumulate, DType::F32 | DType::F16) {
            return Err(Error::invalid_argument(
                "accumulate",
                format!("expected float32 or float16, got {accumulate}"),
            ));
        }
        self.matmul_tiled(a, b, None, accumulate)
    }

    /// The tile shape [`Engine::matmul`] runs a product of `batch` × (`m` × k) × (k × `n`)
    /// `dtype` inputs with: the engine's fixed shape, else the adapter's tuning, else the
    /// default; a subgroup shape only where the adapter has subgroup operations, the inputs are
    /// float32 (or float16 with `shader-f16`) and `n` is a multiple of 4 (elsewhere the portable
    /// shape the tuning measured fastest, or the default).
    pub fn matmul_tiles_for(&self, batch: usize, m: usize, n: usize, dtype: DType) -> MatmulTiles {
        self.matmul_choice(None, batch as u64, m as u64, n as u64, dtype)
    }

    fn matmul_choice(
        &self,
        forced: Option<MatmulTiles>,
        batch: u64,
        m: u64,
        n: u64,
        dtype: DType,
    ) -> MatmulTiles {
        let report = &self.shared.gpu.report;
        let default = || {
            crate::tuning::default_tiles(
                m,
                n,
                batch,
                report.device_type,
                report.max_workgroup_storage_bytes,
            )
        };
        let tuned = |portable: bool| {
            let tuning = self.shared.matmul_tuning.lock().ok()?;
            let tuning = tuning.as_ref()?;
            if portable {
                tuning.pick_portable(batch * m * n)
            } else {
                tuning.pick(batch * m * n)
            }
        };
        let fixed = forced.or(self.shared.config.matmul_tiles);
        let tiles = fixed.or_else(|| tuned(false)).unwrap_or_else(default);
        if tiles.subgroups && !crate::tuning::subgroups_allowed(report, n, dtype, fixed.is_some()) {
            tuned(true).unwrap_or_else(default)
        } else {
            tiles
        }
    }

    /// [`Engine::matmul`] with this tile shape, or the engine's choice (`None`).
    pub(crate) fn matmul_tiled(
        &self,
        a: &Tensor,
        b: &Tensor,
        tiles: Option<MatmulTiles>,
        accumulate: DType,
    ) -> Result<Tensor> {
        check_owned(self, a, "matmul")?;
        check_owned(self, b, "matmul")?;
        let dtype = a.dtype();
        if dtype != b.dtype() || dtype == DType::I32 {
            return Err(Error::UnsupportedDtype {
                name: format!("{} × {}", a.dtype(), b.dtype()),
                reason: "matmul takes two float32, float16 or bfloat16 tensors of the same dtype; convert one with prepare_tensor".into(),
            });
        }
        let (sa, sb) = (a.shape(), b.shape());
        let bad = |why: &str| {
            Error::invalid_shape(format!(
                "matmul of {} and {}: {why}",
                shape_str(sa),
                shape_str(sb)
            ))
        };
        let split = |dims: &[usize]| match *dims {
            [m, k] => Some((None, m, k)),
            [batch, m, k] => Some((Some(batch), m, k)),
            _ => None,
        };
        let (Some((batch_a, m, k)), Some((batch_b, k2, n))) = (split(sa.dims()), split(sb.dims()))
        else {
            return Err(bad("each side must be 2-D [m, k] or 3-D [batch, m, k]"));
        };
        if k != k2 {
            return Err(bad(&format!(
                "the inner dimensions differ ({k} against {k2})"
            )));
        }
        let batch = match (batch_a, batch_b) {
            (Some(x), Some(y)) if x != y => {
                return Err(bad(&format!("the batch sizes differ ({x} against {y})")))
            }
            (x, y) => x.or(y),
        };
        let out_shape = match batch {
            Some(bt) => Shape::new(&[bt, m, n])?,
            None => Shape::new(&[m, n])?,
        };
        let batch = batch.unwrap_or(1) as u64;
        let (m64, n64, k64) = (m as u64, n as u64, k as u64);
        let report = &self.shared.gpu.report;
        let tiles = self.matmul_choice(tiles, batch, m64, n64, dtype);
        let groups_x = n64.div_ceil(tiles.block_cols() as u64);
        let groups_y = m64.div_ceil(tiles.block_rows() as u64);
        if groups_x > 65_535 || groups_y > 65_535 || batch > 65_535 {
            return Err(Error::TooLarge {
                what: "matmul grid (tiles per dimension, batch)",
                requested: groups_x.max(groups_y).max(batch),
                limit: 65_535,
            });
        }
        let shared = &self.shared;
        let max_binding = shared.gpu.report.max_storage_buffer_binding_size;
        let out_f32 = batch * m64 * n64 * 4;
        for (what, bytes) in [
            ("matmul input", a.byte_len()),
            ("matmul input", b.byte_len()),
            ("matmul output", out_f32),
        ] {
            if bytes > max_binding {
                return Err(Error::TooLarge {
                    what,
                    requested: bytes,
                    limit: max_binding,
                });
            }
        }
        let params: Vec<u32> = vec![
            m as u32,
            n as u32,
            k as u32,
            if batch_a.is_some() {
                (m64 * k64) as u32
            } else {
                0
            },
            if batch_b.is_some() {
                (k64 * n64) as u32
            } else {
                0
            },
            (m64 * n64) as u32,
        ];
        let mut state = shared.lock();
        let (ba, bb) = (a.raw_buffer()?, b.raw_buffer()?);
        let out = shared.acquire(&mut state, out_f32, BufferKind::Storage)?;
        let input = match dtype {
            DType::F16 if report.shader_f16 && accumulate == DType::F16 => MatmulInput::F16Math,
            DType::F16 if report.shader_f16 => MatmulInput::F16,
            DType::F16 => MatmulInput::F16Packed,
            DType::BF16 => MatmulInput::BF16,
            _ => MatmulInput::F32,
        };
        let kernel = Kernel::Matmul {
            input,
            tiles,
            vector: k64.is_multiple_of(4) && n64.is_multiple_of(4),
        };
        let bindings = [
            (&ba, words(a.byte_len())),
            (&bb, words(b.byte_len())),
            (&out.buffer, words(out_f32)),
        ];
        let grid = (groups_x as u32, groups_y as u32, batch as u32);
        let recorded = record_op(&mut state, kernel, &params, bindings, grid);
        if let Err(e) = recorded {
            state.release(out);
            return Err(e);
        }
        let result = if dtype == DType::F32 {
            Ok(out)
        } else {
            narrow_output(shared, &mut state, out, dtype, batch * m64 * n64)
        };
        drop(state);
        Ok(Tensor::from_lease(
            Arc::clone(shared),
            out_shape,
            dtype,
            result?,
        ))
    }

    /// `a + b` with NumPy broadcasting; either side may be a scalar.
    pub fn add<'a>(&self, a: impl Into<Operand<'a>>, b: impl Into<Operand<'a>>) -> Result<Tensor> {
        self.elementwise(ElementOp::Add, a.into(), b.into())
    }

    /// `a - b` with NumPy broadcasting; either side may be a scalar.
    pub fn sub<'a>(&self, a: impl Into<Operand<'a>>, b: impl Into<Operand<'a>>) -> Result<Tensor> {
        self.elementwise(ElementOp::Sub, a.into(), b.into())
    }

    /// `a * b` with NumPy broadcasting; either side may be a scalar.
    pub fn mul<'a>(&self, a: impl Into<Operand<'a>>, b: impl Into<Operand<'a>>) -> Result<Tensor> {
        self.elementwise(ElementOp::Mul, a.into(), b.into())
    }

    /// `a / b` with NumPy broadcasting; either side may be a scalar. int32 division truncates;
    /// int32 division by zero gives `a` (WGSL's definition).
    pub fn div<'a>(&self, a: impl Into<Operand<'a>>, b: impl Into<Operand<'a>>) -> Result<Tensor> {
        self.elementwise(ElementOp::Div, a.into(), b.into())
    }

    /// `max(a, 0)`: negative values become +0; NaN and -0 pass through.
    pub fn relu(&self, a: &Tensor) -> Result<Tensor> {
        self.elementwise(ElementOp::Relu, Operand::Tensor(a), Operand::Scalar(0.0))
    }

    /// An elementwise op on float32 or int32 operands.
    pub fn elementwise(&self, op: ElementOp, a: Operand<'_>, b: Operand<'_>) -> Result<Tensor> {
        let (first, mode, other) = match (a, b) {
            (Operand::Tensor(x), Operand::Tensor(y)) => {
                let mode = if x.shape() == y.shape() {
                    ElementMode::SameShape
                } else {
                    ElementMode::Broadcast
                };
                (x, mode, Operand::Tensor(y))
            }
            (Operand::Tensor(x), s @ Operand::Scalar(_)) => (x, ElementMode::ScalarRight, s),
            (s @ Operand::Scalar(_), Operand::Tensor(y)) => (y, ElementMode::ScalarLeft, s),
            (Operand::Scalar(_), Operand::Scalar(_)) => {
                return Err(Error::invalid_argument(
                    op.name(),
                    "at least one operand must be a tensor",
                ))
            }
        };
        let mode = if op == ElementOp::Relu {
            ElementMode::SameShape
        } else {
            mode
        };
        check_owned(self, first, op.name())?;
        let dtype = first.dtype();
        if !matches!(dtype, DType::F32 | DType::I32) {
            return Err(Error::UnsupportedDtype {
                name: dtype.name().into(),
                reason: format!(
                    "{} runs on float32 and int32 tensors; widen 16-bit tensors with prepare_tensor(t, float32) first",
                    op.name()
                ),
            });
        }
        let (second, scalar) = match other {
            Operand::Tensor(y) => {
                check_owned(self, y, op.name())?;
                if y.dtype() != dtype {
                    return Err(Error::UnsupportedDtype {
                        name: format!("{} and {}", dtype, y.dtype()),
                        reason: format!(
                            "{} takes operands of one dtype; convert one with prepare_tensor",
                            op.name()
                        ),
                    });
                }
                (Some(y), 0u32)
            }
            Operand::Scalar(x) if op == ElementOp::Relu => (None, x as u32),
            Operand::Scalar(x) => (None, scalar_bits(x, dtype, op)?),
        };
        let out_shape = match second {
            Some(y) if mode == ElementMode::Broadcast => {
                broadcast_shapes(first.shape(), y.shape())?
            }
            _ => first.shape().clone(),
        };
        if out_shape.rank() > MAX_RANK {
            return Err(Error::invalid_shape(format!(
                "{} broadcasts over at most {MAX_RANK} dimensions; {} has {}",
                op.name(),
                shape_str(&out_shape),
                out_shape.rank()
            )));
        }
        let n = out_shape.elements();
        let len = n * 4;
        let shared = &self.shared;
        let max_binding = shared.gpu.report.max_storage_buffer_binding_size;
        if len > max_binding || n > u32::MAX as u64 {
            return Err(Error::TooLarge {
                what: "elementwise output",
                requested: len,
                limit: max_binding,
            });
        }
        let mut params = vec![n as u32, out_shape.rank() as u32, scalar, 0];
        let mut dims = [1u32; MAX_RANK];
        for (slot, &d) in dims.iter_mut().zip(out_shape.dims()) {
            *slot = d as u32;
        }
        params.extend_from_slice(&dims);
        params.extend_from_slice(&broadcast_strides(first.shape(), &out_shape));
        params.extend_from_slice(&match second {
            Some(y) => broadcast_strides(y.shape(), &out_shape),
            None => [0; MAX_RANK],
        });
        let mut state = shared.lock();
        let ba = first.raw_buffer()?;
        let bb = match second {
            Some(y) => y.raw_buffer()?,
            None => ba.clone(),
        };
        let b_len = second.map_or(first.byte_len(), Tensor::byte_len);
        let out = shared.acquire(&mut state, len, BufferKind::Storage)?;
        // Four elements per invocation where every operand is whole vec4s.
        let vector = n.is_multiple_of(4) && mode != ElementMode::Broadcast;
        let kernel = Kernel::Elementwise {
            op,
            dtype,
            mode,
            vector,
        };
        let bindings = [
            (&ba, words(first.byte_len())),
            (&bb, words(b_len)),
            (&out.buffer, words(len)),
        ];
        let (x, y) = groups(if vector { n / 4 } else { n });
        let recorded = record_op(&mut state, kernel, &params, bindings, (x, y, 1));
        if let Err(e) = recorded {
            state.release(out);
            return Err(e);
        }
        drop(state);
        Ok(Tensor::from_lease(
            Arc::clone(shared),
            out_shape,
            dtype,
            out,
        ))
    }
}

/// Record one op: its params into a uniform slot, its (cached) pipeline and bind group over the
/// two inputs and the output (whole-buffer ranges of the given sizes), and one dispatch.
fn record_op(
    state: &mut State,
    kernel: Kernel,
    params: &[u32],
    bindings: [(&wgpu::Buffer, u64); 3],
    grid: (u32, u32, u32),
) -> Result<()> {
    let (uniform, offset) = state.params(bytemuck::cast_slice(params))?;
    let [(a, a_len), (b, b_len), (out, out_len)] = bindings;
    for buffer in [a, b, out] {
        state.uses(buffer);
    }
    let (device, pipelines, pass) = state.compute_with(kernel);
    let bind = pipelines.bind_group(
        device,
        kernel,
        &[
            (a, 0, a_len),
            (b, 0, b_len),
            (out, 0, out_len),
            (&uniform, u64::from(offset), UNIFORM_SLOT),
        ],
    );
    // The params slot is bound at a fixed offset, not a dynamic one: a chain whose buffers and
    // params repeat finds its bind groups in the cache, and setting one without offsets is the
    // cheaper call on the web (no offsets array crosses into JS).
    pass.set_bind_group(0, &bind, &[]);
    pass.dispatch_workgroups(grid.0, grid.1, grid.2);
    state.charge_dispatches(1);
    Ok(())
}

/// A scalar operand's bits in the op's dtype.
fn scalar_bits(x: f64, dtype: DType, op: ElementOp) -> Result<u32> {
    match dtype {
        DType::I32 => {
            if x.fract() != 0.0 || !(i32::MIN as f64..=i32::MAX as f64).contains(&x) {
                return Err(Error::ValueOutOfRange {
                    reason: format!(
                        "{} on an int32 tensor needs an int32 scalar, got {x}",
                        op.name()
                    ),
                });
            }
            Ok(x as i32 as u32)
        }
        _ => Ok((x as f32).to_bits()),
    }
}

/// Cast a float32 op result into `dtype` (16-bit outputs are packed, so the kernel writes float32
/// and one cast narrows it, bit-exactly); the float32 buffer goes back to the pool.
fn narrow_output(
    shared: &Arc<Shared>,
    state: &mut State,
    wide: Lease,
    dtype: DType,
    elements: u64,
) -> Result<Lease> {
    let narrow = match shared.acquire(state, elements * dtype.size_bytes(), BufferKind::Storage) {
        Ok(lease) => lease,
        Err(e) => {
            state.release(wide);
            return Err(e);
        }
    };
    let max_binding = shared.gpu.report.max_storage_buffer_binding_size;
    let (device, pipelines, pass) = state.compute();
    let dispatches = crate::kernels::record_cast(
        device,
        pipelines,
        pass,
        &wide.buffer,
        DType::F32,
        &narrow.buffer,
        dtype,
        elements,
        max_binding,
    );
    state.charge_dispatches(dispatches);
    state.uses(&narrow.buffer);
    // The cast that reads it is pending: it goes back in stream, for later in-stream writers.
    state.release(wide);
    Ok(narrow)
}
