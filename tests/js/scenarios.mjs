// One test body for every JS runtime tmath runs in: Chromium's main thread, its module and
// classic workers, Node on Dawn (the npm package `webgpu`) and Deno. Each scenario takes
// `{ tmath, gpu }` (the package's exports and the runtime's `GPU`), checks exact values and
// counts itself, and throws an Error naming what differed; `runScenarios` runs them all and
// returns `{ name: 'ok' | message }`, plain data every runner can pass back.

/** Engine options for `gpu` on this runtime: none where `navigator.gpu` is it. */
function on(env, options = {}) {
  const own = typeof navigator !== 'undefined' && navigator.gpu === env.gpu;
  return own ? options : { ...options, gpu: env.gpu };
}

function expectEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

async function codeOf(fn) {
  try {
    await fn();
    return 'no error';
  } catch (e) {
    return e?.name === 'TmathError' ? e.code : `${e?.name}: ${e?.message}`;
  }
}

function bufferWith(device, values, usage) {
  const buffer = device.createBuffer({ size: values.byteLength, usage, mappedAtCreation: true });
  new values.constructor(buffer.getMappedRange()).set(values);
  buffer.unmap();
  return buffer;
}

/** Read a buffer with the raw calls only (no tmath involved). */
async function rawRead(device, buffer, bytes) {
  const staging = device.createBuffer({ size: bytes, usage: 0x1 | 0x8 }); // MAP_READ | COPY_DST
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(0x1);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return Array.from(out);
}

const STORAGE_COPY = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST

export const scenarios = {
  /** Every route with its exact counts: host write, identity, GPU copy, adopt. */
  async routerCounts({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const data = Float32Array.from({ length: 4096 }, (_, i) => i / 8);
      engine.toDevice(data, [64, 64]).dispose(); // warm-up
      const s0 = engine.stats();
      const t = engine.toDevice(data, [64, 64]);
      const s1 = engine.stats();
      expectEqual({
        created: s1.pool.buffersCreated - s0.pool.buffersCreated,
        copies: s1.copies - s0.copies,
        crossings: s1.crossings - s0.crossings,
        route: engine.ledger().at(-1).route,
      }, { created: 0, copies: 1, crossings: 1, route: 'host-write' }, 'host write');
      expectEqual((await t.toHost()).every((x, i) => x === data[i]), true, 'host write data');
      expectEqual(engine.toDevice(t) === t && engine.ledger().at(-1).route, 'identity', 'identity');

      const device = engine.gpuDevice;
      const buffer = bufferWith(device, new Float32Array([1, -2, 3, -4]), STORAGE_COPY);
      const s2 = engine.stats();
      const copied = engine.toDevice(buffer, [2, 2], { dtype: 'float32' });
      const s3 = engine.stats();
      expectEqual([engine.ledger().at(-1).route, s3.copies - s2.copies, s3.crossings - s2.crossings],
        ['same-device-copy', 1, 0], 'GPUBuffer copy');
      expectEqual(Array.from(await copied.toHost()), [1, -2, 3, -4], 'GPUBuffer copy data');
      const s4 = engine.stats();
      const adopted = engine.toDevice(buffer, [4], { dtype: 'float32', adopt: true });
      expectEqual([engine.ledger().at(-1).route, engine.stats().copies - s4.copies], ['adopt', 0], 'adopt');
      expectEqual(adopted.gpuBuffer === buffer, true, 'adopted buffer is the caller\'s');
    } finally {
      engine.dispose();
    }
  },

  /** Bit-exact casts on the GPU: round to nearest even, saturation, NaN. */
  async precisionBits({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const values = new Float32Array([1, 65504, 65520, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -0, NaN, 2 ** -24, 2 ** -25]);
      const x = engine.toDevice(values);
      const h = engine.cast(x, 'float16');
      const bits = (a) => Array.from(new Uint16Array(a.buffer, a.byteOffset, a.length));
      expectEqual(bits(await h.toHost()),
        [0x3c00, 0x7bff, 0x7c00, 0x3c00, 0x3c02, 0x8000, 0x7e00, 0x0001, 0x0000], 'float32 → float16 bits');
      const b = engine.cast(engine.toDevice(new Float32Array([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5])), 'bfloat16');
      expectEqual(bits(await b.toHost()), [0x3f80, 0x3f80, 0x3f82, 0xc020], 'float32 → bfloat16 bits');
      const i = engine.cast(engine.toDevice(new Float32Array([2.7, -2.7, 3e9, -3e9, NaN])), 'int32');
      expectEqual(Array.from(await i.toHost()), [2, -2, 2147483647, -2147483648, 0], 'float32 → int32');
      const back = engine.cast(h, 'float32');
      expectEqual(Array.from(await back.toHost()).map(String),
        ['1', '65504', 'Infinity', '1', '1.001953125', '0', 'NaN', '5.960464477539063e-8', '0'], 'float16 → float32');
    } finally {
      engine.dispose();
    }
  },

  /** Elementwise ops with broadcasting, relu and matmul: exact results. */
  async ops({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const a = engine.toDevice(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
      const row = engine.toDevice(new Float32Array([10, 20, 30]), [3]);
      expectEqual(Array.from(await engine.add(a, row).toHost()), [11, 22, 33, 14, 25, 36], 'add broadcast');
      expectEqual(Array.from(await engine.sub(1, a).toHost()), [0, -1, -2, -3, -4, -5], 'scalar - tensor');
      expectEqual(Array.from(await engine.mul(a, 2).toHost()), [2, 4, 6, 8, 10, 12], 'mul');
      expectEqual(Array.from(await engine.div(a, 2).toHost()), [0.5, 1, 1.5, 2, 2.5, 3], 'div');
      expectEqual(Array.from(await engine.relu(engine.sub(a, 3)).toHost()), [0, 0, 0, 1, 2, 3], 'relu');
      const b = engine.toDevice(new Float32Array([1, 0, 0, 1, 1, 1]), [3, 2]);
      const c = engine.matmul(a, b);
      expectEqual([c.shape, Array.from(await c.toHost())], [[2, 2], [4, 5, 10, 11]], 'matmul');
    } finally {
      engine.dispose();
    }
  },

  /** Bad input: typed errors, and the pool exactly as it was. */
  async badInput({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const keep = engine.toDevice(new Float32Array([1, 2, 3, 4]), [4]);
      engine.toDevice(new Float32Array(1)).dispose(); // warm: the disposed-tensor case reuses it
      const before = JSON.stringify(engine.pool.stats());
      const codes = {
        length: await codeOf(() => engine.toDevice(new Float32Array(3), [2, 2])),
        shape: await codeOf(() => engine.toDevice(new Float32Array(4), [-1, 4])),
        dtype: await codeOf(() => engine.toDevice(new Float32Array(4), [4], { dtype: 'complex64' })),
        input: await codeOf(() => engine.toDevice({ size: 16, mapAsync() {} }, [4], { dtype: 'float32' })),
        option: await codeOf(() => engine.toDevice(new Float32Array(4), [4], { dtpye: 'float32' })),
        matmul: await codeOf(() => engine.matmul(keep, keep)),
        disposed: await codeOf(async () => { const t = engine.toDevice(new Float32Array(1)); t.dispose(); await t.toHost(); }),
        gpuOption: await codeOf(() => tmath.Engine.create({ gpu: {} })),
        fromDevice: await codeOf(() => tmath.Engine.fromDevice({ createBuffer() {} })),
      };
      expectEqual(codes, {
        length: 'DataLengthMismatch', shape: 'InvalidShape', dtype: 'UnsupportedDtype',
        input: 'InvalidArgument', option: 'InvalidArgument', matmul: 'InvalidShape',
        disposed: 'Disposed', gpuOption: 'InvalidArgument', fromDevice: 'InvalidArgument',
      }, 'error codes');
      const after = JSON.parse(JSON.stringify(engine.pool.stats()));
      const was = JSON.parse(before);
      expectEqual({ created: after.buffersCreated, inUse: after.buffersInUse, bytes: after.bytesInUse },
        { created: was.buffersCreated, inUse: was.buffersInUse, bytes: was.bytesInUse }, 'pool after bad input');
      expectEqual(Array.from(await keep.toHost()), [1, 2, 3, 4], 'a tensor after bad input');
    } finally {
      engine.dispose();
    }
  },

  /** A lost device: DeviceLost everywhere, then recover() gives a working engine. */
  async deviceLoss({ tmath, gpu }) {
    const engine = await tmath.Engine.create(on({ gpu }));
    try {
      const t = engine.toDevice(new Float32Array([1, 2]));
      engine.gpuDevice.destroy();
      await engine.gpuDevice.lost;
      await new Promise((resolve) => setTimeout(resolve, 0));
      expectEqual(typeof engine.deviceLost, 'string', 'deviceLost reason');
      expectEqual([await codeOf(() => t.toHost()), await codeOf(() => engine.add(t, 1)),
        await codeOf(() => engine.toDevice(new Float32Array(2)))], ['DeviceLost', 'DeviceLost', 'DeviceLost'], 'calls after loss');
      expectEqual(await engine.recover(), true, 'recover');
      const fresh = engine.toDevice(new Float32Array([5, 6]));
      expectEqual(Array.from(await engine.mul(fresh, 2).toHost()), [10, 12], 'after recover');
    } finally {
      engine.dispose();
    }
  },

  /**
   * Engine.fromDevice: tmath on a device the app made, buffers shared both ways without a
   * readback; dispose() leaves the device working; a lost borrowed device cannot be recovered.
   */
  async fromDevice({ tmath, gpu }) {
    const adapter = await gpu.requestAdapter();
    const device = await adapter.requestDevice();
    let onuncapturederror = 0;
    device.onuncapturederror = () => { onuncapturederror += 1; };
    const engine = await tmath.Engine.fromDevice(device);
    expectEqual(engine.gpuDevice === device, true, 'gpuDevice is the app\'s device');
    expectEqual(engine.adapterInfo.limits.maxBufferSize, device.limits.maxBufferSize, 'limits from the device');
    expectEqual(engine.adapterInfo.features.shaderF16, device.features.has('shader-f16'), 'features from the device');
    const mine = bufferWith(device, new Float32Array([1, 2, 3, 4]), STORAGE_COPY);
    const x = engine.toDevice(mine, [4], { dtype: 'float32' });
    const y = engine.mul(x, 3);
    expectEqual(await rawRead(device, y.gpuBuffer, 16), [3, 6, 9, 12], 'tmath result read by raw calls');
    device.createBuffer({ size: 4, usage: 0xffffff }); // an app error: the app's handler still gets it
    engine.dispose();
    expectEqual(await codeOf(() => engine.toDevice(new Float32Array(1))), 'Disposed', 'engine disposed');
    // The device is the app's and still works.
    const after = bufferWith(device, new Float32Array([7, 8]), STORAGE_COPY);
    expectEqual(await rawRead(device, after, 8), [7, 8], 'device works after dispose');
    expectEqual(onuncapturederror, 1, 'the app\'s onuncapturederror kept');
    // A second engine on it; then the app destroys the device: recover() cannot replace it.
    const second = await tmath.Engine.fromDevice(device);
    device.destroy();
    await device.lost;
    await new Promise((resolve) => setTimeout(resolve, 0));
    expectEqual(await codeOf(() => second.recover()), 'DeviceLost', 'recover on a borrowed device');
    second.dispose();
  },
};

/** Run every scenario (or those named); `{ name: 'ok' | what went wrong }`. */
export async function runScenarios(env, names = Object.keys(scenarios)) {
  const results = {};
  for (const name of names) {
    try {
      await scenarios[name](env);
      results[name] = 'ok';
    } catch (e) {
      results[name] = `${e?.name}: ${e?.message}`;
    }
  }
  return results;
}

/** What `runScenarios` returns when everything passes. */
export function allOk(names = Object.keys(scenarios)) {
  return Object.fromEntries(names.map((name) => [name, 'ok']));
}
