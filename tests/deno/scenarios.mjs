// The shared JS scenarios (tests/js/scenarios.mjs) in Deno, on its built-in WebGPU (wgpu; here
// it finds lavapipe). Prints the results as one JSON line; tests/js/runtimes.test.mjs runs this
// with the `deno` binary from npm and checks them.
import * as tmath from '../../js/index.js';
import { runScenarios } from '../js/scenarios.mjs';

const results = await runScenarios({ tmath, gpu: navigator.gpu });
console.log(JSON.stringify(results));
