// Type declarations for the `tmath` package (the hand-written wrapper in js/index.js; the
// wasm-bindgen classes it wraps are internal and declared in pkg/tmath.d.ts).

/** Tensor dtypes. */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'int32';
/** Names accepted wherever a dtype or precision is asked for (aliases included). */
export type DTypeName = DType | 'f32' | 'f16' | 'half' | 'bf16' | 'bfloat16' | 'i32';

/** Every `code` a TmathError can carry. */
export type ErrorCode =
  | 'InvalidShape' | 'DataLengthMismatch' | 'UnsupportedDtype' | 'ValueOutOfRange' | 'TooLarge'
  | 'Disposed' | 'DeviceMismatch' | 'DeviceLost' | 'OutOfMemory' | 'NoAdapter' | 'InvalidArgument'
  | 'Internal';

/** What tmath throws: an Error with `name === 'TmathError'` and a stable `code`. */
export interface TmathError extends Error {
  name: 'TmathError';
  code: ErrorCode;
}

export declare const ERROR_CODES: readonly ErrorCode[];
export declare function isTmathError(e: unknown): e is TmathError;

/** The typed array `toHost()` resolves to, by dtype (float16: Float16Array where the browser has it). */
export type HostArray = Float32Array | Int32Array | Uint16Array | (typeof globalThis extends { Float16Array: infer F } ? F extends abstract new (...args: any) => infer I ? I : never : never);

export interface EngineOptions {
  /** Default precision (dtype of untyped data and of prepareTensor without one). Default 'float32'. */
  precision?: DTypeName;
  /** Idle bytes the pool keeps. Default 256 MiB. */
  poolBudgetBytes?: number;
  /** Idle buffers kept per size class. Default 100. */
  maxPerClass?: number;
  /** Smallest size class in bytes. Default 256. */
  minClassBytes?: number;
  powerPreference?: 'high-performance' | 'low-power';
  /** Clear every reused tensor buffer before handing it out. Default false. */
  zeroOnReuse?: boolean;
  /**
   * Most bytes the pool may hold on the GPU, in use and idle together. A new buffer that would
   * pass it first evicts idle buffers (least recently used first); if the tensors in use leave no
   * room, the call throws `OutOfMemory` and changes nothing. Default: no limit but the device's.
   */
  memoryLimitBytes?: number;
  /**
   * Bytes of one chunk of a large transfer (a multiple of 256; default 16 MiB): readbacks larger
   * than this move through a ring of 4 pooled staging buffers of this size, so staging stays
   * bounded whatever the tensor's size.
   */
  transferChunkBytes?: number;
  /**
   * One matmul tile shape for every product (rows × cols per invocation × k per step), instead
   * of the tuned or default choice.
   */
  matmulTiles?: MatmulTiles;
}

/**
 * Matmul tile shapes: output rows × columns per invocation × k per step. `-sg`: the subgroup
 * kernels, for devices with WebGPU's `subgroups` feature (`Engine.create` asks for it where the
 * adapter has it); elsewhere, and for bfloat16 inputs or n not a multiple of 4, a portable shape
 * runs instead.
 */
export type MatmulTiles = '4x4x16' | '4x4x32' | '8x4x16' | '4x8x16' | '8x8x8' | '8x8x16' | '4x8x32' | '4x4x32-sg' | '8x4x32-sg' | '16x4x32-sg';

/**
 * The fastest tile shape measured per product size on one adapter (plain JSON). `portable`,
 * where `tiles` is a subgroup shape: the fastest portable one, for products the subgroup
 * kernels cannot take.
 */
export interface MatmulTuning {
  adapter: string;
  choices: { size: number; tiles: MatmulTiles; ms: number; portable?: MatmulTiles }[];
}

