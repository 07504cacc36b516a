// The benchmark suites of the page (www/index.html) and of `node bench/node.mjs` (Node on Dawn):
// the seed's validation suite (memory profile, transfer timing, end to end) with the raw WebGPU
// calls, TensorFlow.js and ONNX Runtime Web doing the same work where the runtime has them.
// Nothing here touches the DOM: results go to `results`, and what to show goes to `ui`
// (the page renders it; Node ignores it and prints `results` as text, as bench/page.mjs does
// for the page).

import { matmulModel } from './onnx.mjs';
import { time, gbps, fmt, size, rng, randomMatrix, recording } from './measure.mjs';

// WebGPU's constants, written out: Node on Dawn has no GPUBufferUsage or GPUMapMode global.
const GPUBufferUsage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, STORAGE: 0x80 };
const GPUMapMode = { READ: 0x1 };

let env; // { tmath, engineOptions, runtime }
let ui; // { facts, section, note, table, charts, lineChart, tick }
let results;

// ---- suites --------------------------------------------------------------------------------

export function adapterSuite(engine) {
  const a = engine.adapterInfo;
  results.adapter = a;
  ui.facts('adapter', 'Adapter', [
    ['name', a.name || '(not exposed)'],
    ['vendor / architecture', `${a.vendor || '?'} / ${a.architecture || '?'}`],
    ['backend, device type', `${a.backend}, ${a.deviceType}`],
    ['features', Object.entries(a.features).map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', ')],
    ['limits', Object.entries(a.limits).map(([k, v]) => `${k} ${size(v)}`).join(', ')],
    ['runtime', env.runtime],
  ]);
}

export async function poolSuite(cfg) {
  const engine = await env.tmath.Engine.create(env.engineOptions);
  const device = engine.gpuDevice;
  // The seed's workload: 500 tensors of 4 KiB–1 MiB, at most 16 alive, taken and returned at random.
  const r = rng(1);
  const steps = [];
  let live = 0, taken = 0;
  while (taken < 500 || live > 0) {
    if (taken < 500 && live < 16 && (live === 0 || r(100) < 55)) { steps.push(['take', 1024 + r(255 * 1024)]); taken++; live++; }
    else { steps.push(['return', r(live)]); live--; }
  }
  const held = [], liveBytes = [];
  const tensors = [];
  let bytesLive = 0;
  const t0 = performance.now();
  for (const [op, arg] of steps) {
    if (op === 'take') { tensors.push(engine.pool.get([arg])); bytesLive += arg * 4; }
    else { const [t] = tensors.splice(arg, 1); bytesLive -= t.byteLength; engine.pool.put(t); }
    const s = engine.pool.stats();
    held.push(s.bytesInUse + s.bytesCached);
    liveBytes.push(bytesLive);
  }
  const poolMs = performance.now() - t0;
  const stats = engine.pool.stats();
  const buffers = [];
  const t1 = performance.now();
  for (const [op, arg] of steps) {
    if (op === 'take') buffers.push(device.createBuffer({ size: arg * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST }));
    else buffers.splice(arg, 1)[0].destroy();
  }
  const rawMs = performance.now() - t1;
  // One size, many times: a pool hit against a new buffer.
  const n = cfg.poolCycles;
  const t2 = performance.now();
  for (let i = 0; i < n; i++) engine.pool.put(engine.pool.get([16384]));
  const hitUs = ((performance.now() - t2) / n) * 1000;
  const t3 = performance.now();
  for (let i = 0; i < n; i++) device.createBuffer({ size: 65536, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST }).destroy();
  const createUs = ((performance.now() - t3) / n) * 1000;
  engine.dispose();
  const out = {
    tensors: 500, buffersCreated: stats.buffersCreated, hitRate: stats.hits / (stats.hits + stats.misses),
    peakBytesHeld: Math.max(...held), peakBytesLive: Math.max(...liveBytes),
    workloadMs: poolMs, workloadMsRaw: rawMs, hitUs, createDestroyUs: createUs,
    heldOverTime: held.filter((_, i) => i % 4 === 0), liveOverTime: liveBytes.filter((_, i) => i % 4 === 0),
  };
  results.suites.pool = out;
  ui.section('pool', 'Pool',
    ui.note('The seed\'s TensorPool workload: 500 tensors of 4 KiB–1 MiB, at most 16 alive, taken and returned in random order; then one size taken and returned many times.'),
    ui.table(['', 'tmath pool', 'raw createBuffer / destroy'], [
      ['buffers created for 500 tensors', out.buffersCreated, 500],
      ['hit rate', out.hitRate, 0],
      ['workload time (ms)', out.workloadMs, out.workloadMsRaw],
      ['µs per get+put vs create+destroy (64 KiB)', out.hitUs, out.createDestroyUs],
      ['peak bytes held (MiB) vs peak live', out.peakBytesHeld / 2 ** 20, out.peakBytesLive / 2 ** 20],
    ]),
    ui.charts(ui.lineChart([
      { name: 'pool: in use + idle', points: out.heldOverTime.map((b, i) => [i * 4, b / 2 ** 20]) },
      { name: 'live tensors', points: out.liveOverTime.map((b, i) => [i * 4, b / 2 ** 20]), dashed: true },
    ], { title: 'Bytes held over the workload', xLabel: 'step', yLabel: 'MiB' })));
}

