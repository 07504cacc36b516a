// tmath: the GPU memory layer for web ML apps. This is the package entry: idiomatic JS classes
// (Engine, Pool, Tensor) over the wasm-bindgen module in ../pkg. Load it from a plain
// <script type="module">, a module or classic worker (`await import(...)`), any bundler, Node or
// Deno; the .wasm next to pkg/tmath.js is found through import.meta.url, so no path needs
// configuring.
import init, { WasmEngine as FirstWasmEngine } from '../pkg/tmath.js';

/**
 * What the glue's `init` should load: nothing to say where the .wasm is fetched (browsers,
 * workers, bundlers), or its bytes read from disk where it is a file (Node's fetch cannot read
 * file: URLs; Deno and Bun read it the same way).
 */
async function wasmSource() {
  const url = new URL('../pkg/tmath_bg.wasm', import.meta.url);
  if (url.protocol !== 'file:') return undefined;
  const fs = 'node:fs/promises'; // a variable, so bundlers for the web leave it alone
  const { readFile } = await import(/* @vite-ignore */ fs);
  return { module_or_path: await readFile(url) };
}

await init(await wasmSource());

// The wasm module instance new engines are made on. A Rust panic aborts its instance (its state
// may be half-changed, a lock held for good): engines made on it report `Internal` from then
// on, and the next `Engine.create` loads a fresh instance of the same module.
let current = { WasmEngine: FirstWasmEngine, aborted: false };
let instances = 1;

async function freshModule() {
  try {
    const url = new URL(`../pkg/tmath.js?instance=${++instances}`, import.meta.url).href;
    const glue = await import(/* @vite-ignore */ url);
    await glue.default(await wasmSource());
    return { WasmEngine: glue.WasmEngine, aborted: false };
  } catch (e) {
    // A bundle that inlined the module has no file to load again.
    throw inputError('Internal', 'tmath\'s WebAssembly module aborted earlier and could not be loaded again here; reload the page', e);
  }
}

/** Every code a TmathError can carry. */
export const ERROR_CODES = Object.freeze([
  'InvalidShape', 'DataLengthMismatch', 'UnsupportedDtype', 'ValueOutOfRange', 'TooLarge',
  'Disposed', 'DeviceMismatch', 'DeviceLost', 'OutOfMemory', 'NoAdapter', 'InvalidArgument',
  'Internal',
]);

function tmathError(code, message) {
  const error = new Error(message);
  error.name = 'TmathError';
  error.code = code;
  return error;
}

/** Whether `e` is an error thrown by tmath (`e.name === 'TmathError'`, with a `code`). */
export function isTmathError(e) {
  return e instanceof Error && e.name === 'TmathError' && typeof e.code === 'string';
}

// ---------------------------------------------------------------------------------------------
// The JS boundary. The rule: JS values in, validated plain data out, then wasm. Everything a
// caller hands over is read here, once, with brand checks (the intrinsic getters below, which no
// own property, spoofed `constructor`, `Symbol.toStringTag` or polluted prototype can fool) and
// own-property reads inside try/catch; wasm then receives only values no user code can run
// from: fresh typed arrays made with the intrinsic constructors over the caller's memory, plain
// arrays of numbers, and null-prototype option objects. So nothing user-controlled runs while
// Rust holds the engine's lock (a JS exception unwinding through wasm would skip the lock's
// release and brick the engine), and every failure is a TmathError with the original error as
// `cause`.
// ---------------------------------------------------------------------------------------------

const TypedArray = Object.getPrototypeOf(Uint8Array);
const intrinsicGetter = (proto, key) => Object.getOwnPropertyDescriptor(proto, key).get;
const taTag = intrinsicGetter(TypedArray.prototype, Symbol.toStringTag);
const taBuffer = intrinsicGetter(TypedArray.prototype, 'buffer');
const taByteOffset = intrinsicGetter(TypedArray.prototype, 'byteOffset');
const taLength = intrinsicGetter(TypedArray.prototype, 'length');
const abByteLength = intrinsicGetter(ArrayBuffer.prototype, 'byteLength');
const abDetached = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'detached')?.get;
const sabByteLength = typeof SharedArrayBuffer === 'function'
  ? intrinsicGetter(SharedArrayBuffer.prototype, 'byteLength') : undefined;
const isArray = Array.isArray;
const getOwnDescriptor = Object.getOwnPropertyDescriptor;
const ownKeys = Reflect.ownKeys;
const isView = ArrayBuffer.isView;

/** Typed arrays tmath writes, by brand, with the intrinsic constructor of a clean view. */
const HOST_ARRAYS = {
  Float32Array, Int32Array, Uint16Array, BigInt64Array, Float64Array, Uint8Array,
  // Float16Array where the runtime has it; its bits travel as a Uint16Array view.
  Float16Array: Uint16Array,
};

/**
 * Host data kinds by the number wasm takes for them (a number crosses into wasm for free, a
 * string is encoded per call): the order of `HostKind` in src/web/transfer.rs.
 */
const HOST_KINDS = {
  Float32Array: 0, Int32Array: 1, Float16Array: 2, Uint16Array: 3, BigInt64Array: 4,
  Float64Array: 5, Array: 6, ArrayBuffer: 7, Uint8Array: 8,
};

/** The brand of a typed array (its [[TypedArrayName]]), or undefined for anything else. */
function typedArrayTag(value) {
  return isView(value) ? taTag.call(value) : undefined;
}

function bufferByteLength(value) {
  try { return abByteLength.call(value); } catch { /* not an ArrayBuffer */ }
  try { return sabByteLength?.call(value); } catch { /* not a SharedArrayBuffer */ }
  return undefined;
}

function isDetached(buffer) {
  if (abDetached) {
    try { return abDetached.call(buffer); } catch { return false; } // a SharedArrayBuffer
  }
  return false;
}

function inputError(code, message, cause) {
  const error = tmathError(code, message);
  if (cause !== undefined) error.cause = cause;
  return error;
}

/** Read `read()` (a getter, a proxy trap: the caller's code); a throw becomes InvalidArgument. */
function guarded(what, read) {
  try {
    return read();
  } catch (e) {
    if (isTmathError(e)) throw e;
    throw inputError('InvalidArgument', `reading ${what} threw: ${safeMessage(e)}`, e);
  }
}

function safeMessage(e) {
  try { return e instanceof Error ? e.message : String(e); } catch { return 'an unprintable value'; }
}

/**
 * Host data as wasm takes it: `{ data, kind }` (a `HOST_KINDS` number), `data` a fresh view
 * with the intrinsic constructor over the caller's memory (or a Float64Array copy of a number
 * array). Undefined if `input` is not host data.
 */
function hostInput(input) {
  const tag = typedArrayTag(input);
  if (tag !== undefined) {
    const Ctor = HOST_ARRAYS[tag];
    if (!Ctor) return { unsupported: tag };
    const buffer = taBuffer.call(input);
    if (isDetached(buffer)) {
      throw inputError('InvalidArgument', `the ${tag}'s ArrayBuffer is detached (transferred or freed); pass data that is still attached`);
    }
    const length = taLength.call(input);
    const perElement = Ctor === Uint16Array ? 2 : Ctor.BYTES_PER_ELEMENT;
    const byteOffset = taByteOffset.call(input);
    return { data: new Ctor(buffer, byteOffset, length * (perElement / Ctor.BYTES_PER_ELEMENT)), kind: HOST_KINDS[tag] };
  }
  const bytes = bufferByteLength(input);
  if (bytes !== undefined) {
    if (isDetached(input)) throw inputError('InvalidArgument', 'the ArrayBuffer is detached (transferred or freed); pass data that is still attached');
    return { data: new Uint8Array(input, 0, bytes), kind: HOST_KINDS.ArrayBuffer };
  }
  if (isArray(input)) {
    // One closure for the whole copy: no closure or string per element on this path.
    const values = guarded('the data array', () => {
      const length = input.length;
      const copy = new Float64Array(length);
      for (let i = 0; i < length; i++) {
        const v = input[i];
        if (typeof v !== 'number') {
          throw inputError('InvalidArgument', `invalid argument \`data\`: element ${i} is ${describe(v)}, not a number`);
        }
        copy[i] = v;
      }
      return copy;
    });
    return { data: values, kind: HOST_KINDS.Array };
  }
  return undefined;
}

