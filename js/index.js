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
  /** Return the buffer to the pool. */
  dispose() { call(() => this.#inner.dispose()); }
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
  #engine;

  constructor(token, engine) {
    if (token !== CONSTRUCT) throw tmathError('InvalidArgument', 'use engine.pool');
    this.#engine = engine;
  }

  /** A tensor on a pooled buffer; contents unspecified (a reused buffer keeps old data). */
  get(shape, dtype) { return new Tensor(CONSTRUCT, call(() => this.#engine.poolGet(shape, dtype))); }
  /** A tensor on a pooled buffer, cleared to zero on the GPU. */
  zeros(shape, dtype) { return new Tensor(CONSTRUCT, call(() => this.#engine.poolZeros(shape, dtype))); }
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
    this.#pool = new Pool(CONSTRUCT, inner);
  }

  /**
   * Acquire a WebGPU adapter and device. Options: precision ('float32' default), poolBudgetBytes
   * (256 MiB default), maxPerClass (100), minClassBytes (256), powerPreference.
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
  /** Every counter: { pool: {...}, copies, copyBytes, crossings, conversions, submits, dispatches }. */
  stats() { return this.#inner.stats(); }
  /** Submit recorded GPU work now. */
  flush() { call(() => this.#inner.flush()); }
}
