// The page's benchmark suites (www/suites.mjs) in Node on Dawn, Chrome's WebGPU implementation
// (the npm package `webgpu`), with no browser: the same work as the page, side by side with the
// raw WebGPU calls on the same device, printed as bench/page.mjs prints the page's results.
// TensorFlow.js and ONNX Runtime Web need a browser here, so their columns stay empty.
//
//   node bench/node.mjs [--json] [--out DIR]     (needs `npm run build` first)
//
// Without a GPU, Dawn needs a Vulkan driver it accepts: Chromium's SwiftShader (it refuses
// lavapipe); this script points VK_DRIVER_FILES at it when nothing else is set and the machine
// has no GPU device node (/dev/nvidia0, /dev/dri/renderD*): Mesa installs Intel and AMD
// drivers whether or not such hardware is there, so the driver files do not tell.
// Writes DIR/node-results.json (DIR defaults to bench/out).
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
const gpuNodes = [
  ...(existsSync('/dev/nvidia0') ? ['/dev/nvidia0'] : []),
  ...(existsSync('/dev/dri') ? readdirSync('/dev/dri').filter((name) => name.startsWith('renderD')) : []),
];
if (!process.env.VK_DRIVER_FILES && gpuNodes.length === 0 && existsSync(SWIFTSHADER)) {
  process.env.VK_DRIVER_FILES = SWIFTSHADER;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { create } = await import('webgpu');
const tmath = await import('../js/index.js');
const { runSuites } = await import('../www/suites.mjs');
const { report } = await import('./report.mjs');

const args = process.argv.slice(2);
const outDir = args.includes('--out') ? args[args.indexOf('--out') + 1] : join(ROOT, 'bench', 'out');
const quiet = () => undefined;
const ui = { facts: quiet, section: quiet, note: quiet, table: quiet, charts: quiet, lineChart: quiet, tick: (label) => process.stderr.write(`  ${label}\n`) };
const results = { page: 'tmath node', runtime: `Node ${process.version}, Dawn (npm webgpu)`, startedAt: new Date().toISOString(), peers: {}, suites: {} };
const loadPeers = async () => {
  results.peers = { tfjs: { error: 'needs a browser' }, ort: { error: 'needs a browser' } };
  return { tfjs: {}, ort: {} };
};
await runSuites({ tmath, ui, results, engineOptions: { gpu: create([]) }, runtime: results.runtime, loadPeers });
results.finishedAt = new Date().toISOString();
await mkdir(outDir, { recursive: true });
await writeFile(join(outDir, 'node-results.json'), JSON.stringify(results, null, 2));
if (args.includes('--json')) console.log(JSON.stringify(results));
else console.log(report(results, 'Node on Dawn', 'node'));
process.exit(0); // Dawn's GPU object keeps Node's event loop alive