/** The InvalidShape error for a shape that is not an array. */
function shapeNotArray(shape) {
  return inputError('InvalidShape', `invalid shape: expected an array of dimensions like [2, 3], got ${describe(shape)}`);
}

/** A shape as a plain array of numbers (non-numbers become NaN: InvalidShape), or undefined. */
function cleanShape(shape) {
  if (shape === undefined || shape === null) return undefined;
  if (!isArray(shape)) {
    if (typeof shape !== 'object' && typeof shape !== 'function') return shape; // wasm reports InvalidShape
    throw shapeNotArray(shape);
  }
  // The hot path (every pool.get and toDevice): one closure per call, none per dimension.
  return guarded('the shape', () => {
    const length = shape.length;
    if (typeof length !== 'number' || length > 64) {
      throw inputError('InvalidShape', `invalid shape: at most 64 dimensions, got ${length}`);
    }
    const dims = new Array(length);
    for (let i = 0; i < length; i++) {
      const d = shape[i];
      dims[i] = typeof d === 'number' ? d : NaN;
    }
    return dims;
  });
}

/**
 * `pool.get` and `pool.zeros`' shape: an array only, its dimensions as numbers. wasm takes it
 * as a list of float64s copied in one step, with no call back into JS per dimension.
 */
function poolShape(shape) {
  if (!isArray(shape)) {
    throw shapeNotArray(shape);
  }
  return cleanShape(shape);
}

/**
 * Options as a null-prototype object of own properties only (a polluted Object.prototype changes
 * nothing); unknown keys and throwing getters or traps are InvalidArgument.
 */
const NO_OPTIONS = Object.freeze(Object.create(null));

function readOptions(options, allowed, what = 'options') {
  if (options === undefined || options === null) return NO_OPTIONS;
  const out = Object.create(null);
  if (typeof options !== 'object') {
    throw tmathError('InvalidArgument', `${what} must be an object like { dtype: 'float32' }, got ${describe(options)}`);
  }
  const keys = guarded(`the ${what}' keys`, () => ownKeys(options));
  for (const key of keys) {
    const descriptor = guarded(`option ${String(key)}`, () => getOwnDescriptor(options, key));
    if (descriptor === undefined || !descriptor.enumerable) continue;
    if (typeof key !== 'string' || !allowed.includes(key)) {
      throw tmathError('InvalidArgument', `unknown option \`${String(key)}\`; accepted: ${allowed.join(', ')}`);
    }
    const value = 'value' in descriptor ? descriptor.value : guarded(`option ${key}`, () => descriptor.get.call(options));
    // Only primitives go on to wasm (a GPUDevice for `device`, checked by brand; `gpu` stays in
    // JS): an object there could run code.
    if (value !== null && (typeof value === 'object' || typeof value === 'function') && key !== 'device' && key !== 'gpu' && key !== 'signal') {
      throw tmathError('InvalidArgument', `option \`${key}\` must be a ${key === 'adopt' || key === 'zeroOnReuse' ? 'boolean' : key === 'dtype' || key === 'precision' || key === 'powerPreference' ? 'string' : 'number'}, got ${describe(value)}`);
    }
    out[key] = value;
  }
  return out;
}

/** A dtype argument: a string (wasm names the accepted ones), or undefined. */
function cleanDtype(dtype, what = 'dtype') {
  if (dtype === undefined || dtype === null || typeof dtype === 'string') return dtype ?? undefined;
  throw tmathError('UnsupportedDtype', `unsupported dtype: ${what} must be a string like 'float32', got ${describe(dtype)}`);
}

// Every call into wasm goes through here. A Rust panic surfaces as a WebAssembly.RuntimeError
// (its message was logged to the console by console_error_panic_hook): it becomes a TmathError
// `Internal`, and the next Engine.create uses a fresh module instance. Any other non-tmath error
// becomes a TmathError too, with the original as `cause`.
function call(fn) {
  try {
    return fn();
  } catch (e) {
    throw callError(e);
  }
}

/** What `call` throws for `e` (hot paths catch inline and use this, with no closure per call). */
function callError(e) {
  if (isTmathError(e)) return e;
  if (e instanceof WebAssembly.RuntimeError) {
    current.aborted = true;
    return inputError('Internal', `tmath internal error (${e.message}); see the console for the Rust panic message and please report it`, e);
  }
  return inputError('InvalidArgument', `tmath could not use an argument: ${safeMessage(e)}`, e);
}

const CONSTRUCT = Symbol('tmath.construct');

const ENGINE_OPTIONS = ['precision', 'memoryLimitBytes', 'poolBudgetBytes', 'maxPerClass', 'minClassBytes', 'powerPreference', 'zeroOnReuse', 'transferChunkBytes', 'matmulTiles'];
const ENGINE_OPTIONS_WITH_GPU = [...ENGINE_OPTIONS, 'gpu'];

function nullProto(object) {
  return Object.assign(Object.create(null), object);
}

/**
 * The `gpu` option as wgpu will use it: an object of our own whose `requestAdapter` calls the
 * caller's, so a throw or a bad value becomes a rejected promise (NoAdapter), never an
 * exception through wasm.
 */
function gpuOf(gpu) {
  const requestAdapter = (gpu !== null && typeof gpu === 'object')
    ? guarded('gpu.requestAdapter', () => gpu.requestAdapter) : undefined;
  if (typeof requestAdapter !== 'function') {
    throw tmathError('InvalidArgument', `option \`gpu\` must be a WebGPU GPU object (navigator.gpu, or create([]) from the npm package webgpu), got ${describe(gpu)}`);
  }
  return { requestAdapter: (options) => new Promise((resolve) => resolve(requestAdapter.call(gpu, options))) };
}

/** A GPUAdapterInfo-shaped plain object (a device's `adapterInfo` is missing in older browsers). */
function adapterInfoOf(info) {
  const text = (key) => { const v = info?.[key]; return typeof v === 'string' ? v : ''; };
  const size = (key) => { const v = info?.[key]; return typeof v === 'number' ? v : 0; };
  return {
    vendor: text('vendor'), architecture: text('architecture'), device: text('device'),
    description: text('description'), subgroupMinSize: size('subgroupMinSize'),
    subgroupMaxSize: size('subgroupMaxSize'), isFallbackAdapter: info?.isFallbackAdapter === true,
  };
}

// wgpu 30's WebGPU backend does not know WebGPU's `subgroups` feature and leaves it out of the
// device it requests; tmath's subgroup matmul kernels need it. This GPU hands wgpu adapters that
// add it to the device's features where the adapter has it (wgpu reads only these members).
function askingForSubgroups(gpu) {
  if (typeof gpu?.requestAdapter !== 'function') return gpu;
  return {
    get wgslLanguageFeatures() { return gpu.wgslLanguageFeatures; },
    getPreferredCanvasFormat: () => gpu.getPreferredCanvasFormat(),
    requestAdapter: async (options) => {
      const adapter = await gpu.requestAdapter(options);
      if (!adapter?.features?.has?.('subgroups')) return adapter;
      return {
        features: adapter.features,
        limits: adapter.limits,
        info: adapter.info,
        isFallbackAdapter: adapter.isFallbackAdapter,
        requestDevice: (descriptor) => adapter.requestDevice({
          ...descriptor,
          requiredFeatures: [...(descriptor?.requiredFeatures ?? []), 'subgroups'],
        }),
      };
    },
  };
}

/**
 * Run `make` (the synchronous wasm call in which wgpu makes its instance) while the global
 * object looks as wgpu's WebGPU backend requires: a `Window` or worker scope whose
 * `navigator.gpu` is `gpu`. In a browser with the default GPU this changes nothing; in Node and
 * Deno, or for a `gpu` option, the globals are set for that call only and restored in `finally`
 * (no await in between, so no other code sees them).
 */
