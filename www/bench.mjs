// The benchmark page: the suites of www/suites.mjs run live on this browser's WebGPU adapter,
// with TensorFlow.js and ONNX Runtime Web doing the same work, rendered as tables and charts.
// Served from the repository root (it loads /js/index.js and /node_modules/ peers).
// `?auto=1` runs everything on load; <body data-state> is idle → running → done | error.
import * as tmath from '/js/index.js';
import { lineChart } from './charts.mjs';
import { runSuites } from './suites.mjs';
import { fmt } from './measure.mjs';

const $ = (id) => document.getElementById(id);
const results = { page: 'tmath www', startedAt: null, adapter: null, config: null, peers: {}, suites: {} };
window.tmathResults = results;

// ---- rendering -----------------------------------------------------------------------------

function table(headers, rows) {
  const t = document.createElement('table');
  const head = t.createTHead().insertRow();
  for (const h of headers) head.append(Object.assign(document.createElement('th'), { textContent: h }));
  const body = t.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const cell of row) tr.insertCell().textContent = typeof cell === 'number' ? fmt(cell) : cell ?? '–';
  }
  return t;
}

function section(id, title, ...nodes) {
  const s = $(id);
  s.replaceChildren(Object.assign(document.createElement('h2'), { textContent: title }), ...nodes);
  s.dataset.rendered = '1';
}

const note = (text) => Object.assign(document.createElement('p'), { className: 'note', textContent: text });
function charts(...svgs) {
  const d = document.createElement('div');
  d.className = 'charts';
  d.append(...svgs);
  return d;
}

// ---- peers ---------------------------------------------------------------------------------

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = Object.assign(document.createElement('script'), { src });
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(s);
  });
}

async function loadPeers(engine) {
  const peers = {};
  try {
    await loadScript('/node_modules/@tensorflow/tfjs-core/dist/tf-core.min.js');
    await loadScript('/node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js');
    await window.tf.setBackend('webgpu');
    await window.tf.ready();
    peers.tfjs = { tf: window.tf, version: window.tf.version_core };
  } catch (e) {
    peers.tfjs = { error: String(e) };
  }
  try {
    const ort = await import('/node_modules/onnxruntime-web/dist/ort.webgpu.min.mjs');
    ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    // ORT runs on tmath's device, the way an app sharing one GPU would set it up.
    const session = (bytes, location) => ort.InferenceSession.create(bytes, {
      executionProviders: [{ name: 'webgpu', device: engine.gpuDevice }],
      preferredOutputLocation: location,
    });
    peers.ort = { ort, session, version: ort.env.versions?.web ?? 'onnxruntime-web' };
  } catch (e) {
    peers.ort = { error: String(e) };
  }
  results.peers = Object.fromEntries(Object.entries(peers).map(([k, v]) => [k, v.error ? { error: v.error } : { version: v.version }]));
  return peers;
}

// ---- running -------------------------------------------------------------------------------

const progress = {
  done: 0, total: 1,
  start(total) { this.done = 0; this.total = total; $('progress').max = total; $('progress').value = 0; },
  tick(label) { this.done++; $('progress').value = this.done; $('status').textContent = `${label} done (${this.done}/${this.total})`; },
};

function facts(id, title, entries) {
  const dl = document.createElement('dl');
  for (const [k, v] of entries) dl.append(Object.assign(document.createElement('dt'), { textContent: k }), Object.assign(document.createElement('dd'), { textContent: v }));
  section(id, title, dl);
}

const ui = { facts, section, note, table, charts, lineChart, start: (n) => progress.start(n), tick: (label) => progress.tick(label) };

async function runAll() {
  document.body.dataset.state = 'running';
  $('run').disabled = true;
  results.startedAt = new Date().toISOString();
  try {
    await runSuites({ tmath, ui, results, runtime: navigator.userAgent, loadPeers });
    results.finishedAt = new Date().toISOString();
    $('status').textContent = `done in ${((Date.parse(results.finishedAt) - Date.parse(results.startedAt)) / 1000).toFixed(1)} s`;
    document.body.dataset.state = 'done';
  } catch (e) {
    results.error = `${e?.name ?? 'Error'}${e?.code ? ` (${e.code})` : ''}: ${e?.message ?? e}`;
    $('error').textContent = results.error;
    $('status').textContent = 'failed';
    document.body.dataset.state = 'error';
    console.error(e);
  } finally {
    $('run').disabled = false;
    $('download').disabled = false;
  }
}

$('run').addEventListener('click', runAll);
$('download').addEventListener('click', () => {
  const blob = new Blob([JSON.stringify(results, null, 2)], { type: 'application/json' });
  const a = Object.assign(document.createElement('a'), { href: URL.createObjectURL(blob), download: 'tmath-results.json' });
  a.click();
  URL.revokeObjectURL(a.href);
});
if (new URLSearchParams(location.search).get('auto') === '1') runAll();
