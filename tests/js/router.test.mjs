// The transfer router from JS, in headless Chromium's WebGPU: every route and its exact counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usePage } from './harness.mjs';

const fx = usePage({ setup: async () => {
  window.engine = await tmath.Engine.create();
  window.delta = (a, b) => ({
    created: b.pool.buffersCreated - a.pool.buffersCreated,
    copies: b.copies - a.copies,
    crossings: b.crossings - a.crossings,
    maps: b.pool.stagingHits + b.pool.stagingMisses - a.pool.stagingHits - a.pool.stagingMisses,
  });
  // A buffer the app made itself, filled at creation: the shared scenarios' helper.
  window.userBuffer = (await import('/tests/js/scenarios.mjs')).bufferWith;
} });

test('host write from a typed array: after warm-up 0 buffers, 1 copy, 1 crossing', async () => {
  const r = await fx.page.evaluate(async () => {
    const data = Float32Array.from({ length: 4096 }, (_, i) => i / 8);
    engine.toDevice(data, [64, 64]).dispose(); // warm-up
    const s0 = engine.stats();
    const t = engine.toDevice(data, [64, 64]);
    const d = delta(s0, engine.stats());
    const entry = engine.ledger().at(-1);
    const back = await t.toHost();
    return { d, entry, shape: t.shape, dtype: t.dtype, same: back.every((x, i) => x === data[i]) };
  });
  assert.deepEqual(r.d, { created: 0, copies: 1, crossings: 1, maps: 0 });
  assert.equal(r.entry.route, 'host-write');
  assert.equal(r.entry.dtypeIn, 'float32');
  assert.equal(r.entry.bytes, 16384);
  assert.deepEqual(r.shape, [64, 64]);
  assert.equal(r.dtype, 'float32');
  assert.equal(r.same, true);
});

test('identity: a tensor of this engine comes back as the same object, at no cost', async () => {
  const r = await fx.page.evaluate(() => {
    const a = engine.toDevice(new Float32Array([1, 2, 3]));
    const s0 = JSON.stringify(engine.stats());
    const same = engine.toDevice(a) === a;
    return { same, unchanged: s0 === JSON.stringify(engine.stats()), route: engine.ledger().at(-1).route };
  });
  assert.deepEqual(r, { same: true, unchanged: true, route: 'identity' });
});

