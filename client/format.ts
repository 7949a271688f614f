/** Plain-text tables: padded columns, no colours (output is often piped). */
export function table(headers: string[], rows: string[][], opts: { header?: boolean } = {}): string {
  const all = opts.header === false ? rows : [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(0, ...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}
