// tmath: the GPU memory layer for web ML apps. This is the package entry: idiomatic JS classes
// (Engine, Pool, Tensor) over the wasm-bindgen module in ../pkg. Load it from a plain
// <script type="module"> or any bundler; the .wasm next to pkg/tmath.js is found through
// import.meta.url, so no path needs configuring.
import init, { WasmEngine } from '../pkg/tmath.js';

await init();

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

// A Rust panic surfaces as a WebAssembly.RuntimeError (its message was logged to the console by
// console_error_panic_hook); callers get a TmathError instead of a bare `unreachable`.
function call(fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) {
      throw tmathError('Internal', `tmath internal error (${e.message}); see the console for the Rust panic message and please report it`);
    }
    throw e;
  }
}

const CONSTRUCT = Symbol('tmath.construct');

const DISPOSE = Symbol.dispose ?? Symbol.for('Symbol.dispose');

// tidy() scopes: tensors made while one is open are disposed when it closes, unless returned.
const scopes = [];

// The safety net: a Tensor the program dropped without dispose() gives its buffer back when the
// garbage collector finalizes it; `engine.stats().leakedTensors` counts those, so leaks show.
const leaked = new WeakMap(); // wasm engine -> count
const safetyNet = new FinalizationRegistry(({ inner, engine }) => {
  if (!inner.disposed()) {
    try { inner.dispose(); } catch { /* the engine may be gone */ }
    leaked.set(engine, (leaked.get(engine) ?? 0) + 1);
  }
  inner.free();
});

function wrap(inner, engine) {
  const tensor = new Tensor(CONSTRUCT, inner);
  safetyNet.register(tensor, { inner, engine }, tensor);
  scopes.at(-1)?.push(tensor);
  return tensor;
}

function checkOptions(options, allowed) {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object') {
    throw tmathError('InvalidArgument', `options must be an object like { dtype: 'float32' }, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw tmathError('InvalidArgument', `unknown option \`${key}\`; accepted: ${allowed.join(', ')}`);
  }
  if (options.adopt !== undefined && typeof options.adopt !== 'boolean') {
    throw tmathError('InvalidArgument', `option \`adopt\` must be a boolean, got ${describe(options.adopt)}`);
  }
  return options;
}

function isGpuBuffer(value) {
  return typeof GPUBuffer !== 'undefined' && value instanceof GPUBuffer;
}

const ORT_DTYPES = { float32: 'float32', float16: 'float16', int32: 'int32' };
const TFJS_DTYPES = { float32: 'float32', int32: 'int32' };

// ONNX Runtime Web tensors on the GPU (`location: 'gpu-buffer'`) and TensorFlow.js tensors on its
// WebGPU backend, duck-typed so neither library is a dependency. Returns { buffer, shape, dtype,
// release } or undefined.
function foreignTensor(input, shape, dtype) {
  if (input === null || typeof input !== 'object' || isGpuBuffer(input) || ArrayBuffer.isView(input)) return undefined;
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
  if (input !== null && typeof input === 'object' && input.location === 'cpu' && Array.isArray(input.dims) && ArrayBuffer.isView(input.data)) {
    return { data: input.data, shape: input.dims };
  }
  return undefined;
}
const innerOf = new WeakMap();

function wasmTensorOf(tensor, method) {
  if (!(tensor instanceof Tensor)) {
    throw tmathError('InvalidArgument', `${method} expects a tmath Tensor, got ${describe(tensor)}`);
  }
  return innerOf.get(tensor);
}