export async function transferSuite(engine, peers, cfg) {
  const device = engine.gpuDevice;
  const U = GPUBufferUsage;
  const sync = () => engine.synchronize();
  const rows = [];
  for (const bytes of cfg.transferSizes) {
    const n = bytes / 4;
    const data = new Float32Array(n).fill(1.5);
    const reps = Math.max(2, Math.min(32, Math.round(cfg.transferBytesPerSample / bytes)));
    const per = (ms) => ms / reps;
    const src = device.createBuffer({ size: bytes, usage: U.STORAGE | U.COPY_SRC | U.COPY_DST });
    device.queue.writeBuffer(src, 0, data);
    const dst = device.createBuffer({ size: bytes, usage: U.STORAGE | U.COPY_SRC | U.COPY_DST });
    const staging = device.createBuffer({ size: bytes, usage: U.MAP_READ | U.COPY_DST });
    const row = { bytes };
    row.uploadTmath = per(await time(async () => { for (let i = 0; i < reps; i++) engine.toDevice(data).dispose(); await sync(); }));
    row.uploadRaw = per(await time(async () => { for (let i = 0; i < reps; i++) device.queue.writeBuffer(dst, 0, data); await device.queue.onSubmittedWorkDone(); }));
    row.uploadRawNew = per(await time(async () => {
      for (let i = 0; i < reps; i++) { const b = device.createBuffer({ size: bytes, usage: U.STORAGE | U.COPY_DST }); device.queue.writeBuffer(b, 0, data); b.destroy(); }
      await device.queue.onSubmittedWorkDone();
    }));
    row.copyTmath = per(await time(async () => { for (let i = 0; i < reps; i++) engine.toDevice(src, [n], { dtype: 'float32' }).dispose(); await sync(); }));
    row.copyRaw = per(await time(async () => {
      for (let i = 0; i < reps; i++) { const e = device.createCommandEncoder(); e.copyBufferToBuffer(src, 0, dst, 0, bytes); device.queue.submit([e.finish()]); }
      await device.queue.onSubmittedWorkDone();
    }));
    const resident = engine.toDevice(data);
    const readReps = Math.max(1, Math.round(reps / 2));
    row.readTmath = (await time(async () => { for (let i = 0; i < readReps; i++) await resident.toHost(); })) / readReps;
    row.readRaw = (await time(async () => {
      for (let i = 0; i < readReps; i++) {
        const e = device.createCommandEncoder(); e.copyBufferToBuffer(src, 0, staging, 0, bytes); device.queue.submit([e.finish()]);
        await staging.mapAsync(GPUMapMode.READ); new Float32Array(staging.getMappedRange().slice(0)); staging.unmap();
      }
    })) / readReps;
    resident.dispose();
    // A round trip through a GPU op (×2): TF.js keeps uploaded values on the CPU until a kernel
    // needs them, so a bare tensor → data() would never touch the GPU.
    row.roundTmath = await time(async () => { const t = engine.toDevice(data); const u = engine.mul(t, 2); await u.toHost(); t.dispose(); u.dispose(); });
    if (peers.tfjs.tf) {
      const tf = peers.tfjs.tf;
      row.roundTfjs = await time(async () => { const t = tf.tensor1d(data); const u = tf.mul(t, 2); await u.data(); t.dispose(); u.dispose(); });
    }
    [src, dst, staging].forEach((b) => b.destroy());
    rows.push(row);
    ui.tick(`transfers ${size(bytes)}`);
  }
  results.suites.transfer = { rows };
  const bw = (key) => rows.map((r) => [r.bytes, gbps(r.bytes, r[key])]);
  ui.section('transfer', 'Transfers',
    ui.note('GB/s per route and size (median of 5 samples, each several transfers then a GPU sync). "raw" is the WebGPU call doing the same copy into a buffer that already exists (the floor); "raw, new buffer" creates one per call, as code without a pool does. Round trip: upload, ×2 on the GPU, read back, against TensorFlow.js doing the same (tf.tensor → tf.mul → data()).'),
    ui.table(['size', 'upload tmath', 'upload raw', 'upload raw, new buffer', 'GPU copy tmath', 'GPU copy raw', 'readback tmath', 'readback raw', 'round trip tmath (ms)', 'round trip TF.js (ms)'],
      rows.map((r) => [size(r.bytes), gbps(r.bytes, r.uploadTmath), gbps(r.bytes, r.uploadRaw), gbps(r.bytes, r.uploadRawNew), gbps(r.bytes, r.copyTmath), gbps(r.bytes, r.copyRaw), gbps(r.bytes, r.readTmath), gbps(r.bytes, r.readRaw), r.roundTmath, r.roundTfjs]))
    , ui.charts(ui.lineChart([
      { name: 'upload tmath', points: bw('uploadTmath') },
      { name: 'upload raw', points: bw('uploadRaw'), dashed: true },
      { name: 'GPU copy tmath', points: bw('copyTmath') },
      { name: 'GPU copy raw', points: bw('copyRaw'), dashed: true },
      { name: 'readback tmath', points: bw('readTmath') },
      { name: 'readback raw', points: bw('readRaw'), dashed: true },
    ], { title: 'Bandwidth vs size', xLabel: 'bytes', yLabel: 'GB/s', logX: true, logY: true })));
}

