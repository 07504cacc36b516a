//! The wasm-bindgen layer under the JS API. Users import `tmath` (the hand-written `js/index.js`),
//! which wraps these `Wasm*` classes in idiomatic JS (`Engine`, `Pool`, `Tensor`); nothing here
//! is meant to be called directly.
//!
//! # The boundary rule
//!
//! JS values in, validated plain Rust data out, then the engine's lock; no user code runs under
//! the lock. A JS exception thrown through wasm skips Rust's destructors, so a lock held at that
//! moment would never be released and every later call would abort. `js/index.js` therefore
//! reads every caller value first (brand checks with the intrinsic getters, own properties only,
//! getters and proxy traps inside try/catch) and passes only clean values: fresh typed arrays made
//! with the intrinsic constructors, the input's brand as a string, plain arrays of numbers,
//! strings for dtypes, and null-prototype option objects of primitives. Code here reads those
//! with `Reflect`/`as_*` (which return values, never throw through wasm) and never formats a
//! caller's object with `{:?}` (JS's debug formatting runs its getters). Every error crosses as a JS `Error` named `TmathError` with a
//! `code`; a Rust panic is logged by `console_error_panic_hook` instead of a bare `unreachable`.

use crate::dtype::DType;
use crate::engine::{Engine, EngineConfig};
use crate::error::Error;
use crate::pool::PoolStats;
use crate::shape::Shape;
use crate::stats::Stats;
use crate::tensor::Tensor;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

#[allow(missing_docs)] // raw WebGPU bindings: the names are the WebGPU API's
pub(crate) mod raw;
mod stream;
mod transfer;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

/// A tmath error as a JS `Error` with `name === 'TmathError'` and a stable `code`.
pub fn to_js_error(error: Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("TmathError");
    let _ = Reflect::set(&js, &"code".into(), &error.code().into());
    js.into()
}

type JsResult<T> = Result<T, JsValue>;

