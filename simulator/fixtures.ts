/**
 * Fixture loading: YAML files under simulator/fixtures/{both,source,destination} (or a directory the
 * user names) are created in the matching cluster. Files are plain Kubernetes manifests, so a user can
 * read, copy and extend them, or `kubectl apply` them to the running simulator.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { kindInfo } from './apiserver/kinds.js';
import type { KubeObject } from './apiserver/object.js';
import type { Store } from './apiserver/store.js';

export const DEFAULT_FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));

export function readManifests(dir: string): KubeObject[] {
  if (!existsSync(dir)) return [];
  const out: KubeObject[] = [];
  for (const f of readdirSync(dir)
    .filter((n) => /\.ya?ml$/.test(n))
    .sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      if (doc.errors.length) throw new Error(`${join(dir, f)}: ${doc.errors[0]!.message}`);
      const o = doc.toJS() as KubeObject | null;
      if (o) out.push(o);
    }
  }
  return out;
}

/** Namespaces first: everything else may live in one. */
export function namespacesFirst(manifests: KubeObject[]): KubeObject[] {
  return [...manifests].sort((a, b) => Number(b.kind === 'Namespace') - Number(a.kind === 'Namespace'));
}

/** Create manifests in dependency order (namespaces first), skipping ones that already exist. */
export function loadInto(store: Store, manifests: KubeObject[]): number {
  const ordered = namespacesFirst(manifests);
  let n = 0;
  for (const m of ordered) {
    const k = kindInfo(m.kind);
    if (store.peek(m.kind, m.metadata.namespace, m.metadata.name!)) continue;
    store.create(k, m.metadata.namespace, m);
    n++;
  }
  return n;
}

export function fixturesFor(root: string, cluster: 'source' | 'destination'): KubeObject[] {
  return [...readManifests(join(root, 'both')), ...readManifests(join(root, cluster))];
}
