// Phases of a host-in/host-out 64x64 matmul in Node on Dawn (upload, record, read back, dispose)
// and a readback of a resident tensor, next to the raw copy + map + read: where tmath's time goes.
//   VK_DRIVER_FILES=/usr/lib/chromium/vk_swiftshader_icd.json node bench/hostio.mjs   (no GPU here)
import { create } from 'webgpu';
const tmath = await import('../js/index.js');
const engine = await tmath.Engine.create({ gpu: create([]) });
const n = 64;
const a = Float32Array.from({ length: n * n }, (_, i) => (i % 7) / 7);
const ph = { upload: [], matmul: [], issue: [], wait: [], dispose: [], total: [] };
const med = (xs) => xs.slice().sort((p, q) => p - q)[xs.length >> 1];
for (let i = 0; i < 400; i++) {
  const t0 = performance.now();
  const x = engine.toDevice(a, [n, n]); const w = engine.toDevice(a, [n, n]);
  const t1 = performance.now();
  const c = engine.matmul(x, w);
  const t2 = performance.now();
  const p = c.toHost();
  const t3 = performance.now();
  await p;
  const t4 = performance.now();
  x.dispose(); w.dispose(); c.dispose();
  const t5 = performance.now();
  if (i >= 50) { ph.upload.push(t1 - t0); ph.matmul.push(t2 - t1); ph.issue.push(t3 - t2); ph.wait.push(t4 - t3); ph.dispose.push(t5 - t4); ph.total.push(t5 - t0); }
}
for (const k in ph) console.log(k.padEnd(8), (med(ph[k]) * 1000).toFixed(1), 'us');
// Only the wait: a resident tensor read back again and again.
const c = engine.matmul(engine.toDevice(a, [n, n]), engine.toDevice(a, [n, n]));
const rd = [];
for (let i = 0; i < 300; i++) { const t0 = performance.now(); await c.toHost(); rd.push(performance.now() - t0); }
console.log('toHost of a resident 16 KiB tensor', (med(rd.slice(50)) * 1000).toFixed(1), 'us');
const device = engine.gpuDevice;
const rb = device.createBuffer({ size: n * n * 4, usage: 0x1 | 0x8 });
const src = device.createBuffer({ size: n * n * 4, usage: 0x80 | 0x4 });
const rr = [];
for (let i = 0; i < 300; i++) {
  const t0 = performance.now();
  const enc = device.createCommandEncoder(); enc.copyBufferToBuffer(src, 0, rb, 0, n * n * 4); device.queue.submit([enc.finish()]);
  await rb.mapAsync(1); new Float32Array(rb.getMappedRange()).slice(); rb.unmap();
  rr.push(performance.now() - t0);
}
console.log('raw copy+map+read 16 KiB', (med(rr.slice(50)) * 1000).toFixed(1), 'us');
process.exit(0);