function withGpu(gpu, make) {
  const g = globalThis;
  const undo = [];
  const shadow = (object, key, value) => {
    const saved = getOwnDescriptor(object, key);
    Object.defineProperty(object, key, { value, configurable: true, writable: true });
    undo.push(() => (saved ? Object.defineProperty(object, key, saved) : delete object[key]));
  };
  try {
    if (g.Window === undefined && g.WorkerGlobalScope === undefined) shadow(g, 'Window', function Window() {});
    const nav = g.navigator;
    if (nav === undefined || nav === null) shadow(g, 'navigator', { gpu });
    else if (nav.gpu !== gpu) shadow(nav, 'gpu', gpu);
  } catch (e) {
    undo.reverse().forEach((f) => f());
    throw inputError('NoAdapter', `this runtime does not let tmath hand its GPU to wgpu (${safeMessage(e)})`, e);
  }
  try {
    return make();
  } finally {
    undo.reverse().forEach((f) => f());
  }
}
const AsyncFunction = (async () => {}).constructor;
const AsyncGeneratorFunction = (async function* () {}).constructor;

// Elementwise ops by the code wasm takes (a number crosses for free; a string is encoded).
const OP_CODES = { add: 0, sub: 1, mul: 2, div: 3 };

const DISPOSE = Symbol.dispose ?? Symbol.for('Symbol.dispose');

// tidy() scopes: tensors made while one is open are disposed when it closes, unless returned.
const scopes = [];

// The safety net is wasm-bindgen's own finalizer of the wasm tensor: a Tensor the program dropped
// without dispose() gives its buffer back when the garbage collector collects it, and counts in
// `engine.stats().leakedTensors` (see `impl Drop for WasmTensor` in src/web/mod.rs). A second
// registry here would double the cost of every tensor for nothing.
function wrap(inner) {
  const tensor = new Tensor(CONSTRUCT, inner);
  scopes.at(-1)?.push(tensor);
  return tensor;
}

function checkOptions(options, allowed) {
  const out = readOptions(options, allowed);
  if (out.adopt !== undefined && typeof out.adopt !== 'boolean') {
    throw tmathError('InvalidArgument', `option \`adopt\` must be a boolean, got ${describe(out.adopt)}`);
  }
  return out;
}

// GPUBuffer and GPUDevice brands: the intrinsic `size` and `queue` getters of the runtime's own
// prototypes, which throw for any other object (a look-alike, `Object.create(proto)`, a proxy).
// Browsers, workers and Deno have the `GPUBuffer` and `GPUDevice` globals; Node on Dawn has
// none, so the prototypes are also learned from each device an engine runs on.
const bufferBrands = new Set();
const deviceBrands = new Set();
const learnedDevicePrototypes = new WeakSet();

function learnBrand(brands, proto, key) {
  const getter = proto ? getOwnDescriptor(proto, key)?.get : undefined;
  if (typeof getter === 'function') brands.add(getter);
}
if (typeof GPUBuffer === 'function') learnBrand(bufferBrands, GPUBuffer.prototype, 'size');
if (typeof GPUDevice === 'function') learnBrand(deviceBrands, GPUDevice.prototype, 'queue');

function hasBrand(brands, value) {
  if (value === null || typeof value !== 'object') return false;
  // Host data is never a GPU object, and a failed brand check throws (slow): skip it for them.
  if (isView(value) || Array.isArray(value) || value instanceof ArrayBuffer) return false;
  for (const getter of brands) {
    try { getter.call(value); return true; } catch { /* another brand */ }
  }
  return false;
}

/** Learn the brands of `device` (a real device: wgpu's, or one that passed `isGpuDevice`). */
function learnDevice(device) {
  const proto = Object.getPrototypeOf(device);
  if (learnedDevicePrototypes.has(proto)) return;
  learnedDevicePrototypes.add(proto);
  learnBrand(deviceBrands, proto, 'queue');
  if (typeof GPUBuffer === 'function') return;
  const probe = device.createBuffer({ size: 4, usage: 8 /* COPY_DST */ });
  learnBrand(bufferBrands, Object.getPrototypeOf(probe), 'size');
  probe.destroy();
}

function isGpuBuffer(value) {
  return hasBrand(bufferBrands, value);
}

/** A GPUDevice: by brand where one is known, else (the first device in Node) by its methods. */
function isGpuDevice(value) {
  if (value === null || typeof value !== 'object') return false;
  if (deviceBrands.size > 0) return hasBrand(deviceBrands, value);
  return guarded('the device', () => typeof value.createBuffer === 'function'
    && typeof value.createCommandEncoder === 'function' && typeof value.queue?.submit === 'function');
}

const ORT_DTYPES = { float32: 'float32', float16: 'float16', int32: 'int32' };
const TFJS_DTYPES = { float32: 'float32', int32: 'int32' };

// ONNX Runtime Web tensors on the GPU (`location: 'gpu-buffer'`) and TensorFlow.js tensors on its
// WebGPU backend, duck-typed so neither library is a dependency. Returns { buffer, shape, dtype,
// release } or undefined.
function foreignTensor(input, shape, dtype) {
  if (input === null || typeof input !== 'object' || isGpuBuffer(input) || isView(input) || isTensor(input)) return undefined;
  return guarded('the input tensor', () => foreignTensorOf(input, shape, dtype));
}

function foreignTensorOf(input, shape, dtype) {
  if (input.location === 'gpu-buffer' && isGpuBuffer(input.gpuBuffer) && Array.isArray(input.dims)) {
    const own = ORT_DTYPES[input.type];
    if (!own) throw tmathError('UnsupportedDtype', `ONNX Runtime tensor type '${input.type}' on the GPU is not supported; tmath takes float32, float16 and int32 (int64 only as host data)`);
    return { buffer: input.gpuBuffer, shape: shape ?? input.dims, dtype: dtype ?? own };
  }
  if (typeof input.dataToGPU === 'function' && Array.isArray(input.shape) && typeof input.dtype === 'string') {
    const own = TFJS_DTYPES[input.dtype];
    if (!own) throw tmathError('UnsupportedDtype', `TensorFlow.js dtype '${input.dtype}' is not supported; tmath takes float32 and int32`);
    const gpu = input.dataToGPU();
    if (!isGpuBuffer(gpu?.buffer)) {
      gpu?.tensorRef?.dispose?.();
      throw tmathError('DeviceMismatch', 'this TensorFlow.js tensor is not on the WebGPU backend (dataToGPU gave no GPUBuffer); use its data() as host data instead');
    }
    return { buffer: gpu.buffer, shape: shape ?? input.shape, dtype: dtype ?? own, release: () => gpu.tensorRef?.dispose?.() };
  }
  return undefined;
}

// ONNX Runtime Web tensors whose data is on the CPU.
function foreignHostData(input) {
  if (input === null || typeof input !== 'object' || isView(input) || isArray(input)) return undefined;
  return guarded('the input tensor', () => (input.location === 'cpu' && isArray(input.dims) && isView(input.data)
    ? { data: input.data, shape: input.dims } : undefined));
}
// The Tensor brand: its private field (`Object.create(Tensor.prototype)` and look-alikes have
// none). Set by Tensor's static block: the wasm half (null once disposed through the Tensor),
// and the step that frees that half when the tensor is disposed.
let innerOfTensor;
let releaseTensor;

/** Names of the dtype codes in a disposed tensor's metadata (`WasmTensor::meta` in Rust): Rust's `DType::ALL`, in order. */
const DTYPE_NAMES = ['float32', 'float16', 'bfloat16', 'int32'];

// A dispose returns an id of the module's interned metadata (`WasmTensor::meta_id` in Rust):
// [dtype code, byte length, ...dims] are asked for once per id and kept here, one table per
// wasm module instance (each has its own ids; after an abort a fresh one starts over). The
// tensor keeps the list itself, so no id outlives its module.
const META_UNINTERNED = 0xFFFFFFFF;
const metaTables = new WeakMap(); // a module's WasmTensor class → [metadata by id]
let lastMetaClass = null;
let lastMetaTable = null;

function disposedMeta(inner, id) {
  if (id === META_UNINTERNED) return inner.metaList();
  const cls = inner.constructor;
  if (cls !== lastMetaClass) {
    lastMetaTable = metaTables.get(cls);
    if (lastMetaTable === undefined) metaTables.set(cls, (lastMetaTable = []));
    lastMetaClass = cls;
  }
  return (lastMetaTable[id] ??= cls.metaOf(id));
}

