// The hot-path workload, shared by bench/hotpath.mjs (in a Chromium page) and
// bench/dawn-hotpath.mjs (in Node on Dawn): run(tmath, engineOptions) with the package's module.
// The WebGPU constants are written out: Node on Dawn has no GPUBufferUsage global. See
// bench/hotpath.mjs.
const GPUBufferUsage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 };
const GPUMapMode = { READ: 0x1 };

/**
 * The 500-tensor churn, shared with tests/js/stream.test.mjs: tensors of 4 KiB to 1 MiB (seeded
 * sizes), each uploaded, added to and disposed with the previous result, all in the caller's
 * task. `afterEach()`, if given, runs after every step. Returns the last result, still alive
 * (every element is 500).
 */
export function churn500(engine, afterEach) {
  let seed = 7;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  let last;
  for (let i = 0; i < 500; i++) {
    const n = 1024 + Math.floor(rand() * 255 * 1024);
    const x = engine.toDevice(new Float32Array(n).fill(i));
    const y = engine.add(x, 1);
    x.dispose();
    last?.dispose();
    last = y;
    afterEach?.();
  }
  return last;
}

/**
 * The raw floor of a host-in/host-out n×n matmul on `device`, everything made once: `step()`
 * writes `a` into both inputs, records one pass of one dispatch and a copy into a staging
 * buffer, submits, maps and reads it. Shared with bench/hostio-profile.mjs.
 */
export function rawHostInOut(device, a, n) {
  const module = device.createShaderModule({ code: `
    @group(0) @binding(0) var<storage, read> a: array<f32>;
    @group(0) @binding(1) var<storage, read> b: array<f32>;
    @group(0) @binding(2) var<storage, read_write> c: array<f32>;
    @compute @workgroup_size(8, 8) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
      var s = 0.0;
      for (var k = 0u; k < ${n}u; k++) { s += a[g.y * ${n}u + k] * b[k * ${n}u + g.x]; }
      c[g.y * ${n}u + g.x] = s;
    }` });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const U = GPUBufferUsage;
  const [ba, bb, bc] = [0, 1, 2].map(() => device.createBuffer({ size: n * n * 4, usage: U.STORAGE | U.COPY_DST | U.COPY_SRC }));
  const staging = device.createBuffer({ size: n * n * 4, usage: U.MAP_READ | U.COPY_DST });
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [ba, bb, bc].map((buffer, binding) => ({ binding, resource: { buffer } })) });
  return {
    async step() {
      device.queue.writeBuffer(ba, 0, a); device.queue.writeBuffer(bb, 0, a);
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline); pass.setBindGroup(0, bindGroup); pass.dispatchWorkgroups(n / 8, n / 8); pass.end();
      encoder.copyBufferToBuffer(bc, 0, staging, 0, n * n * 4);
      device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const out = new Float32Array(staging.getMappedRange()).slice();
      staging.unmap();
      return out;
    },
    destroy() { [ba, bb, bc, staging].forEach((b) => b.destroy()); },
  };
}

