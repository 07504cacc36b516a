// Runs the benchmark page (www/index.html?auto=1) in headless Chromium and prints its results as
// plain text: the seed's table and the comparison with TensorFlow.js and ONNX Runtime Web.
// Usage: node bench/page.mjs [--json] [--out DIR]   (needs `npm run build` first)
// Writes DIR/www-results.json and DIR/www.png (DIR defaults to bench/out).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { serve, launch, openPage, ROOT } from '../tests/js/harness.mjs';
import { report } from './report.mjs';

export { report };

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
