/**
 * CDI and a storage provisioner: a DataVolume gets a PersistentVolumeClaim of the same name that binds
 * at its requested size; blank DataVolumes succeed at once, imports `timing.importMs` after they began.
 */
import type { ControllerContext } from './context.js';
import { getPath, now } from './kubevirt.js';
import type { KubeObject } from './kube.js';
import { splitKey } from './runtime.js';

function pvcFor(dv: KubeObject): KubeObject {
  const storage = (getPath<Record<string, unknown>>(dv, 'spec.storage') ?? getPath<Record<string, unknown>>(dv, 'spec.pvc') ?? {}) as Record<string, unknown>;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: dv.metadata.name!,
      namespace: dv.metadata.namespace!,
      labels: { app: 'containerized-data-importer', ...(dv.metadata.labels ?? {}) },
      annotations: { 'cdi.kubevirt.io/storage.contentType': 'kubevirt' },
      ownerReferences: [{ apiVersion: 'cdi.kubevirt.io/v1beta1', kind: 'DataVolume', name: dv.metadata.name!, uid: dv.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      accessModes: storage.accessModes ?? ['ReadWriteOnce'],
      volumeMode: storage.volumeMode ?? 'Filesystem',
      storageClassName: storage.storageClassName ?? 'standard',
      resources: storage.resources ?? { requests: { storage: '1Gi' } },
    },
  };
}

export function startCDI(ctx: ControllerContext): void {
  // When each import began, by DataVolume uid: the writes of the import itself requeue the DataVolume
  // at once, and must not end it before `importMs` has passed.
  const importing = new Map<string, number>();
  const dvQueue = ctx.queue('cdi-datavolume', async (key) => {
    const { namespace, name } = splitKey(key);
    const dv = ctx.get('DataVolume', namespace, name);
    if (!dv || dv.metadata.deletionTimestamp) {
      if (dv) importing.delete(dv.metadata.uid!);
      return;
    }
    let pvc = ctx.get('PersistentVolumeClaim', namespace, name);
    if (!pvc) pvc = await ctx.client.create(pvcFor(dv));
    const blank = !!getPath(dv, 'spec.source.blank');
    const phase = String(getPath(dv, 'status.phase') ?? '');
    const bound = getPath(pvc, 'status.phase') === 'Bound';
    const status = (s: Record<string, unknown>) => ctx.client.updateStatus({ ...dv, status: { ...(dv.status as object), ...s } });
    if (!bound) {
      if (phase !== 'Pending') await status({ phase: 'Pending', progress: 'N/A' });
      return;
    }
    if (phase === 'Succeeded') return void importing.delete(dv.metadata.uid!);
    const claimName = { claimName: name };
    if (blank) return void (await status({ phase: 'Succeeded', progress: '100.0%', ...claimName, conditions: readyConditions() }));
    const uid = dv.metadata.uid!;
    if (phase !== 'ImportInProgress') {
      await status({ phase: 'ImportInProgress', progress: '0.00%', ...claimName });
      importing.set(uid, Date.now());
      return { requeueAfterMs: ctx.timing.importMs };
    }
    // An import this controller did not see begin (it was restarted) starts over now.
    if (!importing.has(uid)) importing.set(uid, Date.now());
    const left = importing.get(uid)! + ctx.timing.importMs - Date.now();
    if (left > 0) return { requeueAfterMs: left };
    await status({ phase: 'Succeeded', progress: '100.0%', ...claimName, conditions: readyConditions() });
    importing.delete(uid);
  });
  ctx.watch('DataVolume', dvQueue);
  ctx.watch('PersistentVolumeClaim', dvQueue);

  // The provisioner: every claim binds to a volume of exactly the size it asked for.
  const pvcQueue = ctx.queue('provisioner', async (key) => {
    const { namespace, name } = splitKey(key);
    const pvc = ctx.get('PersistentVolumeClaim', namespace, name);
    if (!pvc || pvc.metadata.deletionTimestamp || getPath(pvc, 'status.phase') === 'Bound') return;
    await ctx.client.updateStatus({
      ...pvc,
      status: {
        phase: 'Bound',
        accessModes: getPath(pvc, 'spec.accessModes') ?? ['ReadWriteOnce'],
        capacity: { storage: getPath(pvc, 'spec.resources.requests.storage') ?? '1Gi' },
      },
    });
  });
  ctx.watch('PersistentVolumeClaim', pvcQueue);
}

function readyConditions() {
  const t = now();
  return [
    { type: 'Bound', status: 'True', reason: 'Bound', message: 'PVC bound', lastTransitionTime: t, lastHeartbeatTime: t },
    { type: 'Ready', status: 'True', reason: '', message: '', lastTransitionTime: t, lastHeartbeatTime: t },
    { type: 'Running', status: 'False', reason: 'Completed', message: '', lastTransitionTime: t, lastHeartbeatTime: t },
  ];
}
