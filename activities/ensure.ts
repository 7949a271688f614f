/**
 * The one idempotent write of the prerequisites and the receiver VM: create under a deterministic
 * name; on AlreadyExists read back what is there (trying again if it vanished meanwhile) and say
 * whether it is this migration's. The caller decides what a foreign object means (used as-is, or a
 * NotOurs failure).
 */
import type { ClusterClient } from './kube/cluster.js';
import { apiFailure, isAlreadyExists, notOurs, orFail } from './kube/errors.js';
import type { KindName, KubeObject } from './kube/kinds.js';
import { isOwnedBy, ownerOf } from './labels.js';

export interface Ensured {
  object: KubeObject;
  /** Made by this call. */
  created: boolean;
  /** Carries this migration's ownership label (made now or by an earlier run). */
  ours: boolean;
}

export async function ensureObject(c: ClusterClient, kind: KindName, body: KubeObject, workflowId: string): Promise<Ensured> {
  const ns = body.metadata.namespace!;
  const name = body.metadata.name;
  const what = `creating ${kind} ${ns}/${name}`;
  const sensitive = kind === 'Secret';
  for (let i = 0; ; i++) {
    try {
      return { object: await c.create(kind, ns, body), created: true, ours: true };
    } catch (e) {
      if (!isAlreadyExists(e)) throw apiFailure(e, what, c.name, sensitive);
    }
    const existing = await orFail(c.get(kind, ns, name), `reading ${kind} ${ns}/${name}`, c.name, sensitive);
    if (existing) return { object: existing, created: false, ours: isOwnedBy(existing.metadata, workflowId) };
    if (i >= 2) throw apiFailure({ code: 503, body: { reason: 'Conflict', message: 'the object keeps appearing and vanishing' } }, what, c.name);
  }
}

/** As ensureObject, and an object of the name that is not this migration's is a NotOurs failure. */
export async function ensureOwned(c: ClusterClient, kind: KindName, body: KubeObject, workflowId: string): Promise<KubeObject> {
  const r = await ensureObject(c, kind, body, workflowId);
  if (!r.ours) throw notOurs(c.name, kind, body.metadata.namespace, body.metadata.name, ownerOf(r.object.metadata));
  return r.object;
}