export async function precisionSuite(engine, peers, cfg) {
  const rows = [];
  const sync = () => engine.synchronize();
  for (const n of cfg.castSizes) {
    const x = engine.toDevice(randomMatrix(n, 3));
    const reps = Math.max(2, Math.min(16, Math.round(cfg.transferBytesPerSample / (n * 4))));
    const row = { elements: n };
    row.copyMs = (await time(async () => { for (let i = 0; i < reps; i++) engine.copy(x).dispose(); await sync(); })) / reps;
    row.castF16Ms = (await time(async () => { for (let i = 0; i < reps; i++) engine.cast(x, 'float16').dispose(); await sync(); })) / reps;
    row.castBf16Ms = (await time(async () => { for (let i = 0; i < reps; i++) engine.cast(x, 'bfloat16').dispose(); await sync(); })) / reps;
    row.castI32Ms = (await time(async () => { for (let i = 0; i < reps; i++) engine.cast(x, 'int32').dispose(); await sync(); })) / reps;
    if (peers.tfjs.tf) {
      const tf = peers.tfjs.tf;
      const tx = tf.tensor1d(randomMatrix(n, 3));
      row.tfjsCastI32Ms = (await time(async () => { let y; for (let i = 0; i < reps; i++) { y?.dispose(); y = tf.cast(tx, 'int32'); } await y.data(); y.dispose(); })) / reps;
      row.tmathCastI32ReadMs = (await time(async () => { let y; for (let i = 0; i < reps; i++) { y?.dispose(); y = engine.cast(x, 'int32'); } await y.toHost(); y.dispose(); })) / reps;
      tx.dispose();
    }
    const host = randomMatrix(n, 4);
    row.uploadF16HostMs = await time(async () => { engine.toDevice(host, [n], { dtype: 'float16' }).dispose(); await sync(); });
    row.uploadF16GpuMs = await time(async () => { const t = engine.toDevice(host); engine.cast(t, 'float16').dispose(); t.dispose(); await sync(); });
    x.dispose();
    rows.push(row);
    ui.tick(`precision ${n} elements`);
  }
  const x = engine.toDevice(new Float32Array(16));
  const calls = cfg.identityCalls;
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) engine.prepareTensor(x);
  const identityNs = ((performance.now() - t0) / calls) * 1e6;
  x.dispose();
  results.suites.precision = { rows, identityNs };
  ui.section('precision', 'Precision',
    ui.note(`Casts on the GPU against a same-size copy (throughput as a share of the copy's), a float16 upload converted on the host against one cast on the GPU, and a cast read back against TensorFlow.js's tf.cast (int32: TF.js has no float16 tensors). prepareTensor on a tensor already in the engine's precision returns it as is: ${identityNs.toFixed(0)} ns per call.`),
    ui.table(['elements', 'copy (ms)', '→f16 (ms)', '→bf16 (ms)', '→i32 (ms)', 'f16 cast / copy', 'f16 upload: host (ms)', 'f16 upload: GPU cast (ms)', 'cast+read tmath (ms)', 'cast+read TF.js (ms)'],
      rows.map((r) => [r.elements, r.copyMs, r.castF16Ms, r.castBf16Ms, r.castI32Ms, r.copyMs / r.castF16Ms, r.uploadF16HostMs, r.uploadF16GpuMs, r.tmathCastI32ReadMs, r.tfjsCastI32Ms])),
    ui.charts(ui.lineChart([
      { name: 'copy', points: rows.map((r) => [r.elements * 4, gbps(r.elements * 4, r.copyMs)]) },
      { name: 'cast →f16', points: rows.map((r) => [r.elements * 4, gbps(r.elements * 4, r.castF16Ms)]) },
      { name: 'cast →bf16', points: rows.map((r) => [r.elements * 4, gbps(r.elements * 4, r.castBf16Ms)]) },
    ], { title: 'Cast throughput vs copy (bytes read)', xLabel: 'bytes', yLabel: 'GB/s', logX: true })));
}

