/**
 * CA synchronization: each cluster's KubeVirt must trust the other's CA before their synchronization
 * controllers can talk. The peer's `kubevirt-ca` bundle goes into the local `kubevirt-external-ca`,
 * only when the local `kubevirt-ca` does not already hold it (virt-operator merges and then blanks the
 * external ConfigMap, so that is the only reliable test), and the activity waits until virt-operator
 * has merged it. Idempotent; same-cluster moves need nothing.
 */
import { Context } from '@temporalio/activity';
import { KUBEVIRT_CA as CA, KUBEVIRT_EXTERNAL_CA as EXTERNAL_CA } from './access.js';
import type { ActivityDeps } from './context.js';
import type { ClusterClient } from './kube/cluster.js';
import { apiFailure, isConflict, orFail } from './kube/errors.js';
import type { KubeObject } from './kube/kinds.js';

const KEY = 'ca-bundle';

/** The certificates of a PEM bundle, each normalised (body re-wrapped) so equal certificates compare equal. */
export function certificates(bundle: string | undefined): string[] {
  const bodies = [...(bundle ?? '').matchAll(/-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/g)].map((m) => m[1]!.replace(/\s+/g, ''));
  return bodies.map((b) => `-----BEGIN CERTIFICATE-----\n${b.replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END CERTIFICATE-----`);
}

async function kubevirtNamespace(c: ClusterClient): Promise<string> {
  const kvs = await orFail(c.list('KubeVirt', undefined), 'finding the KubeVirt CR', c.name);
  const ns = kvs[0]?.metadata.namespace;
  if (!ns) throw apiFailure({ code: 404, body: { reason: 'NotFound', message: 'no KubeVirt CR found' } }, 'finding the KubeVirt CR', c.name);
  return ns;
}

async function bundleOf(c: ClusterClient, ns: string, name: string): Promise<KubeObject | undefined> {
  return orFail(c.get('ConfigMap', ns, name), `reading ConfigMap ${ns}/${name}`, c.name);
}

const missingFrom = (have: string[], want: string[]) => want.filter((w) => !have.includes(w));

/** Make `to` trust `from`'s CA; returns whether anything was written. */
async function trust(from: ClusterClient, fromNs: string, to: ClusterClient, toNs: string): Promise<boolean> {
  const peer = certificates(((await bundleOf(from, fromNs, CA))?.data as Record<string, string> | undefined)?.[KEY]);
  if (!peer.length) throw apiFailure({ code: 404, body: { reason: 'NotFound', message: `${fromNs}/${CA} has no ${KEY}` } }, 'reading the KubeVirt CA', from.name);
  for (let i = 0; ; i++) {
    const local = certificates(((await bundleOf(to, toNs, CA))?.data as Record<string, string> | undefined)?.[KEY]);
    const missing = missingFrom(local, peer);
    if (!missing.length) return false;
    const ext = await bundleOf(to, toNs, EXTERNAL_CA);
    const pending = certificates((ext?.data as Record<string, string> | undefined)?.[KEY]);
    const next = [...new Set([...pending, ...missing])].join('\n') + '\n';
    try {
      if (!ext) {
        await to.create('ConfigMap', toNs, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: EXTERNAL_CA, namespace: toNs }, data: { [KEY]: next } });
      } else if (missingFrom(pending, missing).length) {
        await to.replace('ConfigMap', { ...ext, data: { ...(ext.data as object), [KEY]: next } });
      }
      return true;
    } catch (e) {
      // virt-operator rewrites the ConfigMap concurrently; read again.
      if (!isConflict(e) || i > 10) throw apiFailure(e, `writing ${toNs}/${EXTERNAL_CA}`, to.name);
    }
  }
}

async function trusted(from: ClusterClient, fromNs: string, to: ClusterClient, toNs: string): Promise<boolean> {
  const peer = certificates(((await bundleOf(from, fromNs, CA))?.data as Record<string, string> | undefined)?.[KEY]);
  const local = certificates(((await bundleOf(to, toNs, CA))?.data as Record<string, string> | undefined)?.[KEY]);
  return missingFrom(local, peer).length === 0;
}

export function certificateActivities(deps: ActivityDeps) {
  return {
    async syncCertificates(input: { source: string; destination: string; pollIntervalMs: number }): Promise<{ updated: string[] }> {
      if (input.source === input.destination) return { updated: [] };
      const ctx = Context.current();
      const a = deps.clusters.get(input.source);
      const b = deps.clusters.get(input.destination);
      const [aNs, bNs] = await Promise.all([kubevirtNamespace(a), kubevirtNamespace(b)]);
      const updated: string[] = [];
      if (await trust(a, aNs, b, bNs)) updated.push(b.name);
      if (await trust(b, bNs, a, aNs)) updated.push(a.name);
      // virt-operator merges asynchronously: wait until both sides list the peer CA in kubevirt-ca.
      while (!((await trusted(a, aNs, b, bNs)) && (await trusted(b, bNs, a, aNs)))) {
        ctx.heartbeat({ waitingFor: 'virt-operator to merge kubevirt-external-ca into kubevirt-ca', updated });
        await ctx.sleep(Math.min(input.pollIntervalMs, 1000));
      }
      return { updated };
    },
  };
}
