// Bounded transfers on the web (issue 14), side by side with raw WebGPU in one run:
// - readbacks from 1 MiB: the ring of 16 MiB chunks (the default) against one staging buffer as
//   large as the tensor (transferChunkBytes past the size: the path before the ring) and against
//   the raw calls (a reused staging buffer, getMappedRange sliced out);
// - a safetensors file of 50 tensors of mixed sizes and dtypes streamed from an async generator of
//   1 MiB pieces (never whole in memory) through loadSafetensors, against raw writeBuffer calls
//   moving the same pieces into preallocated buffers; host memory sampled during both (Node: rss,
//   which includes Dawn's own staging; browsers: the JS heap where exposed); every value checked.
// Runs wherever `tmath` and a GPU are: `run(tmath, options, { sizesMiB, fileMiB, memory })`.

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function time(reps, fn) {
  const [s] = await interleaved(reps, [fn]);
  return s;
}

/** Seconds per call of each of `fns`, run round-robin (so allocation and GC noise is shared). */
async function interleaved(reps, fns) {
  for (const fn of fns) await fn();
  const samples = fns.map(() => []);
  for (let r = 0; r < reps; r++) {
    for (const [i, fn] of fns.entries()) {
      const t0 = performance.now();
      await fn();
      samples[i].push(performance.now() - t0);
    }
  }
  return samples.map((xs) => median(xs) / 1e3);
}

/** The test file's bytes `from..from + n`: byte i is i % 251 (so every value can be checked). */
function pattern(from, n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (from + i) % 251;
  return out;
}

function layout(totalBytes) {
  const dtypes = ['F32', 'F16', 'BF16', 'I32'];
  const tensors = [];
  let at = 0;
  for (let i = 0; i < 50; i++) {
    const share = i % 10 === 0 ? totalBytes / 8 : totalBytes / 90;
    const bytes = Math.floor(share / 1024) * 1024;
    const dtype = dtypes[i % 4];
    tensors.push({ name: `layer${i}`, dtype, bytes, elements: bytes / (dtype === 'F32' || dtype === 'I32' ? 4 : 2), at });
    at += bytes;
  }
  const header = {};
  for (const t of tensors) header[t.name] = { dtype: t.dtype, shape: [t.elements], data_offsets: [t.at, t.at + t.bytes] };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(json.length), true);
  return { tensors, dataBytes: at, head: new Uint8Array([...prefix, ...json]) };
}

/** The file as an async generator of `piece`-byte chunks, made as they are read. */
async function* fileStream({ head, dataBytes }, piece, onChunk) {
  yield head;
  const block = pattern(0, piece + 251);
  for (let at = 0; at < dataBytes; at += piece) {
    const n = Math.min(piece, dataBytes - at);
    onChunk?.();
    yield block.slice(at % 251, at % 251 + n);
  }
}

