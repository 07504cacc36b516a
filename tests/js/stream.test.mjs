// Stream-ordered reuse in headless Chromium (the same rules as tests/native_stream.rs): buffers
// whose last use is pending go back to the pool at once, GPU writers recorded later reuse them,
// host writes into them are ordered after that use, and a chain in one task costs no buffers,
// one params write and one submission.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usePage } from './harness.mjs';

const fx = usePage({
  setup: async () => {
    window.engine = await tmath.Engine.create();
    window.zeroing = await tmath.Engine.create({ zeroOnReuse: true });
    window.nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));
  },
});

test('x = A; y = f(x); x.dispose(); z = B: y is f(A) and z is B for every writer', async () => {
  const r = await fx.page.evaluate(async () => {
    const n = 1024;
    const A = Float32Array.from({ length: n }, (_, i) => 1 + (i % 64) * 0.5);
    const B = Float32Array.from({ length: n }, (_, i) => -700 + (i % 64) * 0.5);
    const eye = Float32Array.from({ length: n }, (_, i) => (Math.floor(i / 32) === i % 32 ? 1 : 0));
    const ops = {
      add: (e, x) => e.add(x, 1),
      relu: (e, x) => e.relu(x),
      copy: (e, x) => e.copy(x),
      cast: (e, x) => { const h = e.cast(x, 'float16'); const back = e.cast(h, 'float32'); h.dispose(); return back; },
      prepareTensor: (e, x) => { const h = e.prepareTensor(x, 'bfloat16'); const back = e.prepareTensor(h, 'float32'); h.dispose(); return back; },
      matmul: (e, x) => { const i = e.toDevice(eye, [32, 32]); const out = e.matmul(x, i); i.dispose(); return out; },
      'pool.put + zeros': (e, x) => { const y = e.add(x, 1); e.pool.put(x); const z = e.pool.zeros([32, 32]); z.dispose(); return y; },
    };
    const expected = {
      add: Array.from(A, (v) => v + 1), relu: Array.from(A), copy: Array.from(A), cast: Array.from(A),
      prepareTensor: Array.from(A), matmul: Array.from(A), 'pool.put + zeros': Array.from(A, (v) => v + 1),
    };
    const out = {};
    for (const [label, e] of [['default', engine], ['zeroOnReuse', zeroing]]) {
      for (const [name, f] of Object.entries(ops)) {
        const x = e.toDevice(A, [32, 32]);
        const y = f(e, x);
        if (!x.disposed) x.dispose();
        const z = e.toDevice(B, [32, 32]);
        const [yv, zv] = [Array.from(await y.toHost()), Array.from(await z.toHost())];
        out[`${label} ${name}`] = {
          y: JSON.stringify(yv) === JSON.stringify(expected[name]),
          z: JSON.stringify(zv) === JSON.stringify(Array.from(B)),
        };
        y.dispose(); z.dispose();
      }
    }
    return out;
  });
  for (const [name, ok] of Object.entries(r)) assert.deepEqual(ok, { y: true, z: true }, name);
});

test('a host write into a buffer pending work still reads goes through staging, in one submission', async () => {
  const r = await fx.page.evaluate(async () => {
    await nextTask();
    engine.pool.trim(0);
    const A = new Float32Array(1000).fill(2);
    const B = new Float32Array(1000).fill(5);
    const x = engine.toDevice(A);
    const y = engine.add(x, 1);
    const inUse = engine.stats().pool.bytesInUse;
    x.dispose();
    const freed = inUse - engine.stats().pool.bytesInUse;
    const s0 = engine.stats();
    const z = engine.toDevice(B);
    const s1 = engine.stats();
    const route = engine.ledger().at(-1).route;
    const values = [Array.from(await y.toHost()).every((v) => v === 3), Array.from(await z.toHost()).every((v) => v === 5)];
    y.dispose(); z.dispose();
    return { freed, hits: s1.pool.hits - s0.pool.hits, copies: s1.copies - s0.copies, submits: s1.submits - s0.submits, route, values };
  });
  assert.deepEqual(r, { freed: 4096, hits: 1, copies: 2, submits: 0, route: 'staged-write', values: [true, true] });
});

