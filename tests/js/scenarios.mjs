// One test body for every JS runtime tmath runs in: Chromium's main thread, its module and
// classic workers, Node on Dawn (the npm package `webgpu`) and Deno. Each scenario takes
// `{ tmath, gpu }` (the package's exports and the runtime's `GPU`), checks exact values and
// counts itself, and throws an Error naming what differed; `runScenarios` runs them all and
// returns `{ name: 'ok' | message }`, plain data every runner can pass back.

/** Engine options for `gpu` on this runtime: none where `navigator.gpu` is it. */
function on(env, options = {}) {
  const own = typeof navigator !== 'undefined' && navigator.gpu === env.gpu;
  return own ? options : { ...options, gpu: env.gpu };
}

function expectEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

async function codeOf(fn) {
  try {
    await fn();
    return 'no error';
  } catch (e) {
    return e?.name === 'TmathError' ? e.code : `${e?.name}: ${e?.message}`;
  }
}

/** A buffer of `device` holding `values`, filled at creation as an app would. */
export function bufferWith(device, values, usage) {
  const buffer = device.createBuffer({ size: values.byteLength, usage, mappedAtCreation: true });
  new values.constructor(buffer.getMappedRange()).set(values);
  buffer.unmap();
  return buffer;
}

/** Read a buffer with the raw calls only (no tmath involved). */
async function rawRead(device, buffer, bytes) {
  const staging = device.createBuffer({ size: bytes, usage: 0x1 | 0x8 }); // MAP_READ | COPY_DST
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(0x1);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return Array.from(out);
}

const STORAGE_COPY = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST

