// The package in Node on Dawn, Chrome's WebGPU implementation (the npm package `webgpu`), imported
// as a user would: no globals set, the .wasm read from disk. Runs the shared scenarios
// (tests/js/scenarios.mjs: router counts, precision bits, ops, bad input, device loss,
// Engine.fromDevice). Without a GPU, Dawn needs a Vulkan driver it accepts: Chromium's
// SwiftShader (it refuses lavapipe); no adapter is a failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER)) process.env.VK_DRIVER_FILES = SWIFTSHADER;

const { create } = await import('webgpu');
const tmath = await import('../../js/index.js');
const { runScenarios, allOk } = await import('./scenarios.mjs');

test('Node has none of the browser globals tmath could lean on', () => {
  assert.equal(typeof globalThis.Window, 'undefined');
  assert.equal(typeof globalThis.GPUBuffer, 'undefined');
  assert.equal(globalThis.navigator?.gpu, undefined);
});

test('Engine.create() without { gpu } in Node says how to get one', async () => {
  await assert.rejects(tmath.Engine.create(), (e) => e.code === 'NoAdapter' && /create\(\[\]\)/.test(e.message));
});

test('the shared scenarios on Dawn', async () => {
  const gpu = create([]);
  const engine = await tmath.Engine.create({ gpu });
  const info = engine.adapterInfo;
  engine.dispose();
  assert.ok(info.name.length > 0, 'an adapter with a name');
  const results = await runScenarios({ tmath, gpu });
  assert.deepEqual(results, allOk());
  // The globals wgpu needed while it made its instance are gone again.
  assert.equal(typeof globalThis.Window, 'undefined');
  assert.equal(globalThis.navigator?.gpu, undefined);
});