/** Options of `Engine.create`: the engine's options, and the `GPU` to request an adapter from. */
export interface CreateOptions extends EngineOptions {
  /**
   * The WebGPU entry point: `navigator.gpu` by default (browsers, workers, Deno); in Node, Dawn's
   * `create([])` from the npm package `webgpu`.
   */
  gpu?: GPU;
}

export interface PoolStats {
  hits: number;
  hitsLargerClass: number;
  misses: number;
  stagingHits: number;
  stagingMisses: number;
  buffersCreated: number;
  buffersDestroyed: number;
  bytesInUse: number;
  bytesCached: number;
  peakBytesInUse: number;
  budgetBytes: number;
  evictions: number;
  buffersInUse: number;
  buffersCached: number;
  /** New buffers the device refused at first and that were tried again after evicting idle ones. */
  allocationRetries: number;
}

export interface Stats {
  pool: PoolStats;
  copies: number;
  copyBytes: number;
  crossings: number;
  conversions: number;
  submits: number;
  dispatches: number;
  /** Bind groups created (a chain of ops over repeating buffers reuses cached ones). */
  bindGroups: number;
  /** Queue writes of ops' params: one per submission that recorded ops, not one per op. */
  paramWrites: number;
  /** Tensors the garbage collector found undisposed (their buffers went back to the pool). */
  leakedTensors: number;
}

export type Route =
  | 'identity' | 'host-write' | 'mapped-write' | 'staged-write' | 'same-device-copy' | 'adopt'
  | 'cross-device' | 'readback';

export interface Transfer {
  route: Route;
  fallbackFrom: Route | null;
  reason: string | null;
  dtypeIn: string;
  dtypeOut: DType;
  bytes: number;
  wallMs: number;
  seq: number;
}

export interface AdapterInfo {
  name: string;
  vendor: string;
  architecture: string;
  backend: string;
  deviceType: string;
  driver: string;
  features: { shaderF16: boolean; timestampQuery: boolean; mappablePrimaryBuffers: boolean; subgroups: boolean };
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
}

export interface ToDeviceOptions {
  dtype?: DTypeName;
  /** Take a GPUBuffer of engine.gpuDevice as the tensor's storage, without a copy. */
  adopt?: boolean;
  /** The GPUDevice a GPUBuffer belongs to (toDeviceAsync moves it through the host, once). */
  device?: GPUDevice;
}

/** Bytes arriving over time: a stream, a fetch response, a file, or chunks from a generator. */
export type ByteSource =
  | ReadableStream<ArrayBufferView | ArrayBuffer> | Response | Blob
  | AsyncIterable<ArrayBufferView | ArrayBuffer> | Iterable<ArrayBufferView | ArrayBuffer>
  | ArrayBufferView | ArrayBuffer;

export interface StreamOptions {
  /** Convert each tensor on the GPU to this dtype (prepareTensor's semantics). */
  precision?: DTypeName;
  /** Abort the transfer: the promise rejects with InvalidArgument, the reason as `cause`. */
  signal?: AbortSignal;
}

/** What toDevice accepts besides tmath Tensors. */
export type DeviceInput =
  | Float32Array | Int32Array | Uint16Array | BigInt64Array | Float64Array | Uint8Array | ArrayBuffer
  | number[] | GPUBuffer | { location: 'gpu-buffer'; gpuBuffer: GPUBuffer; dims: readonly number[]; type: string }
  | { location: 'cpu'; data: ArrayBufferView; dims: readonly number[] }
  | { dataToGPU(): { buffer: GPUBuffer; tensorRef?: { dispose(): void } }; shape: number[]; dtype: string }
  | ArrayBufferView;

