// The shared scenarios (tests/js/scenarios.mjs) in Chromium's main thread, a module worker and a
// classic worker, and in Deno (the `deno` binary from npm, on its built-in WebGPU). Node on Dawn
// runs them in dawn.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { usePage, ROOT } from './harness.mjs';
import { allOk } from './scenarios.mjs';

const fx = usePage();

test('Chromium main thread', async () => {
  const results = await fx.page.evaluate(async () => {
    const { runScenarios } = await import('/tests/js/scenarios.mjs');
    return runScenarios({ tmath, gpu: navigator.gpu });
  });
  assert.deepEqual(results, allOk());
});

async function inWorker(url, options) {
  return fx.page.evaluate(([url, options]) => new Promise((resolve, reject) => {
    const worker = new Worker(url, options);
    worker.onmessage = ({ data }) => { worker.terminate(); resolve({ ...data, out: data.out && Array.from(data.out) }); };
    worker.onerror = (e) => { worker.terminate(); reject(new Error(e.message)); };
  }), [url, options]);
}

test('a module worker: the package imported as usual, a result handed back by transfer', async () => {
  const r = await inWorker('/tests/js/worker-module.mjs', { type: 'module' });
  assert.deepEqual(r.results, allOk());
  assert.deepEqual(r.out, [2, 4, 6]);
});

test('a classic worker: the package by dynamic import()', async () => {
  const r = await inWorker('/tests/js/worker-classic.js');
  assert.deepEqual(r.results, allOk());
});

test('Deno, on its built-in WebGPU', async () => {
  const deno = join(ROOT, 'node_modules', '.bin', 'deno');
  const stdout = await new Promise((resolve, reject) => {
    execFile(deno, ['run', '--allow-read', '--allow-env', join(ROOT, 'tests', 'deno', 'scenarios.mjs')],
      { timeout: 120_000 }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)));
  });
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1)), allOk());
});