test('every host input kind, with dtype defaults and checks', async () => {
  const r = await fx.page.evaluate(async () => {
    const out = {};
    const read = async (t) => ({ dtype: t.dtype, shape: t.shape, data: Array.from(await t.toHost()) });
    out.int32 = await read(engine.toDevice(new Int32Array([1, -2, 3])));
    out.int64 = await read(engine.toDevice(new BigInt64Array([5n, -6n, 2147483647n])));
    out.int64Big = await codeOf(() => engine.toDevice(new BigInt64Array([1n, 2n ** 40n])));
    out.numbers = await read(engine.toDevice([0.5, 1.5, -2], [3]));
    out.numbersInt = await read(engine.toDevice([7, 8], [2], { dtype: 'i32' }));
    out.numbersFraction = await codeOf(() => engine.toDevice([7.5], [1], { dtype: 'int32' }));
    out.bits = await read(engine.toDevice(new Uint16Array([0x3c00, 0x4000, 0xc000]), [3], { dtype: 'float16' }));
    out.bitsNoDtype = await codeOf(() => engine.toDevice(new Uint16Array([1, 2])));
    out.bf16 = await read(engine.toDevice(new Uint16Array([0x3f80, 0x4000, 0x4040, 0x4080, 0x40a0]), [5], { dtype: 'bf16' }));
    out.bytes = await read(engine.toDevice(new Float32Array([9, 10]).buffer, [2], { dtype: 'float32' }));
    out.bytesNoDtype = await codeOf(() => engine.toDevice(new ArrayBuffer(8)));
    out.convertedToHalf = await read(engine.toDevice(new Float32Array([1, 2, 65504, 1e6]), [4], { dtype: 'float16' }));
    out.mismatch = await codeOf(() => engine.toDevice(new Float32Array(5), [2, 3]));
    out.badInput = await codeOf(() => engine.toDevice('hello'));
    out.badOption = await codeOf(() => engine.toDevice(new Float32Array(1), [1], { dtpye: 'f32' }));
    out.hasFloat16Array = typeof Float16Array !== 'undefined';
    if (out.hasFloat16Array) out.f16 = await read(engine.toDevice(new Float16Array([1, 0.5, 3])));
    const sub = new Float32Array([100, 1, 2, 3, 200]).subarray(1, 4);
    out.subarray = await read(engine.toDevice(sub));
    return out;
  });
  const f16 = (bits) => bits; // Uint16Array readback of float16 bits when Float16Array is missing
  assert.deepEqual(r.int32, { dtype: 'int32', shape: [3], data: [1, -2, 3] });
  assert.deepEqual(r.int64, { dtype: 'int32', shape: [3], data: [5, -6, 2147483647] });
  assert.equal(r.int64Big, 'ValueOutOfRange');
  assert.deepEqual(r.numbers, { dtype: 'float32', shape: [3], data: [0.5, 1.5, -2] });
  assert.deepEqual(r.numbersInt, { dtype: 'int32', shape: [2], data: [7, 8] });
  assert.equal(r.numbersFraction, 'ValueOutOfRange');
  assert.equal(r.bits.dtype, 'float16');
  assert.deepEqual(r.bits.data, r.hasFloat16Array ? [1, 2, -2] : [0x3c00, 0x4000, 0xc000].map(f16));
  assert.equal(r.bitsNoDtype, 'InvalidArgument');
  assert.deepEqual(r.bf16, { dtype: 'bfloat16', shape: [5], data: [0x3f80, 0x4000, 0x4040, 0x4080, 0x40a0] });
  assert.deepEqual(r.bytes, { dtype: 'float32', shape: [2], data: [9, 10] });
  assert.equal(r.bytesNoDtype, 'InvalidArgument');
  assert.deepEqual(r.convertedToHalf.data, r.hasFloat16Array ? [1, 2, 65504, Infinity] : [0x3c00, 0x4000, 0x7bff, 0x7c00]);
  assert.equal(r.mismatch, 'DataLengthMismatch');
  assert.equal(r.badInput, 'InvalidArgument');
  assert.equal(r.badOption, 'InvalidArgument');
  if (r.hasFloat16Array) assert.deepEqual(r.f16, { dtype: 'float16', shape: [3], data: [1, 0.5, 3] });
  assert.deepEqual(r.subarray.data, [1, 2, 3]);
});

test('a GPUBuffer of this device: one GPU copy, no crossing, no map; or adopted as is', async () => {
  const r = await fx.page.evaluate(async () => {
    const U = GPUBufferUsage;
    const values = Float32Array.from({ length: 1000 }, (_, i) => i * 3);
    const buffer = userBuffer(engine.gpuDevice, values, U.STORAGE | U.COPY_SRC | U.COPY_DST);
    engine.toDevice(buffer, [1000], { dtype: 'float32' }).dispose(); // warm-up
    const s0 = engine.stats();
    const t = engine.toDevice(buffer, [10, 100], { dtype: 'float32' });
    const d = delta(s0, engine.stats());
    const route = engine.ledger().at(-1).route;
    const copied = Array.from(await t.toHost());
    const s1 = engine.stats();
    const adopted = engine.toDevice(buffer, [1000], { dtype: 'float32', adopt: true });
    const adoptDelta = delta(s1, engine.stats());
    const adoptRoute = engine.ledger().at(-1).route;
    const sameBuffer = adopted.gpuBuffer === buffer;
    const adoptedData = Array.from(await adopted.toHost());
    adopted.dispose();
    const readOnly = userBuffer(engine.gpuDevice, values, U.STORAGE | U.COPY_SRC);
    return {
      d, route, copiedOk: copied.every((x, i) => x === values[i]),
      adoptDelta, adoptRoute, sameBuffer, adoptedOk: adoptedData.every((x, i) => x === values[i]),
      adoptWrongUsage: await codeOf(() => engine.toDevice(readOnly, [1000], { dtype: 'float32', adopt: true })),
      noDtype: await codeOf(() => engine.toDevice(buffer, [1000])),
      tooSmall: await codeOf(() => engine.toDevice(buffer, [1001], { dtype: 'float32' })),
      mapped: await codeOf(() => {
        const m = engine.gpuDevice.createBuffer({ size: 16, usage: U.COPY_SRC | U.MAP_WRITE, mappedAtCreation: true });
        return engine.toDevice(m, [4], { dtype: 'float32' });
      }),
    };
  });
  assert.deepEqual(r.d, { created: 0, copies: 1, crossings: 0, maps: 0 });
  assert.equal(r.route, 'same-device-copy');
  assert.equal(r.copiedOk, true);
  assert.deepEqual(r.adoptDelta, { created: 0, copies: 0, crossings: 0, maps: 0 });
  assert.equal(r.adoptRoute, 'adopt');
  assert.equal(r.sameBuffer, true);
  assert.equal(r.adoptedOk, true);
  assert.equal(r.adoptWrongUsage, 'InvalidArgument');
  assert.equal(r.noDtype, 'InvalidArgument');
  assert.equal(r.tooSmall, 'DataLengthMismatch');
  assert.equal(r.mapped, 'InvalidArgument');
});

