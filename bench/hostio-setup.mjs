// Shared by bench/hostio-profile.mjs and bench/webgpu-calls.mjs: a host-in/host-out 64x64 matmul
// on Dawn in Node, tmath's step and the raw calls' (rawHostInOut), on one engine's device.
// `--root DIR` in argv: another build's checkout (its js/ and pkg/) to measure instead of this one.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { create, globals } from 'webgpu';
import { rawHostInOut } from './hotpath-workload.mjs';

export async function hostInOut(argv, { mode = 'tmath', iterations = '3000' } = {}) {
  Object.assign(globalThis, globals);
  const args = [...argv];
  const rootAt = args.indexOf('--root');
  const root = resolve(rootAt >= 0 ? args.splice(rootAt, 2)[1] : new URL('..', import.meta.url).pathname);
  const [m = mode, its = iterations] = args;
  const tmath = await import(pathToFileURL(join(root, 'js', 'index.js')).href);
  const engine = await tmath.Engine.create({ gpu: create([]) });
  const device = engine.gpuDevice;
  const n = 64;
  const a = Float32Array.from({ length: n * n }, (_, i) => (i % 7) / 7);
  const floor = rawHostInOut(device, a, n);
  const tmathStep = async () => {
    const x = engine.toDevice(a, [n, n]);
    const w = engine.toDevice(a, [n, n]);
    const c = engine.matmul(x, w);
    await c.toHost();
    x.dispose(); w.dispose(); c.dispose();
  };
  return { mode: m, iterations: Number(its), engine, device, floor, tmathStep };
}