export async function run(tmath, options = {}, { sizesMiB = [1, 4, 16, 64, 256], fileMiB = 1024, memory = () => 0, deviceInMemory = true } = {}) {
  const ring = await tmath.Engine.create({ ...options });
  const single = await tmath.Engine.create({ ...options, transferChunkBytes: 2 ** 31 - 256 });
  const device = ring.gpuDevice;
  const result = { readback: [], safetensors: null };
  try {
    for (const mib of sizesMiB) {
      const bytes = mib << 20;
      const reps = Math.max(5, Math.min(30, Math.floor(1024 / mib)));
      const data = new Float32Array(bytes / 4).map((_, i) => i % 65536);
      const a = ring.toDevice(data, [data.length]);
      const b = single.toDevice(data, [data.length]);
      const raw = device.createBuffer({ size: bytes, usage: 0x80 | 0x4 | 0x8 });
      device.queue.writeBuffer(raw, 0, data);
      const staging = device.createBuffer({ size: bytes, usage: 0x1 | 0x8 });
      const out = new Float32Array(data.length);
      const [ringS, ringIntoS, singleS, rawS] = await interleaved(reps, [
        () => a.toHost(),
        () => a.toHost(out),
        () => b.toHost(),
        async () => {
          const encoder = device.createCommandEncoder();
          encoder.copyBufferToBuffer(raw, 0, staging, 0, bytes);
          device.queue.submit([encoder.finish()]);
          await staging.mapAsync(1);
          const copy = new Float32Array(staging.getMappedRange().slice(0));
          staging.unmap();
          return copy;
        },
      ]);
      const check = await a.toHost();
      if (check[12345 % data.length] !== data[12345 % data.length] || out[data.length - 1] !== data[data.length - 1]) throw new Error('readback values');
      const gb = (s) => bytes / s / 1e9;
      result.readback.push({
        mib, ring_gb_s: gb(ringS), ring_into_gb_s: gb(ringIntoS), single_gb_s: gb(singleS), raw_gb_s: gb(rawS),
        ring_over_single: singleS / ringS,
      });
      a.dispose(); b.dispose(); raw.destroy(); staging.destroy();
      ring.pool.trim(0); single.pool.trim(0);
    }

    // The safetensors file, streamed: tmath first, then the raw calls, memory sampled per piece.
    const file = layout(fileMiB << 20);
    const piece = 1 << 20;
    // On a CPU adapter (SwiftShader) in the measured process (Dawn in Node's rss) device memory
    // is host memory: the GPU buffers each side holds are subtracted, so what remains is the
    // host memory the transfer itself takes. (A page's JS heap never holds them: Chromium's GPU
    // process does.)
    const cpu = deviceInMemory && ring.adapterInfo.deviceType === 'cpu';
    let deviceBytes = () => 0;
    const host = () => memory() - (cpu ? deviceBytes() : 0);
    let peak = 0;
    const sample = () => { peak = Math.max(peak, host()); };
    // tmath and the raw calls alternate, twice each (the first of each pays for page faults
    // the other may then reuse); the faster run of each counts.
    const loadTmath = async () => {
      await ring.synchronize();
      deviceBytes = () => { const p = ring.pool.stats(); return p.bytesInUse + p.bytesCached; };
      const before = host();
      peak = before;
      const t0 = performance.now();
      const loaded = await ring.loadSafetensors(fileStream(file, piece, sample));
      await ring.synchronize();
      const seconds = (performance.now() - t0) / 1e3;
      const grew = peak - before;
      // Every value checked, chunk by chunk (never a whole tensor in memory).
      let checked = 0;
      for (const t of file.tensors) {
        let at = t.at;
        for await (const chunk of loaded[t.name].read()) {
          const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          for (let i = 0; i < bytes.length; i++) if (bytes[i] !== (at + i) % 251) throw new Error(`${t.name} byte ${at + i - t.at}`);
          at += bytes.length;
          checked += bytes.length;
        }
        loaded[t.name].dispose();
      }
      ring.pool.trim(0);
      return { seconds, grew, checked };
    };
    const loadRaw = async (paced = false) => {
      await device.queue.onSubmittedWorkDone();
      // The raw loader makes its buffers as it goes, as a loader must (tmath's pool does too).
      const buffers = [];
      let rawDevice = 0;
      deviceBytes = () => rawDevice;
      const before = host();
      peak = before;
      const t0 = performance.now();
      let index = -1;
      let offset = 0;
      let first = true;
      let pacedBytes = 0;
      const pending = [];
      for await (const chunk of fileStream(file, piece, sample)) {
        if (first) { first = false; continue; } // the header
        let at = 0;
        while (at < chunk.length) {
          if (index < 0 || offset === file.tensors[index].bytes) {
            index++;
            offset = 0;
            buffers.push(device.createBuffer({ size: file.tensors[index].bytes, usage: 0x80 | 0x8 }));
            rawDevice += file.tensors[index].bytes;
          }
          const n = Math.min(chunk.length - at, file.tensors[index].bytes - offset);
          device.queue.writeBuffer(buffers[index], offset, chunk, at, n);
          at += n;
          offset += n;
        }
        if (paced) {
          // The bound tmath kept before its uploads went through mapped staging (a Pacer in
          // js/index.js): every 8 MiB ask for a promise of the writes so far and wait for the
          // one asked 4 steps before.
          pacedBytes += chunk.length;
          if (pacedBytes >= 8 << 20) {
            pacedBytes = 0;
            pending.push(device.queue.onSubmittedWorkDone());
            if (pending.length > 4) await pending.shift();
          }
        }
      }
      await device.queue.onSubmittedWorkDone();
      const seconds = (performance.now() - t0) / 1e3;
      const grew = peak - before;
      buffers.forEach((b) => b.destroy());
      return { seconds, grew };
    };
    const runs = { tmath: [], raw: [], paced: [] };
    for (let round = 0; round < 2; round++) {
      runs.raw.push(await loadRaw());
      runs.paced.push(await loadRaw(true));
      runs.tmath.push(await loadTmath());
    }
    const best = (xs) => xs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const t = best(runs.tmath);
    const r = best(runs.raw);
    const loadS = t.seconds;
    const rawS = r.seconds;
    const loadPeak = Math.max(...runs.tmath.map((x) => x.grew));
    const rawPeak = Math.max(...runs.raw.map((x) => x.grew));
    const checked = Math.min(...runs.tmath.map((x) => x.checked));
    const paced = best(runs.paced);
    const pacedPeak = Math.max(...runs.paced.map((x) => x.grew));
    result.safetensors = {
      tensors: file.tensors.length, bytes: file.dataBytes, checked,
      load_s: loadS, raw_write_buffer_s: rawS, time_ratio: loadS / rawS,
      load_gb_s: file.dataBytes / loadS / 1e9, raw_gb_s: file.dataBytes / rawS / 1e9,
      host_memory_peak_mib: loadPeak / 2 ** 20, raw_host_memory_peak_mib: rawPeak / 2 ** 20,
      raw_paced_s: paced.seconds, time_ratio_vs_paced: loadS / paced.seconds, raw_paced_host_memory_peak_mib: pacedPeak / 2 ** 20,
    };
  } finally {
    ring.dispose();
    single.dispose();
  }
  return result;
}

