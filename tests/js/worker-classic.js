// A classic worker: no static import, so the package comes in by dynamic import().
(async () => {
  const tmath = await import('../../js/index.js');
  const { runScenarios } = await import('./scenarios.mjs');
  const results = await runScenarios({ tmath, gpu: navigator.gpu });
  self.postMessage({ results });
})().catch((e) => self.postMessage({ results: String(e) }));