export declare class Tensor {
  private constructor();
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly byteLength: number;
  /** The GPUBuffer (pending work is submitted first); may be larger than byteLength. */
  readonly gpuBuffer: GPUBuffer;
  readonly disposed: boolean;
  /**
   * Read the data back: into a new typed array, or into `out` (a typed array of the dtype, or a
   * Uint8Array, exactly `byteLength` bytes), which the promise resolves to.
   */
  toHost(): Promise<HostArray>;
  toHost<T extends ArrayBufferView>(out: T): Promise<T>;
  /** Read back chunk by chunk: at most one chunk waits for the consumer. */
  read(options?: { chunkBytes?: number }): AsyncGenerator<HostArray, void, undefined>;
  dispose(): void;
  [Symbol.dispose](): void;
}

export declare class Pool {
  private constructor();
  get(shape: readonly number[], dtype?: DTypeName): Tensor;
  zeros(shape: readonly number[], dtype?: DTypeName): Tensor;
  put(tensor: Tensor): void;
  stats(): PoolStats;
  trim(targetBytes?: number): number;
}

type TensorTree = Tensor | TensorTree[] | { [key: string]: TensorTree } | unknown;

export declare class Engine {
  private constructor();
  static create(options?: CreateOptions): Promise<Engine>;
  /**
   * Run on a `GPUDevice` the app (or ONNX Runtime Web, or TensorFlow.js) made. tmath never
   * destroys it: `dispose()` frees tmath's buffers only, and after a loss `recover()` rejects with
   * `DeviceLost`.
   */
  static fromDevice(device: GPUDevice, options?: Omit<EngineOptions, 'powerPreference'>): Promise<Engine>;
  readonly pool: Pool;
  readonly gpuDevice: GPUDevice;
  readonly adapterInfo: AdapterInfo;
  toDevice(input: Tensor | DeviceInput, shape?: readonly number[], options?: ToDeviceOptions): Tensor;
  toDeviceAsync(input: Tensor | DeviceInput, shape?: readonly number[], options?: ToDeviceOptions): Promise<Tensor>;
  /** Stream bytes onto the GPU as they arrive, with bounded host memory. */
  toDeviceStream(source: ByteSource, shape: readonly number[], options: StreamOptions & { dtype: DTypeName | 'int64' }): Promise<Tensor>;
  /** Load a safetensors file into `{ [name]: Tensor }`, each tensor streamed in file order. */
  loadSafetensors(source: ByteSource, options?: StreamOptions): Promise<Record<string, Tensor>>;
  prepareTensor(tensor: Tensor, precision?: DTypeName): Tensor;
  cast(tensor: Tensor, dtype: DTypeName): Tensor;
  copy(tensor: Tensor): Tensor;
  /** `{ accumulate: 'float16' }`: allow float16 arithmetic for float16 inputs (shader-f16). */
  matmul(a: Tensor, b: Tensor, options?: { accumulate?: 'float32' | 'float16' }): Tensor;
  add(a: Tensor | number, b: Tensor | number): Tensor;
  sub(a: Tensor | number, b: Tensor | number): Tensor;
  mul(a: Tensor | number, b: Tensor | number): Tensor;
  div(a: Tensor | number, b: Tensor | number): Tensor;
  relu(a: Tensor): Tensor;
  stats(): Stats;
  ledger(): Transfer[];
  flush(): void;
  synchronize(): Promise<void>;
  /** Measure the matmul tile shapes and use the fastest per size (two to four seconds on an H100). */
  tuneMatmul(): Promise<MatmulTuning>;
  /** The tuning in use, or null for the defaults. */
  readonly matmulTuning: MatmulTuning | null;
  /** Use a stored tuning, or null for the defaults. */
  setMatmulTuning(tuning: MatmulTuning | null): void;
  tidy<T extends TensorTree>(fn: () => T): T;
  profile<T>(fn: () => T | Promise<T>): Promise<{ result: T; stats: Stats; ledger: Transfer[] }>;
  /** Why the GPU device was lost, or null while it works. */
  readonly deviceLost: string | null;
  /** After a device loss: a new device and an empty pool for this Engine; false if nothing was lost. */
  recover(): Promise<boolean>;
  dispose(): void;
  [Symbol.dispose](): void;
}
