// The JS boundary under hostile and careless input, in headless Chromium: the cases found in
// review as named regression tests, then a seeded fuzzer over every public method. Each call
// either succeeds with the documented result or throws a TmathError with a documented code; a
// failed call changes no counter; the engine computes afterwards. TMATH_FUZZ_CASES sets a longer
// run (default 3000).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usePage } from './harness.mjs';

const CASES = Number(process.env.TMATH_FUZZ_CASES ?? 3000);

const fx = usePage({
  setup: async () => {
    window.engine = await tmath.Engine.create();
    window.works = async (e = engine) => {
      const t = e.add(e.toDevice(new Float32Array([1, 2, 3])), 1);
      const v = Array.from(await t.toHost());
      t.dispose();
      return JSON.stringify(v) === '[2,3,4]';
    };
    window.failure = (fn) => {
      try { fn(); return 'no error'; } catch (e) {
        return e?.name === 'TmathError' && tmath.ERROR_CODES.includes(e.code) ? e.code : `untyped: ${e?.name}: ${e?.message}`;
      }
    };
  },
});

test('a throwing or detaching `buffer` getter on the data neither bricks the engine nor is trusted', async () => {
  const r = await fx.page.evaluate(async () => {
    const out = {};
    const u16 = new Uint16Array([0x3c00, 0x4000, 0x4200]); // float16 1, 2, 3
    Object.defineProperty(u16, 'buffer', { get() { throw new Error('boom'); } });
    const t = engine.toDevice(u16, [3], { dtype: 'float16' });
    out.throwing = Array.from(await engine.prepareTensor(t, 'float32').toHost());
    const detached = new ArrayBuffer(8);
    structuredClone(detached, { transfer: [detached] });
    const v = new Uint16Array([0x3c00, 0x4000, 0x4200]);
    Object.defineProperty(v, 'buffer', { get() { return detached; } });
    out.spoofedDetached = Array.from(await engine.prepareTensor(engine.toDevice(v, [3], { dtype: 'float16' }), 'float32').toHost());
    const real = new Float32Array([1, 2, 3]);
    structuredClone(real.buffer, { transfer: [real.buffer] });
    out.reallyDetached = failure(() => engine.toDevice(real, [3]));
    out.after = [failure(() => engine.pool.get([4]).dispose()), typeof engine.stats().copies, await works()];
    return out;
  });
  assert.deepEqual(r, {
    throwing: [1, 2, 3], spoofedDetached: [1, 2, 3], reallyDetached: 'InvalidArgument', after: ['no error', 'number', true],
  });
});

test('inherited properties change no decision', async () => {
  const r = await fx.page.evaluate(async () => {
    Object.prototype.dtype = 'int32';
    Object.prototype.precision = 'float16';
    Object.prototype.adopt = 'yes';
    try {
      const t = engine.toDevice(new Float32Array([1.5, 2]));
      const e = await tmath.Engine.create({});
      const p = e.pool.get([1]);
      const out = { dtype: t.dtype, values: Array.from(await t.toHost()), precision: p.dtype };
      e.dispose();
      return out;
    } finally {
      delete Object.prototype.dtype;
      delete Object.prototype.precision;
      delete Object.prototype.adopt;
    }
  });
  assert.deepEqual(r, { dtype: 'float32', values: [1.5, 2], precision: 'float32' });
});

test('types are told by brand, not by `constructor` or `Symbol.toStringTag`', async () => {
  const r = await fx.page.evaluate(async () => {
    const spoofed = new Float32Array([1.5, -2]);
    Object.defineProperty(spoofed, 'constructor', { value: Int32Array });
    Object.defineProperty(spoofed, Symbol.toStringTag, { value: 'Int32Array' });
    const t = engine.toDevice(spoofed);
    const hits = engine.pool.stats().hits;
    const lookalike = failure(() => engine.toDevice({ constructor: { name: 'Float32Array' }, length: 2, 0: 1, 1: 2 }));
    class Sub extends Float32Array {}
    const sub = engine.toDevice(new Sub([4, 5]));
    const frame = document.body.appendChild(document.createElement('iframe'));
    const foreign = engine.toDevice(new frame.contentWindow.Float32Array([7, 8]));
    const fakeTensor = failure(() => engine.relu(Object.create(tmath.Tensor.prototype)));
    return {
      spoofed: [t.dtype, Array.from(await t.toHost())],
      lookalike, hitsUnchanged: engine.pool.stats().hits === hits,
      sub: [sub.dtype, Array.from(await sub.toHost())],
      crossRealm: [foreign.dtype, Array.from(await foreign.toHost())],
      fakeTensor,
    };
  });
  assert.deepEqual(r, {
    spoofed: ['float32', [1.5, -2]], lookalike: 'InvalidArgument', hitsUnchanged: true,
    sub: ['float32', [4, 5]], crossRealm: ['float32', [7, 8]], fakeTensor: 'InvalidArgument',
  });
});

