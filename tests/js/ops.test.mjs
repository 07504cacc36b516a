// Ops from JS in headless Chromium: results, errors, and what a chain costs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usePage } from './harness.mjs';

const fx = usePage({ setup: async () => { window.engine = await tmath.Engine.create(); } });

test('matmul, broadcasting and scalars give the reference results', async () => {
  const r = await fx.page.evaluate(async () => {
    const [m, k, n] = [5, 7, 3];
    const a = Float32Array.from({ length: m * k }, (_, i) => (i % 5) - 2);
    const b = Float32Array.from({ length: k * n }, (_, i) => (i % 3) * 0.5);
    const c = await engine.matmul(engine.toDevice(a, [m, k]), engine.toDevice(b, [k, n])).toHost();
    let worst = 0;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      worst = Math.max(worst, Math.abs(s - c[i * n + j]));
    }
    const x = engine.toDevice(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3, 1]);
    const row = engine.toDevice(new Float32Array([10, 20]), [2]);
    const sum = engine.add(x, row);
    const scaled = engine.sub(1, engine.mul(x, 2));
    const errs = {};
    for (const [name, fn] of Object.entries({
      shapes: () => engine.add(engine.toDevice(new Float32Array(6), [2, 3]), engine.toDevice(new Float32Array(4), [4])),
      matmulShapes: () => engine.matmul(engine.toDevice(new Float32Array(6), [2, 3]), engine.toDevice(new Float32Array(6), [2, 3])),
      notTensor: () => engine.relu([1, 2]),
    })) {
      try { fn(); errs[name] = 'no error'; } catch (e) { errs[name] = `${e.code}: ${e.message}`; }
    }
    return { worst, sumShape: sum.shape, sum: Array.from(await sum.toHost()), scaled: Array.from(await scaled.toHost()), relu: Array.from(await engine.relu(scaled).toHost()), errs };
  });
  assert.ok(r.worst < 1e-5, `max error ${r.worst}`);
  assert.deepEqual(r.sumShape, [2, 3, 2]);
  assert.deepEqual(r.sum, [11, 21, 12, 22, 13, 23, 14, 24, 15, 25, 16, 26]);
  assert.deepEqual(r.scaled, [-1, -3, -5, -7, -9, -11]);
  assert.deepEqual(r.relu, [0, 0, 0, 0, 0, 0]);
  assert.match(r.errs.shapes, /^InvalidShape: .*\[2, 3\].*\[4\]/);
  assert.match(r.errs.matmulShapes, /^InvalidShape: .*\[2, 3\].*\[2, 3\]/);
  assert.match(r.errs.notTensor, /^InvalidArgument/);
});

test('a chain is submitted once at the end of the task; host-in/host-out matmul costs 3 copies and 1 submit', async () => {
  const r = await fx.page.evaluate(async () => {
    const a = Float32Array.from({ length: 64 * 64 }, (_, i) => (i % 9) / 9);
    const x = engine.toDevice(a, [64, 64]);
    const chain = () => {
      const y = engine.matmul(x, x);
      const z = engine.add(y, 0.5);
      const out = engine.relu(z);
      y.dispose(); // intermediates go back to the pool (released after the work that reads them)
      z.dispose();
      return out;
    };
    chain().dispose();
    await new Promise((resolve) => setTimeout(resolve, 0));
    const s0 = engine.stats();
    const y = chain();
    const s1 = engine.stats();
    await new Promise((resolve) => setTimeout(resolve, 0)); // the task ends: tmath flushes by itself
    const s2 = engine.stats();
    y.dispose();
    const host = async () => {
      const [p, q] = [engine.toDevice(a, [64, 64]), engine.toDevice(a, [64, 64])];
      const product = engine.matmul(p, q);
      const out = await product.toHost();
      [p, q, product].forEach((t) => t.dispose());
      return out;
    };
    await host();
    const s3 = engine.stats();
    await host();
    const s4 = engine.stats();
    return {
      recordedSubmits: s1.submits - s0.submits,
      taskEndSubmits: s2.submits - s1.submits,
      chainCreated: s2.pool.buffersCreated - s0.pool.buffersCreated,
      chainCopies: s2.copies - s0.copies,
      hostCreated: s4.pool.buffersCreated - s3.pool.buffersCreated,
      hostCopies: s4.copies - s3.copies,
      hostSubmits: s4.submits - s3.submits,
    };
  });
  assert.deepEqual(r, { recordedSubmits: 0, taskEndSubmits: 1, chainCreated: 0, chainCopies: 0, hostCreated: 0, hostCopies: 3, hostSubmits: 1 });
});

test('nothing was logged as an error', () => {
  assert.deepEqual(fx.problems, []);
});

