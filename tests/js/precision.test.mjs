// Precision from JS in headless Chromium: the golden vectors (tests/golden/casts.txt, made with the
// half crate) agree with DataView.prototype.setFloat16 and with tmath's GPU casts, bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usePage } from './harness.mjs';

const fx = usePage({ setup: async () => {
  window.engine = await tmath.Engine.create();
  const text = await (await fetch('/tests/golden/casts.txt')).text();
  window.golden = { f32: [], i32: [] };
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'f32') golden.f32.push({ input: parseInt(f[1], 16), f16: parseInt(f[2], 16), bf16: parseInt(f[3], 16), i32: Number(f[4]) });
    if (f[0] === 'i32') golden.i32.push({ input: Number(f[1]), f32: parseInt(f[2], 16), f16: parseInt(f[3], 16), bf16: parseInt(f[4], 16) });
  }
} });

test('the golden float16 bits agree with DataView.prototype.setFloat16', async () => {
  const r = await fx.page.evaluate(() => {
    const view = new DataView(new ArrayBuffer(4));
    let checked = 0;
    const bad = [];
    for (const c of golden.f32) {
      view.setUint32(0, c.input, true);
      const x = view.getFloat32(0, true);
      view.setFloat16(0, x, true);
      const js = view.getUint16(0, true);
      // JS numbers carry no NaN payloads: only NaN-ness can be compared there.
      const same = Number.isNaN(x) ? (js & 0x7c00) === 0x7c00 && (js & 0x3ff) !== 0 && (c.f16 & 0x3ff) !== 0 : js === c.f16;
      if (!same) bad.push({ input: c.input.toString(16), js: js.toString(16), golden: c.f16.toString(16) });
      checked += 1;
    }
    for (const c of golden.i32) {
      view.setFloat16(0, c.input, true);
      if (view.getUint16(0, true) !== c.f16) bad.push({ int: c.input, js: view.getUint16(0, true).toString(16), golden: c.f16.toString(16) });
      checked += 1;
    }
    return { checked, bad: bad.slice(0, 10), hasSetFloat16: typeof DataView.prototype.setFloat16 === 'function' };
  });
  assert.equal(r.hasSetFloat16, true, 'Chromium has DataView.prototype.setFloat16');
  assert.ok(r.checked > 6000);
  assert.deepEqual(r.bad, []);
});

test('prepareTensor and cast through the JS API give the golden bits', async () => {
  const r = await fx.page.evaluate(async () => {
    const bits = Uint32Array.from(golden.f32, (c) => c.input);
    const t = engine.toDevice(new Float32Array(bits.buffer)); // bits preserved: no JS number in between
    const read16 = async (x) => { const h = await x.toHost(); return new Uint16Array(h.buffer, h.byteOffset, h.length); };
    const f16 = await read16(engine.prepareTensor(t, 'float16'));
    const bf16 = await read16(engine.prepareTensor(t, 'bf16'));
    const i32 = await engine.cast(t, 'int32').toHost();
    const bad = [];
    golden.f32.forEach((c, k) => {
      if (f16[k] !== c.f16 || bf16[k] !== c.bf16 || i32[k] !== c.i32) bad.push({ input: c.input.toString(16), f16: f16[k], bf16: bf16[k], i32: i32[k] });
    });
    const ints = engine.toDevice(Int32Array.from(golden.i32, (c) => c.input));
    const if32 = new Uint32Array((await engine.prepareTensor(ints, 'float32').toHost()).buffer);
    const if16 = await read16(engine.cast(ints, 'f16'));
    const ibf16 = await read16(engine.cast(ints, 'bfloat16'));
    golden.i32.forEach((c, k) => {
      if (if32[k] !== c.f32 || if16[k] !== c.f16 || ibf16[k] !== c.bf16) bad.push({ int: c.input });
    });
    return { bad: bad.slice(0, 10), n: golden.f32.length + golden.i32.length };
  });
  assert.ok(r.n > 6000);
  assert.deepEqual(r.bad, []);
});

test('prepareTensor returns the very same object when the precision matches, at no cost', async () => {
  const r = await fx.page.evaluate(() => {
    const t = engine.toDevice(new Float32Array([1, 2, 3]));
    const s0 = JSON.stringify(engine.stats());
    const same = engine.prepareTensor(t) === t && engine.prepareTensor(t, 'f32') === t && engine.prepareTensor(t, 'float32') === t;
    const unchanged = JSON.stringify(engine.stats()) === s0;
    const s1 = engine.stats();
    const h = engine.prepareTensor(t, 'half');
    const s2 = engine.stats();
    let unknown;
    try { engine.prepareTensor(t, 'fp8'); } catch (e) { unknown = e.code; }
    return { same, unchanged, dtype: h.dtype, conversions: s2.conversions - s1.conversions, dispatches: s2.dispatches - s1.dispatches, copies: s2.copies - s1.copies, unknown, inputAlive: !t.disposed };
  });
  assert.deepEqual(r, { same: true, unchanged: true, dtype: 'float16', conversions: 1, dispatches: 1, copies: 0, unknown: 'UnsupportedDtype', inputAlive: true });
});

test('nothing was logged as an error', () => {
  assert.deepEqual(fx.problems, []);
});
