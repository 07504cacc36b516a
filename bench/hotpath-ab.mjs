// Two builds in one page of headless Chromium, interleaved round by round: pool get+put of 1 MiB
// (with createBuffer + destroy as the raw reference) and a chain of 1,000 `add(x, 1)` on 4,096
// floats, 15 rounds each, medians. Where the two builds run in separate pages (bench/hotpath.mjs
// with --root), the machine's drift between pages is as large as the differences measured.
//
//   node bench/hotpath-ab.mjs --before bench/out/before [--swap]
//
// --before: a directory under this checkout holding the other build's js/ and pkg/ (for
// example `git worktree add /tmp/b REV`, build it, copy its js/ and pkg/ there). --swap runs
// the current build first in each round. Results go to bench/out/hotpath-ab.json.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { serve, launch, openPage, ROOT } from '../tests/js/harness.mjs';

const arg = (name) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const before = arg('before');
if (!before) throw new Error('--before DIR (a directory under this checkout with js/ and pkg/)');
const beforeUrl = `/${relative(ROOT, resolve(before)).split('\\').join('/')}/js/index.js`;
const swap = process.argv.includes('--swap');
const server = await serve();
const context = await launch();
try {
  const { page } = await openPage(context, `${server.url}/tests/js/page.html`);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout: 30_000 });
  const result = await page.evaluate(async ([beforeUrl, swap]) => {
    const builds = { before: await import(beforeUrl), after: await import('/js/index.js') };
    const engines = { before: await builds.before.Engine.create(), after: await builds.after.Engine.create() };
    const device = engines.after.gpuDevice;
    const order = swap ? ['after', 'before'] : ['before', 'after'];
    const tick = () => new Promise((res) => setTimeout(res, 0));
    const getPut = (e) => {
      const t = performance.now();
      for (let i = 0; i < 20000; i++) e.pool.put(e.pool.get([262144]));
      return (performance.now() - t) / 20000 * 1000;
    };
    const createDestroy = () => {
      const t = performance.now();
      for (let i = 0; i < 20000; i++) device.createBuffer({ size: 1 << 20, usage: 0x80 | 0x4 | 0x8 }).destroy();
      return (performance.now() - t) / 20000 * 1000;
    };
    const chain = (e) => {
      let x = e.toDevice(new Float32Array(4096), [4096]);
      const t = performance.now();
      for (let i = 0; i < 1000; i++) { const y = e.add(x, 1); x.dispose(); x = y; }
      const us = (performance.now() - t);
      x.dispose();
      return us;
    };
    const samples = { getPut: { before: [], after: [] }, chain: { before: [], after: [] }, createDestroy: [] };
    for (let round = 0; round < 15; round++) {
      for (const b of order) { samples.getPut[b].push(getPut(engines[b])); await tick(); }
      samples.createDestroy.push(createDestroy()); await tick();
      for (const b of order) { samples.chain[b].push(chain(engines[b])); await tick(); }
    }
    const med = (xs) => xs.slice().sort((p, q) => p - q)[xs.length >> 1];
    return {
      order,
      getPutUs: { before: med(samples.getPut.before), after: med(samples.getPut.after) },
      createDestroyUs: med(samples.createDestroy),
      chainUsPerOp: { before: med(samples.chain.before), after: med(samples.chain.after) },
    };
  }, [beforeUrl, swap]);
  await mkdir(join(ROOT, 'bench', 'out'), { recursive: true });
  await writeFile(join(ROOT, 'bench', 'out', 'hotpath-ab.json'), JSON.stringify(result, null, 2));
  const f = (x) => x.toFixed(2);
  console.log(`pool get+put 1 MiB, us: before ${f(result.getPutUs.before)}, after ${f(result.getPutUs.after)}, createBuffer+destroy ${f(result.createDestroyUs)}; ` +
    `chain of 1000 add on 4096 floats, us/op: before ${f(result.chainUsPerOp.before)}, after ${f(result.chainUsPerOp.after)} (${result.order.join(' first, ')} second)`);
} finally {
  await context.close();
  await server.close();
}
process.exit(0);
