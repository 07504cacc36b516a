// Every WebGPU call a host-in/host-out 64x64 matmul makes on Dawn in Node, counted and timed
// per iteration: tmath's loop, the raw calls' loop (bench/hotpath-workload.mjs's rawHostInOut),
// and the raw loop with other work between its iterations. The raw calls cost more when anything
// else ran since the last iteration (tmath's step, a timer's turn of the event loop, plain JS),
// which is what separates tmath's Dawn calls from the raw loop's (bench/RESULTS.md).
//
//   node bench/webgpu-calls.mjs [tmath|raw|raw-after-tmath|raw-after-timer|raw-after-js] [iterations] [--root DIR]
//
// Each call is timed inside a wrapper on the GPU objects' prototypes (Dawn's own time, the
// arguments as given); the wrapper's cost is the same for every mode.
import { hostInOut } from './hostio-setup.mjs';

const { mode, iterations, engine, device, floor, tmathStep } = await hostInOut(process.argv.slice(2), { iterations: '1000' });

const counts = new Map();
const micros = new Map();
let counting = false;
let measuring = false;
function wrap(proto, name) {
  for (const key of Object.getOwnPropertyNames(proto)) {
    const d = Object.getOwnPropertyDescriptor(proto, key);
    if (key === 'constructor' || typeof d.value !== 'function') continue;
    const f = d.value;
    const label = `${name}.${key}`;
    proto[key] = function (...xs) {
      if (!counting) return f.apply(this, xs);
      const t = performance.now();
      const r = f.apply(this, xs);
      micros.set(label, (micros.get(label) ?? 0) + (performance.now() - t) * 1e3);
      counts.set(label, (counts.get(label) ?? 0) + 1);
      return r;
    };
  }
}
{
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.end();
  const buffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST });
  for (const [o, name] of [[device, 'device'], [device.queue, 'queue'], [encoder, 'encoder'], [pass, 'pass'], [buffer, 'buffer']]) wrap(Object.getPrototypeOf(o), name);
  encoder.finish();
  buffer.destroy();
}

let sink = 0;
const between = {
  tmath: null,
  raw: null,
  'raw-after-tmath': tmathStep,
  'raw-after-timer': () => new Promise((r) => setTimeout(r, 0)),
  'raw-after-js': () => { const xs = Float64Array.from({ length: 20000 }, (_, i) => Math.sin(i)); xs.sort(); sink += xs[0]; },
};
if (!(mode in between)) throw new Error(`mode: one of ${Object.keys(between).join(', ')}`);
async function step() {
  if (mode === 'tmath') return tmathStep();
  if (between[mode]) await between[mode]();
  counting = measuring;
  await floor.step();
  counting = false;
}
for (let i = 0; i < 100; i++) await step();
const N = iterations;
let total = 0;
measuring = true;
for (let i = 0; i < N; i++) {
  if (mode === 'tmath') counting = true;
  await step();
  counting = false;
}
const rows = [...counts].sort();
for (const [k, c] of rows) {
  const us = micros.get(k) / N;
  total += us;
  console.log(`${mode.padEnd(16)} ${k.padEnd(28)} ${(c / N).toFixed(2)} calls ${us.toFixed(1).padStart(6)} us`);
}
console.log(`${mode.padEnd(16)} ${'all WebGPU calls'.padEnd(28)} ${(rows.reduce((s, [, c]) => s + c, 0) / N).toFixed(2)} calls ${total.toFixed(1).padStart(6)} us per iteration`);
floor.destroy();
engine.dispose();
process.exit(Number.isNaN(sink) ? 1 : 0);