function wasmTensorOf(tensor, method) {
  const inner = innerOfTensor(tensor);
  if (inner === undefined) {
    throw tmathError('InvalidArgument', `${method} expects a tmath Tensor, got ${describe(tensor)}`);
  }
  if (inner === null) throw disposedError(tensor);
  return inner;
}

/** Rust's `Disposed` error, for a tensor whose wasm half is already freed. */
function disposedError(tensor) {
  return tmathError('Disposed', `tensor [${tensor.shape.join(', ')}] ${tensor.dtype} was disposed (returned to the pool) and cannot be used any more`);
}

function isTensor(value) {
  return innerOfTensor(value) !== undefined;
}

function describe(value) {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  const tag = typedArrayTag(value);
  if (tag) return tag;
  if (isArray(value)) return 'Array';
  try {
    const ctor = getOwnDescriptor(Object.getPrototypeOf(value) ?? {}, 'constructor')?.value;
    return typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name ? ctor.name : 'object';
  } catch {
    return 'object';
  }
}

/** Typed arrays `toHost(out)` fills, by dtype (a Uint8Array takes any dtype's bytes). */
const OUT_ARRAYS = {
  float32: ['Float32Array'], int32: ['Int32Array'], float16: ['Float16Array', 'Uint16Array'], bfloat16: ['Uint16Array'],
};

/** `out` for `toHost(out)` as a clean Uint8Array over its memory, checked against the tensor. */
function hostOutput(out, dtype, byteLength) {
  const tag = typedArrayTag(out);
  if (tag === undefined || (tag !== 'Uint8Array' && !OUT_ARRAYS[dtype]?.includes(tag))) {
    throw tmathError('InvalidArgument', `invalid argument \`out\`: a ${dtype} tensor reads into a ${[...(OUT_ARRAYS[dtype] ?? []), 'Uint8Array'].join(' or ')}, got ${describe(out)}`);
  }
  const buffer = taBuffer.call(out);
  if (isDetached(buffer)) throw tmathError('InvalidArgument', 'invalid argument `out`: its ArrayBuffer is detached');
  const perElement = tag === 'Uint8Array' ? 1 : tag === 'Float32Array' || tag === 'Int32Array' ? 4 : 2;
  const bytes = taLength.call(out) * perElement;
  if (bytes !== byteLength) {
    throw tmathError('DataLengthMismatch', `data length mismatch: the tensor has ${byteLength} bytes, \`out\` holds ${bytes}`);
  }
  return new Uint8Array(buffer, taByteOffset.call(out), bytes);
}

/** `tensor.read()`: chunks from wasm's `readChunks`, at most one waiting for the consumer. */
async function* readChunks(live, chunkBytes) {
  const ready = [];
  let wake = null; // the consumer waiting for a chunk
  let resume = null; // the producer waiting for the consumer
  let stopped = false;
  let finished = false;
  let failure;
  const signal = () => { const w = wake; wake = null; w?.(); };
  const done = call(() => live().readChunks(chunkBytes, (chunk) => {
    ready.push(chunk);
    signal();
    if (stopped) return false;
    return new Promise((resolve) => { resume = resolve; });
  })).then(() => { finished = true; signal(); }, (e) => { failure = e; finished = true; signal(); });
  try {
    for (;;) {
      if (ready.length > 0) {
        const chunk = ready.shift();
        // The next chunk is copied out while this one is consumed.
        const r = resume; resume = null; r?.(true);
        yield chunk;
        continue;
      }
      if (finished) {
        if (failure !== undefined) throw failure;
        return;
      }
      await new Promise((resolve) => { wake = resolve; });
    }
  } finally {
    stopped = true;
    const r = resume; resume = null; r?.(false);
    await done;
  }
}

// ---------------------------------------------------------------------------------------------
// Byte sources for toDeviceStream and loadSafetensors: a ReadableStream, a Response, a Blob, or
// an (async) iterable of byte chunks, read one chunk at a time, with an AbortSignal.
// ---------------------------------------------------------------------------------------------

const dvBuffer = intrinsicGetter(DataView.prototype, 'buffer');
const dvByteOffset = intrinsicGetter(DataView.prototype, 'byteOffset');
const dvByteLength = intrinsicGetter(DataView.prototype, 'byteLength');
const BYTES_PER = {
  Int8Array: 1, Uint8Array: 1, Uint8ClampedArray: 1, Int16Array: 2, Uint16Array: 2, Float16Array: 2,
  Int32Array: 4, Uint32Array: 4, Float32Array: 4, Float64Array: 8, BigInt64Array: 8, BigUint64Array: 8,
};

/** A stream chunk as a clean Uint8Array over its memory (no copy). */
function bytesOf(value) {
  const tag = typedArrayTag(value);
  if (tag !== undefined && BYTES_PER[tag]) {
    return new Uint8Array(taBuffer.call(value), taByteOffset.call(value), taLength.call(value) * BYTES_PER[tag]);
  }
  if (isView(value)) {
    try { return new Uint8Array(dvBuffer.call(value), dvByteOffset.call(value), dvByteLength.call(value)); } catch { /* not a DataView */ }
  }
  const n = bufferByteLength(value);
  if (n !== undefined) return new Uint8Array(value, 0, n);
  throw tmathError('InvalidArgument', `invalid argument \`source\`: a chunk of the stream is ${describe(value)}, not bytes (Uint8Array, a typed array or an ArrayBuffer)`);
}

function checkSignal(signal) {
  if (signal === undefined || signal === null) return undefined;
  const aborted = guarded('signal.aborted', () => signal.aborted);
  if (typeof aborted !== 'boolean' || typeof guarded('signal.addEventListener', () => signal.addEventListener) !== 'function') {
    throw tmathError('InvalidArgument', `option \`signal\` must be an AbortSignal, got ${describe(signal)}`);
  }
  return signal;
}

function abortError(signal) {
  const reason = guarded('signal.reason', () => signal.reason);
  return inputError('InvalidArgument', `the transfer was aborted${reason === undefined ? '' : `: ${safeMessage(reason)}`}`, reason);
}

function streamError(e) {
  if (isTmathError(e)) return e;
  return inputError('InvalidArgument', `the source stream failed: ${safeMessage(e)}`, e);
}

function isInstance(value, name) {
  const Ctor = globalThis[name];
  return typeof Ctor === 'function' && value instanceof Ctor;
}

/** The chunks of `source` as clean Uint8Arrays; an abort or a failing source is a TmathError. */
async function* byteChunks(source, signal) {
  if (signal?.aborted) throw abortError(signal);
  let stream = source;
  if (isInstance(source, 'Response')) {
    if (!source.ok) throw tmathError('InvalidArgument', `invalid argument \`source\`: the response has status ${source.status}`);
    stream = source.body;
    if (stream === null) return;
  } else if (isInstance(source, 'Blob')) {
    stream = source.stream();
  }
  if (isInstance(stream, 'ReadableStream')) {
    let reader;
    try { reader = stream.getReader(); } catch (e) { throw streamError(e); }
    let onAbort;
    const aborted = new Promise((_, reject) => { onAbort = () => reject(abortError(signal)); });
    aborted.catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    let ended = false;
    try {
      for (;;) {
        let next;
        try {
          next = await (signal ? Promise.race([reader.read(), aborted]) : reader.read());
        } catch (e) { throw streamError(e); }
        if (next.done) { ended = true; return; }
        yield bytesOf(next.value);
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!ended) reader.cancel().catch(() => {});
      try { reader.releaseLock(); } catch { /* still reading */ }
    }
  }
  if (isView(source) || bufferByteLength(source) !== undefined) {
    // Bytes already in memory: one chunk.
    yield bytesOf(source);
    return;
  }
  const iterate = source !== null && typeof source === 'object'
    ? guarded('source[Symbol.asyncIterator]', () => source[Symbol.asyncIterator] ?? source[Symbol.iterator]) : undefined;
  if (typeof iterate !== 'function') {
    throw tmathError('InvalidArgument', `invalid argument \`source\`: expected a ReadableStream, a Response, a Blob, an (async) iterable of byte chunks or bytes, got ${describe(source)}`);
  }
  const it = guarded('the source iterator', () => iterate.call(source));
  try {
    for (;;) {
      let next;
      try { next = await it.next(); } catch (e) { throw streamError(e); }
      if (signal?.aborted) throw abortError(signal);
      if (next.done) return;
      yield bytesOf(next.value);
    }
  } finally {
    try { await it.return?.(); } catch { /* its own cleanup failed; the load has its error */ }
  }
}

