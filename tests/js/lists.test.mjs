// One source for every list: the error codes, the stats keys and the engine options are written
// in Rust, in the JS entry and in the TypeScript declarations. These tests read all three and fail
// when they differ, naming what one side has and the other lacks. (No GPU involved.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const read = (path) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const camel = (snake) => snake.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const all = (text, re) => [...text.matchAll(re)].map((m) => m[1]);
const sorted = (xs) => [...new Set(xs)].sort();

/** The body of `name { ... }` (a struct, an interface or a function), by brace counting. */
function block(text, head) {
  const start = text.indexOf(head);
  assert.ok(start >= 0, `${head} not found`);
  let depth = 0;
  for (let i = text.indexOf('{', start); i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  throw new Error(`${head}: unbalanced braces`);
}

const dts = read('js/index.d.ts');
const entry = read('js/index.js');
const web = read('src/web/mod.rs');
const interfaceKeys = (name) => all(block(dts, `export interface ${name} `), /^\s+(\w+)\??:/gm);

test('error codes: src/error.rs, js/index.js and js/index.d.ts list the same codes', () => {
  const rust = all(block(read('src/error.rs'), 'pub fn code(&self)'), /=> "(\w+)"/g);
  // 'Internal' exists only in JS: a Rust panic caught at the boundary (js/index.js `call`).
  const js = all(entry.slice(entry.indexOf('export const ERROR_CODES')).split(']')[0], /'(\w+)'/g);
  const ts = all(dts.slice(dts.indexOf('export type ErrorCode')).split(';')[0], /'(\w+)'/g);
  assert.deepEqual(sorted(js), sorted([...rust, 'Internal']));
  assert.deepEqual(sorted(ts), sorted(js));
});

test('pool stats: the Rust struct, the web layer and the declarations have the same keys', () => {
  const rust = all(block(read('src/pool/policy.rs'), 'pub struct PoolStats'), /pub (\w+):/g).map(camel);
  const wasm = all(block(web, 'fn pool_stats_object'), /set\(&o, "(\w+)"/g);
  assert.deepEqual(sorted(wasm), sorted(rust));
  assert.deepEqual(sorted(interfaceKeys('PoolStats')), sorted(rust));
});

test('engine counters: the Rust struct, the web layer and the declarations have the same keys', () => {
  const rust = all(block(read('src/stats.rs'), 'pub struct Counters'), /pub (\w+):/g).map(camel);
  const wasm = all(block(web, 'fn stats_object'), /set\(&o, "(\w+)"/g).filter((k) => k !== 'pool');
  assert.deepEqual(sorted(wasm), sorted(rust));
  // `pool` nests PoolStats; `leakedTensors` is the web's own (WasmEngine::stats adds it).
  const ts = interfaceKeys('Stats').filter((k) => k !== 'pool' && k !== 'leakedTensors');
  assert.deepEqual(sorted(ts), sorted(rust));
});

test('engine options: the web layer, js/index.js and the declarations accept the same names', () => {
  const wasm = all(web.slice(web.indexOf('const OPTIONS')).split('];')[0], /"(\w+)"/g);
  const js = all(entry.slice(entry.indexOf('const ENGINE_OPTIONS =')).split(';')[0], /'(\w+)'/g);
  assert.deepEqual(sorted(js), sorted(wasm));
  assert.deepEqual(sorted(interfaceKeys('EngineOptions')), sorted(wasm));
  // `gpu` is Engine.create's own (it never reaches wasm).
  assert.deepEqual(interfaceKeys('CreateOptions'), ['gpu']);
});

test('matmul tile shapes: MatmulTiles::ALL in Rust is the MatmulTiles type of the declarations', () => {
  const kernel = read('src/kernels/matmul.rs');
  const body = kernel.slice(kernel.indexOf('pub const ALL')).split('];')[0];
  const rust = [...body.matchAll(/MatmulTiles::new\((\d+), (\d+), (\d+)\)/g)].map((m) => `${m[1]}x${m[2]}x${m[3]}`);
  assert.ok(rust.length >= 3, body);
  // The subgroup kernels: `rows` per invocation, 4 columns, 32 deep.
  rust.push(...[...body.matchAll(/MatmulTiles::subgroup\((\d+)\)/g)].map((m) => `${m[1]}x4x32-sg`));
  const line = dts.slice(dts.indexOf('export type MatmulTiles')).split(';')[0];
  assert.deepEqual(sorted(all(line, /'(\d+x\d+x\d+(?:-sg)?)'/g)), sorted(rust));
});