fn set(object: &Object, key: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(object, &key.into(), &value.into());
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

const OPTIONS: [&str; 9] = [
    "precision",
    "memoryLimitBytes",
    "poolBudgetBytes",
    "maxPerClass",
    "minClassBytes",
    "powerPreference",
    "zeroOnReuse",
    "transferChunkBytes",
    "matmulTiles",
];

/// The largest `maxPerClass` accepted (far above any useful cap; keeps it from wrapping).
const MAX_PER_CLASS: usize = 1 << 20;

/// A non-negative safe integer, or `InvalidArgument` naming the option.
fn byte_count(value: &JsValue, name: &str) -> crate::Result<u64> {
    match value.as_f64() {
        Some(n)
            if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= 9_007_199_254_740_991.0 =>
        {
            Ok(n as u64)
        }
        _ => Err(Error::invalid_argument(
            name,
            format!("expected an integer from 0 to 2^53 - 1, got {value:?}"),
        )),
    }
}

fn engine_config(options: &JsValue) -> crate::Result<EngineConfig> {
    let mut config = EngineConfig::default();
    if options.is_undefined() || options.is_null() {
        return Ok(config);
    }
    if !options.is_object() {
        return Err(Error::invalid_argument(
            "options",
            format!("expected an object like {{ precision: 'float32' }}, got {options:?}"),
        ));
    }
    for key in Object::keys(options.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !OPTIONS.contains(&key.as_str()) {
            return Err(Error::invalid_argument(
                key,
                format!(
                    "unknown option; Engine.create accepts {}",
                    OPTIONS.join(", ")
                ),
            ));
        }
    }
    let precision = get(options, "precision");
    if !precision.is_undefined() {
        config.precision = dtype_name(&precision)?;
    }
    let budget = get(options, "poolBudgetBytes");
    if !budget.is_undefined() {
        config.pool.budget_bytes = byte_count(&budget, "poolBudgetBytes")?;
    }
    let cap = get(options, "maxPerClass");
    if !cap.is_undefined() {
        let n = byte_count(&cap, "maxPerClass")?;
        config.pool.max_per_class = usize::try_from(n)
            .ok()
            .filter(|&n| n <= MAX_PER_CLASS)
            .ok_or_else(|| {
                Error::invalid_argument(
                    "maxPerClass",
                    format!("expected an integer from 0 to {MAX_PER_CLASS}, got {n}"),
                )
            })?;
    }
    let min = get(options, "minClassBytes");
    if !min.is_undefined() {
        config.pool.min_class_bytes = byte_count(&min, "minClassBytes")?.max(4);
    }
    let limit = get(options, "memoryLimitBytes");
    if !limit.is_undefined() {
        config.pool.memory_limit_bytes = byte_count(&limit, "memoryLimitBytes")?;
    }
    let chunk = get(options, "transferChunkBytes");
    if !chunk.is_undefined() {
        config.transfer_chunk_bytes = byte_count(&chunk, "transferChunkBytes")?;
    }
    let tiles = get(options, "matmulTiles");
    if !tiles.is_undefined() {
        config.matmul_tiles = Some(
            tiles
                .as_string()
                .as_deref()
                .and_then(crate::MatmulTiles::parse)
                .ok_or_else(|| {
                    Error::invalid_argument(
                        "matmulTiles",
                        format!(
                            "expected one of {}, got {tiles:?}",
                            crate::MatmulTiles::ALL.map(|t| format!("'{t}'")).join(", ")
                        ),
                    )
                })?,
        );
    }
    let zero = get(options, "zeroOnReuse");
    if !zero.is_undefined() {
        config.zero_on_reuse = zero.as_bool().ok_or_else(|| {
            Error::invalid_argument("zeroOnReuse", format!("expected a boolean, got {zero:?}"))
        })?;
    }
    let power = get(options, "powerPreference");
    if !power.is_undefined() {
        config.power_preference = match power.as_string().as_deref() {
            Some("high-performance") => wgpu::PowerPreference::HighPerformance,
            Some("low-power") => wgpu::PowerPreference::LowPower,
            _ => {
                return Err(Error::invalid_argument(
                    "powerPreference",
                    format!("expected 'high-performance' or 'low-power', got {power:?}"),
                ))
            }
        };
    }
    Ok(config)
}

fn dtype_name(value: &JsValue) -> crate::Result<DType> {
    match value.as_string() {
        Some(name) => name.parse(),
        None => Err(Error::UnsupportedDtype {
            name: format!("{value:?}"),
            reason: format!(
                "a dtype is a string; accepted names are {}",
                crate::dtype::ACCEPTED_NAMES
            ),
        }),
    }
}

fn shape_arg(value: &JsValue) -> crate::Result<Shape> {
    if !Array::is_array(value) {
        return Err(Error::invalid_shape(format!(
            "expected an array of dimensions like [2, 3], got {value:?}"
        )));
    }
    let dims: Vec<f64> = Array::from(value)
        .iter()
        .map(|d| d.as_f64().unwrap_or(f64::NAN))
        .collect();
    Shape::from_f64(&dims)
}

fn pool_stats_object(s: &PoolStats) -> Object {
    let o = Object::new();
    set(&o, "hits", s.hits as f64);
    set(&o, "hitsLargerClass", s.hits_larger_class as f64);
    set(&o, "misses", s.misses as f64);
    set(&o, "stagingHits", s.staging_hits as f64);
    set(&o, "stagingMisses", s.staging_misses as f64);
    set(&o, "buffersCreated", s.buffers_created as f64);
    set(&o, "buffersDestroyed", s.buffers_destroyed as f64);
    set(&o, "bytesInUse", s.bytes_in_use as f64);
    set(&o, "bytesCached", s.bytes_cached as f64);
    set(&o, "peakBytesInUse", s.peak_bytes_in_use as f64);
    set(&o, "budgetBytes", s.budget_bytes as f64);
    set(&o, "evictions", s.evictions as f64);
    set(&o, "buffersInUse", s.buffers_in_use as f64);
    set(&o, "buffersCached", s.buffers_cached as f64);
    set(&o, "allocationRetries", s.allocation_retries as f64);
    o
}

fn stats_object(s: &Stats) -> Object {
    let o = Object::new();
    set(&o, "pool", pool_stats_object(&s.pool));
    set(&o, "copies", s.counters.copies as f64);
    set(&o, "copyBytes", s.counters.copy_bytes as f64);
    set(&o, "crossings", s.counters.crossings as f64);
    set(&o, "conversions", s.counters.conversions as f64);
    set(&o, "submits", s.counters.submits as f64);
    set(&o, "dispatches", s.counters.dispatches as f64);
    set(&o, "bindGroups", s.counters.bind_groups as f64);
    set(&o, "paramWrites", s.counters.param_writes as f64);
    o
}

impl Engine {
    /// The web's `Engine.fromDevice`: wgpu has no way to wrap a `GPUDevice`, so `js/index.js`
    /// hands it over as the only device of an adapter whose instance is `instance`.
    async fn borrowing(instance: wgpu::Instance, config: EngineConfig) -> crate::Result<Engine> {
        let mut gpu = crate::gpu::Gpu::acquire(instance, config.power_preference).await?;
        gpu.origin = crate::gpu::Origin::Borrowed;
        Engine::on(gpu, config)
    }
}

/// Internal: the engine under JS `Engine`. A clone shares the engine (async calls move one
/// into their future).
#[wasm_bindgen]
#[derive(Clone)]
pub struct WasmEngine {
    engine: Engine,
    /// The device's `GPUQueue`, asked for once (host writes go through it).
    queue: raw::RawQueue,
}

impl WasmEngine {
    /// A new engine (made, or recovered after a loss) for JS. Its state may sit where a freed
    /// engine's was: its leak count starts at zero.
    fn fresh(engine: Engine) -> WasmEngine {
        LEAKED.with(|m| m.borrow_mut().remove(&engine_key(&engine.shared)));
        let queue = raw::of_device(&engine.shared.gpu.device).queue();
        WasmEngine { engine, queue }
    }
}

#[wasm_bindgen]
impl WasmEngine {
    /// Make wgpu's instance now, in this synchronous call (wgpu reads `navigator.gpu` from the
    /// global object when it does, and `js/index.js` points that at the `GPU` to use for the
    /// length of this call), then acquire an adapter and device from it. `borrowed`: the
    /// adapter's device is the app's (`Engine.fromDevice`), never destroyed by tmath.
    pub fn create(options: JsValue, borrowed: bool) -> JsResult<js_sys::Promise> {
        let config = engine_config(&options).map_err(to_js_error)?;
        let instance = crate::platform::default_instance().map_err(to_js_error)?;
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let engine = if borrowed {
                Engine::borrowing(instance, config).await
            } else {
                Engine::with_instance(instance, config).await
            };
            Ok(WasmEngine::fresh(engine.map_err(to_js_error)?).into())
        }))
    }

    /// The `GPUDevice` tmath runs on.
    #[wasm_bindgen(js_name = gpuDevice)]
    pub fn gpu_device(&self) -> JsValue {
        self.engine
            .device()
            .as_webgpu()
            .map(|d| JsValue::from(d.clone()))
            .unwrap_or(JsValue::NULL)
    }

    /// Adapter name, backend, features and limits.
    #[wasm_bindgen(js_name = adapterInfo)]
    pub fn adapter_info(&self) -> JsValue {
        let a = self.engine.adapter();
        let o = Object::new();
        // The browser's own adapter info (vendor, architecture, description) where it exposes it.
        let browser = get(&self.gpu_device(), "adapterInfo");
        let text = |key: &str| get(&browser, key).as_string().unwrap_or_default();
        let name = if a.name.is_empty() {
            text("description")
        } else {
            a.name.clone()
        };
        set(&o, "name", name);
        set(&o, "vendor", text("vendor"));
        set(&o, "architecture", text("architecture"));
        set(&o, "backend", a.backend.clone());
        set(&o, "deviceType", a.device_type.as_str());
        set(&o, "driver", a.driver.clone());
        let features = Object::new();
        set(&features, "shaderF16", a.shader_f16);
        set(&features, "timestampQuery", a.timestamp_query);
        set(
            &features,
            "mappablePrimaryBuffers",
            a.mappable_primary_buffers,
        );
        set(&features, "subgroups", a.subgroups);
        set(&o, "features", features);
        let limits = Object::new();
        set(&limits, "maxBufferSize", a.max_buffer_size as f64);
        set(
            &limits,
            "maxStorageBufferBindingSize",
            a.max_storage_buffer_binding_size as f64,
        );
        set(&o, "limits", limits);
        o.into()
    }

    /// Every counter, camelCase.
    pub fn stats(&self) -> JsValue {
        let o = stats_object(&self.engine.stats());
        set(&o, "leakedTensors", leaked_tensors(&self.engine) as f64);
        o.into()
    }

    /// Submit recorded GPU work now.
    pub fn flush(&self) -> JsResult<()> {
        self.engine.flush().map_err(to_js_error)
    }

    /// Submit and wait for the GPU to finish.
    pub fn synchronize(&self) -> js_sys::Promise {
        let engine = self.engine.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            engine.synchronize().await.map_err(to_js_error)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Measure the matmul tile shapes; resolves to
    /// `{ adapter, choices: [{ size, tiles, ms, portable? }] }`.
    #[wasm_bindgen(js_name = tuneMatmul)]
    pub fn tune_matmul(&self) -> js_sys::Promise {
        let engine = self.engine.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let tuning = engine.tune_matmul().await.map_err(to_js_error)?;
            Ok(tuning_object(&tuning))
        })
    }

    /// The tuning in use, or `null`.
    #[wasm_bindgen(js_name = matmulTuning)]
    pub fn matmul_tuning(&self) -> JsValue {
        self.engine
            .matmul_tuning()
            .map_or(JsValue::NULL, |t| tuning_object(&t))
    }

    /// Use a tuning measured earlier (`null`: the defaults).
    #[wasm_bindgen(js_name = setMatmulTuning)]
    pub fn set_matmul_tuning(&self, tuning: JsValue) -> JsResult<()> {
        let parsed = if tuning.is_null() || tuning.is_undefined() {
            None
        } else {
            Some(parse_tuning(&tuning).map_err(to_js_error)?)
        };
        self.engine.set_matmul_tuning(parsed);
        Ok(())
    }

    /// For tmath's own tests (`engine[Symbol.for('tmath.liveTensorObjectsForTests')]()`): the
    /// `WasmTensor`s of this module not yet freed, every engine's together.
    #[wasm_bindgen(js_name = liveTensorObjectsForTests)]
    pub fn live_tensor_objects_for_tests(&self) -> f64 {
        LIVE_TENSOR_OBJECTS.with(|n| n.get()) as f64
    }

    /// For tmath's own tests of the abort path (`engine[Symbol.for('tmath.abortForTests')]()`):
    /// a panic while the engine's lock is held, the worst case a bug could cause.
    #[wasm_bindgen(js_name = abortForTests)]
    pub fn abort_for_tests(&self) {
        let _held = self.engine.shared.lock();
        panic!("tmath: abortForTests (a deliberate panic under the engine's lock)");
    }

    /// Release the device; later calls are `Disposed`.
    pub fn dispose(&self) {
        self.engine.dispose();
    }

    /// Why the device was lost, or `null` while it works.
    #[wasm_bindgen(js_name = deviceLost)]
    pub fn device_lost(&self) -> Option<String> {
        self.engine.device_lost()
    }

    /// After a device loss: a new engine with the same configuration (JS swaps it in); `undefined`
    /// while the device works.
    pub fn recovered(&self) -> js_sys::Promise {
        let mut engine = self.engine.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            if engine.recover().await.map_err(to_js_error)? {
                Ok(WasmEngine::fresh(engine).into())
            } else {
                Ok(JsValue::UNDEFINED)
            }
        })
    }

    /// `prepareTensor(tensor, precision?)`: `undefined` when the tensor already has the precision
    /// (JS then returns the same object), else the cast tensor.
    #[wasm_bindgen(js_name = prepareTensor)]
    pub fn prepare_tensor(
        &self,
        tensor: &WasmTensor,
        precision: JsValue,
    ) -> JsResult<Option<WasmTensor>> {
        let precision = if precision.is_undefined() || precision.is_null() {
            None
        } else {
            Some(dtype_name(&precision).map_err(to_js_error)?)
        };
        let prepared = self
            .engine
            .prepare_tensor(&tensor.tensor, precision)
            .map_err(to_js_error)?;
        Ok((!prepared.same_as(&tensor.tensor)).then(|| WasmTensor::new(prepared)))
    }

    /// `cast(tensor, dtype)`: always a new tensor.
    pub fn cast(&self, tensor: &WasmTensor, dtype: JsValue) -> JsResult<WasmTensor> {
        let dtype = dtype_name(&dtype).map_err(to_js_error)?;
        self.engine
            .cast(&tensor.tensor, dtype)
            .map(WasmTensor::new)
            .map_err(to_js_error)
    }

    /// `copy(tensor)`: a GPU copy in a new pooled buffer.
    pub fn copy(&self, tensor: &WasmTensor) -> JsResult<WasmTensor> {
        self.engine
            .copy(&tensor.tensor)
            .map(WasmTensor::new)
            .map_err(to_js_error)
    }

    /// `matmul(a, b)`.
    pub fn matmul(
        &self,
        a: &WasmTensor,
        b: &WasmTensor,
        accumulate: Option<String>,
    ) -> JsResult<WasmTensor> {
        // Which dtypes may accumulate is matmul_with's to say; here only the name is read.
        let accumulate = match accumulate {
            None => DType::F32,
            Some(name) => name.parse().map_err(|_| {
                to_js_error(Error::invalid_argument(
                    "accumulate",
                    format!("expected 'float32' or 'float16', got {name:?}"),
                ))
            })?,
        };
        self.engine
            .matmul_with(&a.tensor, &b.tensor, accumulate)
            .map(WasmTensor::new)
            .map_err(to_js_error)
    }

    /// `add/sub/mul/div(a, b)` with two tensors; `op` is 0 add, 1 sub, 2 mul, 3 div.
    #[wasm_bindgen(js_name = binaryTensors)]
    pub fn binary_tensors(&self, op: u32, a: &WasmTensor, b: &WasmTensor) -> JsResult<WasmTensor> {
        let op = element_op(op).map_err(to_js_error)?;
        self.engine
            .elementwise(op, (&a.tensor).into(), (&b.tensor).into())
            .map(WasmTensor::new)
            .map_err(to_js_error)
    }

    /// `add/sub/mul/div(a, b)` with a scalar on one side.
    #[wasm_bindgen(js_name = binaryScalar)]
    pub fn binary_scalar(
        &self,
        op: u32,
        t: &WasmTensor,
        scalar: f64,
        scalar_left: bool,
    ) -> JsResult<WasmTensor> {
        let op = element_op(op).map_err(to_js_error)?;
        let (a, b) = if scalar_left {
            (scalar.into(), (&t.tensor).into())
        } else {
            ((&t.tensor).into(), scalar.into())
        };
        self.engine
            .elementwise(op, a, b)
            .map(WasmTensor::new)
            .map_err(to_js_error)
    }

    /// `relu(a)`.
    pub fn relu(&self, a: &WasmTensor) -> JsResult<WasmTensor> {
        self.engine
            .relu(&a.tensor)
            .map(WasmTensor::new)
            .map_err(to_js_error)
    }

    /// `pool.get(shape, dtype?)`: `shape` as `js/index.js` checked it (an array, numbers or NaN),
    /// copied in as float64s in one step.
    #[wasm_bindgen(js_name = poolGet)]
    pub fn pool_get(&self, shape: Vec<f64>, dtype: JsValue) -> JsResult<WasmTensor> {
        self.make(&shape, dtype, false)
    }

    /// `pool.zeros(shape, dtype?)`, `shape` as for `poolGet`.
    #[wasm_bindgen(js_name = poolZeros)]
    pub fn pool_zeros(&self, shape: Vec<f64>, dtype: JsValue) -> JsResult<WasmTensor> {
        self.make(&shape, dtype, true)
    }

    /// `pool.put(tensor)`; the tensor's [`WasmTensor::meta_id`], so JS can free it at once.
    #[wasm_bindgen(js_name = poolPut)]
    pub fn pool_put(&self, tensor: &WasmTensor) -> JsResult<u32> {
        self.engine
            .pool()
            .put(&tensor.tensor)
            .map_err(to_js_error)?;
        Ok(tensor.meta_id())
    }

    /// `pool.stats()`.
    #[wasm_bindgen(js_name = poolStats)]
    pub fn pool_stats(&self) -> JsValue {
        pool_stats_object(&self.engine.pool().stats()).into()
    }

    /// `pool.trim(targetBytes)`: bytes freed.
    #[wasm_bindgen(js_name = poolTrim)]
    pub fn pool_trim(&self, target: JsValue) -> JsResult<f64> {
        let target = if target.is_undefined() {
            0
        } else {
            byte_count(&target, "targetBytes").map_err(to_js_error)?
        };
        Ok(self.engine.pool().trim(target) as f64)
    }

    fn make(&self, shape: &[f64], dtype: JsValue, zeros: bool) -> JsResult<WasmTensor> {
        let shape = Shape::from_f64(shape).map_err(to_js_error)?;
        let dtype = if dtype.is_undefined() || dtype.is_null() {
            None
        } else {
            Some(dtype_name(&dtype).map_err(to_js_error)?)
        };
        let pool = self.engine.pool();
        let tensor = if zeros {
            pool.zeros(shape, dtype)
        } else {
            pool.get(shape, dtype)
        };
        tensor.map(WasmTensor::new).map_err(to_js_error)
    }
}