export async function run(tmath, options = {}) {

  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));
  const engine = await tmath.Engine.create(options);
  const device = engine.gpuDevice;
  const stat = (s, k) => s[k] ?? NaN;
  const out = { adapter: engine.adapterInfo.architecture || engine.adapterInfo.name };

  // Raw WebGPU: an add-scalar kernel, buffers and bind groups made once, one encoder and pass.
  const module = device.createShaderModule({ code: `
    @group(0) @binding(0) var<storage, read> a: array<f32>;
    @group(0) @binding(1) var<storage, read_write> b: array<f32>;
    @group(0) @binding(2) var<uniform> k: vec4<f32>;
    @compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
      if (g.x < arrayLength(&a)) { b[g.x] = a[g.x] + k.x; }
    }` });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });

  for (const n of [4096, 262144]) {
    const ops = 1000;
    // tmath: x = add(x, 1), the previous x disposed, no await.
    let x = engine.toDevice(new Float32Array(n));
    for (let i = 0; i < 20; i++) { const y = engine.add(x, 1); x.dispose(); x = y; }
    await engine.synchronize();
    // Chromium rounds performance.now() to 100 us: time ten chains and divide the total. Each
    // call also returns the stats around its last chain (before its submission).
    const chains = async (count) => {
      let total = 0;
      let submitTotal = 0;
      let before, after;
      for (let run = 0; run < count; run++) {
        await nextTask();
        before = engine.stats();
        const t0 = performance.now();
        for (let i = 0; i < ops; i++) { const y = engine.add(x, 1); x.dispose(); x = y; }
        const t1 = performance.now();
        total += t1 - t0;
        after = engine.stats();
        // The submission the end of the task would make, timed on its own (the raw task does it).
        engine.flush();
        submitTotal += performance.now() - t1;
        await engine.synchronize();
      }
      return { total, submitTotal, before, after };
    };
    const { total, submitTotal, before: c0, after: c1 } = await chains(10);
    const times = [total / (10 * ops) * 1000];
    const s2 = engine.stats();
    // The same 10,000 ops again once 30,000 more have run: the engines compile hot JS and wasm
    // again with their optimizing tiers, so the first chains of a page measure code not yet
    // optimized (in Chromium the first 10,000 took 2-4 times as long as later ones). The raw
    // loop's own JS is a few lines; its calls are the browser's compiled code.
    let warm;
    if (n === 4096) {
      await chains(30);
      const again = await chains(10);
      warm = { tmathUsPerOp: again.total / (10 * ops) * 1000, tmathTaskUsPerOp: (again.total + again.submitTotal) / (10 * ops) * 1000 };
    }
    x.dispose();
    // Raw: ping-pong between two buffers, bind groups made once.
    const bufs = [0, 1].map(() => device.createBuffer({ size: n * 4, usage: GPUBufferUsage.STORAGE }));
    const uni = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(uni, 0, new Float32Array([1, 0, 0, 0]));
    const groups = [0, 1].map((i) => device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [
      { binding: 0, resource: { buffer: bufs[i] } }, { binding: 1, resource: { buffer: bufs[1 - i] } }, { binding: 2, resource: { buffer: uni } }] }));
    // One encoder and one pass of `count` dispatches, submitted; its time in ms.
    const rawChain = (count) => {
      const t0 = performance.now();
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      for (let i = 0; i < count; i++) {
        pass.setBindGroup(0, groups[i & 1]);
        pass.dispatchWorkgroups(Math.ceil(n / 256));
      }
      pass.end();
      device.queue.submit([enc.finish()]);
      return performance.now() - t0;
    };
    const raw = [];
    const rawOps = 10 * ops;
    for (let run = 0; run < 5; run++) {
      raw.push(rawChain(rawOps) / rawOps * 1000);
      await device.queue.onSubmittedWorkDone();
    }
    // Raw, the chain's own shape: one task per chain of `ops` (the pass's start is not free on
    // Dawn, so this is the floor for work that submits once per task).
    let rawTaskTotal = 0;
    for (let run = 0; run < 10; run++) {
      await nextTask();
      rawTaskTotal += rawChain(ops);
      await device.queue.onSubmittedWorkDone();
    }
    bufs.forEach((b) => b.destroy()); uni.destroy();
    out[`chain${n}`] = {
      tmathUsPerOp: median(times), rawUsPerOp: median(raw),
      // Per task, submission included on both sides: tmath's ops + its end-of-task submit
      // against the raw task above.
      tmathTaskUsPerOp: (total + submitTotal) / (10 * ops) * 1000,
      rawTaskUsPerOp: rawTaskTotal / (10 * ops) * 1000,
      buffersCreatedPerOp: (c1.pool.buffersCreated - c0.pool.buffersCreated) / ops,
      bindGroupsPerOp: (stat(c1, 'bindGroups') - stat(c0, 'bindGroups')) / ops,
      paramWritesPerOp: (stat(s2, 'paramWrites') - stat(c1, 'paramWrites')) / ops,
      submitsPerChain: s2.submits - c1.submits,
      bytesInUseGrowth: c1.pool.bytesInUse - c0.pool.bytesInUse,
      peakBytesInUse: c1.pool.peakBytesInUse,
      warm,
    };
  }

  // The 500-tensor churn in one task.
  {
    await engine.synchronize();
    engine.pool.trim(0);
    const s0 = engine.stats();
    const t0 = performance.now();
    const last = churn500(engine);
    const ms = performance.now() - t0;
    const s1 = engine.stats();
    out.churn500 = {
      buffersCreated: s1.pool.buffersCreated - s0.pool.buffersCreated,
      bytesInUseAtEnd: s1.pool.bytesInUse, liveBytes: last.byteLength, ms,
      submitsInTask: s1.submits - s0.submits,
    };
    last.dispose();
    await engine.synchronize();
  }

  // Host-in/host-out 64x64 matmul: tmath against raw (write, dispatch, copy, map, read).
  {
    const n = 64;
    const a = Float32Array.from({ length: n * n }, (_, i) => (i % 7) / 7);
    const tmathRuns = async (count) => {
      const tm = [];
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        const [x, w] = [engine.toDevice(a, [n, n]), engine.toDevice(a, [n, n])];
        const c = engine.matmul(x, w);
        await c.toHost();
        x.dispose(); w.dispose(); c.dispose();
        tm.push(performance.now() - t0);
      }
      return tm;
    };
    const floor = rawHostInOut(device, a, n);
    const rawRuns = async (count) => {
      const raw = [];
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        await floor.step();
        raw.push(performance.now() - t0);
      }
      return raw;
    };
    const tm = await tmathRuns(60);
    const raw = await rawRuns(60);
    // Warm: both sides again after 300 more iterations each (see the chains).
    await tmathRuns(300);
    const tmWarm = await tmathRuns(60);
    await rawRuns(300);
    const rawWarm = await rawRuns(60);
    floor.destroy();
    out.matmul64HostInOut = {
      tmathMs: median(tm.slice(10)), rawMs: median(raw.slice(10)),
      warm: { tmathMs: median(tmWarm.slice(10)), rawMs: median(rawWarm.slice(10)) },
    };
  }

  // pool get+put against createBuffer+destroy, 1 MiB.
  {
    const k = 2000;
    engine.pool.get([262144]).dispose();
    // Five runs of each side, alternating; µs per call, medians.
    const getPutRuns = async () => {
      const pg = [], raw = [];
      for (let run = 0; run < 5; run++) {
        let t0 = performance.now();
        for (let i = 0; i < k; i++) engine.pool.put(engine.pool.get([262144]));
        pg.push((performance.now() - t0) / k * 1000);
        t0 = performance.now();
        for (let i = 0; i < k; i++) device.createBuffer({ size: 1 << 20, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST }).destroy();
        raw.push((performance.now() - t0) / k * 1000);
        await nextTask();
      }
      return { tmathUs: median(pg), createDestroyUs: median(raw) };
    };
    const cold = await getPutRuns();
    // Warm: 60,000 more get+put first (see the chains), then the runs again.
    for (let w = 0; w < 30; w++) {
      for (let i = 0; i < k; i++) engine.pool.put(engine.pool.get([262144]));
      await nextTask();
    }
    out.poolGetPut = { ...cold, warm: await getPutRuns() };
  }
  engine.dispose();
  return out;
}

