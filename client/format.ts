import { formatBytes } from '../workflows/progress.js';

/** Plain-text tables and units: padded columns, no colours (output is often piped). */
export function table(headers: string[], rows: string[][], opts: { header?: boolean } = {}): string {
  const all = opts.header === false ? rows : [headers, ...rows];
  const widths = headers.map((_, i) => Math.max(0, ...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Bytes with a binary unit: 512 B, 1.5 KiB, 10.0 GiB; "?" for what is not a byte count. */
export function bytes(n: number): string {
  return Number.isFinite(n) && n >= 0 ? formatBytes(n) : '?';
}
