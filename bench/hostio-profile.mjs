// A host-in/host-out 64x64 matmul in a loop on Dawn in Node, tmath's or the raw WebGPU calls',
// timed, and under `node --cpu-prof` profiled: where a small op's time goes on the JS thread.
//
//   node [--cpu-prof --cpu-prof-dir=DIR] bench/hostio-profile.mjs [tmath|raw] [iterations] [--root DIR]
//   python3 bench/cpuprofile_split.py DIR/*.cpuprofile ITERATIONS     # microseconds per iteration by kind
//
// Both run on the engine's device; the raw loop is the hot-path workload's raw floor
// (rawHostInOut: two writeBuffer calls, one pass of one dispatch, a copy into a staging buffer,
// one submit, mapAsync).
// --root: another build's checkout (its js/ and pkg/) to measure instead of this one.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { create } from 'webgpu';
import { rawHostInOut } from './hotpath-workload.mjs';

const args = process.argv.slice(2);
const rootAt = args.indexOf('--root');
const root = resolve(rootAt >= 0 ? args.splice(rootAt, 2)[1] : new URL('..', import.meta.url).pathname);
const [mode = 'tmath', iterations = '3000'] = args;
const tmath = await import(pathToFileURL(join(root, 'js', 'index.js')).href);
const engine = await tmath.Engine.create({ gpu: create([]) });
const device = engine.gpuDevice;
const n = 64;
const a = Float32Array.from({ length: n * n }, (_, i) => (i % 7) / 7);
const floor = rawHostInOut(device, a, n);
const times = [];
for (let i = 0; i < Number(iterations); i++) {
  const t0 = performance.now();
  if (mode === 'raw') {
    await floor.step();
  } else {
    const x = engine.toDevice(a, [n, n]);
    const w = engine.toDevice(a, [n, n]);
    const c = engine.matmul(x, w);
    await c.toHost();
    x.dispose(); w.dispose(); c.dispose();
  }
  times.push(performance.now() - t0);
}
const rest = times.slice(100).sort((p, q) => p - q);
console.log(`${mode}: median ${(rest[rest.length >> 1] * 1000).toFixed(1)} us per host-in/host-out 64x64 matmul`);
process.exit(0);
