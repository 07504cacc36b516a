// Bad input across the whole JS API: each call throws (or rejects with) its documented TmathError
// code, and afterwards nothing leaked and the engine still works. (Issue 8's table, first part.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { usePage } from './harness.mjs';

const fx = usePage();

test('forty-odd bad inputs give their codes and leave the pool and the engine as they were', async () => {
  const r = await fx.page.evaluate(async () => {
    const engine = await tmath.Engine.create({ zeroOnReuse: true });
    const U = GPUBufferUsage;
    const t = engine.toDevice(new Float32Array(6), [2, 3]);
    const v = engine.toDevice(new Float32Array(4), [4]);
    const h = engine.toDevice(new Uint16Array(6), [2, 3], { dtype: 'float16' });
    const ints = engine.toDevice(new Int32Array(2));
    const gone = engine.toDevice(new Float32Array(2));
    gone.dispose();
    const other = await tmath.Engine.create();
    const foreign = other.toDevice(new Float32Array(6), [2, 3]);
    const small = engine.gpuDevice.createBuffer({ size: 8, usage: U.STORAGE | U.COPY_SRC });
    const destroyed = engine.gpuDevice.createBuffer({ size: 64, usage: U.STORAGE | U.COPY_SRC });
    destroyed.destroy();
    const mapped = engine.gpuDevice.createBuffer({ size: 64, usage: U.MAP_WRITE | U.COPY_SRC, mappedAtCreation: true });
    const unreadable = engine.gpuDevice.createBuffer({ size: 64, usage: U.STORAGE });
    await engine.synchronize();
    // Everything but `submits` and `pool.hits`: a GPUBuffer's destruction is only found by
    // submitting a copy into a leased buffer, so that rejected call leases (and returns) one and
    // submits; zeroOnReuse clears the buffer. Nothing may stay leased, created or copied.
    const snapshot = () => {
      const s = engine.stats();
      return JSON.stringify({ ...s, submits: undefined, pool: { ...s.pool, hits: undefined } });
    };
    const before = snapshot();
    const cases = {
      negativeDim: ['InvalidShape', () => engine.pool.get([-1])],
      zeroDim: ['InvalidShape', () => engine.pool.zeros([0])],
      fractionalDim: ['InvalidShape', () => engine.pool.get([1.5])],
      overflowShape: ['InvalidShape', () => engine.pool.get([2 ** 30, 2 ** 30])],
      shapeNotArray: ['InvalidShape', () => engine.pool.get('4')],
      nanDim: ['InvalidShape', () => engine.toDevice(new Float32Array(1), [NaN])],
      lengthMismatch: ['DataLengthMismatch', () => engine.toDevice(new Float32Array(5), [2, 3])],
      bytesMismatch: ['DataLengthMismatch', () => engine.toDevice(new Uint8Array(6), [2], { dtype: 'float32' })],
      unknownDtype: ['UnsupportedDtype', () => engine.pool.get([2], 'float64')],
      int64Tensor: ['UnsupportedDtype', () => engine.pool.get([2], 'int64')],
      dtypeNumber: ['UnsupportedDtype', () => engine.toDevice(new Float32Array(2), [2], { dtype: 5 })],
      int64TooBig: ['ValueOutOfRange', () => engine.toDevice(new BigInt64Array([2n ** 40n]))],
      nanToInt: ['ValueOutOfRange', () => engine.toDevice([NaN], [1], { dtype: 'int32' })],
      infToInt: ['ValueOutOfRange', () => engine.toDevice([Infinity], [1], { dtype: 'int32' })],
      fractionToInt: ['ValueOutOfRange', () => engine.toDevice([0.5], [1], { dtype: 'int32' })],
      scalarToInt: ['ValueOutOfRange', () => engine.add(ints, 0.5)],
      bufferTooSmall: ['DataLengthMismatch', () => engine.toDevice(small, [4], { dtype: 'float32' })],
      bufferNoDtype: ['InvalidArgument', () => engine.toDevice(small, [2])],
      bufferMapped: ['InvalidArgument', () => engine.toDevice(mapped, [4], { dtype: 'float32' })],
      bufferUnreadable: ['InvalidArgument', () => engine.toDevice(unreadable, [4], { dtype: 'float32' })],
      adoptWrongUsage: ['InvalidArgument', () => engine.toDevice(unreadable, [4], { dtype: 'float32', adopt: true })],
      bufferDestroyed: ['InvalidArgument', () => engine.toDeviceAsync(destroyed, [4], { dtype: 'float32' })],
      matmulShapes: ['InvalidShape', () => engine.matmul(t, t)],
      matmulRank: ['InvalidShape', () => engine.matmul(v, v)],
      matmulDtypes: ['UnsupportedDtype', () => engine.matmul(t, h)],
      broadcast: ['InvalidShape', () => engine.add(t, v)],
      elementwise16: ['UnsupportedDtype', () => engine.relu(h)],
      twoScalars: ['InvalidArgument', () => engine.add(1, 2)],
      disposedToHost: ['Disposed', () => gone.toHost()],
      disposedBuffer: ['Disposed', () => gone.gpuBuffer],
      disposedTwice: ['Disposed', () => gone.dispose()],
      disposedMatmul: ['Disposed', () => engine.matmul(gone, gone)],
      disposedAdd: ['Disposed', () => engine.add(gone, 1)],
      disposedPrepare: ['Disposed', () => engine.prepareTensor(gone)],
      disposedCast: ['Disposed', () => engine.cast(gone, 'f16')],
      disposedCopy: ['Disposed', () => engine.copy(gone)],
      disposedToDevice: ['Disposed', () => engine.toDevice(gone)],
      putTwice: ['Disposed', () => engine.pool.put(gone)],
      putForeign: ['DeviceMismatch', () => engine.pool.put(foreign)],
      putNotTensor: ['InvalidArgument', () => engine.pool.put({})],
      foreignMatmul: ['DeviceMismatch', () => engine.matmul(foreign, foreign)],
      foreignSync: ['DeviceMismatch', () => engine.toDevice(foreign)],
      tooLarge: ['TooLarge', () => engine.pool.get([engine.adapterInfo.limits.maxBufferSize / 4 + 1])],
      unknownPrecision: ['UnsupportedDtype', () => engine.prepareTensor(t, 'fp8')],
      optionsNotObject: ['InvalidArgument', () => engine.toDevice(new Float32Array(1), [1], 'f32')],
      unknownOption: ['InvalidArgument', () => engine.toDevice(new Float32Array(1), [1], { dtyp: 'f32' })],
      adoptNotBool: ['InvalidArgument', () => engine.toDevice(small, [2], { dtype: 'float32', adopt: 'yes' })],
      trimNegative: ['InvalidArgument', () => engine.pool.trim(-1)],
      zeroOnReuseType: ['InvalidArgument', () => tmath.Engine.create({ zeroOnReuse: 'yes' })],
      budgetType: ['InvalidArgument', () => tmath.Engine.create({ poolBudgetBytes: '1GB' })],
    };
    const got = {};
    for (const [name, [want, fn]] of Object.entries(cases)) {
      const code = await codeOf(fn);
      got[name] = code === want ? 'ok' : `${code} (wanted ${want})`;
    }
    await engine.synchronize();
    const after = snapshot();
    // Still works, and reused buffers are clean (zeroOnReuse).
    const x = engine.toDevice(new Float32Array([1, 2, 3, 4]), [2, 2]);
    const y = await engine.matmul(x, x).toHost();
    const z = await engine.pool.get([6]).toHost();
    return { count: Object.keys(cases).length, got, unchanged: before === after, before, after, works: Array.from(y), clean: Array.from(z) };
  });
  assert.ok(r.count >= 40, `${r.count} cases`);
  const wrong = Object.entries(r.got).filter(([, v]) => v !== 'ok');
  assert.deepEqual(wrong, []);
  assert.equal(r.unchanged, true, `failed calls changed the counters or the pool:\n${r.before}\n${r.after}`);
  assert.deepEqual(r.works, [7, 10, 15, 22]);
  assert.deepEqual(r.clean, [0, 0, 0, 0, 0, 0]);
});

test('nothing was logged as an error', () => {
  assert.deepEqual(fx.problems, []);
});
