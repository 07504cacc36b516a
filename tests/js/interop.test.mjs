// tmath tensors shared with ONNX Runtime Web (WebGPU EP) and TensorFlow.js (WebGPU backend) on
// engine.gpuDevice, in headless Chromium: GPU buffers in, GPU buffers out, no mapAsync between.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { serve, launch, openPage } from './harness.mjs';
import { reluModel } from '../../www/onnx.mjs';

let server, context;

before(async () => {
  server = await serve();
  context = await launch();
});

after(async () => {
  await context?.close();
  await server?.close();
});

async function freshPage() {
  const { page, problems } = await openPage(context, `${server.url}/tests/js/page.html`);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout: 30_000 });
  await page.evaluate(() => {
    window.mapCalls = 0;
    const original = GPUBuffer.prototype.mapAsync;
    GPUBuffer.prototype.mapAsync = function (...args) {
      window.mapCalls += 1;
      return original.apply(this, args);
    };
  });
  return { page, problems };
}

test('ONNX Runtime Web runs on a tmath tensor and its GPU output comes back by toDevice', async () => {
  const { page, problems } = await freshPage();
  const model = Array.from(reluModel([2, 4]));
  const r = await page.evaluate(async (modelBytes) => {
    const ort = await import('/node_modules/onnxruntime-web/dist/ort.webgpu.min.mjs');
    ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
    ort.env.wasm.numThreads = 1;
    const engine = await tmath.Engine.create();
    // ORT 1.30's WebGPU EP takes the device in its options (`env.webgpu.device` was the older
    // JSEP-era way and is now set by ORT itself).
    const session = await ort.InferenceSession.create(Uint8Array.from(modelBytes), {
      executionProviders: [{ name: 'webgpu', device: engine.gpuDevice }],
      preferredOutputLocation: 'gpu-buffer',
    });
    const x = engine.toDevice(new Float32Array([-1, 2, -3, 4, -5, 6, -7, 8]), [2, 4]);
    const input = ort.Tensor.fromGpuBuffer(x.gpuBuffer, { dataType: 'float32', dims: [2, 4] });
    const mapsBefore = mapCalls;
    const { Y } = await session.run({ X: input });
    const location = Y.location;
    const y = engine.toDevice(Y);
    const mapsBetween = mapCalls - mapsBefore;
    const entry = engine.ledger().at(-1);
    const out = Array.from(await y.toHost());
    Y.dispose();
    return { location, mapsBetween, route: entry.route, shape: y.shape, out };
  }, model);
  assert.equal(r.location, 'gpu-buffer');
  assert.equal(r.mapsBetween, 0, 'no mapAsync between ORT and tmath');
  assert.equal(r.route, 'same-device-copy');
  assert.deepEqual(r.shape, [2, 4]);
  assert.deepEqual(r.out, [0, 2, 0, 4, 0, 6, 0, 8]);
  assert.deepEqual(problems, []);
});

test('TensorFlow.js on the WebGPU backend shares the device both ways', async () => {
  const { page, problems } = await freshPage();
  await page.addScriptTag({ url: '/node_modules/@tensorflow/tfjs-core/dist/tf-core.min.js' });
  await page.addScriptTag({ url: '/node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js' });
  const r = await page.evaluate(async () => {
    const engine = await tmath.Engine.create();
    // TF.js's WebGPU backend on tmath's device (it registers its kernels under 'webgpu').
    tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => new tf.WebGPUBackend(engine.gpuDevice));
    await tf.setBackend('webgpu');
    await tf.ready();
    // TF.js → tmath: a TF.js result on the GPU comes over by toDevice (dataToGPU + one GPU copy).
    const a = tf.tensor([1, -2, 3, -4, 5, -6], [2, 3]);
    const relu = tf.relu(a);
    const mapsBefore = mapCalls;
    const t = engine.toDevice(relu);
    const mapsBetween = mapCalls - mapsBefore;
    const route = engine.ledger().at(-1).route;
    const fromTf = { shape: t.shape, dtype: t.dtype, data: Array.from(await t.toHost()) };
    // tmath → TF.js: a tensor made from the tmath tensor's GPUBuffer.
    const x = engine.toDevice(new Float32Array([-1, 1, -2, 2]), [4]);
    const shared = tf.tensor({ buffer: x.gpuBuffer }, [4], 'float32');
    const doubled = tf.mul(tf.abs(shared), 2);
    const back = engine.toDevice(doubled);
    const toTf = Array.from(await back.toHost());
    return { backend: tf.getBackend(), mapsBetween, route, fromTf, toTf, tfTensors: tf.memory().numTensors };
  });
  assert.equal(r.backend, 'webgpu');
  assert.equal(r.mapsBetween, 0, 'no mapAsync between TF.js and tmath');
  assert.equal(r.route, 'same-device-copy');
  assert.deepEqual(r.fromTf, { shape: [2, 3], dtype: 'float32', data: [1, 0, 3, 0, 5, 0] });
  assert.deepEqual(r.toTf, [2, 2, 4, 4]);
  assert.deepEqual(problems, []);
});