/// Internal: the tensor under JS `Tensor`.
#[wasm_bindgen]
pub struct WasmTensor {
    tensor: Tensor,
}

thread_local! {
    /// `WasmTensor`s not yet freed, by JS or by the garbage collector (one thread on the web):
    /// for the tests of `js/index.js`, which frees a tensor's wasm half when it is disposed.
    static LIVE_TENSOR_OBJECTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// Tensors the garbage collector found undisposed, by engine (its shared state's address;
    /// one thread on the web).
    static LEAKED: std::cell::RefCell<std::collections::HashMap<usize, u64>> =
        Default::default();
    /// The metadata of disposed tensors, interned: see [`WasmTensor::meta_id`].
    static METAS: std::cell::RefCell<MetaTable> = Default::default();
}

/// Disposed tensors' metadata (`[dtype code, byte length, ...dims]`), one entry per dtype and
/// shape, so a dispose hands JS one number instead of a list: a list crossing costs an
/// allocation on each side and a third call to free it, on every dispose.
#[derive(Default)]
struct MetaTable {
    /// Key: the dtype's code, then the dims (a slice of it finds an entry without allocating).
    ids: crate::hashing::FastMap<Vec<usize>, u32>,
    metas: Vec<Vec<f64>>,
}

impl MetaTable {
    /// Entries at most: a program with more distinct shapes than this gets [`META_UNINTERNED`]
    /// for the rest, so the table stays bounded (under 10 MB).
    const CAPACITY: usize = 1 << 16;
}

