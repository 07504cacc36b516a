// tmath against TensorFlow.js's WebGPU backend on the same page and adapter (headless Chromium,
// SwiftShader here): host-in/host-out matmul, median of several runs after warm-up.
// Usage: node bench/browser-matmul.mjs [--json]   (needs `npm run build` first)
import { serve, launch, openPage } from '../tests/js/harness.mjs';

const json = process.argv.includes('--json');
const server = await serve();
const context = await launch();
try {
  const { page, problems } = await openPage(context, `${server.url}/tests/js/page.html`);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout: 60_000 });
  await page.addScriptTag({ url: '/node_modules/@tensorflow/tfjs-core/dist/tf-core.min.js' });
  await page.addScriptTag({ url: '/node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js' });
  const results = await page.evaluate(async () => {
    const engine = await tmath.Engine.create();
    await tf.setBackend('webgpu');
    await tf.ready();
    const median = (xs) => xs.sort((p, q) => p - q)[xs.length >> 1];
    const time = async (fn, reps) => {
      await fn();
      await fn();
      const samples = [];
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        await fn();
        samples.push(performance.now() - t0);
      }
      return median(samples);
    };
    const out = [];
    for (const n of [256, 512, 1024]) {
      const a = Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
      const b = Float32Array.from({ length: n * n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
      const reps = n >= 1024 ? 3 : 5;
      const tmathMs = await time(async () => {
        const x = engine.toDevice(a, [n, n]);
        const y = engine.toDevice(b, [n, n]);
        const c = engine.matmul(x, y);
        await c.toHost();
        [x, y, c].forEach((t) => t.dispose());
      }, reps);
      const tfMs = await time(async () => {
        const x = tf.tensor2d(a, [n, n]);
        const y = tf.tensor2d(b, [n, n]);
        const c = tf.matMul(x, y);
        await c.data();
        [x, y, c].forEach((t) => t.dispose());
      }, reps);
      out.push({ n, tmathMs, tfjsMs: tfMs, ratio: tmathMs / tfMs });
    }
    return { adapter: engine.adapterInfo.architecture || engine.adapterInfo.name, out };
  });
  if (problems.length) throw new Error(`the page logged errors: ${problems.join('; ')}`);
  for (const r of results.out) {
    if (json) {
      console.log(JSON.stringify({ suite: 'browser_matmul', adapter: results.adapter, ...r }));
    } else {
      console.log(`[browser_matmul] adapter=${results.adapter} n=${r.n} host_in_out tmath=${r.tmathMs.toFixed(1)} ms tfjs=${r.tfjsMs.toFixed(1)} ms tmath/tfjs=${r.ratio.toFixed(2)}`);
    }
  }
} finally {
  await context.close();
  await server.close();
}
