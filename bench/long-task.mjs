// Tensors made and disposed in one long task, in Node on Dawn: pool get+put of 1 MiB and a
// chain of `add(x, 1)` on 4,096 floats (each previous tensor disposed), in rounds of 50,000
// with no await between them, µs per call per round. Before JS freed a disposed tensor's wasm
// half at once, each waited for a finalizer that only runs between tasks, and the calls slowed
// down as they piled up.
//   VK_DRIVER_FILES=/usr/lib/chromium/vk_swiftshader_icd.json node bench/long-task.mjs [--root DIR]
// --root: another build's checkout (its js/ and pkg/); default: this one.
import { create } from 'webgpu';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const i = process.argv.indexOf('--root');
const root = resolve(i > 0 ? process.argv[i + 1] : new URL('..', import.meta.url).pathname);
const tmath = await import(pathToFileURL(join(root, 'js', 'index.js')).href);
const engine = await tmath.Engine.create({ gpu: create([]) });
const n = 50_000;
const time = (f) => { const t = performance.now(); f(); return (performance.now() - t) * 1000 / n; };
const getPut = [];
for (let r = 0; r < 8; r++) getPut.push(time(() => { for (let k = 0; k < n; k++) engine.pool.put(engine.pool.get([262144])); }));
const chain = [];
let x = engine.pool.zeros([4096]);
for (let r = 0; r < 8; r++) chain.push(time(() => { for (let k = 0; k < n; k++) { const y = engine.add(x, 1); x.dispose(); x = y; } }));
const last = (await x.toHost())[0];
if (last !== 8 * n) throw new Error(`chain value ${last}, expected ${8 * n}`);
const f = (v) => v.map((u) => u.toFixed(2)).join(' ');
console.log(JSON.stringify({ root, getPutUs: getPut, chainUs: chain }));
console.log(`pool get+put of 1 MiB, us per call, rounds of ${n}: ${f(getPut)}`);
console.log(`chain of add on 4,096 floats, us per op, rounds of ${n}: ${f(chain)}`);
process.exit(0);