/// The id of a tensor whose metadata the full table could not take: JS asks for the list
/// itself ([`WasmTensor::meta_list`]).
const META_UNINTERNED: u32 = u32::MAX;

fn engine_key(shared: &std::sync::Arc<crate::context::Shared>) -> usize {
    std::sync::Arc::as_ptr(shared) as usize
}

/// `engine.stats().leakedTensors`.
fn leaked_tensors(engine: &Engine) -> u64 {
    LEAKED.with(|m| {
        m.borrow()
            .get(&engine_key(&engine.shared))
            .copied()
            .unwrap_or(0)
    })
}

/// The safety net. wasm-bindgen's finalizer drops a `WasmTensor` once the garbage collector
/// collected it: a tensor the program dropped without `dispose()` gives its buffer back then
/// (when the last handle goes: a readback still in flight keeps it until it ends), and counts
/// as leaked, so leaks show in the stats. (One registry per tensor, wasm-bindgen's own: none of
/// tmath's in JS.)
impl Drop for WasmTensor {
    fn drop(&mut self) {
        LIVE_TENSOR_OBJECTS.with(|n| n.set(n.get().saturating_sub(1)));
        if !self.tensor.is_disposed() {
            let key = engine_key(self.tensor.shared());
            LEAKED.with(|m| *m.borrow_mut().entry(key).or_default() += 1);
        }
    }
}

