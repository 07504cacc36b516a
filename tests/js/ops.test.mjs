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