export async function matmulSuite(engine, peers, cfg) {
  const rows = [];
  const { tf } = peers.tfjs;
  for (const n of cfg.matmulSizes) {
    const a = randomMatrix(n * n, 1), b = randomMatrix(n * n, 2);
    const flop = 2 * n ** 3;
    const reps = Math.max(2, Math.min(20, Math.round(cfg.matmulFlopPerSample / flop)));
    const samples = { samples: 3 };
    const row = { n, reps };
    const x = engine.toDevice(a, [n, n]), y = engine.toDevice(b, [n, n]);
    // Resident: `reps` matmuls on resident inputs, then the last result read back (the same
    // shape of work for every runtime).
    row.tmathResidentMs = (await time(async () => {
      let c;
      for (let i = 0; i < reps; i++) { c?.dispose(); c = engine.matmul(x, y); }
      await c.toHost(); c.dispose();
    }, samples)) / reps;
    row.tmathHostMs = await time(async () => {
      const p = engine.toDevice(a, [n, n]), q = engine.toDevice(b, [n, n]), c = engine.matmul(p, q);
      await c.toHost(); [p, q, c].forEach((t) => t.dispose());
    }, samples);
    if (tf) {
      const p = tf.tensor2d(a, [n, n]), q = tf.tensor2d(b, [n, n]);
      row.tfjsResidentMs = (await time(async () => {
        let c;
        for (let i = 0; i < reps; i++) { c?.dispose(); c = tf.matMul(p, q); }
        await c.data(); c.dispose();
      }, samples)) / reps;
      row.tfjsHostMs = await time(async () => {
        const u = tf.tensor2d(a, [n, n]), v = tf.tensor2d(b, [n, n]), c = tf.matMul(u, v);
        await c.data(); [u, v, c].forEach((t) => t.dispose());
      }, samples);
      [p, q].forEach((t) => t.dispose());
    }
    if (peers.ort.ort) {
      const { ort, session } = peers.ort;
      const model = matmulModel(n, n, n);
      const onGpu = await session(model, 'gpu-buffer');
      const onCpu = await session(model, 'cpu');
      const A = ort.Tensor.fromGpuBuffer(x.gpuBuffer, { dataType: 'float32', dims: [n, n] });
      const B = ort.Tensor.fromGpuBuffer(y.gpuBuffer, { dataType: 'float32', dims: [n, n] });
      row.ortResidentMs = (await time(async () => {
        let out;
        for (let i = 0; i < reps; i++) { out?.Y.dispose(); out = await onGpu.run({ A, B }); }
        await out.Y.getData(); out.Y.dispose();
      }, samples)) / reps;
      row.ortHostMs = await time(async () => {
        const out = await onCpu.run({ A: new ort.Tensor('float32', a, [n, n]), B: new ort.Tensor('float32', b, [n, n]) });
        out.Y.data;
      }, samples);
      await onGpu.release(); await onCpu.release();
    }
    [x, y].forEach((t) => t.dispose());
    for (const k of Object.keys(row)) if (k.endsWith('Ms')) row[k.replace('Ms', 'Gflops')] = flop / row[k] / 1e6;
    rows.push(row);
    ui.tick(`matmul ${n}`);
  }
  results.suites.matmul = { rows };
  const series = (key, name, dashed) => ({ name, dashed, points: rows.map((r) => [r.n, r[key]]).filter(([, v]) => v !== undefined) });
  ui.section('matmul', 'Matmul',
    ui.note('float32 n×n×n. Resident: inputs already on the GPU, several matmuls, the last read back; host-in/host-out: upload both inputs, multiply, read back, per call. TensorFlow.js (WebGPU backend, its own device) and ONNX Runtime Web (WebGPU EP on tmath\'s device, a hand-written MatMul model) do the same work. GFLOP/s (higher is better).'),
    ui.table(['n', 'tmath resident', 'TF.js resident', 'ORT resident', 'tmath host-in/out', 'TF.js host-in/out', 'ORT host-in/out', 'tmath/TF.js time (host-in/out)'],
      rows.map((r) => [r.n, r.tmathResidentGflops, r.tfjsResidentGflops, r.ortResidentGflops, r.tmathHostGflops, r.tfjsHostGflops, r.ortHostGflops, r.tfjsHostMs ? r.tmathHostMs / r.tfjsHostMs : undefined])),
    ui.charts(
      ui.lineChart([series('tmathResidentGflops', 'tmath'), series('tfjsResidentGflops', 'TF.js'), series('ortResidentGflops', 'ORT Web')], { title: 'Resident GFLOP/s vs size', xLabel: 'n', yLabel: 'GFLOP/s', logX: true }),
      ui.lineChart([series('tmathHostGflops', 'tmath'), series('tfjsHostGflops', 'TF.js'), series('ortHostGflops', 'ORT Web')], { title: 'Host-in/host-out GFLOP/s vs size', xLabel: 'n', yLabel: 'GFLOP/s', logX: true })));
}

