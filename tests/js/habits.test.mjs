// The JS habits users expect: tidy, using/Symbol.dispose, synchronize, profile, engine.dispose,
// and the FinalizationRegistry safety net that returns forgotten tensors' buffers (and counts them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usePage } from './harness.mjs';

const fx = usePage({ args: ['--js-flags=--expose-gc'], setup: async () => { window.engine = await tmath.Engine.create(); } });

test('tidy disposes what the function made and did not return', async () => {
  const r = await fx.page.evaluate(() => {
    const x = engine.toDevice(new Float32Array([1, -2, 3, -4]));
    const made = [];
    const kept = engine.tidy(() => {
      const a = engine.mul(x, 2);
      const b = engine.add(a, 1);
      made.push(a, b);
      const inner = engine.tidy(() => { const c = engine.relu(b); made.push(c); return { c }; });
      return [inner.c, engine.sub(inner.c, 1)];
    });
    return {
      kept: kept.map((t) => t.disposed),
      made: made.map((t) => t.disposed),
      inputAlive: !x.disposed,
      notAFunction: (() => { try { engine.tidy(5); } catch (e) { return e.code; } })(),
    };
  });
  assert.deepEqual(r, { kept: [false, false], made: [true, true, false], inputAlive: true, notAFunction: 'InvalidArgument' });
});

test('using and Symbol.dispose dispose at the end of the block', async () => {
  // A string, since node 20 itself cannot parse `using`; Chromium runs it.
  const r = await fx.page.evaluate(`(() => {
    let t;
    {
      using u = engine.toDevice(new Float32Array(8));
      t = u;
    }
    const v = engine.toDevice(new Float32Array(8));
    v.dispose();
    v[Symbol.dispose](); // after dispose(): quiet
    return { afterBlock: t.disposed, v: v.disposed };
  })()`);
  assert.deepEqual(r, { afterBlock: true, v: true });
});

test('synchronize waits for the GPU; profile reports the deltas and transfers of a call', async () => {
  const r = await fx.page.evaluate(async () => {
    const x = engine.toDevice(new Float32Array(64 * 64).fill(1), [64, 64]);
    engine.matmul(x, x).dispose();
    await engine.synchronize();
    const work = async () => {
      const y = engine.toDevice(new Float32Array(64 * 64).fill(2), [64, 64]);
      const z = engine.matmul(x, y);
      const out = await z.toHost();
      y.dispose(); z.dispose();
      return out[0];
    };
    await work(); // warm-up: buffers and staging in the pool
    const report = await engine.profile(work);
    return { result: report.result, stats: report.stats, routes: report.ledger.map((t) => t.route) };
  });
  assert.equal(r.result, 128);
  assert.equal(r.stats.copies, 2);
  assert.equal(r.stats.crossings, 2);
  assert.equal(r.stats.dispatches, 1);
  assert.equal(r.stats.pool.buffersCreated, 0);
  assert.deepEqual(r.routes, ['host-write', 'readback']);
});

test('forgotten tensors go back to the pool when collected, and are counted', async () => {
  const r = await fx.page.evaluate(async () => {
    const before = engine.stats();
    (() => { for (let i = 0; i < 20; i++) engine.toDevice(new Float32Array(1024)); })();
    const held = engine.stats().pool.bytesInUse - before.pool.bytesInUse;
    for (let i = 0; i < 50 && engine.stats().leakedTensors - before.leakedTensors < 20; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const after = engine.stats();
    return { held, leaked: after.leakedTensors - before.leakedTensors, released: after.pool.bytesInUse - before.pool.bytesInUse };
  });
  assert.equal(r.held, 20 * 4096);
  // Tensors earlier tests dropped may be collected now too.
  assert.ok(r.leaked >= 20, `leaked ${r.leaked}`);
  assert.ok(r.released <= 0, `still held ${r.released}`);
});

test('a disposed engine refuses every call with Disposed', async () => {
  const r = await fx.page.evaluate(async () => {
    const e = await tmath.Engine.create();
    const t = e.toDevice(new Float32Array([1, 2]));
    e.dispose();
    return {
      toDevice: await codeOf(() => e.toDevice(new Float32Array(2))),
      get: await codeOf(() => e.pool.get([2])),
      toHost: await codeOf(() => t.toHost()),
      disposeTensor: await codeOf(() => t.dispose()),
    };
  });
  assert.deepEqual(r, { toDevice: 'Disposed', get: 'Disposed', toHost: 'Disposed', disposeTensor: 'no error' });
});

test('nothing was logged as an error', () => {
  assert.deepEqual(fx.problems, []);
});
