// The JS API in headless Chromium's WebGPU, loaded from a plain <script type="module">.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usePage } from './harness.mjs';

const fx = usePage();

test('Engine.create acquires WebGPU and reports the adapter', async () => {
  const info = await fx.page.evaluate(async () => {
    const engine = await tmath.Engine.create();
    window.engine = engine;
    return {
      info: engine.adapterInfo,
      isDevice: engine.gpuDevice instanceof GPUDevice,
      samePool: engine.pool === engine.pool,
    };
  });
  assert.equal(info.isDevice, true);
  assert.equal(info.samePool, true);
  assert.equal(info.info.backend, 'webgpu');
  assert.equal(info.info.architecture, 'swiftshader');
  assert.equal(typeof info.info.features.shaderF16, 'boolean');
  assert.equal(typeof info.info.features.timestampQuery, 'boolean');
  assert.ok(info.info.limits.maxBufferSize >= 256 * 2 ** 20);
  assert.ok(info.info.limits.maxStorageBufferBindingSize >= 128 * 2 ** 20);
});

test('pool.get / zeros / put / stats / trim', async () => {
  const r = await fx.page.evaluate(async () => {
    const { pool, gpuDevice } = engine;
    const s0 = pool.stats();
    const t = pool.get([1000], 'float32');
    const info = { shape: t.shape, dtype: t.dtype, byteLength: t.byteLength, disposed: t.disposed };
    const buffer = t.gpuBuffer;
    info.isBuffer = buffer instanceof GPUBuffer;
    info.bufferSize = buffer.size;
    gpuDevice.queue.writeBuffer(buffer, 0, new Float32Array(1000).fill(3.5));
    info.written = Array.from((await t.toHost()).slice(0, 3));
    pool.put(t);
    info.disposedAfterPut = t.disposed;
    const z = pool.zeros([10, 100]);
    const zeros = await z.toHost();
    info.zerosType = zeros.constructor.name;
    info.allZero = zeros.every((x) => x === 0);
    const s1 = pool.stats();
    info.hits = s1.hits - s0.hits;
    info.created = s1.buffersCreated - s0.buffersCreated;
    z.dispose();
    info.cachedBeforeTrim = pool.stats().bytesCached;
    info.freed = pool.trim(0);
    info.cachedAfterTrim = pool.stats().bytesCached;
    info.statsKeys = Object.keys(engine.stats()).sort();
    info.poolKeys = Object.keys(pool.stats()).sort();
    return info;
  });
  assert.deepEqual(r.shape, [1000]);
  assert.equal(r.dtype, 'float32');
  assert.equal(r.byteLength, 4000);
  assert.equal(r.disposed, false);
  assert.equal(r.isBuffer, true);
  assert.ok(r.bufferSize >= 4000);
  assert.deepEqual(r.written, [3.5, 3.5, 3.5]);
  assert.equal(r.disposedAfterPut, true);
  assert.equal(r.zerosType, 'Float32Array');
  assert.equal(r.allZero, true, 'zeros on a reused, dirty buffer must read zeros');
  assert.equal(r.hits, 1);
  assert.equal(r.created, 2, 'one storage buffer and one readback staging buffer');
  assert.ok(r.cachedBeforeTrim > 0);
  assert.equal(r.freed, r.cachedBeforeTrim);
  assert.equal(r.cachedAfterTrim, 0);
  for (const key of ['pool', 'copies', 'copyBytes', 'crossings', 'conversions', 'submits', 'dispatches']) {
    assert.ok(r.statsKeys.includes(key), key);
  }
  for (const key of ['hits', 'misses', 'buffersCreated', 'buffersDestroyed', 'bytesInUse', 'bytesCached', 'peakBytesInUse', 'budgetBytes', 'evictions']) {
    assert.ok(r.poolKeys.includes(key), key);
  }
});

