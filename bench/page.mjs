// Runs the benchmark page (www/index.html?auto=1) in headless Chromium and prints its results as
// plain text: the seed's table and the comparison with TensorFlow.js and ONNX Runtime Web.
// Usage: node bench/page.mjs [--json] [--out DIR]   (needs `npm run build` first)
// Writes DIR/www-results.json and DIR/www.png (DIR defaults to bench/out).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve, launch, openPage, ROOT } from '../tests/js/harness.mjs';

/** Load the page with ?auto=1, wait for it, and return { results, problems, state, screenshot }. */
export async function runPage({ timeoutMs = 15 * 60_000, screenshotPath } = {}) {
  const server = await serve();
  const context = await launch();
  try {
    const { page, problems } = await openPage(context, `${server.url}/www/?auto=1`);
    await page.setViewportSize({ width: 1240, height: 900 });
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { state: 'attached', timeout: timeoutMs });
    const state = await page.evaluate(() => document.body.dataset.state);
    const results = await page.evaluate(() => JSON.parse(JSON.stringify(window.tmathResults)));
    const rendered = await page.evaluate(() => Object.fromEntries(
      [...document.querySelectorAll('section')].map((s) => [s.id, {
        rendered: s.dataset.rendered === '1',
        numbers: [...s.querySelectorAll('td')].filter((td) => /\d/.test(td.textContent)).length,
        charts: s.querySelectorAll('svg polyline').length,
      }])));
    if (screenshotPath) await page.screenshot({ path: screenshotPath, fullPage: true });
    return { state, results, rendered, problems };
  } finally {
    await context.close();
    await server.close();
  }
}

const num = (v, d = 2) => (typeof v === 'number' && Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(d)) : '-');
const mib = (b) => (b >= 1 << 20 ? `${b / (1 << 20)} MiB` : `${b / 1024} KiB`);

export function report(results) {
  const lines = [];
  const a = results.adapter ?? {};
  const s = results.suites;
  lines.push(`[www] adapter=${a.name || a.architecture || '?'} (${a.vendor || '?'} ${a.architecture || ''}, ${a.deviceType}) peers: TF.js ${results.peers.tfjs?.version ?? results.peers.tfjs?.error}, ORT Web ${results.peers.ort?.version ?? results.peers.ort?.error}`);
  if (s.seed) {
    lines.push('', `The seed's table in Chromium's WebGPU (n = ${s.seed.n}):`);
    lines.push('| Operation | seed: current | seed: expected | measured: before (old way) | measured: after (tmath) |', '|---|---|---|---|---|');
    for (const row of s.seed.rows) lines.push(`| ${row.join(' | ')} |`);
  }
  if (s.matmul) {
    lines.push('', 'Matmul float32, GFLOP/s (resident | host-in/host-out), same page and adapter:');
    lines.push('| n | tmath | TF.js | ORT Web | tmath host | TF.js host | ORT Web host | tmath/TF.js time, host |', '|---|---|---|---|---|---|---|---|');
    for (const r of s.matmul.rows) {
      lines.push(`| ${r.n} | ${num(r.tmathResidentGflops)} | ${num(r.tfjsResidentGflops)} | ${num(r.ortResidentGflops)} | ${num(r.tmathHostGflops)} | ${num(r.tfjsHostGflops)} | ${num(r.ortHostGflops)} | ${r.tfjsHostMs ? num(r.tmathHostMs / r.tfjsHostMs) : '-'} |`);
    }
  }
  if (s.transfer) {
    lines.push('', 'Transfers, GB/s (tmath | raw WebGPU into an existing buffer), and an upload+readback round trip against TF.js:');
    lines.push('| size | upload | raw | GPU copy | raw | readback | raw | round trip ms tmath | TF.js |', '|---|---|---|---|---|---|---|---|---|');
    const g = (b, ms) => num(b / ms / 1e6);
    for (const r of s.transfer.rows) {
      lines.push(`| ${mib(r.bytes)} | ${g(r.bytes, r.uploadTmath)} | ${g(r.bytes, r.uploadRaw)} | ${g(r.bytes, r.copyTmath)} | ${g(r.bytes, r.copyRaw)} | ${g(r.bytes, r.readTmath)} | ${g(r.bytes, r.readRaw)} | ${num(r.roundTmath)} | ${num(r.roundTfjs)} |`);
    }
  }
  if (s.precision) {
    lines.push('', `Precision: identity prepareTensor ${num(s.precision.identityNs, 0)} ns; casts as a share of a copy's throughput, and cast+readback against TF.js:`);
    lines.push('| elements | f16 cast / copy | bf16 / copy | f16 upload host ms | GPU cast ms | cast+read tmath ms | TF.js ms |', '|---|---|---|---|---|---|---|');
    for (const r of s.precision.rows) {
      lines.push(`| ${r.elements} | ${num(r.copyMs / r.castF16Ms)} | ${num(r.copyMs / r.castBf16Ms)} | ${num(r.uploadF16HostMs)} | ${num(r.uploadF16GpuMs)} | ${num(r.tmathCastI32ReadMs)} | ${num(r.tfjsCastI32Ms)} |`);
    }
  }
  if (s.pool) {
    const p = s.pool;
    lines.push('', `Pool: 500 random tensors -> ${p.buffersCreated} buffers (hit rate ${num(p.hitRate)}); get+put ${num(p.hitUs)} us vs createBuffer+destroy ${num(p.createDestroyUs)} us; peak held ${num(p.peakBytesHeld / 2 ** 20)} MiB for ${num(p.peakBytesLive / 2 ** 20)} MiB live`);
  }
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const outDir = args.includes('--out') ? args[args.indexOf('--out') + 1] : join(ROOT, 'bench', 'out');
  await mkdir(outDir, { recursive: true });
  const { state, results, problems } = await runPage({ screenshotPath: join(outDir, 'www.png') });
  await writeFile(join(outDir, 'www-results.json'), JSON.stringify(results, null, 2));
  if (args.includes('--json')) console.log(JSON.stringify(results));
  else console.log(report(results));
  console.error(`\n(full results: ${join(outDir, 'www-results.json')}, screenshot: ${join(outDir, 'www.png')})`);
  if (state !== 'done') {
    console.error(`the page failed: ${results.error}`);
    process.exit(1);
  }
  if (problems.length) {
    console.error(`the page logged errors:\n${problems.join('\n')}`);
    process.exit(1);
  }
}
