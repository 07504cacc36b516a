// The benchmark page (www/index.html?auto=1) in headless Chromium: it runs every suite without a
// click, ends in data-state="done", every section shows numbers (and charts where it has them),
// TF.js and ORT Web ran beside tmath, and nothing was logged as an error. Saves a screenshot to
// bench/out/www-test.png. (Issue 7.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from './harness.mjs';
import { runPage, report } from '../../bench/page.mjs';

test('the benchmark page runs every suite with ?auto=1 and renders numbers', { timeout: 10 * 60_000 }, async () => {
  const out = join(ROOT, 'bench', 'out');
  await mkdir(out, { recursive: true });
  const { state, results, rendered, problems } = await runPage({ screenshotPath: join(out, 'www-test.png') });
  assert.equal(state, 'done', results.error);
  assert.deepEqual(problems, []);
  for (const id of ['adapter', 'pool', 'transfer', 'precision', 'matmul', 'seed']) {
    assert.ok(rendered[id]?.rendered, `section ${id} rendered`);
  }
  for (const id of ['pool', 'transfer', 'precision', 'matmul', 'seed']) {
    assert.ok(rendered[id].numbers >= 4, `section ${id} shows numbers: ${JSON.stringify(rendered[id])}`);
  }
  for (const id of ['pool', 'transfer', 'precision', 'matmul']) assert.ok(rendered[id].charts >= 2, `section ${id} has a chart`);
  assert.deepEqual(Object.keys(results.peers).sort(), ['ort', 'tfjs']);
  assert.ok(results.peers.tfjs.version && results.peers.ort.version, JSON.stringify(results.peers));
  const m = results.suites.matmul.rows;
  for (const row of m) {
    for (const key of ['tmathResidentGflops', 'tfjsResidentGflops', 'ortResidentGflops', 'tmathHostGflops', 'tfjsHostGflops', 'ortHostGflops']) {
      assert.ok(row[key] > 0 && Number.isFinite(row[key]), `${key} at n=${row.n}: ${row[key]}`);
    }
  }
  // The counts are exact whatever the adapter: the old way copies and allocates per op, tmath's
  // resident ops do neither.
  const seed = results.suites.seed;
  assert.deepEqual(seed.countsBefore, { copies: 3, crossings: 3, buffers: 4 });
  assert.deepEqual(seed.countsAfter, { copies: 3, crossings: 3, buffers: 0 });
  assert.deepEqual(seed.countsResident, { copies: 0, crossings: 0, buffers: 0 });
  assert.equal(seed.chain.after.buffers, 0);
  assert.ok(results.suites.pool.buffersCreated < 100, `${results.suites.pool.buffersCreated} buffers for 500 tensors`);
  const text = report(results);
  assert.match(text, /The seed's table/);
  assert.match(text, /TF\.js/);
  // The text prints the tables the page rendered, every one of them, not tables of its own.
  for (const id of ['adapter', 'pool', 'transfer', 'precision', 'matmul', 'seed']) {
    const section = results.sections[id];
    assert.ok(section?.tables.length > 0, `section ${id} recorded its tables`);
    assert.ok(text.includes(`## ${section.title}`), `the report prints ${id}`);
    assert.ok(text.includes(`| ${section.tables[0].headers.join(' | ')} |`), `the report prints ${id}'s table`);
  }
});
