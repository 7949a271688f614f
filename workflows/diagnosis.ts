/**
 * Turning what the clusters show at a deadline into a diagnosis an operator can act on. Pure and
 * deterministic: it runs inside the workflow.
 */
import type { Migration, Observation, StallInfo } from './contract.js';
import { percentCopied } from './details.js';
import { formatDuration } from './duration.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

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
const rate = (bytesPerSecond: number) => `${formatBytes(bytesPerSecond)}/s`;

export function diagnose(deadline: StallInfo['deadline'], waitedMs: number, o: Observation | undefined, m: Migration): string {
  const waited = formatDuration(waitedMs);
  const dst = `${m.destination.cluster}/${m.destination.namespace}`;
  const blocked = o?.blocked ?? '';
  switch (deadline) {
    case 'receiverReady':
      return `The receiver VMI ${dst}/${m.source.name} did not reach WaitingForSync within ${waited} (it is ${o?.targetVMI ?? 'absent'}). Check scheduling, storage and instancetypes on ${m.destination.cluster}.`;
    case 'syncAddress':
      return `The target VMIM on ${dst} published no synchronization address within ${waited}. Is virt-synchronization-controller running on ${m.destination.cluster}, with the DecentralizedLiveMigration gate on?`;
    case 'handshake': {
      const addr = o?.syncAddress ?? 'the advertised address';
      if (/i\/o timeout|connection refused|no route to host|network is unreachable|connection reset|deadline exceeded/i.test(blocked)) {
        return `The source cannot reach the destination's synchronization address ${addr} (${blocked}). Both clusters' sync controllers must reach each other (routing, firewalls, Submariner); the migration waits until they can.`;
      }
      if (/x509|certificate|tls:/i.test(blocked)) {
        return `The synchronization controllers do not trust each other (${blocked}). The KubeVirt CA of each cluster must be in the other's kubevirt-ca; ferry syncs them at start, so a CA may have rotated since.`;
      }
      if (/unable to locate VMI for migrationID/i.test(blocked)) {
        return `The destination knows no target migration for this migration ID (${blocked}): the target VMIM is missing or was recreated.`;
      }
      return `The source VMIM stayed in ${o?.sourceVMIM ?? 'Synchronizing'} for ${waited} while the target is ${o?.targetVMIM ?? 'unknown'}${blocked ? ` (${blocked})` : ''}; the two synchronization controllers have not completed their handshake with ${addr}.`;
    }
    case 'completion':
      return completion(waited, o, m);
  }
}

/**
 * The completion deadline. Pre-copy sends all the state, then again what the guest dirtied meanwhile,
 * until the rest fits the allowed downtime: `processedBytes` passing `totalBytes` with bytes still
 * remaining means it is iterating and not converging, which waiting will not fix.
 */
function completion(waited: string, o: Observation | undefined, m: Migration): string {
  const budget = `The state transfer did not complete within its budget of ${waited}`;
  const sides = `source VMIM ${o?.sourceVMIM ?? '?'}, target VMIM ${o?.targetVMIM ?? '?'}`;
  const p = o?.progress;
  if (!p || p.totalBytes <= 0) {
    return `${budget}, and KubeVirt reported no transfer progress on the source VMI (${sides}): nothing was seen being copied. Check the source VMI's migration state on ${m.source.cluster} and the migration network between the clusters.`;
  }
  const copied = percentCopied(p) ?? 0;
  const sent = `${formatBytes(p.processedBytes)} sent of ${formatBytes(p.totalBytes)} in ${waited}${p.iteration !== undefined ? `, pre-copy iteration ${p.iteration}` : ''}, ${formatBytes(p.remainingBytes)} still to copy`;
  const known = [p.dirtyRate !== undefined ? `dirty rate ${rate(p.dirtyRate)}` : '', p.transferRate !== undefined ? `transfer rate ${rate(p.transferRate)}` : ''].filter(Boolean);
  const missing = [p.dirtyRate === undefined ? 'the dirty rate' : '', p.transferRate === undefined ? 'the transfer rate' : ''].filter(Boolean);
  const rates = `${known.join(', ')}${known.length && missing.length ? '; ' : ''}${missing.length ? `KubeVirt reports ${missing.length === 2 ? 'neither the dirty rate nor the transfer rate' : `no ${missing[0]!.replace(/^the /, '')}`}` : ''}`;
  const outpaced = p.dirtyRate !== undefined && p.transferRate !== undefined && p.dirtyRate >= p.transferRate;
  const looped = p.processedBytes >= p.totalBytes || (p.iteration ?? 1) > 1;
  if (p.remainingBytes > 0 && (looped || outpaced)) {
    const lead =
      p.processedBytes >= p.totalBytes
        ? 'the copy passed 100% of the state and keeps going'
        : looped
          ? `pre-copy is on iteration ${p.iteration} without converging (${copied}% of the state sent)`
          : `${copied}% of the state copied`;
    return (
      `${budget}: ${lead}, because the guest dirties memory faster than the bandwidth can copy it (${rates}); ${sent} (${sides}). ` +
      "Waiting will not make it converge: raise the migration bandwidth (KubeVirt's migrations.bandwidthPerMigration), lower the guest's write load, or allow auto-converge or post-copy (migrations.allowAutoConverge, allowPostCopy), then retry; or cancel."
    );
  }
  if (p.remainingBytes <= 0) {
    return `${budget}: all of the state was copied (${sent}) but the migration did not finish (${sides}). Check the target VMI on ${m.destination.cluster}/${m.destination.namespace} and the VMIMs' conditions.`;
  }
  const eta = p.transferRate ? `; at ${rate(p.transferRate)} the rest needs about ${formatDuration((1000 * p.remainingBytes) / p.transferRate)}` : '';
  return (
    `${budget}: ${copied}% of the state copied (${sent}; ${rates}${eta}; ${sides}). ` +
    'The copy is slower than the budget allows: if it is progressing, extend the deadline; otherwise check the migration bandwidth and the network between the clusters.'
  );
}