test('toHost returns the typed array of each dtype; 16-bit tensors are packed', async () => {
  const r = await fx.page.evaluate(async () => {
    const out = {};
    for (const [dtype, shape] of [['float16', [3, 3]], ['bf16', [5]], ['i32', [4]], ['half', [1]]]) {
      const t = engine.pool.zeros(shape, dtype);
      const host = await t.toHost();
      out[dtype] = { dtype: t.dtype, byteLength: t.byteLength, type: host.constructor.name, length: host.length };
      t.dispose();
    }
    out.hasFloat16Array = typeof Float16Array !== 'undefined';
    return out;
  });
  const f16 = r.hasFloat16Array ? 'Float16Array' : 'Uint16Array';
  assert.deepEqual(r.float16, { dtype: 'float16', byteLength: 18, type: f16, length: 9 });
  assert.deepEqual(r.bf16, { dtype: 'bfloat16', byteLength: 10, type: 'Uint16Array', length: 5 });
  assert.deepEqual(r.i32, { dtype: 'int32', byteLength: 16, type: 'Int32Array', length: 4 });
  assert.deepEqual(r.half, { dtype: 'float16', byteLength: 2, type: f16, length: 1 });
});

test('a disposed tensor refuses every use with Disposed', async () => {
  const r = await fx.page.evaluate(async () => {
    const t = engine.pool.get([16]);
    t.dispose();
    const codes = {};
    const grab = (name, fn) => { try { fn(); codes[name] = 'no error'; } catch (e) { codes[name] = `${e.name}:${e.code}`; } };
    grab('gpuBuffer', () => t.gpuBuffer);
    grab('dispose', () => t.dispose());
    grab('put', () => engine.pool.put(t));
    codes.toHost = await t.toHost().then(() => 'no error', (e) => `${e.name}:${e.code}`);
    codes.shapeStillReadable = t.shape.join(',');
    return codes;
  });
  assert.deepEqual(r, {
    gpuBuffer: 'TmathError:Disposed',
    dispose: 'TmathError:Disposed',
    put: 'TmathError:Disposed',
    toHost: 'TmathError:Disposed',
    shapeStillReadable: '16',
  });
});

test('disposing frees the wasm half at once; shape, dtype, byteLength and messages stay as they were', async () => {
  const r = await fx.page.evaluate(async () => {
    const live = () => engine[Symbol.for('tmath.liveTensorObjectsForTests')]();
    const before = live();
    // Nothing read before disposal: what a disposed tensor reports comes from its metadata.
    const x = engine.toDevice(new Float32Array(6), [2, 3]);
    const y = engine.cast(x, 'float16');
    const z = engine.pool.get([4, 1, 5], 'int32');
    const w = engine.pool.zeros([7], 'bfloat16');
    const made = live() - before;
    const rustMessage = (() => { const w = engine.pool.get([2, 3], 'float16'); w.dispose(); try { w.gpuBuffer; } catch (e) { return e.message; } })();
    x.dispose();
    y.dispose();
    engine.pool.put(z);
    w.dispose();
    const after = live() - before;
    const grab = (fn) => { try { fn(); return 'no error'; } catch (e) { return `${e.code}: ${e.message}`; } };
    const uses = {
      add: grab(() => engine.add(y, 1)),
      gpuBuffer: grab(() => y.gpuBuffer),
      dispose: grab(() => y.dispose()),
      put: grab(() => engine.pool.put(y)),
      toHost: await y.toHost().then(() => 'no error', (e) => `${e.code}: ${e.message}`),
      read: await y.read().next().then(() => 'no error', (e) => `${e.code}: ${e.message}`),
    };
    // `using`'s disposal of an already disposed tensor is quiet.
    let quiet = 'no error';
    try { y[Symbol.dispose ?? Symbol.for('Symbol.dispose')](); } catch (e) { quiet = e.code ?? String(e); }
    // A long task of get + put holds no wasm objects beyond the live ones.
    const s = live();
    for (let i = 0; i < 5000; i++) engine.pool.put(engine.pool.get([1024]));
    const chain = live();
    let t = engine.pool.zeros([256]);
    for (let i = 0; i < 200; i++) { const u = engine.add(t, 1); t.dispose(); t = u; }
    const sum = (await t.toHost())[0];
    t.dispose();
    return {
      made, after, rustMessage, uses, quiet,
      meta: [x, y, z, w].map((t) => ({ shape: t.shape, dtype: t.dtype, byteLength: t.byteLength, disposed: t.disposed, text: String(t) })),
      loop: chain - s, chainHeld: live() - s, sum,
    };
  });
  assert.equal(r.made, 4);
  assert.equal(r.after, 0, 'every disposed tensor freed its wasm half at once');
  assert.deepEqual(r.meta, [
    { shape: [2, 3], dtype: 'float32', byteLength: 24, disposed: true, text: 'Tensor(float32, [2, 3])' },
    { shape: [2, 3], dtype: 'float16', byteLength: 12, disposed: true, text: 'Tensor(float16, [2, 3])' },
    { shape: [4, 1, 5], dtype: 'int32', byteLength: 80, disposed: true, text: 'Tensor(int32, [4, 1, 5])' },
    { shape: [7], dtype: 'bfloat16', byteLength: 14, disposed: true, text: 'Tensor(bfloat16, [7])' },
  ]);
  // The message JS makes for a freed tensor is the one Rust makes for a disposed one.
  assert.equal(r.rustMessage, 'tensor [2, 3] float16 was disposed (returned to the pool) and cannot be used any more');
  const message = `Disposed: ${r.rustMessage}`;
  assert.deepEqual(r.uses, { add: message, gpuBuffer: message, dispose: message, put: message, toHost: message, read: message });
  assert.equal(r.quiet, 'no error');
  assert.equal(r.loop, 0);
  assert.equal(r.chainHeld, 0);
  assert.equal(r.sum, 200);
});

