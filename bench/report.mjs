// The benchmark suites' results (www/suites.mjs) as plain text: the seed's table, matmul,
// transfers, precision and the pool, as printed by bench/page.mjs (the page in Chromium) and
// bench/node.mjs (Node on Dawn).

const num = (v, d = 2) => (typeof v === 'number' && Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(d)) : '-');
const mib = (b) => (b >= 1 << 20 ? `${b / (1 << 20)} MiB` : `${b / 1024} KiB`);

export function report(results, where = "Chromium's WebGPU", tag = 'www') {
  const lines = [];
  const a = results.adapter ?? {};
  const s = results.suites;
  lines.push(`[${tag}] adapter=${a.name || a.architecture || '?'} (${a.vendor || '?'} ${a.architecture || ''}, ${a.deviceType}) peers: TF.js ${results.peers.tfjs?.version ?? results.peers.tfjs?.error}, ORT Web ${results.peers.ort?.version ?? results.peers.ort?.error}`);
  if (s.seed) {
    lines.push('', `The seed's table in ${where} (n = ${s.seed.n}):`);
    lines.push('| Operation | seed: current | seed: expected | measured: before (old way) | measured: after (tmath) |', '|---|---|---|---|---|');
    for (const row of s.seed.rows) lines.push(`| ${row.join(' | ')} |`);
  }
  if (s.matmul) {
    lines.push('', 'Matmul float32, GFLOP/s (resident | host-in/host-out), same page and adapter:');
    lines.push('| n | tmath | TF.js | ORT Web | tmath host | TF.js host | ORT Web host | tmath/TF.js time, host |', '|---|---|---|---|---|---|---|---|');
    for (const r of s.matmul.rows) {
      lines.push(`| ${r.n} | ${num(r.tmathResidentGflops)} | ${num(r.tfjsResidentGflops)} | ${num(r.ortResidentGflops)} | ${num(r.tmathHostGflops)} | ${num(r.tfjsHostGflops)} | ${num(r.ortHostGflops)} | ${r.tfjsHostMs ? num(r.tmathHostMs / r.tfjsHostMs) : '-'} |`);
    }
  }
  if (s.transfer) {
    lines.push('', 'Transfers, GB/s (tmath | raw WebGPU into an existing buffer), and an upload+readback round trip against TF.js:');
    lines.push('| size | upload | raw | GPU copy | raw | readback | raw | round trip ms tmath | TF.js |', '|---|---|---|---|---|---|---|---|---|');
    const g = (b, ms) => num(b / ms / 1e6);
    for (const r of s.transfer.rows) {
      lines.push(`| ${mib(r.bytes)} | ${g(r.bytes, r.uploadTmath)} | ${g(r.bytes, r.uploadRaw)} | ${g(r.bytes, r.copyTmath)} | ${g(r.bytes, r.copyRaw)} | ${g(r.bytes, r.readTmath)} | ${g(r.bytes, r.readRaw)} | ${num(r.roundTmath)} | ${num(r.roundTfjs)} |`);
    }
  }
  if (s.precision) {
    lines.push('', `Precision: identity prepareTensor ${num(s.precision.identityNs, 0)} ns; casts as a share of a copy's throughput, and cast+readback against TF.js:`);
    lines.push('| elements | f16 cast / copy | bf16 / copy | f16 upload host ms | GPU cast ms | cast+read tmath ms | TF.js ms |', '|---|---|---|---|---|---|---|');
    for (const r of s.precision.rows) {
      lines.push(`| ${r.elements} | ${num(r.copyMs / r.castF16Ms)} | ${num(r.copyMs / r.castBf16Ms)} | ${num(r.uploadF16HostMs)} | ${num(r.uploadF16GpuMs)} | ${num(r.tmathCastI32ReadMs)} | ${num(r.tfjsCastI32Ms)} |`);
    }
  }
  if (s.pool) {
    const p = s.pool;
    lines.push('', `Pool: 500 random tensors -> ${p.buffersCreated} buffers (hit rate ${num(p.hitRate)}); get+put ${num(p.hitUs)} us vs createBuffer+destroy ${num(p.createDestroyUs)} us; peak held ${num(p.peakBytesHeld / 2 ** 20)} MiB for ${num(p.peakBytesLive / 2 ** 20)} MiB live`);
  }
  return lines.join('\n');
}
