// Reliability in headless Chromium's WebGPU (SwiftShader): device loss and recover(), memory
// limits and real out-of-memory, a soak of pool cycles and host-in/host-out ops, and many
// readbacks in flight, some of them across engine.dispose(). (Issue 8.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usePage } from './harness.mjs';

const fx = usePage({ args: ['--js-flags=--expose-gc'] });

test('a lost device rejects pending and later calls with DeviceLost; recover() gives a working engine', async () => {
  const r = await fx.page.evaluate(async () => {
    const engine = await tmath.Engine.create();
    const pool = engine.pool;
    const oldDevice = engine.gpuDevice;
    const t = engine.toDevice(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const big = engine.toDevice(new Float32Array(4 << 20).fill(3)); // 16 MiB: its readback takes a while
    const pending = [big.toHost(), engine.matmul(t, t).toHost()];
    const recoverWhileWorking = await engine.recover();
    oldDevice.destroy();
    const settled = await Promise.allSettled(pending);
    await oldDevice.lost;
    const after = {
      deviceLost: engine.deviceLost,
      toHost: await codeOf(() => t.toHost()),
      gpuBuffer: await codeOf(() => t.gpuBuffer),
      matmul: await codeOf(() => engine.matmul(t, t)),
      get: await codeOf(() => pool.get([4])),
      upload: await codeOf(() => engine.toDevice(new Float32Array(4))),
      flush: await codeOf(() => engine.flush()),
      synchronize: await codeOf(() => engine.synchronize()),
    };
    const disposeOld = await codeOf(() => t.dispose());
    const recovered = await engine.recover();
    const x = engine.toDevice(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const y = Array.from(await engine.matmul(x, x).toHost());
    return {
      recoverWhileWorking,
      settled: settled.map((s) => (s.status === 'fulfilled' ? `data ${s.value[0]}` : (s.reason.code ?? String(s.reason)))),
      after,
      disposeOld,
      recovered,
      newDevice: engine.gpuDevice !== oldDevice,
      lostAfter: engine.deviceLost,
      y,
      pool: pool.stats(),
      oldOnNew: await codeOf(() => engine.add(big, x)),
      oldMoved: await codeOf(() => engine.toDevice(big)),
      oldMovedAsync: await codeOf(() => engine.toDeviceAsync(big)),
    };
  });
  assert.equal(r.recoverWhileWorking, false);
  for (const s of r.settled) assert.ok(['data 3', 'data 7', 'DeviceLost'].includes(s), s);
  assert.match(r.after.deviceLost, /destroyed/i);
  const { deviceLost, ...codes } = r.after;
  assert.deepEqual(Object.values(codes), Object.values(codes).map(() => 'DeviceLost'), JSON.stringify(codes));
  assert.equal(r.disposeOld, 'no error', 'disposing after a loss stays harmless');
  assert.equal(r.recovered, true);
  assert.equal(r.newDevice, true);
  assert.equal(r.lostAfter, null);
  assert.deepEqual(r.y, [7, 10, 15, 22]);
  assert.equal(r.pool.buffersCreated, r.pool.buffersInUse + r.pool.buffersCached, 'a fresh pool');
  assert.equal(r.oldOnNew, 'DeviceLost');
  assert.equal(r.oldMoved, 'DeviceLost');
  assert.equal(r.oldMovedAsync, 'DeviceLost');
});

test('memoryLimitBytes evicts idle buffers, then refuses with OutOfMemory and changes nothing', async () => {
  const r = await fx.page.evaluate(async () => {
    const engine = await tmath.Engine.create({ memoryLimitBytes: 1 << 20 });
    for (const t of [0, 1, 2].map(() => engine.pool.get([64 << 10]))) t.dispose(); // 768 KiB idle
    const big = engine.pool.get([128 << 10]); // 512 KiB: the oldest idle buffer goes
    const s1 = engine.pool.stats();
    const before = JSON.stringify(engine.stats());
    let error;
    try { engine.toDevice(new Float32Array(192 << 10)); } catch (e) { error = { code: e.code, message: e.message }; }
    const unchanged = JSON.stringify(engine.stats()) === before;
    big.dispose();
    const fits = engine.toDevice(new Float32Array(128 << 10).fill(2));
    return { s1, error, unchanged, value: (await fits.toHost())[5] };
  });
  assert.deepEqual([r.s1.bytesInUse, r.s1.bytesCached, r.s1.evictions], [512 << 10, 512 << 10, 1]);
  assert.equal(r.error.code, 'OutOfMemory');
  assert.match(r.error.message, /memory limit/);
  assert.equal(r.unchanged, true);
  assert.equal(r.value, 2);
});

test('a buffer the device refuses (SwiftShader, 1 GiB) reports OutOfMemory and is never reused', async () => {
  const r = await fx.page.evaluate(async () => {
    const engine = await tmath.Engine.create();
    const max = engine.adapterInfo.limits.maxBufferSize;
    const huge = engine.pool.get([max / 4]);
    await engine.synchronize();
    const code = await codeOf(() => huge.toHost());
    const opCode = await codeOf(() => engine.relu(huge));
    const s0 = engine.pool.stats();
    huge.dispose();
    const s1 = engine.pool.stats();
    const x = engine.toDevice(new Float32Array([1, -2]));
    return { max, code, opCode, s0, s1, works: Array.from(await engine.relu(x).toHost()) };
  });
  assert.equal(r.code, 'OutOfMemory', `maxBufferSize ${r.max}`);
  assert.equal(r.opCode, 'OutOfMemory');
  assert.equal(r.s1.buffersDestroyed, r.s0.buffersDestroyed + 1, 'destroyed, not cached');
  assert.equal(r.s1.buffersCached, 0);
  assert.deepEqual(r.works, [1, 0]);
});

test('soak: 100,000 pool cycles and 5,000 host-in/host-out ops; nothing grows after warm-up', async () => {
  const r = await fx.page.evaluate(async () => {
    const budget = 8 << 20;
    const engine = await tmath.Engine.create({ poolBudgetBytes: budget });
    let seed = 7;
    const rand = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
    const live = [];
    const marks = {};
    let overBudget = 0;
    // Finalizers (the GC safety net frees each wasm tensor handle) run as tasks after a GC, so
    // let them run before measuring.
    const heap = async () => {
      for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); }
      return performance.memory.usedJSHeapSize;
    };
    for (let i = 0; i < 100_000; i++) {
      if (i === 10_000) marks.created = engine.pool.stats().buffersCreated;
      if (i === 50_000) marks.heap = await heap();
      if (live.length < 8 && (live.length === 0 || rand(100) < 55)) live.push(engine.pool.get([1 + rand(64 << 10)]));
      else engine.pool.put(live.splice(rand(live.length), 1)[0]);
      if (engine.pool.stats().bytesCached > budget) overBudget++;
    }
    live.forEach((t) => engine.pool.put(t));
    const pool = engine.pool.stats();
    const heapAfterPool = await heap();
    const x = new Float32Array(32 * 32).fill(1);
    let warm;
    let wrong = 0;
    for (let i = 0; i < 5000; i++) {
      if (i === 500) { warm = engine.stats(); marks.heapOps = await heap(); }
      const a = engine.toDevice(x, [32, 32]);
      const y = engine.matmul(a, a);
      if ((await y.toHost())[0] !== 32) wrong++;
      a.dispose();
      y.dispose();
    }
    const end = engine.stats();
    return {
      pool, marks, overBudget, wrong, warm, end,
      heapGrowthPool: heapAfterPool - marks.heap,
      heapGrowthOps: (await heap()) - marks.heapOps,
    };
  });
  assert.equal(r.overBudget, 0);
  assert.ok(r.pool.buffersCreated - r.marks.created <= r.pool.buffersCreated / 4, JSON.stringify(r.pool));
  assert.ok(r.pool.buffersCreated <= 100, `${r.pool.buffersCreated} buffers for ~90 size classes`);
  assert.equal(r.wrong, 0);
  assert.equal(r.end.pool.buffersCreated, r.warm.pool.buffersCreated, 'no buffers after warm-up');
  assert.equal(r.end.pool.buffersInUse, r.warm.pool.buffersInUse);
  assert.equal(r.end.leakedTensors, 0);
  // JS objects do not accumulate: the heap after GC stays put (a leak of one object per cycle
  // would show as megabytes here).
  assert.ok(r.heapGrowthPool < 1 << 20, `heap grew ${r.heapGrowthPool} bytes over 50,000 pool cycles`);
  assert.ok(r.heapGrowthOps < 1 << 20, `heap grew ${r.heapGrowthOps} bytes over 4,500 ops`);
});