test('a buffer without COPY_SRC takes the host route once, recorded as a fallback', async () => {
  const r = await fx.page.evaluate(async () => {
    const U = GPUBufferUsage;
    const values = new Int32Array([4, 5, 6, 7]);
    const buffer = userBuffer(engine.gpuDevice, values, U.MAP_READ | U.COPY_DST);
    const sync = await codeOf(() => engine.toDevice(buffer, [4], { dtype: 'int32' }));
    const t = await engine.toDeviceAsync(buffer, [4], { dtype: 'int32' });
    const entry = engine.ledger().at(-1);
    return { sync, entry, data: Array.from(await t.toHost()), unmapped: buffer.mapState };
  });
  assert.equal(r.sync, 'InvalidArgument');
  assert.equal(r.entry.route, 'host-write');
  assert.equal(r.entry.fallbackFrom, 'same-device-copy');
  assert.match(r.entry.reason, /COPY_SRC/);
  assert.deepEqual(r.data, [4, 5, 6, 7]);
  assert.equal(r.unmapped, 'unmapped');
});

test('another GPUDevice: DeviceMismatch unless toDeviceAsync names the device; then cross-device, once', async () => {
  const r = await fx.page.evaluate(async () => {
    const U = GPUBufferUsage;
    const adapter = await navigator.gpu.requestAdapter();
    const other = await adapter.requestDevice();
    const values = Float32Array.from({ length: 256 }, (_, i) => Math.sqrt(i));
    const theirs = userBuffer(other, values, U.STORAGE | U.COPY_SRC);
    const out = {};
    out.syncNamed = await codeOf(() => engine.toDevice(theirs, [256], { dtype: 'float32', device: other }));
    out.asyncUnnamed = await codeOf(() => engine.toDeviceAsync(theirs, [256], { dtype: 'float32' }));
    const s0 = engine.stats();
    const t = await engine.toDeviceAsync(theirs, [16, 16], { dtype: 'float32', device: other });
    const s1 = engine.stats();
    out.crossings = s1.crossings - s0.crossings;
    out.copies = s1.copies - s0.copies;
    out.route = engine.ledger().at(-1).route;
    out.ok = Array.from(await t.toHost()).every((x, i) => x === values[i]);
    // Without naming the device, a synchronous toDevice cannot tell; the tensor then reports it.
    const unknowing = engine.toDevice(theirs, [256], { dtype: 'float32' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    out.laterUse = await codeOf(() => unknowing.toHost());
    unknowing.dispose();
    const otherEngine = await tmath.Engine.create();
    const foreignTensor = otherEngine.toDevice(values);
    out.tensorSync = await codeOf(() => engine.toDevice(foreignTensor));
    const moved = await engine.toDeviceAsync(foreignTensor);
    out.tensorRoute = engine.ledger().at(-1).route;
    out.tensorOk = Array.from(await moved.toHost()).every((x, i) => x === values[i]);
    out.inUseAfter = engine.stats().pool.bytesInUse;
    return out;
  });
  assert.equal(r.syncNamed, 'DeviceMismatch');
  assert.equal(r.asyncUnnamed, 'DeviceMismatch');
  assert.equal(r.crossings, 2);
  assert.equal(r.copies, 2);
  assert.equal(r.route, 'cross-device');
  assert.equal(r.ok, true);
  assert.equal(r.laterUse, 'DeviceMismatch');
  assert.equal(r.tensorSync, 'DeviceMismatch');
  assert.equal(r.tensorRoute, 'cross-device');
  assert.equal(r.tensorOk, true);
});

test('nothing was logged as an error (validation failures were caught by error scopes)', () => {
  assert.deepEqual(fx.problems, []);
});
