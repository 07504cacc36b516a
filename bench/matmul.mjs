// Resident float32 matmul on Dawn (Chrome's WebGPU implementation, the npm package `webgpu`):
// tmath (after tuneMatmul) against TensorFlow.js's WebGPU backend on the same GPU, in one
// process. Prints one JSON object per line.
//
//   node bench/matmul.mjs [--sizes 1024,2048,4096] [--root DIR]   (needs `npm run build` first;
//                                                   --root: another build's js/ and pkg/)
//   TFJS_BUNDLE=/abs/path/tfjs.mjs node bench/matmul.mjs   (TF.js bundled into one file)
//
// Without a GPU device node, Dawn runs on Chromium's SwiftShader (as bench/node.mjs explains).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
const gpuNode = existsSync('/dev/nvidia0') || existsSync('/dev/dri/renderD128');
if (!process.env.VK_DRIVER_FILES && !gpuNode && existsSync(SWIFTSHADER)) process.env.VK_DRIVER_FILES = SWIFTSHADER;

const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
const gpu = create([]);
const args = process.argv.slice(2);
const flag = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
// --root: another build's checkout (its js/ and pkg/) to measure instead of this one.
const root = flag('--root', null);
const tmath = await import(root ? pathToFileURL(join(resolve(root), 'js', 'index.js')).href : '../js/index.js');
const sizes = flag('--sizes', gpuNode ? '1024,2048,4096' : '256,512').split(',').map(Number);
const emit = (fields) => console.log(JSON.stringify({ suite: 'dawn_matmul', ...fields }));

const random = (n, seed) => {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (s * 1664525 + 1013904223) >>> 0; out[i] = (s % 2001) / 1000 - 1; }
  return out;
};
// Median of `samples` timings of `reps` products recorded back to back, ms per product.
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
async function perProduct(run, wait, reps, samples = 5) {
  await run(1); await wait();
  const times = [];
  for (let i = 0; i < samples; i++) {
    const start = performance.now();
    await run(reps); await wait();
    times.push((performance.now() - start) / reps);
  }
  return median(times);
}

const engine = await tmath.Engine.create({ gpu });
const warm = async (seconds) => {
  const x = engine.toDevice(random(1 << 20, 9), [1024, 1024]);
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) { engine.matmul(x, x).dispose(); await engine.synchronize(); }
  x.dispose();
};
await warm(1);
const tuneStart = performance.now();
const tuning = await engine.tuneMatmul();
emit({ case: 'tuning', seconds: (performance.now() - tuneStart) / 1000, choices: tuning.choices });

for (const n of sizes) {
  const reps = Math.max(2, Math.min(32, Math.round(2 ** 34 / n ** 3)));
  const a = random(n * n, 1), b = random(n * n, 2);
  const x = engine.toDevice(a, [n, n]), y = engine.toDevice(b, [n, n]);
  await warm(0.5);
  const ms = await perProduct(async (r) => { for (let i = 0; i < r; i++) engine.matmul(x, y).dispose(); }, () => engine.synchronize(), reps);
  emit({ case: 'resident', library: 'tmath', n, ms, tflop_s: (2 * n ** 3) / ms / 1e9 });
  // float16 inputs: float32 accumulation, then float16 arithmetic allowed.
  const x16 = engine.toDevice(a, [n, n], { dtype: 'float16' }), y16 = engine.toDevice(b, [n, n], { dtype: 'float16' });
  for (const accumulate of ['float32', 'float16']) {
    const ms16 = await perProduct(async (r) => { for (let i = 0; i < r; i++) engine.matmul(x16, y16, { accumulate }).dispose(); }, () => engine.synchronize(), reps);
    emit({ case: 'resident_f16', library: 'tmath', accumulate, n, ms: ms16, tflop_s: (2 * n ** 3) / ms16 / 1e9 });
  }
  x16.dispose(); y16.dispose();
  // bfloat16 inputs (float32 accumulation).
  const xb = engine.toDevice(a, [n, n], { dtype: 'bfloat16' }), yb = engine.toDevice(b, [n, n], { dtype: 'bfloat16' });
  const msb = await perProduct(async (r) => { for (let i = 0; i < r; i++) engine.matmul(xb, yb).dispose(); }, () => engine.synchronize(), reps);
  emit({ case: 'resident_bf16', library: 'tmath', n, ms: msb, tflop_s: (2 * n ** 3) / msb / 1e9 });
  xb.dispose(); yb.dispose();
  // The product is right: one row against a float64 dot product.
  const c = engine.matmul(x, y); const row = await c.toHost(); c.dispose();
  let worst = 0;
  for (let j = 0; j < n; j += Math.max(1, n >> 6)) {
    let exact = 0, magnitude = 0;
    for (let p = 0; p < n; p++) { exact += a[p] * b[p * n + j]; magnitude += Math.abs(a[p] * b[p * n + j]); }
    worst = Math.max(worst, Math.abs(row[j] - exact) / magnitude);
  }
  emit({ case: 'check', n, worst_relative_error: worst });
  x.dispose(); y.dispose();
}

// float16 inputs widened by integer unpacking (the path of devices without shader-f16): an
// engine on a device made with no optional features.
{
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  const limits = {};
  for (const key of ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize']) limits[key] = adapter.limits[key];
  const device = await adapter.requestDevice({ requiredLimits: limits });
  const plain = await tmath.Engine.fromDevice(device);
  if (tuning) plain.setMatmulTuning(tuning);
  for (const n of sizes) {
    const reps = Math.max(2, Math.min(32, Math.round(2 ** 34 / n ** 3)));
    const x16 = plain.toDevice(random(n * n, 1), [n, n], { dtype: 'float16' }), y16 = plain.toDevice(random(n * n, 2), [n, n], { dtype: 'float16' });
    const ms16 = await perProduct(async (r) => { for (let i = 0; i < r; i++) plain.matmul(x16, y16).dispose(); }, () => plain.synchronize(), reps);
    emit({ case: 'resident_f16_packed', library: 'tmath', n, ms: ms16, tflop_s: (2 * n ** 3) / ms16 / 1e9 });
    x16.dispose(); y16.dispose();
  }
  plain.dispose();
  device.destroy();
}

// TensorFlow.js 4.22's WebGPU backend on its own device from the same Dawn instance.
try {
  globalThis.navigator ??= {};
  Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
  // TFJS_BUNDLE: one file with tfjs-core and the WebGPU backend (esbuild), for machines
  // without node_modules.
  const tf = process.env.TFJS_BUNDLE
    ? await import(process.env.TFJS_BUNDLE)
    : await import('@tensorflow/tfjs-core').then(async (core) => { await import('@tensorflow/tfjs-backend-webgpu'); return core; });
  await tf.setBackend('webgpu');
  await tf.ready();
  for (const n of sizes) {
    const reps = Math.max(2, Math.min(32, Math.round(2 ** 34 / n ** 3)));
    const x = tf.tensor2d(random(n * n, 1), [n, n]), y = tf.tensor2d(random(n * n, 2), [n, n]);
    let last;
    const ms = await perProduct(async (r) => { for (let i = 0; i < r; i++) { last?.dispose(); last = tf.matMul(x, y); } },
      async () => { await last.data(); }, reps);
    emit({ case: 'resident', library: 'tfjs', n, ms, tflop_s: (2 * n ** 3) / ms / 1e9 });
    last.dispose(); x.dispose(); y.dispose();
  }
} catch (e) {
  emit({ case: 'resident', library: 'tfjs', error: String(e?.stack ?? e) });
}
engine.dispose();
process.exit(0);
