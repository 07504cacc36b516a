// Raw WebGPU only, in Node on Dawn: a file streamed to the GPU in 1 MiB pieces made as they are
// read, by `writeBuffer` calls (unpaced; paced as tmath's Pacer did: every STEP bytes an empty
// submit and a work-done promise, awaiting the one DEPTH steps back; and yielding to the event
// loop each step) and by a ring of mapped staging buffers (MAP_WRITE, each copied to the target
// when full and mapped again). Seconds, rss peak above the start, time spent awaiting; one JSON
// line per load, two rounds. What moved streamed uploads to mapped staging (bench/RESULTS.md).
//
//   VK_DRIVER_FILES=/usr/lib/chromium/vk_swiftshader_icd.json node [--expose-gc] bench/pace-dawn.mjs [MiB]
import { create } from 'webgpu';
const MiB = Number(process.argv[2] ?? 1024);
const gpu = create([]);
const adapter = await gpu.requestAdapter();
const device = await adapter.requestDevice({ requiredLimits: { maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize } });
const piece = 1 << 20;
const pattern = new Uint8Array(piece + 251).map((_, i) => i % 251);
async function* source(total) {
  for (let at = 0; at < total; at += piece) yield pattern.slice(at % 251, at % 251 + Math.min(piece, total - at));
}
const rss = () => process.memoryUsage().rss;
const immediate = () => new Promise((r) => setImmediate(r));

// Pacers: wrote(n) after each piece's writeBuffer. `atStep(pending)` runs every `step` bytes,
// after the step's empty submit and work-done promise went onto `pending`.
const paced = (step, atStep) => {
  let bytes = 0; const pending = [];
  return { stats: { waits: 0, unsettled: 0, waitMs: 0 }, async wrote(n) {
    bytes += n; if (bytes < step) return; bytes = 0;
    device.queue.submit([]);
    const p = device.queue.onSubmittedWorkDone(); const rec = { p, done: false }; p.then(() => { rec.done = true; });
    pending.push(rec);
    await atStep.call(this, pending);
  } };
};
const pacers = {
  none: () => ({ async wrote() {} }),
  // What tmath did before its uploads went through mapped staging (a Pacer in js/index.js).
  current: (step = 8 << 20, depth = 4) => paced(step, async function (pending) {
    if (pending.length > depth) {
      const r = pending.shift(); this.stats.waits++; if (!r.done) this.stats.unsettled++;
      const t = performance.now(); await r.p; this.stats.waitMs += performance.now() - t;
    }
  }),
  // Yield to the event loop (Dawn's tick) each step; block only if the old promise has not settled.
  yielding: (step = 8 << 20, depth = 4) => paced(step, async function (pending) {
    const t = performance.now();
    await immediate();
    while (pending.length && pending[0].done) pending.shift();
    if (pending.length > depth) { this.stats.waits++; this.stats.unsettled++; await pending.shift().p; }
    this.stats.waitMs += performance.now() - t;
  }),
};

// Not writeBuffer: a ring of mapped staging buffers (MAP_WRITE), each copied to the target when
// full and mapped again; the pieces are copied into the mapped range.
async function loadRing(name, stagingBytes, count) {
  const buffers = [];
  await device.queue.onSubmittedWorkDone();
  const before = rss(); let peak = before;
  const t0 = performance.now();
  const ring = [];
  for (let i = 0; i < count; i++) ring.push({ buf: device.createBuffer({ size: stagingBytes, usage: 0x2 | 0x4, mappedAtCreation: true }), ready: null });
  let cur = 0; let view = new Uint8Array(ring[0].buf.getMappedRange()); let fill = 0;
  let dst = null; let dstOff = 0; const size = 64 << 20;
  let waitMs = 0;
  const flush = async () => {
    const r = ring[cur];
    r.buf.unmap();
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(r.buf, 0, dst, dstOff, fill);
    device.queue.submit([enc.finish()]);
    dstOff += fill;
    r.ready = r.buf.mapAsync(2);
    cur = (cur + 1) % count;
    const n = ring[cur];
    if (n.ready) { const t = performance.now(); await n.ready; waitMs += performance.now() - t; }
    view = new Uint8Array(n.buf.getMappedRange()); fill = 0;
  };
  for await (const chunk of source(MiB << 20)) {
    if (dst === null || dstOff === size) { dst = device.createBuffer({ size, usage: 0x80 | 0x8 }); buffers.push(dst); dstOff = 0; }
    view.set(chunk, fill); fill += chunk.length;
    peak = Math.max(peak, rss());
    if (fill === stagingBytes || dstOff + fill === size) await flush();
  }
  if (fill > 0) await flush();
  await device.queue.onSubmittedWorkDone();
  const s = (performance.now() - t0) / 1e3;
  await immediate(); await immediate();
  const s2 = (performance.now() - t0) / 1e3;
  buffers.forEach((b) => b.destroy()); ring.forEach((r) => r.buf.destroy());
  console.log(JSON.stringify({ name, s: +s.toFixed(3), sPlusTicks: +s2.toFixed(3), peakMiB: +((peak - before) / 2 ** 20).toFixed(1), waitMs: +waitMs.toFixed(1) }));
}

async function load(name, make) {
  const buffers = [];
  const pacer = make();
  await device.queue.onSubmittedWorkDone();
  global.gc?.();
  const before = rss(); let peak = before;
  const t0 = performance.now();
  let buf = null; let off = 0; const size = 64 << 20;
  for await (const chunk of source(MiB << 20)) {
    if (buf === null || off === size) { buf = device.createBuffer({ size, usage: 0x80 | 0x8 }); buffers.push(buf); off = 0; }
    device.queue.writeBuffer(buf, off, chunk, 0, chunk.length); off += chunk.length;
    peak = Math.max(peak, rss());
    await pacer.wrote(chunk.length);
  }
  await device.queue.onSubmittedWorkDone();
  const s = (performance.now() - t0) / 1e3;
  await immediate(); await immediate();
  const s2 = (performance.now() - t0) / 1e3;
  buffers.forEach((b) => b.destroy());
  console.log(JSON.stringify({ name, s: +s.toFixed(3), sPlusTicks: +s2.toFixed(3), peakMiB: +((peak - before) / 2 ** 20).toFixed(1), ...(pacer.stats ?? {}) }));
}

const variants = [
  ['none', pacers.none],
  ['current 8x4', () => pacers.current()],
  ['yielding 8x4', () => pacers.yielding()],
  ['current 8x16', () => pacers.current(8 << 20, 16)],
  ['yielding 4x8', () => pacers.yielding(4 << 20, 8)],
  ['current 32x2', () => pacers.current(32 << 20, 2)],
];
for (let round = 0; round < 2; round++) {
  for (const [n, m] of variants) await load(n, m);
  await loadRing('ring 8x4', 8 << 20, 4);
  await loadRing('ring 16x4', 16 << 20, 4);
  await loadRing('ring 4x4', 4 << 20, 4);
}
process.exit(0);
