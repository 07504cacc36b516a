// Bounded transfers (bench/bounded-workload.mjs) in Node on Dawn, or with --chromium in headless
// Chromium's WebGPU; results to bench/out/bounded-{dawn,chromium}.json and a table to stdout.
//
//   VK_DRIVER_FILES=/usr/lib/chromium/vk_swiftshader_icd.json node bench/bounded.mjs [--chromium] [--file-mib N] [--sizes 1,4,16] [--root DIR] [--label NAME]
//
// --root: on Dawn, another build's checkout (its js/ and pkg/) to measure instead of this one;
// --label: the results file's name (default: dawn or chromium).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { run, report } from './bounded-workload.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const ROOT = new URL('..', import.meta.url).pathname;
const settings = {
  fileMiB: Number(arg('file-mib', 1024)),
  sizesMiB: arg('sizes', '1,4,16,64,256').split(',').map(Number),
};
const chromium = process.argv.includes('--chromium');
let result;
if (chromium) {
  const { serve, launch, openPage } = await import('../tests/js/harness.mjs');
  const server = await serve(ROOT);
  // Precise figures for performance.memory (coarse buckets without it).
  const context = await launch(['--enable-precise-memory-info']);
  try {
    const { page } = await openPage(context, `${server.url}/tests/js/page.html`);
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout: 30_000 });
    const source = await readFile(new URL('./bounded-workload.mjs', import.meta.url));
    result = await page.evaluate(async ([b64, s]) => {
      const { run } = await import(`data:text/javascript;base64,${b64}`);
      return run(tmath, {}, { ...s, memory: () => performance.memory?.usedJSHeapSize ?? 0, deviceInMemory: false });
    }, [source.toString('base64'), settings]);
  } finally {
    await context.close();
    await server.close();
  }
} else {
  const { create } = await import('webgpu');
  const root = resolve(arg('root', ROOT));
  const tmath = await import(pathToFileURL(join(root, 'js', 'index.js')).href);
  result = await run(tmath, { gpu: create([]) }, { ...settings, memory: () => process.memoryUsage().rss, deviceInMemory: true });
}
const label = arg('label', chromium ? 'chromium' : 'dawn');
await mkdir(join(ROOT, 'bench', 'out'), { recursive: true });
await writeFile(join(ROOT, 'bench', 'out', `bounded-${label}.json`), JSON.stringify(result, null, 2));
console.log(report(result, chromium ? 'headless Chromium' : 'Dawn in Node'));
process.exit(0);
