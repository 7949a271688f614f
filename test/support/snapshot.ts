/** A cluster's objects as kind/namespace/name → uid@resourceVersion, to prove what changed and what did not. */
import { KINDS } from '../../simulator/apiserver/kinds.js';
import type { SimCluster } from '../../simulator/cluster.js';

export type Snapshot = Map<string, string>;

/** Everything in `namespace` plus cluster-scoped objects (namespaces excluded: tests make their own). */
export function snapshot(c: SimCluster, namespace: string): Snapshot {
  const out: Snapshot = new Map();
  for (const k of KINDS) {
    if (k.kind === 'Namespace') continue;
    for (const o of c.api.store.list(k, k.namespaced ? namespace : undefined)) {
      out.set(`${k.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, `${o.metadata.uid}@${o.metadata.resourceVersion}`);
    }
  }
  return out;
}

/** Differences as readable lines: added, removed, changed. */
export function diff(before: Snapshot, after: Snapshot, ignore: (key: string) => boolean = () => false): string[] {
  const lines: string[] = [];
  for (const [k, v] of after) if (!ignore(k) && before.get(k) !== v) lines.push(`${before.has(k) ? 'changed' : 'added'} ${k}`);
  for (const k of before.keys()) if (!ignore(k) && !after.has(k)) lines.push(`removed ${k}`);
  return lines.sort();
}
