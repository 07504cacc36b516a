//! The router's web entry points: `toDevice` / `toDeviceAsync` for JS inputs. Host data is
//! written straight from the caller's typed array through the raw `GPUQueue` (one copy, not two);
//! a `GPUBuffer` of the engine's device is copied on the GPU or adopted; a buffer of another
//! `GPUDevice` is read there and written here.

use super::raw::{self, RawBuffer, RawDevice};
use super::{dtype_name, shape_arg, to_js_error, JsResult, WasmEngine, WasmTensor};
use crate::dtype::{DType, HostData};
use crate::error::{Error, Result};
use crate::plan::BufferInput;
use crate::router::{self, now_us, Route, Transfer};
use crate::shape::byte_len;
use crate::shape::Shape;
use crate::tensor::{Storage, Tensor};
use js_sys::{Array, Reflect, Uint8Array};
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// Host data from JS, as tmath will write it.
enum HostInput {
    /// Written as it is, from this typed array (a view of the caller's memory).
    Direct {
        view: JsValue,
        dtype: DType,
        elements: u64,
        type_name: &'static str,
        /// Bytes per element of `view` (`writeBuffer` counts its offset and size in elements).
        per_element: u64,
    },
    /// Copied into wasm memory first: it needs a conversion or a check.
    F32(Vec<f32>),
    I32(Vec<i32>),
    Bits16(Vec<u16>, DType),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

/// The kinds of host data `js/index.js` hands over, by the number it passes (its `HOST_KINDS`).
/// Each prints (`{:?}`) as the JS name of its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HostKind {
    Float32Array,
    Int32Array,
    Float16Array,
    Uint16Array,
    BigInt64Array,
    Float64Array,
    Array,
    ArrayBuffer,
    Uint8Array,
}

impl HostKind {
    const ALL: [HostKind; 9] = [
        HostKind::Float32Array,
        HostKind::Int32Array,
        HostKind::Float16Array,
        HostKind::Uint16Array,
        HostKind::BigInt64Array,
        HostKind::Float64Array,
        HostKind::Array,
        HostKind::ArrayBuffer,
        HostKind::Uint8Array,
    ];

    fn of(code: u32) -> Result<HostKind> {
        usize::try_from(code)
            .ok()
            .and_then(|i| HostKind::ALL.get(i))
            .copied()
            .ok_or_else(|| {
                Error::invalid_argument("input", format!("unknown host data kind {code}"))
            })
    }
}

/// `data` as tmath will write it. `kind` is the input's brand, read by the JS layer with the
/// intrinsic `%TypedArray%.prototype[Symbol.toStringTag]` getter (never `constructor.name`,
/// which any object can spoof), and `data` is a fresh view the JS layer made with the intrinsic
/// constructor over the input's memory: no user code runs while it is read here. Number arrays
/// arrive as a `Float64Array` of kind `Array`, `ArrayBuffer`s as a `Uint8Array` of kind
/// `ArrayBuffer`, `Float16Array`s as a `Uint16Array` view of their bits.
fn host_input(data: &JsValue, kind: HostKind, dtype: Option<DType>) -> Result<HostInput> {
    let direct = |view: JsValue, own: DType, elements: u64, type_name| match dtype {
        Some(d) if d != own => Err(()),
        _ => Ok(HostInput::Direct {
            view,
            dtype: own,
            elements,
            type_name,
            per_element: own.size_bytes(),
        }),
    };
    let converted = match kind {
        HostKind::Float32Array => {
            let a: &js_sys::Float32Array = data.unchecked_ref();
            direct(data.clone(), DType::F32, a.length() as u64, "float32")
                .or_else(|()| Ok::<_, Error>(HostInput::F32(a.to_vec())))?
        }
        HostKind::Int32Array => {
            let a: &js_sys::Int32Array = data.unchecked_ref();
            direct(data.clone(), DType::I32, a.length() as u64, "int32")
                .or_else(|()| Ok::<_, Error>(HostInput::I32(a.to_vec())))?
        }
        HostKind::Float16Array => {
            let bytes: &js_sys::Uint16Array = data.unchecked_ref();
            direct(bytes.clone().into(), DType::F16, bytes.length() as u64, "float16")
                .or_else(|()| Ok::<_, Error>(HostInput::Bits16(bytes.to_vec(), DType::F16)))?
        }
        HostKind::Uint16Array => match dtype {
            Some(d @ (DType::F16 | DType::BF16)) => {
                let a: &js_sys::Uint16Array = data.unchecked_ref();
                HostInput::Direct { view: data.clone(), dtype: d, elements: a.length() as u64, type_name: d.name(), per_element: 2 }
            }
            _ => {
                return Err(Error::invalid_argument(
                    "dtype",
                    "a Uint16Array holds 16-bit float bits: pass { dtype: 'float16' } or { dtype: 'bfloat16' }",
                ))
            }
        },
        HostKind::BigInt64Array => HostInput::I64(data.unchecked_ref::<js_sys::BigInt64Array>().to_vec()),
        HostKind::Float64Array | HostKind::Array => HostInput::F64(data.unchecked_ref::<js_sys::Float64Array>().to_vec()),
        HostKind::ArrayBuffer | HostKind::Uint8Array => {
            let view = data.unchecked_ref::<Uint8Array>().clone();
            let dtype = dtype.ok_or_else(|| {
                Error::invalid_argument("dtype", format!("raw bytes ({kind:?}) need {{ dtype }}: one of {}", crate::dtype::ACCEPTED_NAMES))
            })?;
            let bytes = view.length() as u64;
            if !bytes.is_multiple_of(dtype.size_bytes()) {
                return Err(Error::DataLengthMismatch { expected: bytes.next_multiple_of(dtype.size_bytes()), got: bytes });
            }
            HostInput::Direct { view: view.into(), dtype, elements: bytes / dtype.size_bytes(), type_name: "bytes", per_element: 1 }
        }
    };
    Ok(converted)
}

