/**
 * What ferry asks the clusters to allow (activities/access.ts) and what deploy/rbac.yaml grants are the
 * same thing: every need is granted, and nothing is granted that no need uses (least privilege).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ACCESS_NEEDS, resourceOf, ruleAllows } from '../../activities/access.js';
import type { PolicyRule } from '../../activities/kube/cluster.js';
import { REPO_ROOT } from '../../tools/temporal-cli.js';

interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
}
const docs = parseAllDocuments(readFileSync(join(REPO_ROOT, 'deploy', 'rbac.yaml'), 'utf8')).map((d) => d.toJS() as Doc);
const clusterRules = docs.filter((d) => d.kind === 'ClusterRole').flatMap((d) => d.rules ?? []);
const kubevirtRules = docs.filter((d) => d.kind === 'Role' && d.metadata.namespace === 'kubevirt').flatMap((d) => d.rules ?? []);

describe("ferry's RBAC", () => {
  it('deploy/rbac.yaml grants every need (the ClusterRole everywhere, the Role in KubeVirt’s namespace)', () => {
    for (const n of ACCESS_NEEDS) {
      const rules = n.scope === 'kubevirt' ? [...clusterRules, ...kubevirtRules] : clusterRules;
      for (const verb of n.verbs) {
        for (const name of n.names ?? [undefined]) {
          const attrs = { verb, ...resourceOf(n.kind), ...(name ? { name } : {}) };
          assert.ok(
            rules.some((r) => ruleAllows(r, attrs)),
            `${n.side}/${n.scope}: ${verb} ${attrs.resource}${name ? `/${name}` : ''} (${n.why}) is not granted`,
          );
        }
      }
    }
  });

  it('grants nothing no need uses (per resource name, and in the scope it is bound)', () => {
    for (const [scope, rules] of [
      ['cluster-or-workload', clusterRules],
      ['kubevirt', kubevirtRules],
    ] as const) {
      for (const r of rules) {
        for (const group of r.apiGroups ?? []) {
          for (const resource of r.resources ?? []) {
            for (const verb of r.verbs) {
              for (const name of r.resourceNames ?? [undefined]) {
                const used = ACCESS_NEEDS.some((n) => {
                  const res = resourceOf(n.kind);
                  const inScope = scope === 'kubevirt' ? n.scope === 'kubevirt' : n.scope !== 'kubevirt';
                  const named = name === undefined ? n.names === undefined : (n.names ?? []).includes(name);
                  return inScope && named && res.group === group && res.resource === resource && n.verbs.includes(verb);
                });
                assert.ok(used, `${scope} rule grants ${verb} ${resource}.${group}${name ? `/${name}` : ''}, which ferry never needs`);
              }
            }
          }
        }
      }
    }
  });

  it('matches rules as the API server does: wildcards, and resourceNames only for named requests', () => {
    const attrs = { verb: 'get', group: '', resource: 'configmaps', name: 'kubevirt-ca' };
    assert.ok(ruleAllows({ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }, attrs));
    assert.ok(ruleAllows({ apiGroups: [''], resources: ['configmaps'], verbs: ['get'], resourceNames: ['kubevirt-ca'] }, attrs));
    assert.ok(!ruleAllows({ apiGroups: [''], resources: ['configmaps'], verbs: ['get'], resourceNames: ['other'] }, attrs));
    assert.ok(!ruleAllows({ apiGroups: [''], resources: ['configmaps'], verbs: ['get'], resourceNames: ['kubevirt-ca'] }, { ...attrs, name: undefined as never }));
    assert.ok(!ruleAllows({ apiGroups: ['kubevirt.io'], resources: ['configmaps'], verbs: ['get'] }, attrs));
    assert.ok(!ruleAllows({ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }, attrs));
  });
});