export function report(result, label) {
  const lines = [`Bounded transfers (${label}): readback GB/s`, '| MiB | ring (16 MiB chunks) | ring into out | single buffer | raw | ring / single |', '|---|---|---|---|---|---|'];
  for (const r of result.readback) {
    lines.push(`| ${r.mib} | ${r.ring_gb_s.toFixed(2)} | ${r.ring_into_gb_s.toFixed(2)} | ${r.single_gb_s.toFixed(2)} | ${r.raw_gb_s.toFixed(2)} | ${r.ring_over_single.toFixed(2)} |`);
  }
  const s = result.safetensors;
  if (s) {
    lines.push('', `safetensors, ${s.tensors} tensors, ${(s.bytes / 2 ** 20).toFixed(0)} MiB (${s.checked === s.bytes ? 'every byte checked' : 'NOT all checked'}): ` +
      `load ${s.load_s.toFixed(2)} s (${s.load_gb_s.toFixed(2)} GB/s), raw writeBuffer ${s.raw_write_buffer_s.toFixed(2)} s (${s.raw_gb_s.toFixed(2)} GB/s), ratio ${s.time_ratio.toFixed(2)}; ` +
      `host memory peak above start: tmath ${s.host_memory_peak_mib.toFixed(1)} MiB, raw ${s.raw_host_memory_peak_mib.toFixed(1)} MiB; ` +
      `raw writeBuffer paced (8 MiB steps, 4 deep) ${s.raw_paced_s.toFixed(2)} s, ${s.raw_paced_host_memory_peak_mib.toFixed(1)} MiB, tmath / paced raw ${s.time_ratio_vs_paced.toFixed(2)}`);
  }
  return lines.join('\n');
}