test('many readbacks in flight settle with their own data; dispose() while they are pending rejects the rest', async () => {
  const r = await fx.page.evaluate(async () => {
    const engine = await tmath.Engine.create();
    const tensors = Array.from({ length: 50 }, (_, i) => engine.toDevice(Float32Array.from({ length: 5000 }, (_, j) => i * 5000 + j)));
    const reads = [];
    for (let round = 0; round < 4; round++) tensors.forEach((t, i) => reads.push(t.toHost().then((d) => [i, d])));
    const results = await Promise.all(reads);
    const wrong = results.filter(([i, d]) => d.length !== 5000 || d.some((v, j) => v !== i * 5000 + j)).length;
    const staging = engine.pool.stats();

    const pending = tensors.map((t, i) => t.toHost().then((d) => (d[7] === i * 5000 + 7 ? 'data' : 'wrong data'), (e) => e.code ?? String(e)));
    engine.dispose();
    const settled = await Promise.all(pending);
    return { reads: results.length, wrong, staging, settled, later: await codeOf(() => tensors[0].toHost()) };
  });
  assert.equal(r.reads, 200);
  assert.equal(r.wrong, 0);
  assert.equal(r.staging.buffersInUse, 50, 'every staging buffer came back');
  for (const s of r.settled) assert.ok(['data', 'Disposed'].includes(s), s);
  assert.equal(r.later, 'Disposed');
});

test('nothing was logged as an error', () => {
  assert.deepEqual(fx.problems, []);
});
