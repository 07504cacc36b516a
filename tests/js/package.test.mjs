// The npm package as users get it: `npm pack`, installed into (a) a plain HTML page with an
// import map and no bundler, and (b) a Vite app built with `vite build`; both run a matmul and a
// cast in headless Chromium, finding the .wasm without any path configuration.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ROOT, serve, launch, openPage } from './harness.mjs';

const APP = `
  import { Engine } from 'tmath';
  const engine = await Engine.create();
  const a = engine.toDevice(new Float32Array([1, 2, 3, 4]), [2, 2]);
  const c = engine.matmul(a, a);
  const h = engine.prepareTensor(c, 'float16');
  const bits = new Uint16Array((await h.toHost()).buffer);
  document.body.dataset.result = JSON.stringify({ matmul: Array.from(await c.toHost()), f16: Array.from(bits) });
`;
const EXPECTED = { matmul: [7, 10, 15, 22], f16: [0x4700, 0x4900, 0x4b80, 0x4d80] };

let context, tarball, work;
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tmath-package-'));
  const name = run('npm', ['pack', '--silent', '--pack-destination', work], ROOT).trim().split('\n').pop();
  tarball = join(work, name);
  context = await launch();
});

after(async () => {
  await context?.close();
});

async function install(dir) {
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  run('npm', ['install', '--no-audit', '--no-fund', '--silent', tarball], dir);
}

async function resultOf(root, path) {
  const server = await serve(root);
  try {
    const { page, problems } = await openPage(context, `${server.url}${path}`);
    await page.waitForSelector('body[data-result]', { state: 'attached', timeout: 60_000 });
    const result = JSON.parse(await page.evaluate(() => document.body.dataset.result));
    return { result, problems };
  } finally {
    await server.close();
  }
}

test('the tarball holds only what runs, with no install scripts', async () => {
  const listing = run('tar', ['-tzf', tarball], work).trim().split('\n').sort();
  assert.deepEqual(listing, [
    'package/README.md', 'package/js/index.d.ts', 'package/js/index.js', 'package/package.json',
    'package/pkg/tmath.d.ts', 'package/pkg/tmath.js', 'package/pkg/tmath_bg.wasm', 'package/pkg/tmath_bg.wasm.d.ts',
  ]);
  const manifest = JSON.parse(run('tar', ['-xzOf', tarball, 'package/package.json'], work));
  for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) assert.equal(manifest.scripts?.[hook], undefined, hook);
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.exports['.'].import, './js/index.js');
});

test('a plain HTML page with an import map, no bundler', async () => {
  const dir = join(work, 'plain');
  execFileSync('mkdir', ['-p', dir]);
  await install(dir);
  await writeFile(join(dir, 'index.html'), `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="importmap">{ "imports": { "tmath": "./node_modules/tmath/js/index.js" } }</script>
<script type="module">${APP}</script><body></body>`);
  const { result, problems } = await resultOf(dir, '/index.html');
  assert.deepEqual(result, EXPECTED);
  assert.deepEqual(problems, []);
});

test('a Vite app built with vite build', async () => {
  const dir = join(work, 'vite');
  execFileSync('mkdir', ['-p', dir]);
  await install(dir);
  await writeFile(join(dir, 'index.html'), `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module" src="/main.js"></script><body></body>`);
  await writeFile(join(dir, 'main.js'), APP);
  run(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error'], dir);
  const assets = await readdir(join(dir, 'dist/assets'));
  assert.ok(assets.some((f) => f.endsWith('.wasm')), `the .wasm is emitted as an asset: ${assets}`);
  const { result, problems } = await resultOf(join(dir, 'dist'), '/index.html');
  assert.deepEqual(result, EXPECTED);
  assert.deepEqual(problems, []);
});
