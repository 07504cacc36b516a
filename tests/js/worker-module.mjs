// A module worker running the shared scenarios with the package imported as usual. It starts
// on its own: a message posted to a module worker before its top-level await (the .wasm
// loading) finishes would find no handler yet.
import * as tmath from '../../js/index.js';
import { runScenarios } from './scenarios.mjs';

const results = await runScenarios({ tmath, gpu: navigator.gpu });
// Handing a result to the main thread: read it back and transfer the array's memory.
const engine = await tmath.Engine.create();
const out = await engine.mul(engine.toDevice(new Float32Array([1, 2, 3])), 2).toHost();
engine.dispose();
self.postMessage({ results, out }, [out.buffer]);