test('Engine.fromDevice: one device made by the app, shared by tmath, ORT Web and TF.js; dispose() leaves it to them', async () => {
  const { page, problems } = await freshPage();
  await page.addScriptTag({ url: '/node_modules/@tensorflow/tfjs-core/dist/tf-core.min.js' });
  await page.addScriptTag({ url: '/node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js' });
  const model = Array.from(reluModel([2, 4]));
  const r = await page.evaluate(async (modelBytes) => {
    const adapter = await navigator.gpu.requestAdapter();
    const device = await adapter.requestDevice({ requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize } });
    const engine = await tmath.Engine.fromDevice(device);
    const ort = await import('/node_modules/onnxruntime-web/dist/ort.webgpu.min.mjs');
    ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
    ort.env.wasm.numThreads = 1;
    const session = await ort.InferenceSession.create(Uint8Array.from(modelBytes), {
      executionProviders: [{ name: 'webgpu', device }],
      preferredOutputLocation: 'gpu-buffer',
    });
    tf.removeBackend('webgpu');
    tf.registerBackend('webgpu', () => new tf.WebGPUBackend(device));
    await tf.setBackend('webgpu');
    await tf.ready();

    const mapsBefore = mapCalls;
    // tmath → ORT → tmath → TF.js → tmath, GPU buffers all the way.
    const x = engine.toDevice(new Float32Array([-1, 2, -3, 4, -5, 6, -7, 8]), [2, 4]);
    const { Y } = await session.run({ X: ort.Tensor.fromGpuBuffer(x.gpuBuffer, { dataType: 'float32', dims: [2, 4] }) });
    const y = engine.toDevice(Y);
    const doubled = tf.mul(tf.tensor({ buffer: y.gpuBuffer }, [2, 4], 'float32'), 2);
    const z = engine.toDevice(doubled);
    const mapsBetween = mapCalls - mapsBefore;
    const out = Array.from(await z.toHost());
    Y.dispose();
    doubled.dispose();

    engine.dispose();
    // The device is still the app's: ORT and TF.js go on working on it.
    const host = new ort.Tensor('float32', new Float32Array([1, -1, 2, -2, 3, -3, 4, -4]), [2, 4]);
    const again = await session.run({ X: host });
    const ortAfter = Array.from(await again.Y.getData());
    const tfAfter = Array.from(await tf.relu(tf.tensor([-3, 3])).data());
    return { same: engine.gpuDevice === device, mapsBetween, out, ortAfter, tfAfter, lost: await Promise.race([device.lost.then(() => 'lost'), new Promise((r) => setTimeout(() => r('alive'), 50))]) };
  }, model);
  assert.equal(r.same, true);
  assert.equal(r.mapsBetween, 0, 'no mapAsync between the three');
  assert.deepEqual(r.out, [0, 4, 0, 8, 0, 12, 0, 16]);
  assert.deepEqual(r.ortAfter, [1, 0, 2, 0, 3, 0, 4, 0]);
  assert.deepEqual(r.tfAfter, [0, 3]);
  assert.equal(r.lost, 'alive');
  assert.deepEqual(problems, []);
});