test('integer options are range-checked, never wrapped', async () => {
  const r = await fx.page.evaluate(async () => {
    const out = {};
    for (const [name, value] of [['maxPerClass', 2 ** 32], ['maxPerClass', 2 ** 32 + 1], ['maxPerClass', -1], ['poolBudgetBytes', 2 ** 53], ['minClassBytes', 1.5]]) {
      try { (await tmath.Engine.create({ [name]: value })).dispose(); out[`${name}=${value}`] = 'no error'; } catch (e) { out[`${name}=${value}`] = `${e.code}: ${/0 to/.test(e.message)}`; }
    }
    return out;
  });
  for (const [k, v] of Object.entries(r)) assert.equal(v, 'InvalidArgument: true', k);
});

test('every failure is a TmathError with the original error as cause, and changes nothing', async () => {
  const r = await fx.page.evaluate(async () => {
    const s0 = engine.stats();
    const t = engine.toDevice(new Float32Array([1, 2]));
    const out = {
      proxy: failure(() => engine.toDevice(new Proxy(new Float32Array(2), {}))),
      throwingElement: failure(() => engine.toDevice([1, { valueOf() { throw new Error('x'); } }])),
      throwingArrayGetter: failure(() => { const a = [1, 2]; Object.defineProperty(a, 1, { get() { throw new Error('x'); } }); engine.toDevice(a); }),
      throwingShape: failure(() => engine.pool.get(new Proxy([2, 2], { get() { throw new Error('trap'); } }))),
      throwingOption: failure(() => engine.toDevice(new Float32Array(2), [2], { get dtype() { throw new Error('x'); } })),
      proxyOptions: failure(() => engine.toDevice(new Float32Array(2), [2], new Proxy({}, { ownKeys() { throw new Error('trap'); } }))),
      fakeTensor: failure(() => engine.pool.put(Object.create(tmath.Tensor.prototype))),
      bigint: failure(() => engine.add(t, 1n)),
    };
    let cause;
    try { engine.toDevice(new Float32Array(2), [2], { get dtype() { throw new RangeError('mine'); } }); } catch (e) { cause = e.cause?.message; }
    let created = 'no error';
    try { (await tmath.Engine.create({ get precision() { throw new Error('x'); } })).dispose(); } catch (e) { created = e.code; }
    t.dispose();
    const s1 = engine.stats();
    return { out, cause, created, unchanged: s1.pool.bytesInUse === s0.pool.bytesInUse && s1.pool.buffersInUse === s0.pool.buffersInUse, works: await works() };
  });
  for (const [k, v] of Object.entries(r.out)) assert.match(v, /^(InvalidArgument|InvalidShape|UnsupportedDtype)$/, k);
  assert.equal(r.cause, 'mine');
  assert.equal(r.created, 'InvalidArgument');
  assert.deepEqual([r.unchanged, r.works], [true, true]);
});

test('tidy refuses an async function before running it', async () => {
  const r = await fx.page.evaluate(async () => {
    let ran = false;
    const code = failure(() => engine.tidy(async () => { ran = true; return engine.pool.get([4]); }));
    const inUse = engine.pool.stats().bytesInUse;
    // A sync function returning a promise: what it made is disposed, then refused.
    const code2 = failure(() => engine.tidy(() => { engine.pool.get([4]); return Promise.resolve(1); }));
    return { code, ran, code2, same: engine.pool.stats().bytesInUse === inUse };
  });
  assert.deepEqual(r, { code: 'InvalidArgument', ran: false, code2: 'InvalidArgument', same: true });
});

