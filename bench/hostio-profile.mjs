// A host-in/host-out 64x64 matmul in a loop on Dawn in Node, tmath's or the raw WebGPU calls',
// timed, and under `node --cpu-prof` profiled: where a small op's time goes on the JS thread.
//
//   node [--cpu-prof --cpu-prof-dir=DIR] bench/hostio-profile.mjs [tmath|raw] [iterations] [--root DIR]
//   python3 bench/cpuprofile_split.py DIR/*.cpuprofile ITERATIONS     # microseconds per iteration by kind
//
// Both run on the engine's device; the raw loop is the hot-path workload's raw floor
// (rawHostInOut: two writeBuffer calls, one pass of one dispatch, a copy into a staging buffer,
// one submit, mapAsync).
// --root: another build's checkout (its js/ and pkg/) to measure instead of this one.
import { hostInOut } from './hostio-setup.mjs';

const { mode, iterations, floor, tmathStep } = await hostInOut(process.argv.slice(2));
const times = [];
for (let i = 0; i < iterations; i++) {
  const t0 = performance.now();
  await (mode === 'raw' ? floor.step() : tmathStep());
  times.push(performance.now() - t0);
}
const rest = times.slice(100).sort((p, q) => p - q);
console.log(`${mode}: median ${(rest[rest.length >> 1] * 1000).toFixed(1)} us per host-in/host-out 64x64 matmul`);
process.exit(0);
