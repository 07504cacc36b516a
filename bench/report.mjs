// The benchmark suites' results as plain text: every table the suites rendered (www/suites.mjs
// records each one, cell by cell, as the page shows it), in the page's order. Printed by
// bench/page.mjs (the page in Chromium) and bench/node.mjs (Node on Dawn).

const ORDER = ['seed', 'matmul', 'transfer', 'precision', 'pool', 'adapter'];

export function report(results, where = "Chromium's WebGPU", tag = 'www') {
  const a = results.adapter ?? {};
  const lines = [`[${tag}] ${where}: adapter=${a.name || a.architecture || '?'} (${a.vendor || '?'} ${a.architecture || ''}, ${a.deviceType}) peers: TF.js ${results.peers?.tfjs?.version ?? results.peers?.tfjs?.error}, ORT Web ${results.peers?.ort?.version ?? results.peers?.ort?.error}`];
  const sections = results.sections ?? {};
  const ids = [...ORDER.filter((id) => sections[id]), ...Object.keys(sections).filter((id) => !ORDER.includes(id))];
  for (const id of ids) {
    const { title, notes, tables } = sections[id];
    lines.push('', `## ${title}`);
    for (const note of notes) lines.push('', note);
    for (const { headers, rows } of tables) {
      lines.push('', `| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`);
      for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}