impl WasmTensor {
    fn new(tensor: Tensor) -> WasmTensor {
        LIVE_TENSOR_OBJECTS.with(|n| n.set(n.get() + 1));
        WasmTensor { tensor }
    }

    fn dtype_code(&self) -> usize {
        let dtype = self.tensor.dtype();
        DType::ALL.iter().position(|&d| d == dtype).unwrap_or(0)
    }

    /// What JS keeps of a disposed tensor once it has freed this object (rather than leave
    /// that to a finalizer), as an id of the interned table: [`WasmTensor::meta_of`] gives the
    /// metadata, which JS asks for once per id. [`META_UNINTERNED`] when the table is full.
    fn meta_id(&self) -> u32 {
        let dims = self.tensor.shape().dims();
        // The key (dtype code, then dims) on the stack for the shapes of nearly every model
        // (rank 7 or less).
        let key_items = std::iter::once(self.dtype_code()).chain(dims.iter().copied());
        let mut stack = [0usize; 8];
        let heap: Vec<usize>;
        let key: &[usize] = match stack.get_mut(..=dims.len()) {
            Some(slots) => {
                slots
                    .iter_mut()
                    .zip(key_items)
                    .for_each(|(slot, v)| *slot = v);
                slots
            }
            None => {
                heap = key_items.collect();
                &heap
            }
        };
        METAS.with(|table| {
            let mut table = table.borrow_mut();
            if let Some(&id) = table.ids.get(key) {
                return id;
            }
            if table.metas.len() >= MetaTable::CAPACITY {
                return META_UNINTERNED;
            }
            let id = table.metas.len() as u32;
            table.ids.insert(key.to_vec(), id);
            table.metas.push(self.meta());
            id
        })
    }