test('a disposed tensor keeps its metadata for any number of distinct shapes (interned up to a bound, listed past it)', async () => {
  const r = await fx.page.evaluate(() => {
    const live = () => engine[Symbol.for('tmath.liveTensorObjectsForTests')]();
    const before = live();
    const kept = [];
    // More distinct shapes than the interned table holds (2^16), so the last ones take the
    // uninterned path; every 997th is kept to read after disposal, and so are the last ones.
    const n = (1 << 16) + 2000;
    for (let i = 1; i <= n; i++) {
      const t = engine.pool.get([1 + (i % 3), i], i % 2 ? 'float16' : 'int32');
      if (i % 997 === 0 || i > n - 3) kept.push([i, t]);
      i % 5 ? t.dispose() : engine.pool.put(t);
    }
    // Rank 8 (a key too long for the stack) and the scalar.
    const high = engine.pool.get([1, 2, 1, 2, 1, 2, 1, 3], 'bfloat16');
    high.dispose();
    const scalar = engine.pool.get([]);
    scalar.dispose();
    const wrong = [];
    for (const [i, t] of kept) {
      const dtype = i % 2 ? 'float16' : 'int32';
      const bytes = (1 + (i % 3)) * i * (i % 2 ? 2 : 4);
      if (t.shape.join() !== `${1 + (i % 3)},${i}` || t.dtype !== dtype || t.byteLength !== bytes || !t.disposed) {
        wrong.push([i, t.shape, t.dtype, t.byteLength]);
      }
    }
    return {
      kept: kept.length, wrong, held: live() - before,
      high: [high.shape, high.dtype, high.byteLength, String(high)],
      scalar: [scalar.shape, scalar.dtype, scalar.byteLength],
    };
  });
  assert.equal(r.kept, 70);
  assert.deepEqual(r.wrong, []);
  assert.equal(r.held, 0);
  assert.deepEqual(r.high, [[1, 2, 1, 2, 1, 2, 1, 3], 'bfloat16', 48, 'Tensor(bfloat16, [1, 2, 1, 2, 1, 2, 1, 3])']);
  assert.deepEqual(r.scalar, [[], 'float32', 4]);
});

