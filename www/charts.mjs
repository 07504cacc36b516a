// Small SVG line charts for the benchmark page: no dependency, readable in a screenshot.

const COLORS = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#0a7ea4', '#57606a'];
const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function ticks(lo, hi, log) {
  if (log) {
    const out = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) out.push(10 ** e);
    return out.filter((t) => t >= lo / 1.0001 && t <= hi * 1.0001);
  }
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 4 || 1));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => (hi - lo) / s <= 6) ?? step * 10;
  const out = [];
  for (let t = Math.ceil(lo / nice) * nice; t <= hi + nice * 1e-9; t += nice) out.push(t);
  return out;
}

export function formatNumber(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 2 ** 30).toFixed(a >= 1e10 ? 0 : 1)}G`;
  if (a >= 1e6) return `${(v / 2 ** 20).toFixed(a >= 1e7 ? 0 : 1)}M`;
  if (a >= 1e4) return `${(v / 2 ** 10).toFixed(0)}K`;
  if (a >= 100 || v === Math.round(v)) return String(Math.round(v));
  return v.toPrecision(2);
}

/**
 * A line chart: `series` is [{ name, points: [[x, y], ...] }]. Options: title, xLabel, yLabel,
 * logX, logY, xFormat (a function for tick labels).
 */
export function lineChart(series, { title, xLabel, yLabel, logX = false, logY = false, xFormat = formatNumber } = {}) {
  const W = 560, H = 300, L = 64, R = 150, T = 28, B = 44;
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart', role: 'img' });
  svg.append(el('text', { x: L, y: 16, 'font-weight': 'bold' }, title ?? ''));
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logX || x > 0) && (!logY || y > 0));
  if (all.length === 0) {
    svg.append(el('text', { x: L, y: H / 2 }, 'no data'));
    return svg;
  }
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [logY ? Math.min(...ys) : Math.min(0, ...ys), Math.max(...ys)];
  if (x0 === x1) { x0 = logX ? x0 / 2 : x0 - 1; x1 = logX ? x1 * 2 : x1 + 1; }
  if (y0 === y1) { y0 = logY ? y0 / 2 : y0 - 1; y1 = logY ? y1 * 2 : y1 + 1; }
  const f = (log) => (log ? Math.log10 : (v) => v);
  const sx = (x) => L + ((f(logX)(x) - f(logX)(x0)) / (f(logX)(x1) - f(logX)(x0))) * (W - L - R);
  const sy = (y) => H - B - ((f(logY)(y) - f(logY)(y0)) / (f(logY)(y1) - f(logY)(y0))) * (H - T - B);
  const axis = el('g', { stroke: '#8c959f', 'stroke-width': 1 });
  axis.append(el('line', { x1: L, y1: H - B, x2: W - R, y2: H - B }), el('line', { x1: L, y1: T, x2: L, y2: H - B }));
  svg.append(axis);
  for (const t of ticks(x0, x1, logX)) {
    svg.append(el('text', { x: sx(t), y: H - B + 16, 'text-anchor': 'middle', 'font-size': 11 }, xFormat(t)));
  }
  for (const t of ticks(y0, y1, logY)) {
    svg.append(el('line', { x1: L, x2: W - R, y1: sy(t), y2: sy(t), stroke: '#eaeef2' }));
    svg.append(el('text', { x: L - 6, y: sy(t) + 4, 'text-anchor': 'end', 'font-size': 11 }, formatNumber(t)));
  }
  svg.append(el('text', { x: (L + W - R) / 2, y: H - 8, 'text-anchor': 'middle', 'font-size': 12 }, xLabel ?? ''));
  svg.append(el('text', { x: 14, y: (T + H - B) / 2, 'text-anchor': 'middle', 'font-size': 12, transform: `rotate(-90 14 ${(T + H - B) / 2})` }, yLabel ?? ''));
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logX || x > 0) && (!logY || y > 0));
    if (pts.length) {
      svg.append(el('polyline', { points: pts.map(([x, y]) => `${sx(x)},${sy(y)}`).join(' '), fill: 'none', stroke: color, 'stroke-width': 2, ...(s.dashed ? { 'stroke-dasharray': '5 3' } : {}) }));
      if (pts.length < 40) for (const [x, y] of pts) svg.append(el('circle', { cx: sx(x), cy: sy(y), r: 3, fill: color }));
    }
    svg.append(el('rect', { x: W - R + 10, y: T + i * 18, width: 12, height: 4, fill: color }));
    svg.append(el('text', { x: W - R + 28, y: T + i * 18 + 6, 'font-size': 11 }, s.name));
  });
  return svg;
}
