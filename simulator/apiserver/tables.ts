/**
 * Server-side printing (`Accept: ...;as=Table`), so `kubectl get vm` shows the columns KubeVirt's CRDs
 * declare rather than just NAME and AGE.
 */
import { getPath } from '../paths.js';
import type { KindInfo } from './kinds.js';
import type { KubeObject } from './object.js';

type Cell = string | number | boolean;
interface Column {
  name: string;
  type: 'string' | 'integer' | 'boolean' | 'date';
  value: (o: KubeObject) => Cell;
}

const str = (path: string) => (o: KubeObject) => {
  const v = getPath(o, path);
  return v === undefined || v === null ? '' : String(v);
};

export function age(ts: string | undefined, now = Date.now()): string {
  if (!ts) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

const AGE: Column = { name: 'Age', type: 'date', value: (o) => age(o.metadata.creationTimestamp) };

const COLUMNS: Record<string, Column[]> = {
  Namespace: [{ name: 'Status', type: 'string', value: (o) => (o.metadata.deletionTimestamp ? 'Terminating' : 'Active') }, AGE],
  ConfigMap: [{ name: 'Data', type: 'integer', value: (o) => Object.keys((o.data as object) ?? {}).length }, AGE],
  Secret: [{ name: 'Type', type: 'string', value: str('type') }, { name: 'Data', type: 'integer', value: (o) => Object.keys((o.data as object) ?? {}).length }, AGE],
  PersistentVolumeClaim: [
    { name: 'Status', type: 'string', value: str('status.phase') },
    { name: 'Capacity', type: 'string', value: str('status.capacity.storage') },
    { name: 'Access Modes', type: 'string', value: (o) => ((getPath(o, 'spec.accessModes') as string[]) ?? []).join(',') },
    { name: 'StorageClass', type: 'string', value: str('spec.storageClassName') },
    AGE,
  ],
  KubeVirt: [AGE, { name: 'Phase', type: 'string', value: str('status.phase') }],
  VirtualMachine: [
    AGE,
    { name: 'Status', type: 'string', value: str('status.printableStatus') },
    { name: 'Ready', type: 'string', value: (o) => String(getPath(o, 'status.ready') ?? false) },
  ],
  VirtualMachineInstance: [
    AGE,
    { name: 'Phase', type: 'string', value: str('status.phase') },
    { name: 'IP', type: 'string', value: str('status.interfaces.0.ipAddress') },
    { name: 'NodeName', type: 'string', value: str('status.nodeName') },
    {
      name: 'Ready',
      type: 'string',
      value: (o) => {
        const c = ((getPath(o, 'status.conditions') as { type: string; status: string }[]) ?? []).find((x) => x.type === 'Ready');
        return c?.status === 'True' ? 'True' : 'False';
      },
    },
  ],
  VirtualMachineInstanceMigration: [
    { name: 'Phase', type: 'string', value: str('status.phase') },
    { name: 'VMI', type: 'string', value: str('spec.vmiName') },
  ],
  DataVolume: [
    { name: 'Phase', type: 'string', value: str('status.phase') },
    { name: 'Progress', type: 'string', value: str('status.progress') },
    { name: 'Restarts', type: 'integer', value: (o) => Number(getPath(o, 'status.restartCount') ?? 0) },
    AGE,
  ],
};

export function table(k: KindInfo, objects: KubeObject[], resourceVersion: string): Record<string, unknown> {
  const cols = COLUMNS[k.kind] ?? [AGE];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name of the object', priority: 0 },
      ...cols.map((c) => ({ name: c.name, type: c.type, format: '', description: c.name, priority: 0 })),
    ],
    rows: objects.map((o) => ({
      cells: [o.metadata.name, ...cols.map((c) => c.value(o))],
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}

export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept);
}