test('1,000 chained adds in one task: no buffers, ~no bind groups, no params write the buffer already holds, one submission', async () => {
  const r = await fx.page.evaluate(async () => {
    const out = {};
    for (const n of [4096, 262144]) {
      let x = engine.toDevice(new Float32Array(n));
      for (let i = 0; i < 3; i++) { const y = engine.add(x, 1); x.dispose(); x = y; }
      await nextTask();
      for (let i = 0; i < 3; i++) { const y = engine.add(x, 1); x.dispose(); x = y; }
      const s0 = engine.stats();
      for (let i = 0; i < 1000; i++) { const y = engine.add(x, 1); x.dispose(); x = y; }
      const s1 = engine.stats();
      await nextTask();
      const s2 = engine.stats();
      const v = await x.toHost();
      out[n] = {
        created: s1.pool.buffersCreated - s0.pool.buffersCreated,
        inUseDelta: s1.pool.bytesInUse - s0.pool.bytesInUse,
        bindGroups: s1.bindGroups - s0.bindGroups,
        dispatches: s1.dispatches - s0.dispatches,
        submitsInTask: s1.submits - s0.submits,
        submitsAfterTask: s2.submits - s0.submits,
        paramWrites: s2.paramWrites - s0.paramWrites,
        value: v.every((e) => e === 1006),
      };
      x.dispose();
    }
    return out;
  });
  for (const n of ['4096', '262144']) {
    assert.ok(r[n].bindGroups <= 10, `${n}: ${r[n].bindGroups} bind groups`);
    assert.deepEqual({ ...r[n], bindGroups: 0 }, {
      // paramWrites 0: the warm-up's submission wrote the same params, which the buffer still holds.
      created: 0, inUseDelta: 0, bindGroups: 0, dispatches: 1000, submitsInTask: 0, submitsAfterTask: 1, paramWrites: 0, value: true,
    }, n);
  }
});

test('cast, copy and pool.zeros schedule the end-of-task submission: nothing stays in use after the task', async () => {
  const r = await fx.page.evaluate(async () => {
    await nextTask();
    const x = engine.toDevice(new Float32Array(262144).fill(1.5));
    await nextTask();
    const s0 = engine.stats();
    for (let i = 0; i < 2000; i++) {
      const h = engine.cast(x, 'float16');
      const back = engine.cast(h, 'float32');
      h.dispose(); back.dispose();
    }
    for (let i = 0; i < 100; i++) { engine.copy(x).dispose(); engine.pool.zeros([1024]).dispose(); }
    const s1 = engine.stats();
    await nextTask();
    const s2 = engine.stats();
    const v = await x.toHost();
    x.dispose();
    return {
      created: s1.pool.buffersCreated - s0.pool.buffersCreated,
      inUseInTask: s1.pool.bytesInUse - s0.pool.bytesInUse,
      inUseAfter: s2.pool.bytesInUse - s0.pool.bytesInUse,
      submitted: s2.submits - s1.submits,
      value: v.every((e) => e === 1.5),
    };
  });
  assert.ok(r.created <= 4, `${r.created} buffers created`);
  assert.ok(r.inUseInTask <= 256 << 10, `${r.inUseInTask} bytes in use within the task (params arena only)`);
  assert.deepEqual({ inUseAfter: r.inUseAfter, submitted: r.submitted, value: r.value }, { inUseAfter: 0, submitted: 1, value: true });
});

test('500 tensors of 4 KiB to 1 MiB uploaded, added and disposed in one task need at most 40 buffers', async () => {
  const r = await fx.page.evaluate(async () => {
    const { churn500 } = await import('/bench/hotpath-workload.mjs');
    await nextTask();
    engine.pool.trim(0);
    const s0 = engine.stats();
    let peak = 0;
    const last = churn500(engine, () => { peak = Math.max(peak, engine.stats().pool.bytesInUse); });
    const s1 = engine.stats();
    const live = last.byteLength;
    const v = await last.toHost();
    last.dispose();
    return { created: s1.pool.buffersCreated - s0.pool.buffersCreated, inUse: s1.pool.bytesInUse, peak, live, value: v.every((e) => e === 500) };
  });
  assert.ok(r.created <= 40, `${r.created} buffers created`);
  // Held for one submission at most: the staging arena (8 MiB) and the params arena (256 KiB).
  const arenas = (8 << 20) + (256 << 10);
  assert.ok(r.inUse <= 2 * r.live + arenas, `${r.inUse} bytes in use for ${r.live} live`);
  assert.ok(r.peak <= 2 * (1 << 20) * 1.125 * 2 + arenas, `peak ${r.peak}`);
  assert.equal(r.value, true);
});
