/**
 * Turning what the clusters show at a deadline into a diagnosis an operator can act on. Pure and
 * deterministic: it runs inside the workflow.
 */
import type { Migration, Observation, StallInfo } from './contract.js';
import { percentCopied } from './details.js';
import { formatDuration } from './duration.js';

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
    case 'completion': {
      const copied = percentCopied(o?.progress);
      const pct = copied !== undefined ? `${copied}% of the state copied` : 'no progress reported';
      return `The state transfer did not complete within its budget of ${waited} (${pct}; source ${o?.sourceVMIM ?? '?'}, target ${o?.targetVMIM ?? '?'}). A guest that dirties memory faster than the migration bandwidth never converges.`;
    }
  }
}