/** The results as text lines, the same for every runtime. */
export function report(result, label) {
  const lines = [];
  const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  lines.push(`hot path (${label}, ${result.adapter})`);
  for (const n of [4096, 262144]) {
    const c = result[`chain${n}`];
    lines.push(`  chain of 1000 add on ${n} floats: ${f(c.tmathUsPerOp)} us/op vs raw ${f(c.rawUsPerOp)} (${f(c.tmathUsPerOp / c.rawUsPerOp, 1)}x); per op: buffers ${f(c.buffersCreatedPerOp, 3)}, bind groups ${f(c.bindGroupsPerOp, 3)}, params writes ${f(c.paramWritesPerOp, 3)}; submits ${c.submitsPerChain}; bytesInUse growth ${c.bytesInUseGrowth}`);
    lines.push(`    per task, submission included on both sides: ${f(c.tmathTaskUsPerOp)} us/op vs raw ${f(c.rawTaskUsPerOp)} (${f(c.tmathTaskUsPerOp / c.rawTaskUsPerOp, 1)}x)`);
    if (c.warm) lines.push(`    warm (after 30,000 more ops): ${f(c.warm.tmathUsPerOp)} us/op (${f(c.warm.tmathUsPerOp / c.rawUsPerOp, 1)}x raw); per task ${f(c.warm.tmathTaskUsPerOp)} (${f(c.warm.tmathTaskUsPerOp / c.rawTaskUsPerOp, 1)}x)`);
  }
  const ch = result.churn500;
  lines.push(`  500-tensor churn in one task: ${ch.buffersCreated} buffers created, ${ch.bytesInUseAtEnd} bytes in use at the end (${ch.liveBytes} live), ${ch.submitsInTask} submits, ${f(ch.ms, 1)} ms`);
  const m = result.matmul64HostInOut;
  lines.push(`  64x64 matmul host in/out: ${f(m.tmathMs, 3)} ms vs raw ${f(m.rawMs, 3)} (${f(m.tmathMs / m.rawMs, 2)}x)`);
  if (m.warm) lines.push(`    warm (after 300 more of each): ${f(m.warm.tmathMs, 3)} ms vs raw ${f(m.warm.rawMs, 3)} (${f(m.warm.tmathMs / m.warm.rawMs, 2)}x)`);
  const p = result.poolGetPut;
  lines.push(`  pool get+put 1 MiB: ${f(p.tmathUs)} us vs createBuffer+destroy ${f(p.createDestroyUs)} us (${f(p.tmathUs / p.createDestroyUs, 2)}x)`);
  if (p.warm) lines.push(`    warm (after 60,000 more): ${f(p.warm.tmathUs)} us vs ${f(p.warm.createDestroyUs)} us (${f(p.warm.tmathUs / p.warm.createDestroyUs, 2)}x)`);
  return lines.join('\n');
}
