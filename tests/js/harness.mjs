// Shared by the JS-level tests: serve the repository on 127.0.0.1, drive Debian's Chromium with
// WebGPU (SwiftShader) through playwright-core, and load the built package in a page without a
// bundler. Nothing here downloads a browser.
import { createServer } from 'node:http';
import { readFile, mkdtemp } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { before, after } from 'node:test';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript',
  '.wasm': 'application/wasm', '.json': 'application/json', '.css': 'text/css',
  '.onnx': 'application/octet-stream', '.png': 'image/png',
};

export async function serve(root = ROOT) {
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (path.includes('..')) { res.writeHead(403).end(); return; }
    try {
      const file = path.endsWith('/') ? path + 'index.html' : path;
      const body = await readFile(join(root, file));
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  // Chromium keeps idle keep-alive connections open: close them, or close() waits for them.
  const close = () => new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); });
  return { url: `http://127.0.0.1:${server.address().port}`, close };
}

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-quic',
];

export async function launch(extraArgs = []) {
  const userDataDir = await mkdtemp(join(tmpdir(), 'tmath-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
  return context;
}

/** A page at `path` of the server, with console errors and page errors collected. */
export async function openPage(context, url) {
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  await page.goto(url);
  return { page, problems };
}

/**
 * Registers `before`/`after` hooks that serve the repository, launch Chromium and open the test
 * page with the package loaded; returns a fixture whose `page` and `problems` are set once the
 * hooks ran. `setup` runs in the page after it is ready.
 */
export function usePage({ args = [], setup } = {}) {
  const fixture = { page: undefined, problems: undefined };
  let server, context;
  before(async () => {
    server = await serve();
    context = await launch(args);
    Object.assign(fixture, await openPage(context, `${server.url}/tests/js/page.html`));
    await fixture.page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout: 30_000 });
    if (setup) await fixture.page.evaluate(setup);
  });
  after(async () => {
    await context?.close();
    await server?.close();
  });
  return fixture;
}