/// Write the first `bytes` bytes of the typed array `view` (`per_element` bytes an element) into
/// `buffer`, straight from JS memory. `writeBuffer` needs whole 4-byte words; a 2-byte tail goes
/// in a second small write.
pub(super) fn write_view(
    queue: &raw::RawQueue,
    buffer: &wgpu::Buffer,
    at: u64,
    view: &JsValue,
    per_element: u64,
    bytes: u64,
) -> Result<()> {
    let target = raw::of_buffer(buffer);
    let whole_bytes = bytes / 4 * 4;
    let fail = |e: JsValue| {
        Error::invalid_argument("data", format!("writeBuffer refused the data: {e:?}"))
    };
    if whole_bytes > 0 {
        queue
            .write_buffer(
                &target,
                at as f64,
                view,
                0.0,
                (whole_bytes / per_element) as f64,
            )
            .map_err(fail)?;
    }
    if whole_bytes < bytes {
        let all = Uint8Array::new_with_byte_offset_and_length(
            &Reflect::get(view, &"buffer".into()).unwrap_or_default(),
            Reflect::get(view, &"byteOffset".into())
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0) as u32,
            bytes as u32,
        );
        let mut tail = [0u8; 4];
        if let Some(head) = tail.get_mut(..(bytes - whole_bytes) as usize) {
            all.subarray(whole_bytes as u32, bytes as u32).copy_to(head);
        }
        queue
            .write_buffer(
                &target,
                (at + whole_bytes) as f64,
                &Uint8Array::from(&tail[..]).into(),
                0.0,
                4.0,
            )
            .map_err(fail)?;
    }
    Ok(())
}

fn record(engine: &crate::Engine, transfer: Transfer) {
    engine.shared.lock().record(transfer);
}

/// Counts a same-device copy and records it in the ledger.
fn record_copy(engine: &crate::Engine, transfer: Transfer) {
    let mut state = engine.shared.lock();
    state.charge_copy(transfer.bytes);
    state.record(transfer);
}

fn required_dtype(dtype: &JsValue) -> Result<DType> {
    if dtype.is_undefined() || dtype.is_null() {
        return Err(Error::invalid_argument(
            "dtype",
            "a GPUBuffer carries no element type: pass { dtype } (float32, float16, bfloat16 or int32)",
        ));
    }
    dtype_name(dtype)
}

/// A `GPUBuffer`, recognised by its shape rather than `instanceof GPUBuffer`: Node on Dawn has
/// no such global. (`js/index.js` brand-checks buffers with the runtime's own getters before
/// they get here.)
fn raw_buffer_arg(buffer: &JsValue) -> Result<RawBuffer> {
    if buffer.is_object()
        && has(buffer, "size", |v| v.as_f64().is_some())
        && has(buffer, "mapAsync", JsValue::is_function)
    {
        Ok(buffer.clone().unchecked_into())
    } else {
        Err(Error::invalid_argument("buffer", "expected a GPUBuffer"))
    }
}