/**
 * Paces an engine's queue writes (streamed uploads in a browser, `upload.queueWrites`):
 * `writeBuffer` returns at once, and the browser holds each write's bytes until its GPU process
 * has done it, so a fast source would pile them up. Every 8 MiB this asks for a promise of the
 * writes so far and waits for the one asked 4 steps before: at most about 40 MiB unfinished,
 * and the promise awaited is old enough to have settled while the queue was kept busy.
 * Engine-wide, since a file of many tensors writes each through an upload of its own.
 */
class Pacer {
  static STEP = 8 << 20;
  static DEPTH = 4;
  #queue;
  #bytes = 0;
  #pending = [];
  constructor(queue) { this.#queue = queue; }
  async wrote(n) {
    this.#bytes += n;
    if (this.#bytes < Pacer.STEP) return;
    this.#bytes = 0;
    this.#pending.push(this.#queue.onSubmittedWorkDone());
    if (this.#pending.length > Pacer.DEPTH) await this.#pending.shift();
  }
}

/**
 * Hands `piece` to a streamed upload in parts of at most `most` bytes (its staging chunk). Where
 * the upload stages (WebGPU in the app's process: Dawn in Node, Deno), it first awaits the
 * upload whenever its ring of mapped staging buffers is full, the GPU still copying the oldest
 * chunk; where it writes through the queue (a browser), `pacer` bounds the writes in flight.
 * Either way host memory stays bounded however fast the source is. (In a browser a map is a
 * round trip to the GPU process and `writeBuffer` the path it optimises; in Dawn in Node the
 * ring loads a 1.1 GiB file in a third of the time of paced `writeBuffer` calls,
 * bench/RESULTS.md.)
 */
async function feed(upload, piece, most, pacer) {
  const queued = upload.queueWrites;
  for (let at = 0; at < piece.length; at += most) {
    if (!queued) {
      const wait = upload.ready();
      if (wait !== undefined) await wait;
    }
    const part = at === 0 && piece.length <= most ? piece : piece.subarray(at, at + most);
    call(() => upload.write(part));
    if (queued) await pacer.wrote(part.length);
  }
}

/** Reads a byte source in pieces of at most a given size (subarrays: no copy). */
class ByteReader {
  #it;
  #piece = null;
  #at = 0;
  constructor(it) { this.#it = it; }
  /** Up to `max` bytes, or null at the end. */
  async take(max) {
    while (this.#piece === null || this.#at >= this.#piece.length) {
      const { done, value } = await this.#it.next();
      if (done) return null;
      this.#piece = value;
      this.#at = 0;
    }
    const n = Math.min(max, this.#piece.length - this.#at);
    const out = this.#piece.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  /** Exactly `n` bytes (copied), or fewer at the end. */
  async exact(n) {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const piece = await this.take(n - got);
      if (piece === null) break;
      out.set(piece, got);
      got += piece.length;
    }
    return got === n ? out : out.subarray(0, got);
  }
  async close() { await this.#it.return(); }
}


/**
 * A tensor on the GPU: shape, dtype and a buffer leased from its engine's pool.
 * `dispose()` returns the buffer to the pool; afterwards `gpuBuffer`, `toHost()` and `dispose()`
 * throw a `Disposed` TmathError (shape, dtype and byteLength stay readable).
 */
export class Tensor {
  // The wasm half. Disposed through this object, it is freed at once and set to null: left to
  // the garbage collector's finalizer, every disposed tensor held wasm memory and a
  // FinalizationRegistry entry until a later task, and a long task of small ops slowed down as
  // they piled up (in Node on Dawn, pool get+put went from 1 µs to 10-20 µs past 300,000 of
  // them in one task).
  #inner;
  // Shape, dtype and byte length never change: asked from wasm once, when first read (an op
  // in a chain makes a Tensor without crossing into wasm for them); once the wasm half is
  // freed, from `#meta` ([dtype code, byte length, ...dims], handed over at dispose).
  #shape;
  #dtype;
  #byteLength;
  #meta;

  constructor(token, inner) {
    if (token !== CONSTRUCT) {
      throw tmathError('InvalidArgument', 'Tensors are made by an Engine (engine.pool.get, engine.pool.zeros, …), not with `new Tensor`');
    }
    this.#inner = inner;
  }

  static {
    innerOfTensor = (value) => (typeof value === 'object' && value !== null && #inner in value ? value.#inner : undefined);
    releaseTensor = (tensor, metaId) => tensor.#release(metaId);
  }

  /** The wasm half was disposed (`metaId` is what it reported): free it now. */
  #release(metaId) {
    const inner = this.#inner;
    this.#meta = disposedMeta(inner, metaId);
    this.#inner = null;
    inner.free();
  }

  /** The wasm half, or `Disposed` once it was freed. */
  #live() {
    if (this.#inner === null) throw disposedError(this);
    return this.#inner;
  }

  /** Dimensions, e.g. `[2, 3]` (frozen). */
  get shape() {
    return (this.#shape ??= Object.freeze(Array.from(this.#inner === null ? this.#meta.subarray(2) : this.#inner.shape())));
  }
  /** Canonical dtype name: 'float32', 'float16', 'bfloat16' or 'int32'. */
  get dtype() { return (this.#dtype ??= this.#inner === null ? DTYPE_NAMES[this.#meta[0]] : this.#inner.dtype()); }
  /** Bytes of tensor data (16-bit dtypes packed, two bytes per element). */
  get byteLength() { return (this.#byteLength ??= this.#inner === null ? this.#meta[1] : this.#inner.byteLength()); }
  /** The GPUBuffer holding the data (pending tmath work is submitted first). It may be larger than byteLength. */
  get gpuBuffer() { return call(() => this.#live().gpuBuffer()); }
  /** Whether dispose() was called. */
  get disposed() { return this.#inner === null || this.#inner.disposed(); }
  /** Return the buffer to the pool. A second dispose() throws `Disposed`. */
  dispose() {
    let metaId;
    try {
      metaId = this.#live().dispose();
    } catch (e) {
      throw callError(e);
    }
    this.#release(metaId);
  }
  /** `using t = engine.toDevice(...)`: disposes at the end of the block (quietly if already disposed). */
  [DISPOSE]() { if (!this.disposed) this.dispose(); }
  /**
   * Read the data back: Float32Array, Int32Array, Float16Array where the browser has it (else a
   * Uint16Array of float16 bits), or a Uint16Array of bfloat16 bits.
   */
  toHost(out) {
    try {
      if (out === undefined) return call(() => this.#live().toHost());
      const bytes = hostOutput(out, this.dtype, this.byteLength);
      return call(() => this.#live().toHostInto(bytes)).then(() => out);
    } catch (e) {
      return Promise.reject(e);
    }
  }
  /**
   * Read the data back chunk by chunk, an async iterator of typed arrays (as `toHost()`'s,
   * `chunkBytes` each, the last shorter; default: the engine's `transferChunkBytes`). At most
   * one chunk waits for you while the next ones are copied on the GPU; leaving the loop early
   * stops the read and returns its staging buffers.
   */
  read(options) {
    const { chunkBytes } = readOptions(options, ['chunkBytes']);
    return readChunks(() => this.#live(), chunkBytes);
  }
  toString() { return `Tensor(${this.dtype}, [${this.shape.join(', ')}])`; }
}

/** The seed's TensorPool: buffers reused by size class, with a budget for idle bytes. */
export class Pool {
  #current; // () => the engine's wasm engine (a new one after recover())

  constructor(token, current) {
    if (token !== CONSTRUCT) throw tmathError('InvalidArgument', 'use engine.pool');
    this.#current = current;
  }

  get #engine() { return this.#current(); }

  /** A tensor on a pooled buffer; contents unspecified (a reused buffer keeps old data). */
  get(shape, dtype) { return wrap(call(() => this.#engine.poolGet(poolShape(shape), cleanDtype(dtype)))); }
  /** A tensor on a pooled buffer, cleared to zero on the GPU. */
  zeros(shape, dtype) { return wrap(call(() => this.#engine.poolZeros(poolShape(shape), cleanDtype(dtype)))); }
  /** Return a tensor's buffer to the pool (the tensor is disposed). */
  put(tensor) {
    const inner = wasmTensorOf(tensor, 'pool.put');
    releaseTensor(tensor, call(() => this.#engine.poolPut(inner)));
  }
  /** hits, misses, buffersCreated, bytesInUse, bytesCached, peakBytesInUse, budgetBytes, evictions, … */
  stats() { return call(() => this.#engine.poolStats()); }
  /** Free idle buffers (least recently used first) down to `targetBytes` (default 0); returns bytes freed. */
  trim(targetBytes) {
    if (targetBytes !== undefined && typeof targetBytes !== 'number') {
      throw tmathError('InvalidArgument', `invalid argument \`targetBytes\`: expected a number of bytes, got ${describe(targetBytes)}`);
    }
    return call(() => this.#engine.poolTrim(targetBytes));
  }
}

/** The GPU memory layer: a WebGPU device, its buffer pool, and counters of everything done. */
export class Engine {
  #inner;
  #pool;
  #adapterInfo;
  #pacer;

  constructor(token, inner) {
    if (token !== CONSTRUCT) {
      throw tmathError('InvalidArgument', 'create an Engine with `await Engine.create(options)`');
    }
    this.#inner = inner;
    this.#pool = new Pool(CONSTRUCT, () => this.#inner);
  }

  /**
   * Acquire a WebGPU adapter and device. Options: gpu (the `GPU` to request the adapter from:
   * `navigator.gpu` by default; in Node, `create([])` from the npm package `webgpu`), precision
   * ('float32' default), poolBudgetBytes (256 MiB default), maxPerClass (100), minClassBytes
   * (256), memoryLimitBytes (no limit but the device's), zeroOnReuse (false), powerPreference.
   */
  static async create(options) {
    const clean = readOptions(options, ENGINE_OPTIONS_WITH_GPU);
    const { gpu: given, ...wasmOptions } = clean;
    let gpu;
    if (given !== undefined) {
      gpu = gpuOf(given);
    } else {
      gpu = typeof navigator === 'undefined' ? undefined : guarded('navigator.gpu', () => navigator.gpu);
      if (!gpu) {
        throw tmathError('NoAdapter', typeof process === 'object' && process?.versions?.node !== undefined && typeof Deno === 'undefined'
          ? 'Node has no navigator.gpu: install Dawn (`npm install webgpu`) and pass its GPU: `import { create } from \'webgpu\'; await Engine.create({ gpu: create([]) })`'
          : 'this JS environment has no WebGPU (navigator.gpu is missing); use a browser with WebGPU enabled (Chrome/Edge 113+, Safari 18+, Firefox 141+, or Chromium with --enable-unsafe-webgpu), pass { gpu }, or run on an existing device with Engine.fromDevice(device)');
      }
    }
    return Engine.#make(askingForSubgroups(gpu), nullProto(wasmOptions), false);
  }

  /**
   * Run on a `GPUDevice` the app (or ONNX Runtime Web, or TensorFlow.js) already made, sharing
   * it: tmath's buffers and theirs are on one device, so tensors move between them by GPU copy
   * or not at all. Limits and features are the device's own (without `shader-f16`, 16-bit data
   * takes the packed path). tmath never destroys this device: `dispose()` frees only tmath's
   * buffers, and after a device loss `recover()` rejects with `DeviceLost` (make a new device and
   * call `fromDevice` again). tmath listens for the device's `uncapturederror` events without
   * replacing `onuncapturederror`. Options: those of `create` but `gpu` and `powerPreference`.
   */
  static async fromDevice(device, options) {
    if (!isGpuDevice(device)) {
      throw tmathError('InvalidArgument', `Engine.fromDevice(device) takes a GPUDevice, got ${describe(device)}`);
    }
    const clean = readOptions(options, ENGINE_OPTIONS.filter((k) => k !== 'powerPreference'));
    const adapter = guarded('the device', () => ({
      features: device.features,
      limits: device.limits,
      info: adapterInfoOf(device.adapterInfo),
      isFallbackAdapter: false,
      requestDevice: () => Promise.resolve(device),
    }));
    return Engine.#make({ requestAdapter: () => Promise.resolve(adapter) }, clean, true);
  }

  static async #make(gpu, options, borrowed) {
    if (current.aborted) current = await freshModule();
    const { WasmEngine } = current;
    const inner = await call(() => withGpu(gpu, () => WasmEngine.create(options, borrowed)));
    const engine = new Engine(CONSTRUCT, inner);
    learnDevice(inner.gpuDevice());
    return engine;
  }

  /** The seed's TensorPool: get, zeros, put, stats, trim. */
  get pool() { return this.#pool; }
  /** The GPUDevice tmath runs on; share it with ONNX Runtime Web, TensorFlow.js or your own kernels. */
  get gpuDevice() { return this.#inner.gpuDevice(); }
  /** { name, vendor, architecture, backend, deviceType, driver, features: {...}, limits: {...} } */
  get adapterInfo() { return (this.#adapterInfo ??= Object.freeze(this.#inner.adapterInfo())); }
  #wrap(inner) { return wrap(inner); }

  /**
   * Every counter: { pool: {...}, copies, copyBytes, crossings, conversions, submits, dispatches,
   * leakedTensors } (leakedTensors: tensors the garbage collector found undisposed).
   */
  stats() { return call(() => this.#inner.stats()); }

  /** Submit recorded GPU work now (also done by reads, and at the end of each task). */
  flush() { call(() => this.#inner.flush()); }

  /**
   * Measure every matmul tile shape this device runs on float32 products of several sizes and
   * use the fastest per size from now on (every engine on this adapter in this page or worker
   * does). Resolves to `{ adapter, choices: [{ size, tiles, ms, portable? }] }`: store it (it is
   * plain JSON) and give it to `setMatmulTuning` on a later visit to skip measuring. Two to four
   * seconds on an H100.
   */
  tuneMatmul() {
    try { return call(() => this.#inner.tuneMatmul()); } catch (e) { return Promise.reject(e); }
  }

  /** The matmul tuning in use (`tuneMatmul`'s result), or null for the defaults. */
  get matmulTuning() { return call(() => this.#inner.matmulTuning()); }

  /** Use a tuning from `tuneMatmul` (perhaps stored as JSON), or null for the defaults. */
  setMatmulTuning(tuning) { call(() => this.#inner.setMatmulTuning(tuning ?? null)); }

  /** Submit recorded work and resolve once the GPU has finished all of it. */
  synchronize() {
    try { return call(() => this.#inner.synchronize()); } catch (e) { return Promise.reject(e); }
  }

  /**
   * Run `fn` (synchronous) and dispose every tensor it made that it does not return (a Tensor,
   * or an array or plain object of Tensors), as TensorFlow.js's tidy does.
   */
  tidy(fn) {
    if (typeof fn !== 'function') throw tmathError('InvalidArgument', 'tidy(fn) takes a function');
    if (fn instanceof AsyncFunction || fn instanceof AsyncGeneratorFunction) {
      throw tmathError('InvalidArgument', 'tidy(fn) takes a synchronous function; tensors of an async function cannot be tracked');
    }
    const made = [];
    scopes.push(made);
    let result;
    try {
      result = fn();
    } finally {
      scopes.pop();
      const keep = new Set();
      const collect = (v) => {
        if (isTensor(v)) keep.add(v);
        else if (Array.isArray(v)) v.forEach(collect);
        else if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) Object.values(v).forEach(collect);
      };
      collect(result);
      for (const t of made) {
        if (!keep.has(t) && !t.disposed) t.dispose();
        else if (keep.has(t)) scopes.at(-1)?.push(t); // returned: belongs to the enclosing scope
      }
    }
    if (result instanceof Promise) throw tmathError('InvalidArgument', 'tidy(fn) takes a synchronous function; tensors of an async function cannot be tracked');
    return result;
  }

  /**
   * Run `fn` (sync or async) and report what it cost:
   * `{ result, stats: counter deltas, ledger: the transfers it made }`.
   */
  async profile(fn) {
    if (typeof fn !== 'function') throw tmathError('InvalidArgument', 'profile(fn) takes a function');
    const before = this.stats();
    const lastSeq = this.ledger().at(-1)?.seq ?? 0;
    const result = await fn();
    const after = this.stats();
    const diff = (a, b) => Object.fromEntries(Object.keys(b).map((k) => [k, typeof b[k] === 'object' ? diff(a[k], b[k]) : b[k] - a[k]]));
    return { result, stats: diff(before, after), ledger: this.ledger().filter((t) => t.seq > lastSeq) };
  }

  /**
   * Why the GPU device was lost (`GPUDevice.destroy()` by other code, a driver reset, the browser
   * reclaiming the GPU), or `null` while it works. After a loss every call throws `DeviceLost`
   * (pending `toHost()` promises reject with it) until `recover()`.
   */
  get deviceLost() { return this.#inner.deviceLost() ?? null; }

  /**
   * After a device loss: acquire a new device with the same options and an empty pool, and go on
   * with this same Engine (and `engine.pool`). Resolves `true` if it did, `false` if the device
   * was working (nothing changes). Tensors made before stay `DeviceLost`: their data is gone, so
   * upload again. tmath does not recover on its own, because the caller has to re-upload anyway;
   * to do it as soon as it happens: `engine.gpuDevice.lost.then(() => engine.recover())`.
   * `engine.gpuDevice` is the new device afterwards; counters start from zero. An engine made by
   * `Engine.fromDevice` cannot replace the app's device: its `recover()` rejects with
   * `DeviceLost` (make a new device and call `Engine.fromDevice` again).
   */
  async recover() {
    const fresh = await call(() => this.#inner.recovered());
    if (fresh === undefined) return false;
    this.#inner = fresh;
    this.#adapterInfo = undefined;
    return true;
  }

  /** For tmath's own tests only: a Rust panic while the engine's lock is held, as a bug would. */
  [Symbol.for('tmath.abortForTests')]() { return call(() => this.#inner.abortForTests()); }
  [Symbol.for('tmath.liveTensorObjectsForTests')]() { return this.#inner.liveTensorObjectsForTests(); }

  /**
   * Free every pooled buffer and destroy the GPU device, unless the app made it
   * (`Engine.fromDevice`: it stays working, with none of tmath's buffers left on it once
   * tmath's tensors are disposed or collected); every later call throws `Disposed`.
   */
  dispose() { call(() => this.#inner.dispose()); }
  [DISPOSE]() { this.dispose(); }
  /**
   * The seed's `prepare_tensor`: `tensor` in `precision` (default: the engine's precision). When
   * the dtype already matches, the same object comes back (no copy, no dispatch, no allocation);
   * otherwise one GPU cast into a pooled buffer, bit-exact IEEE round-to-nearest-even on every
   * adapter (int32 targets truncate toward zero and saturate; NaN becomes 0).
   */
  prepareTensor(tensor, precision) {
    const inner = wasmTensorOf(tensor, 'prepareTensor');
    const cast = call(() => this.#inner.prepareTensor(inner, cleanDtype(precision, 'precision')));
    return cast === undefined ? tensor : this.#wrap(cast);
  }
  /** A new tensor with `tensor`'s data cast to `dtype` (a GPU copy when the dtype is the same). */
  cast(tensor, dtype) { return this.#wrap(call(() => this.#inner.cast(wasmTensorOf(tensor, 'cast'), cleanDtype(dtype)))); }
  /**
   * `a × b` (float32, float16 or bfloat16, one dtype, float32 accumulation): 2-D [m, k] × [k, n]
   * or batched [batch, m, k] × [batch, k, n], a 2-D side broadcast over the batch. Stays on the GPU.
   * `{ accumulate: 'float16' }` allows float16 arithmetic for float16 inputs where the device has
   * `shader-f16` (each k step of 8–32 products summed in float16, steps added in float32):
   * faster on GPUs with fast float16, less exact; elsewhere it changes nothing.
   */
  matmul(a, b, options) {
    const { accumulate } = readOptions(options, ['accumulate'], 'matmul options');
    if (accumulate !== undefined && typeof accumulate !== 'string') {
      throw tmathError('InvalidArgument', `accumulate must be 'float32' or 'float16', got ${describe(accumulate)}`);
    }
    return this.#wrap(call(() => this.#inner.matmul(wasmTensorOf(a, 'matmul'), wasmTensorOf(b, 'matmul'), accumulate)));
  }
  /** `a + b` with NumPy broadcasting; either side may be a number (float32 and int32 tensors). */
  add(a, b) { return this.#binary('add', a, b); }
  /** `a - b` with NumPy broadcasting; either side may be a number. */
  sub(a, b) { return this.#binary('sub', a, b); }
  /** `a * b` with NumPy broadcasting; either side may be a number. */
  mul(a, b) { return this.#binary('mul', a, b); }
  /** `a / b` with NumPy broadcasting; either side may be a number. */
  div(a, b) { return this.#binary('div', a, b); }
  /** `max(a, 0)`. */
  relu(a) { return this.#wrap(call(() => this.#inner.relu(wasmTensorOf(a, 'relu')))); }
  #binary(op, a, b) {
    const code = OP_CODES[op];
    let out;
    try {
      if (typeof a === 'number' && isTensor(b)) out = this.#inner.binaryScalar(code, wasmTensorOf(b, op), a, true);
      else if (typeof b === 'number') out = this.#inner.binaryScalar(code, wasmTensorOf(a, op), b, false);
      else out = this.#inner.binaryTensors(code, wasmTensorOf(a, op), wasmTensorOf(b, op));
    } catch (e) {
      throw callError(e);
    }
    return this.#wrap(out);
  }
  /** A new tensor with a GPU copy of `tensor`'s data. */
  copy(tensor) { return this.#wrap(call(() => this.#inner.copy(wasmTensorOf(tensor, 'copy')))); }
  /** The last transfers, oldest first: { route, fallbackFrom, reason, dtypeIn, dtypeOut, bytes, wallMs }. */
  ledger() { return call(() => this.#inner.ledger()); }

  /**
   * Bring `input` onto this engine's GPU by the cheapest route (the seed's `to_mlx`):
   * - a Tensor of this engine: returned as is (route 'identity');
   * - Float32Array, Float16Array, Int32Array, Uint16Array (with dtype 'float16'/'bfloat16'),
   *   BigInt64Array (becomes int32 if every value fits), Float64Array / number[] (the engine's
   *   precision unless `dtype` is given), ArrayBuffer / Uint8Array (with `dtype`): one writeBuffer
   *   straight from your array ('host-write'; converted on the host first when `dtype` differs);
   * - a GPUBuffer of `engine.gpuDevice` (shape and dtype required): one GPU copy
   *   ('same-device-copy'), or the buffer itself with `{ adopt: true }` ('adopt');
   * - an ONNX Runtime Web tensor (`location: 'gpu-buffer'`, or CPU data) and a TensorFlow.js
   *   tensor on its WebGPU backend (through `dataToGPU()`), on the same device.
   * `shape` defaults to 1-D. Data on another device needs `toDeviceAsync`.
   */
  toDevice(input, shape, options) {
    const { dtype, adopt, device } = checkOptions(options, ['dtype', 'adopt', 'device']);
    if (isTensor(input)) {
      if (call(() => this.#inner.toDeviceIdentity(wasmTensorOf(input, 'toDevice')))) return input;
      throw tmathError('DeviceMismatch', 'this tensor belongs to another Engine (another GPUDevice); move it with `await engine.toDeviceAsync(tensor)`');
    }
    if (device !== undefined && device !== this.gpuDevice) {
      throw tmathError('DeviceMismatch', 'the buffer belongs to another GPUDevice; WebGPU shares nothing between devices, so use `await engine.toDeviceAsync(buffer, shape, { dtype, device })`');
    }
    const foreign = foreignTensor(input, shape, dtype);
    if (foreign) {
      try {
        return this.toDevice(foreign.buffer, foreign.shape, { dtype: foreign.dtype });
      } finally {
        foreign.release?.();
      }
    }
    if (isGpuBuffer(input)) {
      return this.#wrap(call(() => this.#inner.toDeviceBuffer(input, cleanShape(shape), dtype, adopt === true)));
    }
    const data = foreignHostData(input) ?? { data: input, shape };
    const host = hostInput(data.data);
    if (host === undefined || host.unsupported) {
      throw tmathError('InvalidArgument', `invalid argument \`input\`: toDevice accepts Float32Array, Float16Array, Uint16Array (with a 16-bit dtype), Int32Array, BigInt64Array, Float64Array, number arrays, ArrayBuffer/Uint8Array (with a dtype), GPUBuffer, tmath Tensors, ONNX Runtime Web and TensorFlow.js tensors; got ${host?.unsupported ?? describe(data.data)}`);
    }
    const dims = cleanShape(shape ?? data.shape);
    return this.#wrap(call(() => this.#inner.toDeviceHost(host.data, host.kind, dims, dtype)));
  }

  /**
   * `toDevice` for every input, plus what needs waiting: a GPUBuffer of another GPUDevice
   * (`{ dtype, device }` naming its device: read there, written here, once), a Tensor of another
   * Engine, a GPUBuffer without COPY_SRC (read through the host, once), and a same-device GPUBuffer
   * whose validation is awaited (so a buffer of another device rejects with DeviceMismatch).
   */
  async toDeviceAsync(input, shape, options) {
    const { dtype, adopt, device } = checkOptions(options, ['dtype', 'adopt', 'device']);
    if (isTensor(input)) {
      const inner = wasmTensorOf(input, 'toDeviceAsync');
      if (call(() => this.#inner.toDeviceIdentity(inner))) return input;
      return this.#wrap(await call(() => this.#inner.toDeviceFromTensor(inner)));
    }
    const foreign = foreignTensor(input, shape, dtype);
    if (foreign) {
      try {
        return await this.toDeviceAsync(foreign.buffer, foreign.shape, { dtype: foreign.dtype, device });
      } finally {
        foreign.release?.();
      }
    }
    if (isGpuBuffer(input)) {
      if (device !== undefined && device !== this.gpuDevice) {
        if (!isGpuDevice(device)) throw tmathError('InvalidArgument', `option \`device\` must be the GPUDevice that owns the buffer, got ${describe(device)}`);
        return this.#wrap(await call(() => this.#inner.toDeviceCrossDevice(input, device, cleanShape(shape), dtype)));
      }
      return this.#wrap(await call(() => this.#inner.toDeviceBufferAsync(input, cleanShape(shape), dtype, adopt === true)));
    }
    return this.toDevice(input, shape, options);
  }

  /** The pacer of this engine's queue writes (made at the first streamed upload). */
  get #writePacer() {
    this.#pacer ??= new Pacer(this.gpuDevice.queue);
    return this.#pacer;
  }

  /** After a failed upload: its staging chunks still being copied are back in the pool. */
  async #settle() {
    try { await this.#inner.synchronize(); } catch { /* the upload's own error is the one to report */ }
  }

  /**
   * Stream bytes onto the GPU as they arrive: `source` is a ReadableStream, a Response, a Blob
   * or an (async) iterable of byte chunks; `dtype` (required) names their layout ('float32',
   * 'float16', 'bfloat16', 'int32', or 'int64', kept as int32 if every value fits); `precision`,
   * if given, converts on the GPU at the end (prepareTensor's semantics). Host memory stays
   * bounded: each chunk is written as it comes. A stream shorter or longer than `shape` is
   * DataLengthMismatch; a failing stream or an aborted `signal` is InvalidArgument with the
   * stream's error (or the abort reason) as `cause`. On any error the buffer is back in the pool.
   */
  async toDeviceStream(source, shape, options) {
    const { dtype, precision, signal } = readOptions(options, ['dtype', 'precision', 'signal']);
    if (typeof dtype !== 'string') throw tmathError('UnsupportedDtype', `toDeviceStream needs the bytes' \`dtype\` ('float32', 'float16', 'bfloat16', 'int32' or 'int64'), got ${describe(dtype)}`);
    checkSignal(signal);
    const target = cleanDtype(precision, 'precision');
    const upload = call(() => this.#inner.uploadBegin(cleanShape(shape), dtype));
    try {
      const most = upload.pieceBytes();
      for await (const piece of byteChunks(source, signal)) await feed(upload, piece, most, this.#writePacer);
      if (signal?.aborted) throw abortError(signal);
      return this.#wrap(call(() => upload.finish(target)));
    } catch (e) {
      upload.abort();
      await this.#settle();
      throw e;
    } finally {
      upload.free();
    }
  }

  /**
   * Load a safetensors file (a ReadableStream, a Response, a Blob or an async iterable of byte
   * chunks) into `{ [name]: Tensor }`: the header first, then each tensor streamed into a pooled
   * buffer in file order, with host memory bounded by one network chunk plus the header.
   * float32, float16, bfloat16 and int32 keep their dtype unless `precision` is given (then
   * converted on the GPU as prepareTensor does); int64 becomes int32 if every value fits
   * (ValueOutOfRange otherwise); any other dtype is UnsupportedDtype naming the tensor. A
   * malformed header (not UTF-8, not JSON, offsets that overlap or leave gaps) is
   * InvalidArgument; a file shorter or longer than its header says is DataLengthMismatch. On any
   * error every tensor loaded so far is disposed and every buffer is back in the pool.
   */
  async loadSafetensors(source, options) {
    const { precision, signal } = readOptions(options, ['precision', 'signal']);
    checkSignal(signal);
    const target = cleanDtype(precision, 'precision');
    const input = new ByteReader(byteChunks(source, signal));
    const loaded = {};
    let upload;
    try {
      const prefix = await input.exact(8);
      if (prefix.length < 8) throw tmathError('DataLengthMismatch', `data length mismatch: a safetensors file starts with an 8-byte header length, got ${prefix.length} bytes`);
      const n = call(() => this.#inner.safetensorsHeaderLength(prefix));
      const header = await input.exact(n);
      if (header.length < n) throw tmathError('InvalidArgument', `invalid argument \`header\`: the safetensors header claims ${n} bytes but the file ends after ${header.length}`);
      const { entries, dataBytes } = call(() => this.#inner.safetensorsHeader(header));
      let read = 0;
      for (const entry of entries) {
        upload = call(() => this.#inner.uploadBegin(entry.shape, entry.dtype));
        const most = upload.pieceBytes();
        for (let left = entry.bytes; left > 0;) {
          const piece = await input.take(left);
          if (piece === null) throw tmathError('DataLengthMismatch', `data length mismatch: the header describes ${dataBytes} bytes of data, the file ends after ${read}`);
          await feed(upload, piece, most, this.#writePacer);
          left -= piece.length;
          read += piece.length;
        }
        let tensor = this.#wrap(call(() => upload.finish(undefined)));
        upload.free();
        upload = undefined;
        if (target !== undefined) {
          const prepared = this.prepareTensor(tensor, target);
          if (prepared !== tensor) tensor.dispose();
          tensor = prepared;
        }
        Object.defineProperty(loaded, entry.name, { value: tensor, enumerable: true, writable: true, configurable: true });
      }
      let extra = 0;
      for (let piece; (piece = await input.take(1 << 20)) !== null;) extra += piece.length;
      if (extra > 0) throw tmathError('DataLengthMismatch', `data length mismatch: the header describes ${dataBytes} bytes of data, the file has ${extra} more`);
      return loaded;
    } catch (e) {
      upload?.abort();
      upload?.free();
      for (const tensor of Object.values(loaded)) tensor[DISPOSE]();
      await input.close().catch(() => {});
      await this.#settle();
      throw e;
    }
  }
}