export const scenarios = {
  /** Readbacks in chunks: into new arrays, into the caller's, as an async iterator; bounded staging. */
  async chunkedReads({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }, { transferChunkBytes: 1024 }));
    try {
      const n = 10001;
      const data = Float32Array.from({ length: n }, (_, i) => i * 0.25 - 7);
      const t = engine.toDevice(data, [n]);
      expectEqual(Array.from(await t.toHost()), Array.from(data), 'toHost() over 40 chunks');
      await engine.synchronize();
      const s0 = engine.pool.stats();
      const out = new Float32Array(n);
      expectEqual((await t.toHost(out)) === out, true, 'toHost(out) resolves to out');
      expectEqual(Array.from(out), Array.from(data), 'toHost(out) values');
      const s1 = engine.pool.stats();
      expectEqual([s1.buffersCreated - s0.buffersCreated, s1.bytesInUse - s0.bytesInUse], [0, 0], 'the ring reused, staging back');
      const bytes = new Uint8Array(n * 4);
      await t.toHost(bytes);
      expectEqual(Array.from(new Float32Array(bytes.buffer)), Array.from(data), 'toHost(Uint8Array)');
      expectEqual(await codeOf(() => t.toHost(new Float32Array(n - 1))), 'DataLengthMismatch', 'short out');
      expectEqual(await codeOf(() => t.toHost(new Int32Array(n))), 'InvalidArgument', 'out of another type');
      const sizes = [];
      const seen = [];
      for await (const chunk of t.read({ chunkBytes: 4096 })) {
        sizes.push(chunk.length);
        seen.push(...chunk);
      }
      expectEqual(sizes, [1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 785], 'read() chunk sizes');
      expectEqual(seen, Array.from(data), 'read() values');
      for await (const chunk of t.read()) { if (chunk.length !== 256) throw new Error('default chunk'); break; }
      await engine.synchronize();
      expectEqual(engine.pool.stats().bytesInUse, s0.bytesInUse, 'an early break returns the staging');
      expectEqual(await codeOf(async () => { for await (const c of t.read({ chunkBytes: 6 })) void c; }), 'InvalidArgument', 'chunkBytes not a multiple of 4');
      const half = engine.toDevice(new Uint16Array([0x3c00, 0x4000, 0x4200]), [3], { dtype: 'float16' });
      const h = await half.toHost(new Uint16Array(3));
      expectEqual(Array.from(h), [0x3c00, 0x4000, 0x4200], 'odd float16 into Uint16Array');
      half.dispose();
      t.dispose();
    } finally {
      engine.dispose();
    }
    // A tensor over half the memory limit reads back through the ring.
    const limited = await tmath.Engine.create(on({ gpu }, { memoryLimitBytes: 8 << 20, transferChunkBytes: 256 << 10 }));
    try {
      const big = new Float32Array(5 << 18).map((_, i) => i % 1000);
      const t = limited.toDevice(big, [big.length]);
      const back = await t.toHost();
      expectEqual(back.length === big.length && back.every((v, i) => v === big[i]), true, '5 MiB under an 8 MiB limit');
    } finally {
      limited.dispose();
    }
  },

  /** toDeviceStream from every kind of source, int64, precision, and every failure. */
  async streamedUploads({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const n = 3001;
      const data = Float32Array.from({ length: n }, (_, i) => i - 1500.5);
      const raw = new Uint8Array(data.buffer);
      const pieces = (bytes, sizes) => {
        const out = [];
        for (let at = 0, i = 0; at < bytes.length; i++) {
          const end = Math.min(bytes.length, at + sizes[i % sizes.length]);
          out.push(bytes.slice(at, end));
          at = end;
        }
        return out;
      };
      const streamOf = (chunks) => new ReadableStream({ start(c) { for (const x of chunks) c.enqueue(x); c.close(); } });
      const sources = {
        'ReadableStream, odd pieces': () => streamOf(pieces(raw, [1, 3, 7, 4099, 13])),
        Blob: () => new Blob([raw.slice(0, 5000), raw.slice(5000)]),
        Response: () => new Response(new Blob([raw])),
        'async generator': () => (async function* () { for (const p of pieces(raw, [6000, 5, 999])) yield p; })(),
        'array of ArrayBuffers': () => pieces(raw, [4096]).map((p) => p.buffer),
      };
      for (const [name, make] of Object.entries(sources)) {
        const t = await engine.toDeviceStream(make(), [n], { dtype: 'float32' });
        expectEqual(Array.from(await t.toHost()), Array.from(data), name);
        t.dispose();
      }
      const h = await engine.toDeviceStream(streamOf(pieces(raw, [1001])), [n], { dtype: 'float32', precision: 'float16' });
      const widened = engine.cast(h, 'float32');
      expectEqual([h.dtype, (await widened.toHost())[2]], ['float16', -1498], 'precision on the GPU (round to nearest even)');
      h.dispose();
      widened.dispose();
      const ids = new BigInt64Array([1n, -2n, 3n, 2000000000n, -5n]);
      const i = await engine.toDeviceStream(pieces(new Uint8Array(ids.buffer), [3, 5]), [5], { dtype: 'int64' });
      expectEqual([i.dtype, Array.from(await i.toHost())], ['int32', [1, -2, 3, 2000000000, -5]], 'int64 as int32');
      i.dispose();
      await engine.synchronize();
      const inUse = engine.pool.stats().bytesInUse;
      const failing = new ReadableStream({ pull(c) { if (this.sent) c.error(new Error('network down')); else { this.sent = true; c.enqueue(raw.slice(0, 100)); } } });
      const controller = new AbortController();
      const stalled = new ReadableStream({ start(c) { c.enqueue(raw.slice(0, 64)); } });
      setTimeout(() => controller.abort(new Error('user left')), 20);
      const cases = {
        'too long': [() => engine.toDeviceStream([raw, new Uint8Array(4)], [n], { dtype: 'float32' }), 'DataLengthMismatch'],
        'too short': [() => engine.toDeviceStream([raw.slice(0, 100)], [n], { dtype: 'float32' }), 'DataLengthMismatch'],
        'stream error': [() => engine.toDeviceStream(failing, [n], { dtype: 'float32' }), 'InvalidArgument'],
        aborted: [() => engine.toDeviceStream(stalled, [n], { dtype: 'float32', signal: controller.signal }), 'InvalidArgument'],
        'int64 out of range': [() => engine.toDeviceStream([new Uint8Array(new BigInt64Array([1n << 40n]).buffer)], [1], { dtype: 'int64' }), 'ValueOutOfRange'],
        'no dtype': [() => engine.toDeviceStream([raw], [n]), 'UnsupportedDtype'],
        'not bytes': [() => engine.toDeviceStream(['abc'], [n], { dtype: 'float32' }), 'InvalidArgument'],
        'not a source': [() => engine.toDeviceStream(42, [n], { dtype: 'float32' }), 'InvalidArgument'],
      };
      for (const [name, [run, code]] of Object.entries(cases)) {
        expectEqual(await codeOf(run), code, name);
        expectEqual(engine.pool.stats().bytesInUse, inUse, `${name}: buffer back`);
      }
      let cause;
      try { await engine.toDeviceStream(new ReadableStream({ pull(c) { c.error(new Error('network down')); } }), [n], { dtype: 'float32' }); } catch (e) { cause = e.cause?.message; }
      expectEqual(cause, 'network down', 'the stream\'s error as cause');
    } finally {
      engine.dispose();
    }
  },

  /**
   * A streamed upload's host-side bound, however fast its source, across uploads too: where
   * WebGPU runs in the app's own process (Node on Dawn, Deno), through the staging ring, at most
   * 4 chunks of 4 MiB; in a browser (a page or a worker), through `writeBuffer` calls paced
   * against the queue, at most about 40 MiB written and not yet done by the GPU.
   */
  async streamBound({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const inProcess = typeof globalThis.process?.versions?.node === 'string' || typeof globalThis.Deno !== 'undefined';
      // Queue writes, counted at the queue: bytes written, and bytes the GPU is known to have done
      // (a work-done promise covers every write made before it was asked for).
      const queue = engine.gpuDevice.queue;
      let written = 0;
      let done = 0;
      const write = queue.writeBuffer;
      const workDone = queue.onSubmittedWorkDone;
      queue.writeBuffer = function (buffer, offset, data, dataOffset = 0, size) {
        // `dataOffset` and `size` count elements of a typed array, bytes of an ArrayBuffer.
        const per = data.BYTES_PER_ELEMENT ?? 1;
        written += (size ?? data.byteLength / per - dataOffset) * per;
        return write.apply(this, arguments);
      };
      queue.onSubmittedWorkDone = function () {
        const at = written;
        return workDone.call(this).then((v) => { done = Math.max(done, at); return v; });
      };
      const piece = 1 << 20;
      let staged = 0;
      let unfinished = 0;
      let target = 0;
      // A source that never waits (microtasks only), sampling before each piece the pool's bytes
      // in use beyond the tensors being filled, and the queue's bytes not yet done.
      async function* fast(bytes, seed) {
        for (let at = 0; at < bytes; at += piece) {
          staged = Math.max(staged, engine.pool.stats().bytesInUse - target);
          unfinished = Math.max(unfinished, written - done);
          yield new Uint8Array(Math.min(piece, bytes - at)).fill((seed + at / piece) % 251);
        }
      }
      const check = async (t, bytes, seed) => {
        let ok = true;
        let at = 0;
        for await (const chunk of t.read({ chunkBytes: piece })) {
          const b = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          if (b[0] !== (seed + at / piece) % 251 || b[b.length - 1] !== (seed + at / piece) % 251) ok = false;
          at += b.length;
        }
        return ok && at === bytes;
      };
      // Staging buffers taken while streaming (readbacks take their own, not counted).
      const stagingRequests = () => { const p = engine.pool.stats(); return p.stagingHits + p.stagingMisses; };
      let stagingTaken = 0;
      const stream = async (...args) => {
        const from = stagingRequests();
        const t = await engine.toDeviceStream(...args);
        stagingTaken += stagingRequests() - from;
        return t;
      };
      await engine.synchronize();
      const before = engine.pool.stats().bytesInUse;
      const doneBefore = written;
      done = written;
      // One 64 MiB tensor, then twelve of 3 MiB one after the other: each upload starts while
      // the last ones' bytes may still be on their way.
      target = before + (64 << 20);
      const big = await stream(fast(64 << 20, 0), [16 << 20], { dtype: 'float32' });
      const bigRoute = engine.ledger().at(-1).route;
      expectEqual(await check(big, 64 << 20, 0), true, '64 MiB: every chunk\'s values');
      big.dispose();
      const small = [];
      for (let i = 0; i < 12; i++) {
        target = engine.pool.stats().bytesInUse + (3 << 20);
        small.push(await stream(fast(3 << 20, i * 7), [3 << 18], { dtype: 'int32' }));
      }
      const smallRoute = engine.ledger().at(-1).route;
      for (let i = 0; i < 12; i++) {
        expectEqual(await check(small[i], 3 << 20, i * 7), true, `3 MiB #${i}: values`);
        small[i].dispose();
      }
      await engine.synchronize();
      expectEqual(engine.pool.stats().bytesInUse, before, 'every buffer back');
      const ring = 4 * (4 << 20);
      if (inProcess) {
        expectEqual([bigRoute, smallRoute], ['staged-write', 'staged-write'], 'in the app\'s process: the staging ring');
        if (!(stagingTaken > 0 && staged > 0 && staged <= ring)) throw new Error(`staging in use beyond the tensors: ${staged} bytes, expected 1 to ${ring}`);
      } else {
        expectEqual([bigRoute, smallRoute, stagingTaken], ['host-write', 'host-write', 0], 'in a browser: queue writes, no staging');
        const bound = 5 * (8 << 20) + piece;
        if (!(written - doneBefore >= 100 << 20 && unfinished > 0 && unfinished <= bound)) {
          throw new Error(`queue writes not done by the GPU: at most ${unfinished} bytes of ${written - doneBefore} written, expected 1 to ${bound}`);
        }
      }
    } finally {
      engine.dispose();
    }
  },

  /** loadSafetensors: every dtype, precision, chunked sources, and every malformed file. */
  async safetensors({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const file = (tensors, { header: override, data: extra } = {}) => {
        const header = { __metadata__: { by: 'tmath tests' } };
        const parts = [];
        let at = 0;
        for (const [name, dtype, shape, bytes] of tensors) {
          header[name] = { dtype, shape, data_offsets: [at, at + bytes.byteLength] };
          parts.push(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          at += bytes.byteLength;
        }
        const json = override ?? new TextEncoder().encode(JSON.stringify(header));
        const prefix = new Uint8Array(8);
        new DataView(prefix.buffer).setBigUint64(0, BigInt(json.length), true);
        return new Blob([prefix, json, ...parts, ...(extra ? [extra] : [])]);
      };
      const embed = Float32Array.from({ length: 2800 }, (_, i) => i * 0.25 - 7);
      const norm = new Uint16Array([0x3c00, 0xc000, 0x4200]); // float16 1, -2, 3
      const model = file([
        ['embed', 'F32', [40, 70], embed],
        ['norm.weight', 'F16', [3], norm],
        ['scale', 'BF16', [2], new Uint16Array([0x3f80, 0x4000])], // bfloat16 1, 2
        ['ids', 'I64', [3], new BigInt64Array([1n, -2n, 2000000000n])],
        ['count', 'I32', [], new Int32Array([42])],
      ]);
      const bytes = new Uint8Array(await model.arrayBuffer());
      const dribble = async function* () { for (let at = 0; at < bytes.length; at += 777) yield bytes.slice(at, at + 777); };
      for (const [name, source] of [['Blob', model], ['Response', new Response(model)], ['dribble', dribble()]]) {
        const w = await engine.loadSafetensors(source);
        expectEqual(Object.keys(w), ['embed', 'norm.weight', 'scale', 'ids', 'count'], `${name}: file order`);
        expectEqual([w.embed.dtype, w.embed.shape], ['float32', [40, 70]], `${name}: embed`);
        expectEqual(Array.from(await w.embed.toHost()), Array.from(embed), `${name}: embed values`);
        expectEqual(Array.from(await w['norm.weight'].toHost(new Uint16Array(3))), Array.from(norm), `${name}: float16 bits`);
        expectEqual([w.scale.dtype, Array.from(await w.scale.toHost())], ['bfloat16', [0x3f80, 0x4000]], `${name}: bfloat16`);
        expectEqual([w.ids.dtype, Array.from(await w.ids.toHost())], ['int32', [1, -2, 2000000000]], `${name}: int64`);
        expectEqual([w.count.shape, Array.from(await w.count.toHost())], [[], [42]], `${name}: scalar`);
        for (const t of Object.values(w)) t.dispose();
      }
      const f32 = await engine.loadSafetensors(model, { precision: 'float32' });
      expectEqual(Object.values(f32).map((t) => t.dtype), ['float32', 'float32', 'float32', 'float32', 'float32'], 'precision');
      expectEqual(Array.from(await f32['norm.weight'].toHost()), [1, -2, 3], 'float16 converted on the GPU');
      for (const t of Object.values(f32)) t.dispose();
      await engine.synchronize();
      const inUse = engine.pool.stats().bytesInUse;
      const floats = new Float32Array(8);
      const json = (text) => file([['a', 'F32', [8], floats]], { header: new TextEncoder().encode(text) });
      const entry = (name, from, to) => `"${name}":{"dtype":"F32","shape":[${(to - from) / 4}],"data_offsets":[${from},${to}]}`;
      const bad = {
        truncated: [bytes.slice(0, bytes.length - 3), 'DataLengthMismatch'],
        'trailing bytes': [file([['a', 'F32', [8], floats]], { data: new Uint8Array(5) }), 'DataLengthMismatch'],
        'overlapping offsets': [json(`{${entry('a', 0, 16)},${entry('b', 8, 24)}}`), 'InvalidArgument'],
        'a gap': [json(`{${entry('a', 0, 8)},${entry('b', 12, 32)}}`), 'InvalidArgument'],
        'offsets past the data': [json(`{${entry('a', 0, 16)},${entry('b', 16, 48)}}`), 'DataLengthMismatch'],
        'header larger than the file': [new Blob([new Uint8Array([232, 3, 0, 0, 0, 0, 0, 0]), '{}']), 'InvalidArgument'],
        'non-UTF-8 header': [file([['a', 'F32', [8], floats]], { header: new Uint8Array([123, 255, 254, 125]) }), 'InvalidArgument'],
        'non-JSON header': [json('{"a": [1, 2'), 'InvalidArgument'],
        'unsupported dtype': [json('{"bytes":{"dtype":"U8","shape":[32],"data_offsets":[0,32]}}'), 'UnsupportedDtype'],
        'not a source': [12, 'InvalidArgument'],
      };
      for (const [name, [source, code]] of Object.entries(bad)) {
        expectEqual(await codeOf(() => engine.loadSafetensors(source)), code, name);
        expectEqual(engine.pool.stats().bytesInUse, inUse, `${name}: every buffer back`);
      }
      const named = await engine.loadSafetensors(json('{"bytes":{"dtype":"U8","shape":[32],"data_offsets":[0,32]}}')).catch((e) => e.message);
      expectEqual(/"bytes"/.test(named), true, 'the unsupported tensor is named');
      const controller = new AbortController();
      controller.abort(new Error('navigated away'));
      expectEqual(await codeOf(() => engine.loadSafetensors(model, { signal: controller.signal })), 'InvalidArgument', 'aborted');
    } finally {
      engine.dispose();
    }
  },

  /** Every route with its exact counts: host write, identity, GPU copy, adopt. */
  async routerCounts({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const data = Float32Array.from({ length: 4096 }, (_, i) => i / 8);
      engine.toDevice(data, [64, 64]).dispose(); // warm-up
      const s0 = engine.stats();
      const t = engine.toDevice(data, [64, 64]);
      const s1 = engine.stats();
      expectEqual({
        created: s1.pool.buffersCreated - s0.pool.buffersCreated,
        copies: s1.copies - s0.copies,
        crossings: s1.crossings - s0.crossings,
        route: engine.ledger().at(-1).route,
      }, { created: 0, copies: 1, crossings: 1, route: 'host-write' }, 'host write');
      expectEqual((await t.toHost()).every((x, i) => x === data[i]), true, 'host write data');
      expectEqual(engine.toDevice(t) === t && engine.ledger().at(-1).route, 'identity', 'identity');

      const device = engine.gpuDevice;
      const buffer = bufferWith(device, new Float32Array([1, -2, 3, -4]), STORAGE_COPY);
      const s2 = engine.stats();
      const copied = engine.toDevice(buffer, [2, 2], { dtype: 'float32' });
      const s3 = engine.stats();
      expectEqual([engine.ledger().at(-1).route, s3.copies - s2.copies, s3.crossings - s2.crossings],
        ['same-device-copy', 1, 0], 'GPUBuffer copy');
      expectEqual(Array.from(await copied.toHost()), [1, -2, 3, -4], 'GPUBuffer copy data');
      const s4 = engine.stats();
      const adopted = engine.toDevice(buffer, [4], { dtype: 'float32', adopt: true });
      expectEqual([engine.ledger().at(-1).route, engine.stats().copies - s4.copies], ['adopt', 0], 'adopt');
      expectEqual(adopted.gpuBuffer === buffer, true, 'adopted buffer is the caller\'s');
    } finally {
      engine.dispose();
    }
  },

  /** Bit-exact casts on the GPU: round to nearest even, saturation, NaN. */
  async precisionBits({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const values = new Float32Array([1, 65504, 65520, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -0, NaN, 2 ** -24, 2 ** -25]);
      const x = engine.toDevice(values);
      const h = engine.cast(x, 'float16');
      const bits = (a) => Array.from(new Uint16Array(a.buffer, a.byteOffset, a.length));
      expectEqual(bits(await h.toHost()),
        [0x3c00, 0x7bff, 0x7c00, 0x3c00, 0x3c02, 0x8000, 0x7e00, 0x0001, 0x0000], 'float32 → float16 bits');
      const b = engine.cast(engine.toDevice(new Float32Array([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5])), 'bfloat16');
      expectEqual(bits(await b.toHost()), [0x3f80, 0x3f80, 0x3f82, 0xc020], 'float32 → bfloat16 bits');
      const i = engine.cast(engine.toDevice(new Float32Array([2.7, -2.7, 3e9, -3e9, NaN])), 'int32');
      expectEqual(Array.from(await i.toHost()), [2, -2, 2147483647, -2147483648, 0], 'float32 → int32');
      const back = engine.cast(h, 'float32');
      expectEqual(Array.from(await back.toHost()).map(String),
        ['1', '65504', 'Infinity', '1', '1.001953125', '0', 'NaN', '5.960464477539063e-8', '0'], 'float16 → float32');
    } finally {
      engine.dispose();
    }
  },

  /** Elementwise ops with broadcasting, relu and matmul: exact results. */
  async ops({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const a = engine.toDevice(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
      const row = engine.toDevice(new Float32Array([10, 20, 30]), [3]);
      expectEqual(Array.from(await engine.add(a, row).toHost()), [11, 22, 33, 14, 25, 36], 'add broadcast');
      expectEqual(Array.from(await engine.sub(1, a).toHost()), [0, -1, -2, -3, -4, -5], 'scalar - tensor');
      expectEqual(Array.from(await engine.mul(a, 2).toHost()), [2, 4, 6, 8, 10, 12], 'mul');
      expectEqual(Array.from(await engine.div(a, 2).toHost()), [0.5, 1, 1.5, 2, 2.5, 3], 'div');
      expectEqual(Array.from(await engine.relu(engine.sub(a, 3)).toHost()), [0, 0, 0, 1, 2, 3], 'relu');
      const b = engine.toDevice(new Float32Array([1, 0, 0, 1, 1, 1]), [3, 2]);
      const c = engine.matmul(a, b);
      expectEqual([c.shape, Array.from(await c.toHost())], [[2, 2], [4, 5, 10, 11]], 'matmul');
    } finally {
      engine.dispose();
    }
  },

  /** Bad input: typed errors, and the pool exactly as it was. */
  async badInput({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const keep = engine.toDevice(new Float32Array([1, 2, 3, 4]), [4]);
      engine.toDevice(new Float32Array(1)).dispose(); // warm: the disposed-tensor case reuses it
      const before = JSON.stringify(engine.pool.stats());
      const codes = {
        length: await codeOf(() => engine.toDevice(new Float32Array(3), [2, 2])),
        shape: await codeOf(() => engine.toDevice(new Float32Array(4), [-1, 4])),
        dtype: await codeOf(() => engine.toDevice(new Float32Array(4), [4], { dtype: 'complex64' })),
        input: await codeOf(() => engine.toDevice({ size: 16, mapAsync() {} }, [4], { dtype: 'float32' })),
        option: await codeOf(() => engine.toDevice(new Float32Array(4), [4], { dtpye: 'float32' })),
        matmul: await codeOf(() => engine.matmul(keep, keep)),
        disposed: await codeOf(async () => { const t = engine.toDevice(new Float32Array(1)); t.dispose(); await t.toHost(); }),
        gpuOption: await codeOf(() => tmath.Engine.create({ gpu: {} })),
        fromDevice: await codeOf(() => tmath.Engine.fromDevice({ createBuffer() {} })),
      };
      expectEqual(codes, {
        length: 'DataLengthMismatch', shape: 'InvalidShape', dtype: 'UnsupportedDtype',
        input: 'InvalidArgument', option: 'InvalidArgument', matmul: 'InvalidShape',
        disposed: 'Disposed', gpuOption: 'InvalidArgument', fromDevice: 'InvalidArgument',
      }, 'error codes');
      const after = JSON.parse(JSON.stringify(engine.pool.stats()));
      const was = JSON.parse(before);
      expectEqual({ created: after.buffersCreated, inUse: after.buffersInUse, bytes: after.bytesInUse },
        { created: was.buffersCreated, inUse: was.buffersInUse, bytes: was.bytesInUse }, 'pool after bad input');
      expectEqual(Array.from(await keep.toHost()), [1, 2, 3, 4], 'a tensor after bad input');
    } finally {
      engine.dispose();
    }
  },

  /** A lost device: DeviceLost everywhere, then recover() gives a working engine. */
  async deviceLoss({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const t = engine.toDevice(new Float32Array([1, 2]));
      engine.gpuDevice.destroy();
      await engine.gpuDevice.lost;
      await new Promise((resolve) => setTimeout(resolve, 0));
      expectEqual(typeof engine.deviceLost, 'string', 'deviceLost reason');
      expectEqual([await codeOf(() => t.toHost()), await codeOf(() => engine.add(t, 1)),
        await codeOf(() => engine.toDevice(new Float32Array(2)))], ['DeviceLost', 'DeviceLost', 'DeviceLost'], 'calls after loss');
      expectEqual(await engine.recover(), true, 'recover');
      const fresh = engine.toDevice(new Float32Array([5, 6]));
      expectEqual(Array.from(await engine.mul(fresh, 2).toHost()), [10, 12], 'after recover');
    } finally {
      engine.dispose();
    }
  },

  /**
   * Engine.fromDevice: tmath on a device the app made, buffers shared both ways without a
   * readback; dispose() leaves the device working; a lost borrowed device cannot be recovered.
   */
  async fromDevice({ tmath, gpu }) {
    const adapter = await gpu.requestAdapter();
    const device = await adapter.requestDevice();
    let onuncapturederror = 0;
    device.onuncapturederror = () => { onuncapturederror += 1; };
    const engine = await tmath.Engine.fromDevice(device);
    expectEqual(engine.gpuDevice === device, true, 'gpuDevice is the app\'s device');
    expectEqual(engine.adapterInfo.limits.maxBufferSize, device.limits.maxBufferSize, 'limits from the device');
    expectEqual(engine.adapterInfo.features.shaderF16, device.features.has('shader-f16'), 'features from the device');
    const mine = bufferWith(device, new Float32Array([1, 2, 3, 4]), STORAGE_COPY);
    const x = engine.toDevice(mine, [4], { dtype: 'float32' });
    const y = engine.mul(x, 3);
    expectEqual(await rawRead(device, y.gpuBuffer, 16), [3, 6, 9, 12], 'tmath result read by raw calls');
    device.createBuffer({ size: 4, usage: 0xffffff }); // an app error: the app's handler still gets it
    engine.dispose();
    expectEqual(await codeOf(() => engine.toDevice(new Float32Array(1))), 'Disposed', 'engine disposed');
    // The device is the app's and still works.
    const after = bufferWith(device, new Float32Array([7, 8]), STORAGE_COPY);
    expectEqual(await rawRead(device, after, 8), [7, 8], 'device works after dispose');
    expectEqual(onuncapturederror, 1, 'the app\'s onuncapturederror kept');
    // A second engine on it; then the app destroys the device: recover() cannot replace it.
    const second = await tmath.Engine.fromDevice(device);
    device.destroy();
    await device.lost;
    await new Promise((resolve) => setTimeout(resolve, 0));
    expectEqual(await codeOf(() => second.recover()), 'DeviceLost', 'recover on a borrowed device');
    second.dispose();
  },
};

/** Run every scenario (or those named); `{ name: 'ok' | what went wrong }`. */
export async function runScenarios(env, names = Object.keys(scenarios)) {
  const results = {};
  for (const name of names) {
    try {
      await scenarios[name](env);
      results[name] = 'ok';
    } catch (e) {
      results[name] = `${e?.name}: ${e?.message}`;
    }
  }
  return results;
}

/** What `runScenarios` returns when everything passes. */
export function allOk(names = Object.keys(scenarios)) {
  return Object.fromEntries(names.map((name) => [name, 'ok']));
}