    /// `[dtype code, byte length, ...dims]`, the code the dtype's index in [`DType::ALL`]
    /// (`js/index.js`'s `DTYPE_NAMES` lists their names in that order).
    fn meta(&self) -> Vec<f64> {
        let dims = self.tensor.shape().dims();
        let mut meta = Vec::with_capacity(2 + dims.len());
        meta.push(self.dtype_code() as f64);
        meta.push(self.tensor.byte_len() as f64);
        meta.extend(dims.iter().map(|&d| d as f64));
        meta
    }
}

#[wasm_bindgen]
impl WasmTensor {
    /// Dimensions.
    pub fn shape(&self) -> Vec<f64> {
        self.tensor
            .shape()
            .dims()
            .iter()
            .map(|&d| d as f64)
            .collect()
    }

    /// Canonical dtype name.
    pub fn dtype(&self) -> String {
        self.tensor.dtype().name().to_owned()
    }

    /// Bytes of data.
    #[wasm_bindgen(js_name = byteLength)]
    pub fn byte_length(&self) -> f64 {
        self.tensor.byte_len() as f64
    }

    /// The `GPUBuffer` (pending work flushed first).
    #[wasm_bindgen(js_name = gpuBuffer)]
    pub fn gpu_buffer(&self) -> JsResult<JsValue> {
        if let Some(foreign) = self.tensor.foreign_buffer().map_err(to_js_error)? {
            self.tensor.shared().lock().flush();
            return Ok(foreign.into());
        }
        let buffer = self.tensor.buffer().map_err(to_js_error)?;
        Ok(buffer
            .as_webgpu()
            .map(|b| JsValue::from(b.clone()))
            .unwrap_or(JsValue::NULL))
    }

