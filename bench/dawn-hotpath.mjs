// The hot-path workload (bench/hotpath-workload.mjs) in Node on Dawn, Chrome's WebGPU
// implementation (the npm package `webgpu`), side by side with raw WebGPU on the same device.
//
//   VK_DRIVER_FILES=/usr/lib/chromium/vk_swiftshader_icd.json node bench/dawn-hotpath.mjs [--label NAME] [--root DIR]
//
// Without a GPU, Dawn needs a Vulkan driver it accepts: Chromium's SwiftShader (it refuses
// lavapipe). This checkout loads in Node by itself (`Engine.create({ gpu })`, the .wasm read from
// disk); an older one given by --root predates that, so for it the script does what a user had
// to: it gives wgpu the browser globals it looks for (`Window`, `navigator.gpu`) and instantiates
// the .wasm before the package's entry runs. Results go to bench/out/dawn-hotpath-NAME.json.
import { create, globals } from 'webgpu';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { run, report } from './hotpath-workload.mjs';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const root = resolve(arg('root', ROOT));
const label = arg('label', 'current');
const gpu = create([]);

let options = { gpu };
if (root !== resolve(ROOT)) {
  Object.assign(globalThis, globals);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
  globalThis.Window ??= class Window {}; // wgpu's web backend asks the global for `Window`
  const glue = await import(pathToFileURL(join(root, 'pkg', 'tmath.js')).href);
  await glue.default({ module_or_path: await readFile(join(root, 'pkg', 'tmath_bg.wasm')) });
  options = {};
}
const tmath = await import(pathToFileURL(join(root, 'js', 'index.js')).href);

const result = await run(tmath, options);
const dir = join(ROOT, 'bench', 'out');
await mkdir(dir, { recursive: true });
await writeFile(join(dir, `dawn-hotpath-${label}.json`), JSON.stringify(result, null, 2));
console.log(report(result, `${label}, Dawn in Node`));
process.exit(0); // the GPU object keeps Node's event loop alive
