/**
 * Reading a live migration's progress, as KubeVirt's virt-handler metrics give it: pure functions shared
 * by the status, the Web UI's details, the diagnosis and the CLI, so they all say the same thing.
 *
 * Pre-copy sends all the state, then again what the guest dirtied meanwhile: `processedBytes` counts
 * every byte sent, so it passes `totalBytes` while pre-copy iterates, and the copy converges only while
 * the transfer rate beats the dirty rate.
 */
import type { Observation } from './contract.js';

export type Progress = NonNullable<Observation['progress']>;

/** Whole percent of the state sent; undefined while KubeVirt reports no progress. */
export function percentCopied(p: Progress | undefined): number | undefined {
  if (!p || p.totalBytes <= 0) return undefined;
  return Math.max(0, Math.min(100, Math.floor((100 * p.processedBytes) / p.totalBytes)));
}

/** True when both rates are known and the guest dirties memory at least as fast as it is copied. */
export function outpaced(p: Progress): boolean {
  return p.dirtyRate !== undefined && p.transferRate !== undefined && p.dirtyRate >= p.transferRate;
}

/**
 * Milliseconds until the remaining bytes are sent at the current rates: the transfer rate less what the
 * guest dirties again meanwhile. Undefined without a transfer rate, or when the copy does not converge.
 */
export function etaMs(p: Progress): number | undefined {
  if (p.remainingBytes <= 0) return 0;
  if (!p.transferRate || p.transferRate <= 0) return undefined;
  const net = p.transferRate - (p.dirtyRate ?? 0);
  return net > 0 ? (1000 * p.remainingBytes) / net : undefined;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** 1536 → "1.5 KiB"; whole bytes below a KiB. */
export function formatBytes(n: number): string {
  let v = Math.max(0, n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

export const formatRate = (bytesPerSecond: number) => `${formatBytes(bytesPerSecond)}/s`;

/** A duration for people, whole seconds: "45s", "4m12s", "1h3m". */
export function formatEta(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** "transfer 64.0 MiB/s, dirty 8.0 MiB/s", with what KubeVirt reports of the two. */
export function ratesText(p: Progress): string | undefined {
  const parts = [p.transferRate !== undefined ? `transfer ${formatRate(p.transferRate)}` : '', p.dirtyRate !== undefined ? `dirty ${formatRate(p.dirtyRate)}` : ''];
  return parts.filter(Boolean).join(', ') || undefined;
}

/** "about 1m40s left", "not converging", or undefined when there is no transfer rate to go by. */
export function etaText(p: Progress): string | undefined {
  if (outpaced(p) && p.remainingBytes > 0) return 'not converging (the guest dirties memory as fast as it is copied)';
  const eta = etaMs(p);
  return eta === undefined ? undefined : `about ${formatEta(eta)} left`;
}

/** One line of progress for the status, the CLI and the Web UI: bytes, rates and the ETA. */
export function progressText(p: Progress): string {
  const pct = percentCopied(p);
  const head = `${formatBytes(p.processedBytes)} of ${formatBytes(p.totalBytes)} sent${pct !== undefined ? ` (${pct}%)` : ''}, ${formatBytes(p.remainingBytes)} to go`;
  return [head, ratesText(p), etaText(p)].filter(Boolean).join('; ');
}