/// Whether `value[key]` passes `test` (a throwing getter or proxy trap counts as no).
fn has(value: &JsValue, key: &str, test: fn(&JsValue) -> bool) -> bool {
    Reflect::get(value, &key.into()).is_ok_and(|v| test(&v))
}

/// A `GPUDevice`, recognised the same way.
fn raw_device_arg(device: &JsValue) -> Result<RawDevice> {
    if device.is_object()
        && has(device, "createBuffer", JsValue::is_function)
        && has(device, "createCommandEncoder", JsValue::is_function)
    {
        Ok(device.clone().unchecked_into())
    } else {
        Err(Error::invalid_argument(
            "device",
            "expected the GPUDevice that owns the buffer",
        ))
    }
}

/// Checks a foreign `GPUBuffer` for a tensor of `shape`/`dtype`; returns its byte length.
fn check_foreign(
    raw: &RawBuffer,
    shape: &Shape,
    dtype: DType,
    adopt: bool,
) -> Result<(u64, BufferInput)> {
    let len = byte_len(shape, dtype)?;
    if raw.map_state() != "unmapped" {
        return Err(Error::invalid_argument(
            "buffer",
            format!(
                "the GPUBuffer is {} (mapState); unmap it before handing it to tmath",
                raw.map_state()
            ),
        ));
    }
    let plan = crate::plan::buffer_input(
        raw.size() as u64,
        wgpu::BufferUsages::from_bits_truncate(raw.usage()),
        len,
        adopt,
    )?;
    Ok((len, plan))
}

/// The error for a same-device copy that failed validation: a destroyed buffer is the caller's
/// bad argument; anything else means the buffer belongs to another device.
fn copy_failed(detail: &str) -> Error {
    if detail.to_ascii_lowercase().contains("destroyed") {
        return Error::invalid_argument(
            "buffer",
            format!("the GPUBuffer was destroyed ({detail}); hand tmath a live buffer"),
        );
    }
    device_mismatch(detail)
}

fn device_mismatch(detail: &str) -> Error {
    Error::DeviceMismatch {
        reason: format!(
            "the GPUBuffer failed validation on this engine's device ({detail}); it belongs to another GPUDevice: use engine.toDeviceAsync(buffer, shape, {{ dtype, device }}) naming its device"
        ),
    }
}

impl WasmEngine {
    fn same_device_copy(
        &self,
        raw: &RawBuffer,
        shape: Shape,
        dtype: DType,
        len: u64,
    ) -> Result<(Tensor, js_sys::Promise, Transfer)> {
        let start = now_us();
        let shared = &self.engine.shared;
        let device = raw::of_device(&shared.gpu.device);
        let mut state = shared.lock();
        let lease = shared.acquire_for(
            &mut state,
            len,
            crate::pool::BufferKind::Storage,
            crate::pool::WriteOrder::AheadOfStream,
        )?;
        // The raw copy is submitted on its own, ahead of pending work.
        state.before_host_access(&lease.buffer);
        device.push_error_scope("validation");
        raw::copy_now(
            &device,
            raw,
            &raw::of_buffer(&lease.buffer),
            len.next_multiple_of(4),
        );
        let scope = device.pop_error_scope();
        state.charge_submit();
        drop(state);
        // The copy is counted and recorded by the caller once it is known to be valid (async) or
        // at once (sync, where validation is only known later).
        let transfer = Transfer {
            route: Route::SameDeviceCopy,
            fallback_from: None,
            reason: None,
            dtype_in: dtype.name().into(),
            dtype_out: dtype,
            bytes: len,
            wall_us: now_us() - start,
            seq: 0,
        };
        Ok((
            Tensor::from_lease(Arc::clone(shared), shape, dtype, lease),
            scope,
            transfer,
        ))
    }

    fn adopt(&self, raw: RawBuffer, shape: Shape, dtype: DType) -> Tensor {
        record(
            &self.engine,
            Transfer {
                route: Route::Adopt,
                fallback_from: None,
                reason: None,
                dtype_in: dtype.name().into(),
                dtype_out: dtype,
                bytes: 0,
                wall_us: 0.0,
                seq: 0,
            },
        );
        Tensor::new(
            Arc::clone(&self.engine.shared),
            shape,
            dtype,
            Storage::Foreign(raw),
        )
    }