export async function seedSuite(engine, cfg) {
  const n = cfg.seedN;
  const a = randomMatrix(n * n, 5), b = randomMatrix(n * n, 6);
  // The old way: no pool (every buffer created and destroyed), every op host-in/host-out.
  const before = await env.tmath.Engine.create({ ...env.engineOptions, maxPerClass: 0, poolBudgetBytes: 0 });
  const hostOp = (e) => async () => {
    const p = e.toDevice(a, [n, n]), q = e.toDevice(b, [n, n]), c = e.matmul(p, q);
    await c.toHost(); [p, q, c].forEach((t) => t.dispose());
  };
  const perOp = async (e, fn) => {
    await fn(); await e.synchronize();
    const { stats } = await e.profile(fn);
    return { copies: stats.copies, crossings: stats.crossings, buffers: stats.pool.buffersCreated };
  };
  const countsBefore = await perOp(before, hostOp(before));
  const countsAfter = await perOp(engine, hostOp(engine));
  const x = engine.toDevice(a, [n, n]), y = engine.toDevice(b, [n, n]);
  const countsResident = await perOp(engine, async () => { engine.matmul(x, y).dispose(); await engine.synchronize(); });
  const batch = 10;
  const kernelMs = (await time(async () => { for (let i = 0; i < batch; i++) engine.matmul(x, y).dispose(); await engine.synchronize(); }, { samples: 3 })) / batch;
  const residentOpMs = await time(async () => { engine.matmul(x, y).dispose(); await engine.synchronize(); }, { samples: 3 });
  const hostBeforeMs = await time(hostOp(before), { samples: 3 });
  const hostAfterMs = await time(hostOp(engine), { samples: 3 });
  // A 10-op chain (matmul, add, relu, …): before, every op goes through the host; after, one
  // upload, ten resident ops, one readback.
  const ops = ['matmul', 'add', 'relu', 'matmul', 'mul', 'relu', 'matmul', 'add', 'relu', 'matmul'];
  const step = (e, op, t, w) => (op === 'matmul' ? e.matmul(t, w) : op === 'relu' ? e.relu(t) : e[op](t, 0.5));
  const chainBefore = async () => {
    let host = a;
    for (const op of ops) {
      const t = before.toDevice(host, [n, n]), w = op === 'matmul' ? before.toDevice(b, [n, n]) : null;
      const r = step(before, op, t, w);
      host = await r.toHost();
      [t, w, r].forEach((v) => v?.dispose());
    }
    return host;
  };
  const chainAfter = async () => {
    const made = [engine.toDevice(a, [n, n])];
    for (const op of ops) made.push(step(engine, op, made.at(-1), y));
    const host = await made.at(-1).toHost();
    made.forEach((t) => t.dispose());
    return host;
  };
  const chainCounts = async (e, fn) => { await fn(); const { stats } = await e.profile(fn); return stats; };
  const cb = await chainCounts(before, chainBefore), ca = await chainCounts(engine, chainAfter);
  const chainBeforeMs = await time(chainBefore, { samples: 3 });
  const chainAfterMs = await time(chainAfter, { samples: 3 });
  [x, y].forEach((t) => t.dispose());
  before.dispose();
  const k = ops.length;
  const out = {
    n, kernelMs, residentOpMs, hostBeforeMs, hostAfterMs, countsBefore, countsAfter, countsResident,
    chain: { ops: k, beforeMs: chainBeforeMs, afterMs: chainAfterMs, speedup: chainBeforeMs / chainAfterMs,
      before: { copies: cb.copies / k, crossings: cb.crossings / k, buffers: cb.pool.buffersCreated / k },
      after: { copies: ca.copies / k, crossings: ca.crossings / k, buffers: ca.pool.buffersCreated / k } },
  };
  const pct = (v) => `${(v * 100).toFixed(1)}%`;
  out.rows = [
    [`Matrix-Mult ${n}×${n} efficiency (kernel / end-to-end)`, '~15% (85% overhead)', '~70% (30% overhead)', pct(kernelMs / hostBeforeMs), `${pct(kernelMs / residentOpMs)} resident, ${pct(kernelMs / hostAfterMs)} host-in/host-out`],
    ['Copies per operation (matmul; host in/out, then resident)', '10-12', '3-4', fmt(countsBefore.copies, 1), `${fmt(countsAfter.copies, 1)}, resident ${fmt(countsResident.copies, 1)}`],
    ['Device switches per operation (crossings)', '4-5', '1-2', fmt(countsBefore.crossings, 1), `${fmt(countsAfter.crossings, 1)}, resident ${fmt(countsResident.crossings, 1)}`],
    ['Buffers created per operation', 'every op allocates', 'reuse', fmt(countsBefore.buffers, 1), `${fmt(countsAfter.buffers, 1)}, resident ${fmt(countsResident.buffers, 1)}`],
    ['10-op chain: ms, copies/op, crossings/op, buffers/op', '-', '-',
      `${fmt(chainBeforeMs)} ms, ${fmt(out.chain.before.copies, 1)}, ${fmt(out.chain.before.crossings, 1)}, ${fmt(out.chain.before.buffers, 1)}`,
      `${fmt(chainAfterMs)} ms (${fmt(out.chain.speedup, 1)}× faster), ${fmt(out.chain.after.copies, 1)}, ${fmt(out.chain.after.crossings, 1)}, ${fmt(out.chain.after.buffers, 1)}`],
  ];
  results.suites.seed = out;
  ui.section('seed', 'The seed\'s table',
    ui.note(`Section 5 of the seed ("Erwartete Verbesserungen") with its own columns and this adapter's measurements at n = ${n}. "before" is the old way: no pool and every op through the host; "after" is tmath. Kernel time is a resident batch (${fmt(kernelMs, 3)} ms per matmul); host-in/host-out ${fmt(hostBeforeMs)} ms before, ${fmt(hostAfterMs)} ms after.${cfg.cpu ? ' On a CPU adapter (SwiftShader) the kernel dominates every path, so efficiencies near 100% (even a little over, by noise) mean the overhead is too small to see here; the counts are what carry over to a GPU.' : ''}`),
    ui.table(['Operation', 'seed: current', 'seed: expected', 'measured: before (old way)', 'measured: after (tmath)'], out.rows));
}

