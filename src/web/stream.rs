//! The web side of bounded transfers (`crate::stream`): readbacks into a caller's typed array or
//! chunk by chunk into JS, streamed uploads fed with `Uint8Array` pieces, and the safetensors
//! header for `engine.loadSafetensors` (whose reading of the stream is in `js/index.js`).

use super::raw::RawQueue;
use super::{set, shape_arg, to_js_error, JsResult, WasmEngine, WasmTensor};
use crate::error::Error;
use crate::stream::{SourceType, Upload, UploadPath};
use js_sys::{Array, Object, Uint8Array};
use wasm_bindgen::prelude::*;

/// A chunk size from JS: undefined for the engine's own.
fn chunk_arg(value: &JsValue) -> crate::Result<Option<u64>> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let n = super::byte_count(value, "chunkBytes")?;
    crate::stream::check_chunk(n).map(Some)
}

#[wasm_bindgen]
impl WasmTensor {
    /// Read back into `out` (a `Uint8Array` over the caller's typed array, exactly the tensor's
    /// byte length; `js/index.js` checks the type), chunk by chunk.
    #[wasm_bindgen(js_name = toHostInto)]
    pub fn to_host_into(&self, out: Uint8Array) -> js_sys::Promise {
        let tensor = self.tensor.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            if u64::from(out.length()) != tensor.byte_len() {
                return Err(to_js_error(Error::DataLengthMismatch {
                    expected: tensor.byte_len(),
                    got: u64::from(out.length()),
                }));
            }
            crate::stream::read_chunks(&tensor, None, |buffer, at, n| {
                let chunk = crate::platform::mapped_js(buffer, n)?;
                out.set(&chunk, at as u32);
                Ok(std::future::ready(Ok(true)))
            })
            .await
            .map_err(to_js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Read back chunk by chunk: `sink(copy, offset)` gets each chunk as a new typed array of
    /// the dtype (as `toHost` gives) and may return a promise; the next chunk is handed over once it settles
    /// (the chunks after it are copied on the GPU meanwhile), and `false` stops the read.
    #[wasm_bindgen(js_name = readChunks)]
    pub fn read_chunks(&self, chunk_bytes: JsValue, sink: js_sys::Function) -> js_sys::Promise {
        let tensor = self.tensor.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let chunk = chunk_arg(&chunk_bytes).map_err(to_js_error)?;
            let dtype = tensor.dtype();
            crate::stream::read_chunks(&tensor, chunk, |buffer, at, n| {
                let copy = super::typed_array(
                    dtype,
                    crate::platform::mapped_js(buffer, n)?
                        .slice(0, n as u32)
                        .buffer(),
                );
                let answer = sink.call2(&JsValue::NULL, &copy, &(at as f64).into());
                Ok(async move {
                    let answer = answer
                        .map_err(|_| Error::invalid_argument("read", "the chunk consumer threw"))?;
                    let answer = if answer.has_type::<js_sys::Promise>() {
                        wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(answer))
                            .await
                            .map_err(|_| {
                                Error::invalid_argument("read", "the chunk consumer failed")
                            })?
                    } else {
                        answer
                    };
                    Ok(answer.as_bool() != Some(false))
                })
            })
            .await
            .map_err(to_js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }
}

/// Internal: a streamed upload under `engine.toDeviceStream` and `engine.loadSafetensors`.
#[wasm_bindgen]
pub struct WasmUpload {
    upload: Option<Upload>,
    engine: crate::Engine,
    /// The engine's `GPUQueue`, for queue writes straight from the JS pieces.
    queue: RawQueue,
}

#[wasm_bindgen]
impl WasmEngine {
    /// Start a streamed upload into a new tensor of `shape`; `dtype` names the bytes' layout
    /// (`'int64'` streams into an int32 tensor).
    #[wasm_bindgen(js_name = uploadBegin)]
    pub fn upload_begin(&self, shape: JsValue, dtype: JsValue) -> JsResult<WasmUpload> {
        let shape = shape_arg(&shape).map_err(to_js_error)?;
        let (dtype, source) = match dtype.as_string().as_deref() {
            Some("int64") => (crate::DType::I32, SourceType::Int64),
            _ => (
                super::dtype_name(&dtype).map_err(to_js_error)?,
                SourceType::Same,
            ),
        };
        let upload = Upload::new(&self.engine.shared, shape, dtype, source).map_err(to_js_error)?;
        Ok(WasmUpload {
            upload: Some(upload),
            queue: self.queue.clone(),
            engine: self.engine.clone(),
        })
    }

    /// The header length from a safetensors file's first 8 bytes.
    #[wasm_bindgen(js_name = safetensorsHeaderLength)]
    pub fn safetensors_header_length(&self, prefix: Uint8Array) -> JsResult<f64> {
        crate::weights::header_len(&prefix.to_vec())
            .map(|n| n as f64)
            .map_err(to_js_error)
    }

    /// The tensors of a safetensors header, in file order: `{ entries: [{ name, dtype, shape,
    /// bytes }], dataBytes }` (`dtype` is the bytes' layout, `'int64'` included).
    #[wasm_bindgen(js_name = safetensorsHeader)]
    pub fn safetensors_header(&self, header: Uint8Array) -> JsResult<JsValue> {
        let (entries, data_len) =
            crate::weights::parse_header(&header.to_vec()).map_err(to_js_error)?;
        let list = Array::new();
        for entry in entries {
            let o = Object::new();
            set(&o, "name", entry.name.as_str());
            let dtype = match entry.source {
                SourceType::Int64 => "int64",
                SourceType::Same => entry.dtype.name(),
            };
            set(&o, "dtype", dtype);
            let dims: Array = entry
                .shape
                .dims()
                .iter()
                .map(|&d| JsValue::from(d as f64))
                .collect();
            set(&o, "shape", dims);
            set(&o, "bytes", entry.bytes as f64);
            list.push(&o);
        }
        let out = Object::new();
        set(&out, "entries", list);
        set(&out, "dataBytes", data_len as f64);
        Ok(out.into())
    }
}

/// Take the next piece straight from a JS `Uint8Array`: whole units are copied from JS memory
/// into the upload's mapped staging, or by [`UploadPath::QueueWrites`] written into the tensor
/// with `writeBuffer` (no copy into wasm either way); the few bytes around them go through the
/// upload's carry. `int64` data is converted through wasm memory, 1 MiB at a time.
/// (`js/index.js` hands over pieces of at most [`Upload::piece_bytes`] and, between them, awaits
/// [`WasmUpload::ready`] (the staging ring) or paces the queue writes, so both stay bounded.)
fn write_js(upload: &mut Upload, queue: &RawQueue, piece: &Uint8Array) -> crate::Result<()> {
    const SLICE: u32 = 1 << 20;
    let n = piece.length();
    // Checked as a whole first, so a piece too long takes nothing; the parts below only move
    // bytes.
    upload.check_room(u64::from(n))?;
    if upload.source() == SourceType::Int64 || n < 4096 {
        let mut from = 0;
        while from < n {
            let to = (from + SLICE).min(n);
            upload.write(&piece.subarray(from, to).to_vec())?;
            from = to;
        }
        return Ok(());
    }
    let unit = upload.unit() as u32;
    let head = upload.carry_room() as u32;
    let whole = (n - head) / unit * unit;
    if head > 0 {
        upload.write(&piece.subarray(0, head).to_vec())?;
    }
    if whole > 0 && upload.path() == UploadPath::QueueWrites {
        let whole_part = piece.subarray(head, head + whole).into();
        upload.write_queued_direct(u64::from(whole), |target, at| {
            super::transfer::write_view(queue, target, at, &whole_part, 1, u64::from(whole))
        })?;
    } else if whole > 0 {
        upload.write_direct(u64::from(whole), |staging, at, from, len| {
            let from = head + from as u32;
            crate::platform::write_mapped_js(staging, at, &piece.subarray(from, from + len as u32))
        })?;
    }
    if head + whole < n {
        upload.write(&piece.subarray(head + whole, n).to_vec())?;
    }
    Ok(())
}

#[wasm_bindgen]
impl WasmUpload {
    /// Take the next piece.
    pub fn write(&mut self, piece: Uint8Array) -> JsResult<()> {
        write_js(open(&mut self.upload)?, &self.queue, &piece).map_err(to_js_error)
    }

    /// A promise to await before the next piece when the staging ring is full (its oldest chunk
    /// mapped again); `undefined` when there is room.
    pub fn ready(&self) -> Option<js_sys::Promise> {
        let wait = self.upload.as_ref()?.backpressure()?;
        Some(wasm_bindgen_futures::future_to_promise(async move {
            // A failed map (a lost device) settles too: the next write reports it.
            wait.await;
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Whether the caller paces this upload's writes against the queue (queue writes in a
    /// browser, `ready` always `undefined`) instead of awaiting `ready` (the staging ring).
    #[wasm_bindgen(getter, js_name = queueWrites)]
    pub fn queue_writes(&self) -> bool {
        self.upload
            .as_ref()
            .is_some_and(|u| u.path() == UploadPath::QueueWrites)
    }

    /// The most bytes to hand `write` at once (the staging chunk size).
    #[wasm_bindgen(js_name = pieceBytes)]
    pub fn piece_bytes(&self) -> f64 {
        self.upload.as_ref().map_or(0.0, |u| u.piece_bytes() as f64)
    }

    /// Source bytes taken so far and in all.
    #[wasm_bindgen(js_name = receivedBytes)]
    pub fn received_bytes(&self) -> f64 {
        self.upload
            .as_ref()
            .map_or(0.0, |u| u.received_bytes() as f64)
    }

    /// The tensor, cast on the GPU to `precision` if given and different.
    pub fn finish(&mut self, precision: JsValue) -> JsResult<WasmTensor> {
        let precision = if precision.is_undefined() || precision.is_null() {
            None
        } else {
            Some(super::dtype_name(&precision).map_err(to_js_error)?)
        };
        let upload = self.upload.take().ok_or_else(|| to_js_error(closed()))?;
        let tensor = upload.finish(precision).map_err(to_js_error)?;
        let _ = &self.engine;
        Ok(WasmTensor::new(tensor))
    }

    /// Give up: the tensor's buffer goes back to the pool.
    pub fn abort(&mut self) {
        self.upload = None;
    }
}

/// The upload still open, or the error of one finished or aborted.
fn open(upload: &mut Option<Upload>) -> JsResult<&mut Upload> {
    upload.as_mut().ok_or_else(|| to_js_error(closed()))
}

fn closed() -> Error {
    Error::invalid_argument("upload", "this upload was finished or aborted")
}