    /// Write `bytes` of a mapped range (an ArrayBuffer) into a new tensor; the host route.
    fn write_mapped(
        &self,
        range: &js_sys::ArrayBuffer,
        len: u64,
        shape: Shape,
        dtype: DType,
    ) -> Result<Tensor> {
        let shared = &self.engine.shared;
        let view: JsValue =
            Uint8Array::new_with_byte_offset_and_length(range, 0, len as u32).into();
        let mut state = shared.lock();
        router::upload_with(shared, &mut state, shape, dtype, len, |buffer, at| {
            write_view(&self.queue, buffer, at, &view, 1, len)
        })
        .map(|(tensor, _)| tensor)
    }
}

#[wasm_bindgen]
impl WasmEngine {
    /// `toDevice(typedArray | ArrayBuffer | number[], shape?, { dtype })`, with the input already
    /// normalised by the JS layer (see `host_input`).
    #[wasm_bindgen(js_name = toDeviceHost)]
    pub fn to_device_host(
        &self,
        data: JsValue,
        kind: u32,
        shape: JsValue,
        dtype: JsValue,
    ) -> JsResult<WasmTensor> {
        self.host(data, kind, shape, dtype)
            .map(WasmTensor::new)
            .map_err(to_js_error)
    }

    fn host(&self, data: JsValue, kind: u32, shape: JsValue, dtype: JsValue) -> Result<Tensor> {
        let start = now_us();
        let dtype = if dtype.is_undefined() || dtype.is_null() {
            None
        } else {
            Some(dtype_name(&dtype)?)
        };
        let input = host_input(&data, HostKind::of(kind)?, dtype)?;
        let elements = |n: u64| -> Result<Shape> {
            if shape.is_undefined() || shape.is_null() {
                Shape::new(&[n as usize])
            } else {
                shape_arg(&shape)
            }
        };
        let engine = &self.engine;
        match input {
            HostInput::Direct {
                view,
                dtype,
                elements: n,
                type_name,
                per_element,
            } => {
                let shape = elements(n)?;
                router::check_host_shape(n, &shape)?;
                let shared = &engine.shared;
                let len = n * dtype.size_bytes();
                let mut state = shared.lock();
                let (tensor, staged) =
                    router::upload_with(shared, &mut state, shape, dtype, len, |buffer, at| {
                        write_view(&self.queue, buffer, at, &view, per_element, len)
                    })?;
                state.record(Transfer {
                    route: router::host_route(staged),
                    fallback_from: None,
                    reason: None,
                    dtype_in: type_name.into(),
                    dtype_out: dtype,
                    bytes: len,
                    wall_us: now_us() - start,
                    seq: 0,
                });
                Ok(tensor)
            }
            HostInput::F32(v) => {
                engine.to_device(HostData::F32(&v), elements(v.len() as u64)?, dtype)
            }
            HostInput::I32(v) => {
                engine.to_device(HostData::I32(&v), elements(v.len() as u64)?, dtype)
            }
            HostInput::I64(v) => {
                engine.to_device(HostData::I64(&v), elements(v.len() as u64)?, dtype)
            }
            HostInput::F64(v) => {
                engine.to_device(HostData::F64(&v), elements(v.len() as u64)?, dtype)
            }
            HostInput::Bits16(v, own) => engine.to_device(
                HostData::Bytes(bytemuck::cast_slice(&v), own),
                elements(v.len() as u64)?,
                dtype,
            ),
        }
    }

    /// Whether `tensor` is this engine's (then the identity route is recorded and JS returns the
    /// same object). `Disposed` if it was disposed.
    #[wasm_bindgen(js_name = toDeviceIdentity)]
    pub fn to_device_identity(&self, tensor: &WasmTensor) -> JsResult<bool> {
        if !self.engine.owns(&tensor.tensor) {
            // A tensor of a lost device (made before `recover`) is lost, not foreign.
            tensor
                .tensor
                .shared()
                .gpu
                .check_alive()
                .map_err(to_js_error)?;
            return Ok(false);
        }
        self.engine
            .to_device_tensor(&tensor.tensor)
            .map(|_| true)
            .map_err(to_js_error)
    }