test('shapes past 2^32 per dimension or 2^53 elements are InvalidShape; byte counts never wrap', async () => {
  const r = await fx.page.evaluate(() => ({
    big: failure(() => engine.pool.get([2 ** 32])),
    product: failure(() => engine.pool.get([2 ** 27, 2 ** 27])),
    fits: (() => { try { engine.pool.get([2 ** 31]); return 'no error'; } catch (e) { return `${e.code} ${/17179869180/.test(e.message)}`; } })(),
  }));
  assert.deepEqual(r, { big: 'InvalidShape', product: 'InvalidShape', fits: 'TooLarge false' });
});

test('20,000 ops in one task leave nothing held after synchronize and trim', async () => {
  const r = await fx.page.evaluate(async () => {
    const x = engine.toDevice(new Float32Array(64));
    for (let i = 0; i < 20000; i++) engine.add(x, 1).dispose();
    await engine.synchronize();
    engine.pool.trim(0);
    const s = engine.pool.stats();
    const out = { inUse: s.bytesInUse, cached: s.bytesCached, live: x.byteLength };
    x.dispose();
    return out;
  });
  assert.deepEqual(r, { inUse: 256, cached: 0, live: 256 });
});

test(`boundary fuzzer: ${CASES} seeded hostile calls`, async () => {
  const r = await fx.page.evaluate(async (cases) => {
    let seed = 0x5eed;
    const rand = (n) => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed % n; };
    const pick = (xs) => xs[rand(xs.length)];
    const frame = document.body.appendChild(document.createElement('iframe'));
    const Foreign = frame.contentWindow;
    const detached = () => { const a = new Float32Array(4); structuredClone(a.buffer, { transfer: [a.buffer] }); return a; };
    const throwingGetter = (base, key) => { Object.defineProperty(base, key, { get() { throw new Error('getter'); } }); return base; };
    const values = () => [
      undefined, null, 0, -0, NaN, Infinity, -1, 1.5, 2 ** 32, 2 ** 53, 2 ** 64, 1e308, 3, 1n, 'float32', 'f16', 'bogus', '',
      Symbol('s'), () => 1, async () => 1, {}, [], [2, 2], [3], [1.5], [-1], [NaN], [2 ** 32], [0], ['2'], [[2]],
      new Float32Array([1, 2, 3]), new Int32Array([1, 2]), new Uint16Array([1, 2]), new Uint8Array(8), new Int8Array(4),
      new Float64Array([0.5]), new BigInt64Array([1n, 2n ** 40n]), new ArrayBuffer(12), new DataView(new ArrayBuffer(4)),
      new ArrayBuffer(8, { maxByteLength: 64 }), new Float32Array(new ArrayBuffer(8, { maxByteLength: 64 })), detached(),
      new Proxy(new Float32Array(2), {}), new Proxy([2, 2], { get() { throw new Error('trap'); } }),
      new Proxy({}, { ownKeys() { throw new Error('trap'); }, get() { throw new Error('trap'); } }),
      throwingGetter({}, 'dtype'), throwingGetter(new Float32Array(2), 'length'), throwingGetter([1, 2], 0),
      Object.assign(new Float32Array([1]), { constructor: Int32Array }), { constructor: { name: 'Float32Array' } },
      Object.defineProperty(new Int32Array([1]), Symbol.toStringTag, { value: 'Float32Array' }),
      new (class extends Float32Array {})([1, 2]), new Foreign.Float32Array([1, 2]), new Foreign.Array(2, 2),
      Object.create(tmath.Tensor.prototype), { dtype: 'int32' }, { dtype: 'float16', adopt: 1 }, { precision: 'bf16' },
      { maxPerClass: 2 ** 32 }, { unknown: 1 }, Object.create({ dtype: 'int32' }),
    ];
    const pool = values();
    // Inputs a call needs are made before it is measured, and disposed after it.
    let made = [];
    const inputs = [];
    const live = () => { const t = inputs.pop(); made.push(t); return t; };
    const methods = [
      (a, b, c) => engine.toDevice(a, b, c),
      (a, b) => engine.pool.get(a, b),
      (a, b) => engine.pool.zeros(a, b),
      (a) => engine.pool.put(a),
      (a) => engine.pool.trim(a),
      (a, b) => engine.prepareTensor(a, b),
      (a, b) => engine.prepareTensor(live(), b),
      (a, b) => engine.cast(live(), a),
      (a, b) => engine.matmul(a, b),
      (a, b) => engine.add(live(), a),
      (a, b) => engine.mul(a, live()),
      (a, b) => engine.sub(a, b),
      (a) => engine.relu(a),
      (a) => engine.copy(a),
      (a) => engine.tidy(a),
      (a, b, c) => engine.toDeviceAsync(a, b, c),
    ];
    const failures = {};
    let ok = 0, untyped = [], changed = [];
    for (let i = 0; i < cases; i++) {
      const m = rand(methods.length);
      const args = [pick(pool), pick(pool), pick(pool)];
      const polluted = rand(10) === 0;
      if (polluted) { Object.prototype.dtype = 'int32'; Object.prototype.shape = [1]; }
      for (let k = 0; k < 2; k++) inputs.push(engine.toDevice(new Float32Array([1, -2, 3, 4]), [2, 2]));
      const before = engine.stats();
      let result, error;
      try {
        result = methods[m](...args);
        if (result instanceof Promise) result = await result;
      } catch (e) { error = e; } finally {
        if (polluted) { delete Object.prototype.dtype; delete Object.prototype.shape; }
      }
      if (error === undefined) {
        ok++;
        if (result instanceof tmath.Tensor && !result.disposed) result.dispose();
      } else if (error?.name === 'TmathError' && tmath.ERROR_CODES.includes(error.code)) {
        failures[error.code] = (failures[error.code] ?? 0) + 1;
        const after = engine.stats();
        // A failed call changes nothing: no buffer taken, created or copied into.
        for (const k of ['bytesInUse', 'buffersInUse', 'buffersCreated']) {
          if (after.pool[k] !== before.pool[k]) changed.push(`method ${m} (${error.code}): pool.${k} ${before.pool[k]} -> ${after.pool[k]}`);
        }
        if (after.copies !== before.copies) changed.push(`method ${m} (${error.code}): copies ${before.copies} -> ${after.copies}`);
      } else {
        untyped.push(`method ${m}: ${error?.name}: ${String(error?.message).slice(0, 80)}`);
      }
      for (const t of [...made, ...inputs.splice(0)]) if (!t.disposed) t.dispose();
      made = [];
    }
    return { ok, failures, untyped: untyped.slice(0, 10), untypedCount: untyped.length, changed: changed.slice(0, 5), works: await works() };
  }, CASES);
  assert.deepEqual(r.untyped, [], `${r.untypedCount} untyped errors`);
  assert.deepEqual(r.changed, []);
  assert.equal(r.works, true);
  assert.ok(r.ok > 0 && Object.keys(r.failures).length >= 3, JSON.stringify(r));
});