function describe(value) {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/**
 * A tensor on the GPU: shape, dtype and a buffer leased from its engine's pool.
 * `dispose()` returns the buffer to the pool; afterwards `gpuBuffer`, `toHost()` and `dispose()`
 * throw a `Disposed` TmathError (shape, dtype and byteLength stay readable).
 */
export class Tensor {
  #inner;
  #shape;

  constructor(token, inner) {
    if (token !== CONSTRUCT) {
      throw tmathError('InvalidArgument', 'Tensors are made by an Engine (engine.pool.get, engine.pool.zeros, …), not with `new Tensor`');
    }
    this.#inner = inner;
    this.#shape = Object.freeze(Array.from(inner.shape()));
    innerOf.set(this, inner);
  }

  /** Dimensions, e.g. `[2, 3]` (frozen). */
  get shape() { return this.#shape; }
  /** Canonical dtype name: 'float32', 'float16', 'bfloat16' or 'int32'. */
  get dtype() { return this.#inner.dtype(); }
  /** Bytes of tensor data (16-bit dtypes packed, two bytes per element). */
  get byteLength() { return this.#inner.byteLength(); }
  /** The GPUBuffer holding the data (pending tmath work is submitted first). It may be larger than byteLength. */
  get gpuBuffer() { return call(() => this.#inner.gpuBuffer()); }
  /** Whether dispose() was called. */
  get disposed() { return this.#inner.disposed(); }
  /** Return the buffer to the pool. A second dispose() throws `Disposed`. */
  dispose() { call(() => this.#inner.dispose()); }
  /** `using t = engine.toDevice(...)`: disposes at the end of the block (quietly if already disposed). */
  [DISPOSE]() { if (!this.#inner.disposed()) this.#inner.dispose(); }
  /**
   * Read the data back: Float32Array, Int32Array, Float16Array where the browser has it (else a
   * Uint16Array of float16 bits), or a Uint16Array of bfloat16 bits.
   */
  toHost() {
    try {
      return call(() => this.#inner.toHost());
    } catch (e) {
      return Promise.reject(e);
    }
  }
  toString() { return `Tensor(${this.dtype}, [${this.#shape.join(', ')}])`; }
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
  get(shape, dtype) { return wrap(call(() => this.#engine.poolGet(shape, dtype)), this.#engine); }
  /** A tensor on a pooled buffer, cleared to zero on the GPU. */
  zeros(shape, dtype) { return wrap(call(() => this.#engine.poolZeros(shape, dtype)), this.#engine); }
  /** Return a tensor's buffer to the pool (the tensor is disposed). */
  put(tensor) {
    const inner = wasmTensorOf(tensor, 'pool.put');
    call(() => this.#engine.poolPut(inner));
  }
  /** hits, misses, buffersCreated, bytesInUse, bytesCached, peakBytesInUse, budgetBytes, evictions, … */
  stats() { return this.#engine.poolStats(); }
  /** Free idle buffers (least recently used first) down to `targetBytes` (default 0); returns bytes freed. */
  trim(targetBytes) { return call(() => this.#engine.poolTrim(targetBytes)); }
}

/** The GPU memory layer: a WebGPU device, its buffer pool, and counters of everything done. */
export class Engine {
  #inner;
  #pool;
  #adapterInfo;

  constructor(token, inner) {
    if (token !== CONSTRUCT) {
      throw tmathError('InvalidArgument', 'create an Engine with `await Engine.create(options)`');
    }
    this.#inner = inner;
    this.#pool = new Pool(CONSTRUCT, () => this.#inner);
  }

  /**
   * Acquire a WebGPU adapter and device. Options: precision ('float32' default), poolBudgetBytes
   * (256 MiB default), maxPerClass (100), minClassBytes (256), memoryLimitBytes (no limit but the
   * device's), zeroOnReuse (false), powerPreference.
   */
  static async create(options) {
    if (typeof navigator === 'undefined' || !navigator.gpu) {
      throw tmathError('NoAdapter', 'this JS environment has no WebGPU (navigator.gpu is missing); use a browser with WebGPU enabled (Chrome/Edge 113+, Safari 18+, Firefox 141+, or Chromium with --enable-unsafe-webgpu)');
    }
    const inner = await WasmEngine.create(options);
    return new Engine(CONSTRUCT, inner);
  }

  /** The seed's TensorPool: get, zeros, put, stats, trim. */
  get pool() { return this.#pool; }
  /** The GPUDevice tmath runs on; share it with ONNX Runtime Web, TensorFlow.js or your own kernels. */
  get gpuDevice() { return this.#inner.gpuDevice(); }
  /** { name, vendor, architecture, backend, deviceType, driver, features: {...}, limits: {...} } */
  get adapterInfo() { return (this.#adapterInfo ??= Object.freeze(this.#inner.adapterInfo())); }
  #wrap(inner) { return wrap(inner, this.#inner); }

  /**
   * Every counter: { pool: {...}, copies, copyBytes, crossings, conversions, submits, dispatches,
   * leakedTensors } (leakedTensors: tensors the garbage collector found undisposed).
   */
  stats() { return { ...this.#inner.stats(), leakedTensors: leaked.get(this.#inner) ?? 0 }; }

  /** Submit recorded GPU work now (also done by reads, and at the end of each task). */
  flush() { call(() => this.#inner.flush()); }

  /** Submit recorded work and resolve once the GPU has finished all of it. */
  synchronize() { return this.#inner.synchronize(); }

  /**
   * Run `fn` (synchronous) and dispose every tensor it made that it does not return (a Tensor,
   * or an array or plain object of Tensors), as TensorFlow.js's tidy does.
   */
  tidy(fn) {
    if (typeof fn !== 'function') throw tmathError('InvalidArgument', 'tidy(fn) takes a function');
    const made = [];
    scopes.push(made);
    let result;
    try {
      result = fn();
    } finally {
      scopes.pop();
      const keep = new Set();
      const collect = (v) => {
        if (v instanceof Tensor) keep.add(v);
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
   * `engine.gpuDevice` is the new device afterwards; counters start from zero.
   */
  async recover() {
    const fresh = await this.#inner.recovered();
    if (fresh === undefined) return false;
    this.#inner = fresh;
    this.#adapterInfo = undefined;
    return true;
  }

  /** Release the GPU device and every pooled buffer; every later call throws `Disposed`. */
  dispose() { this.#inner.dispose(); }
  [DISPOSE]() { this.dispose(); }
  /**
   * The seed's `prepare_tensor`: `tensor` in `precision` (default: the engine's precision). When
   * the dtype already matches, the same object comes back (no copy, no dispatch, no allocation);
   * otherwise one GPU cast into a pooled buffer, bit-exact IEEE round-to-nearest-even on every
   * adapter (int32 targets truncate toward zero and saturate; NaN becomes 0).
   */
  prepareTensor(tensor, precision) {
    const inner = wasmTensorOf(tensor, 'prepareTensor');
    const cast = call(() => this.#inner.prepareTensor(inner, precision));
    return cast === undefined ? tensor : this.#wrap(cast);
  }
  /** A new tensor with `tensor`'s data cast to `dtype` (a GPU copy when the dtype is the same). */
  cast(tensor, dtype) { return this.#wrap(call(() => this.#inner.cast(wasmTensorOf(tensor, 'cast'), dtype))); }
  /**
   * `a × b` (float32, float16 or bfloat16, one dtype, float32 accumulation): 2-D [m, k] × [k, n]
   * or batched [batch, m, k] × [batch, k, n], a 2-D side broadcast over the batch. Stays on the GPU.
   */
  matmul(a, b) { return this.#wrap(call(() => this.#inner.matmul(wasmTensorOf(a, 'matmul'), wasmTensorOf(b, 'matmul')))); }
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
    if (typeof a === 'number' && b instanceof Tensor) return this.#wrap(call(() => this.#inner.binaryScalar(op, wasmTensorOf(b, op), a, true)));
    if (typeof b === 'number') return this.#wrap(call(() => this.#inner.binaryScalar(op, wasmTensorOf(a, op), b, false)));
    return this.#wrap(call(() => this.#inner.binaryTensors(op, wasmTensorOf(a, op), wasmTensorOf(b, op))));
  }
  /** A new tensor with a GPU copy of `tensor`'s data. */
  copy(tensor) { return this.#wrap(call(() => this.#inner.copy(wasmTensorOf(tensor, 'copy')))); }
  /** The last transfers, oldest first: { route, fallbackFrom, reason, dtypeIn, dtypeOut, bytes, wallMs }. */
  ledger() { return this.#inner.ledger(); }

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
    if (input instanceof Tensor) {
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
      return this.#wrap(call(() => this.#inner.toDeviceBuffer(input, shape, dtype, adopt === true)));
    }
    const data = foreignHostData(input) ?? { data: input, shape };
    return this.#wrap(call(() => this.#inner.toDeviceHost(data.data, shape ?? data.shape, dtype)));
  }

  /**
   * `toDevice` for every input, plus what needs waiting: a GPUBuffer of another GPUDevice
   * (`{ dtype, device }` naming its device: read there, written here, once), a Tensor of another
   * Engine, a GPUBuffer without COPY_SRC (read through the host, once), and a same-device GPUBuffer
   * whose validation is awaited (so a buffer of another device rejects with DeviceMismatch).
   */
  async toDeviceAsync(input, shape, options) {
    const { dtype, adopt, device } = checkOptions(options, ['dtype', 'adopt', 'device']);
    if (input instanceof Tensor) {
      const inner = wasmTensorOf(input, 'toDeviceAsync');
      if (call(() => this.#inner.toDeviceIdentity(inner))) return input;
      return this.#wrap(await this.#inner.toDeviceFromTensor(inner));
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
        return this.#wrap(await this.#inner.toDeviceCrossDevice(input, device, shape, dtype));
      }
      return this.#wrap(await this.#inner.toDeviceBufferAsync(input, shape, dtype, adopt === true));
    }
    return this.toDevice(input, shape, options);
  }
}