test('bad input throws TmathError with its code and leaves the pool as it was', async () => {
  const r = await fx.page.evaluate(async () => {
    const { pool } = engine;
    const other = await tmath.Engine.create();
    const foreign = other.pool.get([4]);
    const before = JSON.stringify(engine.stats());
    const cases = {
      negative: () => pool.get([-1]),
      fractional: () => pool.get([2.5]),
      zero: () => pool.zeros([3, 0]),
      notArray: () => pool.get(12),
      nanDim: () => pool.get([NaN]),
      stringDim: () => pool.get(['4']),
      overflow: () => pool.get([2 ** 40, 2 ** 40]),
      unknownDtype: () => pool.get([4], 'float64'),
      int64Tensor: () => pool.get([4], 'int64'),
      dtypeNotString: () => pool.get([4], 32),
      tooLarge: () => pool.get([engine.adapterInfo.limits.maxBufferSize / 2 + 1], 'float32'),
      putNotTensor: () => pool.put({ gpuBuffer: null }),
      putForeign: () => pool.put(foreign),
      trimNegative: () => pool.trim(-5),
      newTensor: () => new tmath.Tensor(),
    };
    const codes = {};
    const messages = {};
    for (const [name, fn] of Object.entries(cases)) {
      try { fn(); codes[name] = 'no error'; } catch (e) {
        codes[name] = e.name === 'TmathError' ? e.code : `${e.name}: ${e.message}`;
        messages[name] = e.message;
      }
    }
    for (const [name, options] of Object.entries({
      unknownOption: { poolBudget: 1 },
      negativeBudget: { poolBudgetBytes: -1 },
      badPrecision: { precision: 'fp8' },
      notAnObject: 'fast',
      badPower: { powerPreference: 'max' },
    })) {
      codes[name] = await tmath.Engine.create(options).then(() => 'no error', (e) => (e.name === 'TmathError' ? e.code : String(e)));
    }
    const after = JSON.stringify(engine.stats());
    return { codes, messages, unchanged: before === after, foreignAlive: !foreign.disposed };
  });
  assert.deepEqual(r.codes, {
    negative: 'InvalidShape',
    fractional: 'InvalidShape',
    zero: 'InvalidShape',
    notArray: 'InvalidShape',
    nanDim: 'InvalidShape',
    stringDim: 'InvalidShape',
    overflow: 'InvalidShape',
    unknownDtype: 'UnsupportedDtype',
    int64Tensor: 'UnsupportedDtype',
    dtypeNotString: 'UnsupportedDtype',
    tooLarge: 'TooLarge',
    putNotTensor: 'InvalidArgument',
    putForeign: 'DeviceMismatch',
    trimNegative: 'InvalidArgument',
    newTensor: 'InvalidArgument',
    unknownOption: 'InvalidArgument',
    negativeBudget: 'InvalidArgument',
    badPrecision: 'UnsupportedDtype',
    notAnObject: 'InvalidArgument',
    badPower: 'InvalidArgument',
  });
  assert.match(r.messages.unknownDtype, /float32.*float16.*bfloat16.*int32/);
  assert.match(r.messages.tooLarge, /exceeds the device limit of \d+ bytes by \d+ bytes/);
  assert.equal(r.unchanged, true, 'failed calls must not change any counter');
  assert.equal(r.foreignAlive, true);
});

test('options reach the pool', async () => {
  const r = await fx.page.evaluate(async () => {
    const e = await tmath.Engine.create({ precision: 'f16', poolBudgetBytes: 4096, maxPerClass: 2 });
    const t = e.pool.get([8]);
    const dtype = t.dtype;
    const ts = [0, 1, 2].map(() => e.pool.get([8]));
    t.dispose();
    ts.forEach((x) => x.dispose());
    return { dtype, stats: e.pool.stats() };
  });
  assert.equal(r.dtype, 'float16');
  assert.equal(r.stats.budgetBytes, 4096);
  assert.equal(r.stats.buffersCached, 2, 'maxPerClass caps each free list');
  assert.equal(r.stats.evictions, 2);
});

test('nothing was logged as an error', () => {
  assert.deepEqual(fx.problems, []);
});