    /// Whether it was disposed.
    pub fn disposed(&self) -> bool {
        self.tensor.is_disposed()
    }

    /// Back to the pool; the tensor's [`WasmTensor::meta_id`], so JS can free it at once.
    pub fn dispose(&self) -> JsResult<u32> {
        self.tensor.dispose().map_err(to_js_error)?;
        Ok(self.meta_id())
    }

    /// The metadata a [`WasmTensor::meta_id`] stands for (empty for an unknown id).
    #[wasm_bindgen(js_name = metaOf)]
    pub fn meta_of(id: u32) -> Vec<f64> {
        METAS.with(|table| {
            table
                .borrow()
                .metas
                .get(id as usize)
                .cloned()
                .unwrap_or_default()
        })
    }

    /// This tensor's metadata as a list, for ids of [`META_UNINTERNED`].
    #[wasm_bindgen(js_name = metaList)]
    pub fn meta_list(&self) -> Vec<f64> {
        self.meta()
    }

    /// Read back as the dtype's typed array: `Float32Array`, `Int32Array`, `Float16Array` where
    /// the browser has it (else `Uint16Array` of bits), `Uint16Array` of bits for bfloat16.
    /// One copy: a tensor of one chunk is sliced out of its mapped staging range; a larger one is
    /// copied chunk by chunk into the result's own memory.
    #[wasm_bindgen(js_name = toHost)]
    pub fn to_host(&self) -> js_sys::Promise {
        let tensor = self.tensor.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let dtype = tensor.dtype();
            let len = tensor.byte_len();
            let mut whole: Option<js_sys::ArrayBuffer> = None;
            let mut result: Option<js_sys::Uint8Array> = None;
            crate::stream::read_chunks(&tensor, None, |buffer, at, n| {
                let mapped = crate::platform::mapped_js(buffer, n)?;
                if at == 0 && n == len {
                    whole = Some(mapped.slice(0, n as u32).buffer());
                } else {
                    result
                        .get_or_insert_with(|| js_sys::Uint8Array::new_with_length(len as u32))
                        .set(&mapped, at as u32);
                }
                Ok(std::future::ready(Ok(true)))
            })
            .await
            .map_err(to_js_error)?;
            let raw = match (whole, result) {
                (Some(raw), _) => raw,
                (None, Some(out)) => out.buffer(),
                (None, None) => js_sys::ArrayBuffer::new(0),
            };
            Ok(typed_array(dtype, raw))
        })
    }
}

