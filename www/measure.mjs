// What the benchmark suites (www/suites.mjs) share: timing, formatting, seeded data, and the
// recorder that keeps every table the suites render as text for the reports.

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Median wall time of `fn` in ms over `samples` runs, after `warm` unmeasured runs. */
export async function time(fn, { samples = 5, warm = 1 } = {}) {
  for (let i = 0; i < warm; i++) await fn();
  const out = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return median(out);
}

export const gbps = (bytes, ms) => bytes / ms / 1e6;
export const fmt = (v, digits = 2) => (v === undefined || v === null || Number.isNaN(v) ? '–' : typeof v === 'number' ? (Number.isInteger(v) || Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(digits)) : String(v));
export const size = (b) => (b >= 1 << 20 ? `${b / (1 << 20)} MiB` : b >= 1024 ? `${b / 1024} KiB` : `${b} B`);

export function rng(seed) {
  let s = seed >>> 0;
  return (n) => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s % n; };
}

export function randomMatrix(n, seed) {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r(2001) / 1000 - 1);
}

/**
 * `ui`, with every table it is given recorded as text in `results.sections[id]` (title, notes,
 * tables of cell strings, formatted as the page shows them), so a text report prints exactly what
 * the page renders instead of deriving its own tables.
 */
export function recording(target, results) {
  let notes = [];
  let tables = [];
  const cell = (v) => (typeof v === 'number' ? fmt(v) : v ?? '–');
  results.sections = {};
  return {
    ...target,
    note(text) { notes.push(text); return target.note(text); },
    table(headers, rows) {
      tables.push({ headers, rows: rows.map((row) => row.map(cell)) });
      return target.table(headers, rows);
    },
    section(id, title, ...nodes) {
      results.sections[id] = { title, notes, tables };
      notes = [];
      tables = [];
      return target.section(id, title, ...nodes);
    },
    facts(id, title, entries) {
      results.sections[id] = { title, notes: [], tables: [{ headers: ['', ''], rows: entries }] };
      return target.facts(id, title, entries);
    },
  };
}