    /// `toDevice(gpuBuffer, shape, { dtype, adopt })` for a buffer of this engine's device. The
    /// device cannot be checked synchronously: if the copy fails validation, the tensor reports
    /// `DeviceMismatch` on every later use.
    #[wasm_bindgen(js_name = toDeviceBuffer)]
    pub fn to_device_buffer(
        &self,
        buffer: JsValue,
        shape: JsValue,
        dtype: JsValue,
        adopt: bool,
    ) -> JsResult<WasmTensor> {
        let run = || -> Result<Tensor> {
            let raw = raw_buffer_arg(&buffer)?;
            let shape = shape_arg(&shape)?;
            let dtype = required_dtype(&dtype)?;
            let (len, plan) = check_foreign(&raw, &shape, dtype, adopt)?;
            if plan == BufferInput::Adopt {
                return Ok(self.adopt(raw, shape, dtype));
            }
            if let BufferInput::ReadThroughHost { .. } = plan {
                return Err(Error::invalid_argument(
                    "buffer",
                    "the GPUBuffer's usage lacks COPY_SRC, so it cannot be copied on the GPU; engine.toDeviceAsync reads it through the host instead (it needs MAP_READ)",
                ));
            }
            let (tensor, scope, transfer) = self.same_device_copy(&raw, shape, dtype, len)?;
            record_copy(&self.engine, transfer);
            let watched = tensor.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(error) = JsFuture::from(scope).await {
                    if !error.is_null() && !error.is_undefined() {
                        let message = Reflect::get(&error, &"message".into())
                            .ok()
                            .and_then(|m| m.as_string())
                            .unwrap_or_default();
                        watched.set_fault(copy_failed(&message));
                    }
                }
            });
            Ok(tensor)
        };
        run().map(WasmTensor::new).map_err(to_js_error)
    }

    /// `toDeviceAsync(gpuBuffer, shape, { dtype, adopt })` for a buffer of this engine's device:
    /// the copy's validation is awaited (`DeviceMismatch` if it belongs to another device), and a
    /// buffer without `COPY_SRC` takes the host route once (it needs `MAP_READ`).
    #[wasm_bindgen(js_name = toDeviceBufferAsync)]
    pub fn to_device_buffer_async(
        &self,
        buffer: JsValue,
        shape: JsValue,
        dtype: JsValue,
        adopt: bool,
    ) -> js_sys::Promise {
        let this = self.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let run = async {
                let start = now_us();
                let raw = raw_buffer_arg(&buffer)?;
                let shape = shape_arg(&shape)?;
                let dtype = required_dtype(&dtype)?;
                let (len, plan) = check_foreign(&raw, &shape, dtype, adopt)?;
                if plan == BufferInput::Adopt {
                    return Ok(this.adopt(raw, shape, dtype));
                }
                if let BufferInput::ReadThroughHost { .. } = plan {
                    // Host route, once: map the caller's buffer, write ours from the mapped range.
                    let len4 = len.next_multiple_of(4);
                    JsFuture::from(raw.map_async(1, 0.0, len4 as f64))
                        .await
                        .map_err(|e| device_mismatch(&format!("{e:?}")))?;
                    let range = raw
                        .get_mapped_range(0.0, len4 as f64)
                        .map_err(|e| device_mismatch(&format!("{e:?}")));
                    let tensor =
                        range.and_then(|range| this.write_mapped(&range, len, shape, dtype));
                    raw.unmap();
                    let tensor = tensor?;
                    record(
                        &this.engine,
                        Transfer {
                            route: Route::HostWrite,
                            fallback_from: Some(Route::SameDeviceCopy),
                            reason: Some("the GPUBuffer's usage lacks COPY_SRC".into()),
                            dtype_in: dtype.name().into(),
                            dtype_out: dtype,
                            bytes: len,
                            wall_us: now_us() - start,
                            seq: 0,
                        },
                    );
                    return Ok(tensor);
                }
                let (tensor, scope, transfer) = this.same_device_copy(&raw, shape, dtype, len)?;
                let error = JsFuture::from(scope).await.unwrap_or(JsValue::NULL);
                if !error.is_null() && !error.is_undefined() {
                    let message = Reflect::get(&error, &"message".into())
                        .ok()
                        .and_then(|m| m.as_string())
                        .unwrap_or_default();
                    tensor.dispose()?;
                    return Err(copy_failed(&message));
                }
                record_copy(&this.engine, transfer);
                Ok(tensor)
            };
            run.await
                .map(|tensor| JsValue::from(WasmTensor::new(tensor)))
                .map_err(to_js_error)
        })
    }

    /// `toDeviceAsync(gpuBuffer, shape, { dtype, device })` for a buffer of another `GPUDevice`:
    /// copied into a staging buffer there, mapped, and written here (route `cross-device`).
    #[wasm_bindgen(js_name = toDeviceCrossDevice)]
    pub fn to_device_cross_device(
        &self,
        buffer: JsValue,
        device: JsValue,
        shape: JsValue,
        dtype: JsValue,
    ) -> js_sys::Promise {
        let this = self.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let run = async {
                let start = now_us();
                let raw = raw_buffer_arg(&buffer)?;
                let source = raw_device_arg(&device)?;
                let shape = shape_arg(&shape)?;
                let dtype = required_dtype(&dtype)?;
                let (len, _) = check_foreign(&raw, &shape, dtype, false)?;
                let len4 = len.next_multiple_of(4);
                let descriptor = js_sys::Object::new();
                let _ = Reflect::set(&descriptor, &"size".into(), &(len4 as f64).into());
                let _ = Reflect::set(&descriptor, &"usage".into(), &(raw::MAP_READ | 0x8).into()); // MAP_READ | COPY_DST
                let staging =
                    source
                        .create_buffer(&descriptor)
                        .map_err(|e| Error::OutOfMemory {
                            bytes: len4,
                            reason: format!("{e:?}"),
                        })?;
                raw::copy_now(&source, &raw, &staging, len4);
                let mapped = JsFuture::from(staging.map_async(1, 0.0, len4 as f64)).await;
                let tensor = match mapped {
                    Ok(_) => staging
                        .get_mapped_range(0.0, len4 as f64)
                        .map_err(|e| Error::DeviceLost {
                            reason: format!("the source device could not map: {e:?}"),
                        })
                        .and_then(|range| this.write_mapped(&range, len, shape, dtype)),
                    Err(e) => Err(Error::DeviceMismatch {
                        reason: format!(
                            "the buffer could not be read on the device given as its own: {e:?}"
                        ),
                    }),
                };
                staging.destroy();
                let tensor = tensor?;
                let mut state = this.engine.shared.lock();
                // The staging copy on the source device, and its way to the host.
                state.charge_transfer(len);
                state.record(Transfer {
                    route: Route::CrossDevice,
                    fallback_from: None,
                    reason: None,
                    dtype_in: dtype.name().into(),
                    dtype_out: dtype,
                    bytes: len,
                    wall_us: now_us() - start,
                    seq: 0,
                });
                drop(state);
                Ok(tensor)
            };
            run.await
                .map(|tensor| JsValue::from(WasmTensor::new(tensor)))
                .map_err(to_js_error)
        })
    }

    /// `toDeviceAsync(tensorOfAnotherEngine)`: read there, written here.
    #[wasm_bindgen(js_name = toDeviceFromTensor)]
    pub fn to_device_from_tensor(&self, tensor: &WasmTensor) -> js_sys::Promise {
        let engine = self.engine.clone();
        let tensor = tensor.tensor.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            engine
                .to_device_tensor_async(&tensor)
                .await
                .map(|tensor| JsValue::from(WasmTensor::new(tensor)))
                .map_err(to_js_error)
        })
    }

    /// The transfer ledger, oldest first: `{ route, fallbackFrom, reason, dtypeIn, dtypeOut, bytes, wallMs }`.
    pub fn ledger(&self) -> Array {
        self.engine
            .ledger()
            .into_iter()
            .map(|t| {
                let o = js_sys::Object::new();
                let set = |k: &str, v: JsValue| {
                    let _ = Reflect::set(&o, &k.into(), &v);
                };
                set("route", t.route.name().into());
                set(
                    "fallbackFrom",
                    t.fallback_from.map_or(JsValue::NULL, |r| r.name().into()),
                );
                set("reason", t.reason.map_or(JsValue::NULL, JsValue::from));
                set("dtypeIn", t.dtype_in.into());
                set("dtypeOut", t.dtype_out.name().into());
                set("bytes", (t.bytes as f64).into());
                set("wallMs", (t.wall_us / 1e3).into());
                set("seq", (t.seq as f64).into());
                JsValue::from(o)
            })
            .collect()
    }
}