/// The op of a code from `js/index.js`'s `OP_CODES` (a number crosses into wasm for free).
fn element_op(code: u32) -> crate::Result<crate::ElementOp> {
    use crate::ElementOp as Op;
    Ok(match code {
        0 => Op::Add,
        1 => Op::Sub,
        2 => Op::Mul,
        3 => Op::Div,
        other => {
            return Err(Error::invalid_argument(
                "op",
                format!("unknown op code {other}"),
            ))
        }
    })
}

fn typed_array(dtype: DType, raw: js_sys::ArrayBuffer) -> JsValue {
    match dtype {
        DType::F32 => js_sys::Float32Array::new(&raw).into(),
        DType::I32 => js_sys::Int32Array::new(&raw).into(),
        DType::BF16 => js_sys::Uint16Array::new(&raw).into(),
        DType::F16 => {
            let ctor = get(&js_sys::global(), "Float16Array");
            match ctor.dyn_ref::<js_sys::Function>() {
                Some(ctor) => Reflect::construct(ctor, &Array::of1(&raw))
                    .unwrap_or_else(|_| js_sys::Uint16Array::new(&raw).into()),
                None => js_sys::Uint16Array::new(&raw).into(),
            }
        }
    }
}

fn tuning_object(tuning: &crate::MatmulTuning) -> JsValue {
    let out = Object::new();
    let _ = Reflect::set(&out, &"adapter".into(), &tuning.adapter.as_str().into());
    let choices = js_sys::Array::new();
    for c in &tuning.choices {
        let choice = Object::new();
        let _ = Reflect::set(&choice, &"size".into(), &(c.size as f64).into());
        let _ = Reflect::set(&choice, &"tiles".into(), &c.tiles.name().into());
        let _ = Reflect::set(&choice, &"ms".into(), &c.ms.into());
        if let Some(portable) = c.portable {
            let _ = Reflect::set(&choice, &"portable".into(), &portable.name().into());
        }
        choices.push(&choice);
    }
    let _ = Reflect::set(&out, &"choices".into(), &choices);
    out.into()
}

/// A tuning object as `tuneMatmul` returns it (perhaps stored and parsed again).
fn parse_tuning(value: &JsValue) -> crate::Result<crate::MatmulTuning> {
    let bad = |why: String| Error::invalid_argument("tuning", why);
    let adapter = get(value, "adapter").as_string().ok_or_else(|| {
        bad("expected { adapter: string, choices: [...] } as tuneMatmul() returns it".into())
    })?;
    let list = get(value, "choices");
    if !js_sys::Array::is_array(&list) {
        return Err(bad("choices must be an array".into()));
    }
    let mut choices = Vec::new();
    for item in js_sys::Array::from(&list).iter() {
        let size = get(&item, "size")
            .as_f64()
            .filter(|s| *s >= 1.0 && *s <= 65536.0 && s.fract() == 0.0);
        let tiles = get(&item, "tiles")
            .as_string()
            .as_deref()
            .and_then(crate::MatmulTiles::parse);
        let ms = get(&item, "ms").as_f64().unwrap_or(0.0);
        let portable = get(&item, "portable");
        let portable = match portable.as_string() {
            None if portable.is_undefined() || portable.is_null() => None,
            text => Some(
                text.as_deref()
                    .and_then(crate::MatmulTiles::parse)
                    .ok_or_else(|| {
                        bad(format!(
                            "portable must be a tile shape ('8x8x16'); got {portable:?}"
                        ))
                    })?,
            ),
        };
        match (size, tiles) {
            (Some(size), Some(tiles)) => choices.push(crate::MatmulChoice {
                size: size as u32,
                tiles,
                ms,
                portable,
            }),
            _ => {
                return Err(bad(format!(
                    "each choice needs a size (integer) and tiles ('8x8x16'); got {item:?}"
                )))
            }
        }
    }
    Ok(crate::MatmulTuning { adapter, choices })
}
