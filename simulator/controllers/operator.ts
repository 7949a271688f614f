/**
 * virt-operator's part in decentralized migration: publish this cluster's CA in `kubevirt-ca`, merge
 * certificates dropped into `kubevirt-external-ca` (only currently valid ones, de-duplicated) and then
 * blank it, and advertise the synchronization controller's address in `KubeVirt.status` while the
 * DecentralizedLiveMigration gate is on.
 */
import { currentCerts, splitBundle } from '../pki.js';
import type { ControllerContext } from './context.js';
import { CA_BUNDLE_KEY, CA_CONFIGMAP, decentralizedEnabled, EXTERNAL_CA_CONFIGMAP, getPath, KUBEVIRT_CR, KUBEVIRT_NAMESPACE } from './kubevirt.js';
import type { KubeObject } from './kube.js';

export interface SyncEndpointInfo {
  /** host:port the synchronization controller listens on, once it runs. */
  address(): string | undefined;
}

const KEY = 'kubevirt';

export function startOperator(ctx: ControllerContext, caPem: string, sync: SyncEndpointInfo): { poke: () => void } {
  const q = ctx.queue(
    'virt-operator',
    async () => {
      await reconcileCA(ctx, caPem);
      await reconcileKubeVirt(ctx, sync);
    },
    1,
  );
  ctx.watch('KubeVirt', q, () => KEY);
  ctx.watch('ConfigMap', q, (o) => (o.metadata.namespace === KUBEVIRT_NAMESPACE ? KEY : undefined));
  q.add(KEY);
  return { poke: () => q.add(KEY) };
}

const bundleOf = (cm: KubeObject | undefined) => String((cm?.data as Record<string, string> | undefined)?.[CA_BUNDLE_KEY] ?? '');

function configMap(name: string, bundle: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: KUBEVIRT_NAMESPACE }, data: { [CA_BUNDLE_KEY]: bundle } };
}

async function reconcileCA(ctx: ControllerContext, caPem: string): Promise<void> {
  if (!ctx.get('KubeVirt', KUBEVIRT_NAMESPACE, KUBEVIRT_CR)) return; // nothing installed yet
  const own = splitBundle(caPem)[0]!;
  let ca = ctx.get('ConfigMap', KUBEVIRT_NAMESPACE, CA_CONFIGMAP);
  if (!ca) ca = await ctx.client.create(configMap(CA_CONFIGMAP, own));
  const ext = ctx.get('ConfigMap', KUBEVIRT_NAMESPACE, EXTERNAL_CA_CONFIGMAP);
  if (!ext) {
    await ctx.client.create(configMap(EXTERNAL_CA_CONFIGMAP, ''));
    return;
  }
  const have = splitBundle(bundleOf(ca));
  const merged = [...new Set([own, ...have, ...currentCerts(bundleOf(ext))])];
  if (merged.join('') !== have.join('')) {
    await ctx.client.update({ ...ca, data: { ...(ca.data as object), [CA_BUNDLE_KEY]: merged.join('') } });
  }
  if (bundleOf(ext) !== '') await ctx.client.update({ ...ext, data: { ...(ext.data as object), [CA_BUNDLE_KEY]: '' } });
}

async function reconcileKubeVirt(ctx: ControllerContext, sync: SyncEndpointInfo): Promise<void> {
  const kv = ctx.get('KubeVirt', KUBEVIRT_NAMESPACE, KUBEVIRT_CR);
  if (!kv) return;
  const address = decentralizedEnabled(kv) ? sync.address() : undefined;
  const status = {
    ...((kv.status as object) ?? {}),
    phase: 'Deployed',
    observedGeneration: kv.metadata.generation,
    synchronizationAddresses: address ? [address] : [],
    conditions: [
      { type: 'Available', status: 'True', reason: 'AllResourcesCreated', message: 'All components are ready.' },
      { type: 'Progressing', status: 'False', reason: 'AllResourcesCreated', message: 'All components are ready.' },
      { type: 'Degraded', status: 'False', reason: 'AllResourcesCreated', message: 'All components are ready.' },
    ],
  };
  if (JSON.stringify(getPath(kv, 'status')) !== JSON.stringify(status)) await ctx.client.updateStatus({ ...kv, status });
}
