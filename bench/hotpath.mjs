// The hot path, side by side with raw WebGPU in one page of headless Chromium: chains of ops in
// one task, the 500-tensor churn, host-in/host-out 64x64 matmul, and pool get+put against
// createBuffer+destroy. The raw floor does the same work with everything preallocated (buffers,
// bind groups, one encoder and one compute pass). Counts are exact; times are medians of runs.
//
//   node bench/hotpath.mjs [--root DIR] [--label NAME]
//
// --root serves another checkout's built package (an older commit, for before/after); results go
// to bench/out/hotpath-NAME.json and a table to stdout.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve, launch, openPage, ROOT } from '../tests/js/harness.mjs';
import { report } from './hotpath-workload.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const root = arg('root', ROOT);
const label = arg('label', 'current');

const server = await serve(root);
const context = await launch();
try {
  const { page, problems } = await openPage(context, `${server.url}/tests/js/page.html`);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout: 30_000 });
  // The workload comes from this tree whatever --root serves (an older checkout has none).
  const source = await readFile(new URL('./hotpath-workload.mjs', import.meta.url));
  const result = await page.evaluate(async (b64) => {
    const { run } = await import(`data:text/javascript;base64,${b64}`);
    return run(tmath);
  }, source.toString('base64'));
  if (problems.length) console.error(problems.join('\n'));
  const dir = join(ROOT, 'bench', 'out');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `hotpath-${label}.json`), JSON.stringify(result, null, 2));
  console.log(report(result, label));
} finally {
  await context.close();
  await server.close();
}
process.exit(0);