// Last in this file: it aborts the wasm instance the fixture's engine runs on.
test('after a Rust panic under the lock: Internal, never unreachable, and a new engine works', async () => {
  const reloads = [];
  fx.page.on('request', (req) => { if (/\/pkg\/tmath(_bg)?\.(js|wasm)/.test(req.url())) reloads.push(new URL(req.url()).pathname + new URL(req.url()).search); });
  const r = await fx.page.evaluate(async () => {
    const t = engine.toDevice(new Float32Array([1, 2]));
    const abort = failure(() => engine[Symbol.for('tmath.abortForTests')]());
    const after = {
      stats: failure(() => engine.stats()),
      add: failure(() => engine.add(t, 1)),
      get: failure(() => engine.pool.get([4])),
      dispose: failure(() => engine.dispose()),
      shape: t.shape.join(','),
    };
    const fresh = await tmath.Engine.create();
    const ok = await works(fresh);
    const again = await tmath.Engine.create(); // a second engine shares the fresh instance
    const ok2 = await works(again);
    fresh.dispose(); again.dispose();
    return { abort, after, ok, ok2 };
  });
  assert.deepEqual(r, {
    abort: 'Internal',
    after: { stats: 'Internal', add: 'Internal', get: 'Internal', dispose: 'Internal', shape: '2' },
    ok: true, ok2: true,
  });
  // One fresh instance of the module (its glue and its wasm), shared by both new engines.
  assert.deepEqual(reloads, ['/pkg/tmath.js?instance=2', '/pkg/tmath_bg.wasm']);
});