test('matmul tile shapes: a fixed one, a measured tuning, a stored tuning, and bad ones refused', async () => {
  const r = await fx.page.evaluate(async () => {
    const [m, k, n] = [70, 36, 68];
    const a = Float32Array.from({ length: m * k }, (_, i) => ((i * 7) % 11) / 11 - 0.5);
    const b = Float32Array.from({ length: k * n }, (_, i) => ((i * 5) % 13) / 13 - 0.5);
    const worstOf = async (e) => {
      const c = await e.matmul(e.toDevice(a, [m, k]), e.toDevice(b, [k, n])).toHost();
      let worst = 0;
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
        worst = Math.max(worst, Math.abs(s - c[i * n + j]));
      }
      return worst;
    };
    const fixed = await tmath.Engine.create({ matmulTiles: '8x4x16' });
    const fixedWorst = await worstOf(fixed);
    fixed.dispose();
    // The subgroup kernel, where the adapter has WebGPU's `subgroups` (tmath asks for it on the
    // device, as wgpu does not); elsewhere the same product on a portable shape.
    const adapterHas = (await navigator.gpu.requestAdapter()).features.has('subgroups');
    const sg = await tmath.Engine.create({ matmulTiles: '8x4x32-sg' });
    const sgFeatures = [sg.adapterInfo.features.subgroups, sg.gpuDevice.features.has('subgroups')];
    const sgWorst = await worstOf(sg);
    sg.dispose();
    // float16 inputs, float16 arithmetic allowed: within float16's error of the exact product.
    const x16 = engine.toDevice(a, [m, k], { dtype: 'float16' }), y16 = engine.toDevice(b, [k, n], { dtype: 'float16' });
    const c16 = await engine.prepareTensor(engine.matmul(x16, y16, { accumulate: 'float16' }), 'float32').toHost();
    let worst16 = 0;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      worst16 = Math.max(worst16, Math.abs(s - c16[i * n + j]));
    }
    const errs = {};
    for (const [name, fn] of Object.entries({
      badTiles: () => tmath.Engine.create({ matmulTiles: '5x5x5' }),
      badTuning: () => engine.setMatmulTuning({ adapter: 'x', choices: [{ size: 64, tiles: 'big' }] }),
      notTuning: () => engine.setMatmulTuning(42),
      badAccumulate: () => engine.matmul(x16, y16, { accumulate: 'int32' }),
      unknownOption: () => engine.matmul(x16, y16, { precise: true }),
    })) {
      try { await fn(); errs[name] = 'no error'; } catch (e) { errs[name] = `${e.code}: ${e.message}`; }
    }
    const before = engine.matmulTuning;
    const tuning = await engine.tuneMatmul();
    const tunedWorst = await worstOf(engine);
    // Stored as JSON and given back, on another engine of the same adapter.
    const other = await tmath.Engine.create();
    const inherited = other.matmulTuning;
    other.setMatmulTuning(null);
    const cleared = other.matmulTuning;
    other.setMatmulTuning(JSON.parse(JSON.stringify(tuning)));
    const restored = other.matmulTuning;
    other.dispose();
    return { fixedWorst, tunedWorst, sgWorst, adapterHas, sgFeatures, worst16, errs, before, tuning, inherited, cleared, restored };
  });
  assert.ok(r.fixedWorst < 1e-4 && r.tunedWorst < 1e-4, `errors ${r.fixedWorst}, ${r.tunedWorst}`);
  assert.ok(r.sgWorst < 1e-4, `subgroup kernel error ${r.sgWorst}`);
  assert.deepEqual(r.sgFeatures, [r.adapterHas, r.adapterHas]);
  assert.match(r.errs.badTiles, /^InvalidArgument: .*matmulTiles.*'4x4x16'/);
  assert.match(r.errs.badTuning, /^InvalidArgument: .*tiles/);
  assert.match(r.errs.notTuning, /^InvalidArgument/);
  assert.ok(r.worst16 < 0.05, `float16 arithmetic error ${r.worst16}`);
  assert.match(r.errs.badAccumulate, /^InvalidArgument: .*accumulate/);
  assert.match(r.errs.unknownOption, /^InvalidArgument: .*precise/);
  assert.equal(r.before, null);
  assert.equal(typeof r.tuning.adapter, 'string');
  assert.ok(r.tuning.choices.length >= 1);
  for (const c of r.tuning.choices) {
    assert.match(c.tiles, /^\d+x\d+x\d+(-sg)?$/);
    assert.ok(c.size >= 64 && c.ms > 0, JSON.stringify(c));
  }
  assert.deepEqual(r.inherited, r.tuning);
  assert.equal(r.cleared, null);
  assert.deepEqual(r.restored, r.tuning);
});
