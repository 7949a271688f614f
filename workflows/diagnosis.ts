/**
 * Turning what the clusters show at a deadline into a diagnosis an operator can act on. Pure and
 * deterministic: it runs inside the workflow.
 */
import type { Migration, Observation, StallInfo } from './contract.js';
import { formatDuration } from './duration.js';
import { DEADLINES } from './phases.js';
import { etaMs, formatBytes, formatRate as rate, outpaced, percentCopied } from './progress.js';

export { formatBytes } from './progress.js';

export function diagnose(deadline: StallInfo['deadline'], waitedMs: number, o: Observation | undefined, m: Migration): string {
  if (o?.unreachable?.length) return unreachable(deadline, o, m);
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
 * remaining, or a dirty rate at or above the transfer rate, means it is not converging, which waiting
 * will not fix. Both rates come from the source virt-handler's metrics, quoted with their numbers.
 */
function completion(waited: string, o: Observation | undefined, m: Migration): string {
  const budget = `The state transfer did not complete within its budget of ${waited}`;
  const sides = `source VMIM ${o?.sourceVMIM ?? '?'}, target VMIM ${o?.targetVMIM ?? '?'}`;
  const p = o?.progress;
  if (!p || p.totalBytes <= 0) {
    if (o?.progressUnavailable) {
      return `${budget} (${sides}); how far the copy got is unknown: ${o.progressUnavailable}. Check the migration on ${m.source.cluster} (virt-handler's kubevirt_vmi_migration_* metrics, the source VMI's migration state) and the migration network between the clusters.`;
    }
    return `${budget}, and the source virt-handler published no migration metrics for ${m.source.namespace}/${m.source.name} on ${m.source.cluster} (${sides}): nothing was seen being copied. Check the source VMI's migration state and the migration network between the clusters.`;
  }
  const copied = percentCopied(p) ?? 0;
  const sent = `${formatBytes(p.processedBytes)} sent of ${formatBytes(p.totalBytes)} in ${waited}, ${formatBytes(p.remainingBytes)} still to copy`;
  const known = [p.dirtyRate !== undefined ? `dirty rate ${rate(p.dirtyRate)}` : '', p.transferRate !== undefined ? `transfer rate ${rate(p.transferRate)}` : ''].filter(Boolean);
  const missing = [p.dirtyRate === undefined ? 'the dirty rate' : '', p.transferRate === undefined ? 'the transfer rate' : ''].filter(Boolean);
  const rates = `${known.join(', ')}${known.length && missing.length ? '; ' : ''}${missing.length ? `KubeVirt reports ${missing.length === 2 ? 'neither the dirty rate nor the transfer rate' : `no ${missing[0]!.replace(/^the /, '')}`}` : ''}`;
  const looped = p.processedBytes >= p.totalBytes;
  if (p.remainingBytes > 0 && (looped || outpaced(p))) {
    const lead = looped ? 'the copy passed 100% of the state and keeps going' : `${copied}% of the state copied`;
    return (
      `${budget}: ${lead}, because the guest dirties memory faster than the bandwidth can copy it (${rates}); ${sent} (${sides}). ` +
      "Waiting will not make it converge: raise the migration bandwidth (KubeVirt's migrations.bandwidthPerMigration), lower the guest's write load, or allow auto-converge or post-copy (migrations.allowAutoConverge, allowPostCopy), then retry; or cancel."
    );
  }
  if (p.remainingBytes <= 0) {
    return `${budget}: all of the state was copied (${sent}) but the migration did not finish (${sides}). Check the target VMI on ${m.destination.cluster}/${m.destination.namespace} and the VMIMs' conditions.`;
  }
  const left = etaMs(p);
  const eta = left !== undefined ? `; at these rates the rest needs about ${formatDuration(left)}` : '';
  return (
    `${budget}: ${copied}% of the state copied (${sent}; ${rates}${eta}; ${sides}). ` +
    'The copy is slower than the budget allows: if it is progressing, extend the deadline; otherwise check the migration bandwidth and the network between the clusters.'
  );
}

/**
 * A cluster whose API server does not answer: everything else ferry could say about the wait rests
 * on what it saw before the API went away, so the unreachable server is the diagnosis.
 */
function unreachable(deadline: StallInfo['deadline'], o: Observation, m: Migration): string {
  const servers = o.unreachable!.map((u) => `the ${u.side} cluster ${u.cluster}'s API server (${u.server}) is unreachable: ${u.error} (since ${u.since})`);
  const first = servers.join('; and ');
  const clusters = o.unreachable!.map((u) => u.cluster).join(' and ');
  return (
    `${first[0]!.toUpperCase()}${first.slice(1)}. ${DEADLINES[deadline].headline[0]!.toUpperCase()}${DEADLINES[deadline].headline.slice(1)}, but ferry cannot see the migration of ` +
    `${m.source.namespace}/${m.source.name} on ${clusters}, so it cannot tell whether KubeVirt is still working. ferry keeps retrying and the step goes on once the API server answers: ` +
    'check the API server and the network (firewalls, load balancers, VPN) between the worker and it; retry or cancel need it reachable too.'
  );
}