function configFor(engine) {
  // SwiftShader (Chromium without a GPU) is a CPU: smaller sizes keep the page under a minute.
  const cpu = engine.adapterInfo.deviceType === 'cpu';
  return cpu
    ? { cpu, poolCycles: 2000, transferSizes: [65536, 1 << 20, 8 << 20], transferBytesPerSample: 16 << 20, castSizes: [1 << 16, 1 << 20], identityCalls: 20000, matmulSizes: [64, 128, 256, 512], matmulFlopPerSample: 2e8, seedN: 256 }
    : { cpu, poolCycles: 20000, transferSizes: [65536, 1 << 20, 16 << 20, 64 << 20], transferBytesPerSample: 256 << 20, castSizes: [1 << 18, 1 << 22, 1 << 24], identityCalls: 200000, matmulSizes: [256, 512, 1024, 2048], matmulFlopPerSample: 2e10, seedN: 1024 };
}


/**
 * Run every suite on one engine: `{ tmath, ui, results, engineOptions, runtime, loadPeers }`
 * (`loadPeers(engine)` resolves to `{ tfjs: { tf } | {}, ort: { ort, session } | {} }`). Fills
 * `results` (adapter, config, suites, engineStats).
 */
export async function runSuites(options) {
  results = options.results;
  ui = recording(options.ui, results);
  env = { tmath: options.tmath, engineOptions: options.engineOptions ?? {}, runtime: options.runtime };
  const { tmath } = env;
  const engine = await tmath.Engine.create(env.engineOptions);
  try {
    const cfg = configFor(engine);
    results.config = cfg;
    ui.start?.(1 + 1 + cfg.transferSizes.length + cfg.castSizes.length + cfg.matmulSizes.length + 1 + 1);
    adapterSuite(engine);
    const peers = await options.loadPeers(engine);
    ui.tick('adapter and peers');
    await poolSuite(cfg);
    ui.tick('pool');
    await transferSuite(engine, peers, cfg);
    await precisionSuite(engine, peers, cfg);
    await matmulSuite(engine, peers, cfg);
    await seedSuite(engine, cfg);
    ui.tick('seed table');
    results.engineStats = engine.stats();
  } finally {
    engine.dispose();
  }
}
