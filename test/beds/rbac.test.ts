/**
 * RBAC where it is enforced: on the real bed ferry runs as its ServiceAccount under deploy/rbac.yaml,
 * and the kube-apiserver's RBAC authorizer decides. With one verb taken away, ferry refuses at
 * preflight, naming the verb, the resource, the namespace and the cluster, and writes nothing. The
 * simulator has no RBAC to take a verb from, so this file runs on the real bed only.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { objectPath } from '../../simulator/kube-bed/admin-api.js';
import { FERRY_USER } from '../../simulator/kube-bed/cluster.js';
import { apiSnapshot, bedFromEnv, startBedStack, type BedStack, type ClusterName } from '../support/bed.js';
import { failureMessage, input, startMigration } from '../support/e2e.js';
import { eventually, rawRequestTo } from '../../simulator/testing/sim.js';
import { diff } from '../support/snapshot.js';
import { GRANT_TTL_MS } from '../../activities/kube/cluster.js';

const kind = bedFromEnv('kube');
let stack: BedStack;
let original: Record<ClusterName, unknown> | undefined;

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface ClusterRole {
  metadata: { resourceVersion?: string };
  rules: Rule[];
}

const rolePath = objectPath('ClusterRole', undefined, 'ferry-worker');

async function role(cluster: ClusterName): Promise<ClusterRole> {
  const r = await rawRequestTo(stack.bed.admin(cluster), 'GET', rolePath);
  assert.equal(r.status, 200);
  return r.body as ClusterRole;
}

async function putRole(cluster: ClusterName, body: unknown): Promise<void> {
  const r = await rawRequestTo(stack.bed.admin(cluster), 'PUT', rolePath, { body });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

/** Whether the API server lets ferry's ServiceAccount do it (a SubjectAccessReview, as `kubectl auth can-i --as`). */
async function ferryMay(cluster: ClusterName, verb: string, group: string, resource: string, namespace: string): Promise<boolean> {
  const r = await rawRequestTo(stack.bed.admin(cluster), 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: FERRY_USER, resourceAttributes: { verb, group, resource, namespace } } },
  });
  return (r.body as { status?: { allowed?: boolean } }).status?.allowed === true;
}

async function withoutVerb(cluster: ClusterName, resource: string, verb: string): Promise<void> {
  const current = await role(cluster);
  original = { ...(original ?? {}), [cluster]: structuredClone(current) } as Record<ClusterName, unknown>;
  const rules = current.rules.map((r) => (r.resources.includes(resource) ? { ...r, verbs: r.verbs.filter((v) => v !== verb) } : r));
  await putRole(cluster, { ...current, rules });
  await eventually(`the API server to deny ${verb} ${resource}`, async () => !(await ferryMay(cluster, verb, 'kubevirt.io', resource, 'demo')));
  // The worker remembers grants this long (an earlier test's preflight asked the same namespace).
  await new Promise((r) => setTimeout(r, GRANT_TTL_MS));
}

before(async () => {
  if (kind === 'kube') stack = await startBedStack(kind);
});
after(async () => {
  await stack?.stop();
});
afterEach(async () => {
  for (const [cluster, body] of Object.entries(original ?? {})) {
    const { metadata, ...rest } = body as ClusterRole;
    await putRole(cluster as ClusterName, { ...rest, metadata: { ...metadata, resourceVersion: undefined } });
  }
  original = undefined;
});

describe('RBAC on the real bed', { skip: kind !== 'kube' && 'the simulator has no RBAC authorizer (FERRY_BED=kube runs this)' }, () => {
  it('ferry runs as its ServiceAccount: the API server refuses what deploy/rbac.yaml does not grant', async () => {
    assert.equal(await ferryMay('source', 'create', 'kubevirt.io', 'virtualmachineinstancemigrations', 'demo'), true);
    assert.equal(await ferryMay('source', 'update', 'kubevirt.io', 'virtualmachines', 'demo'), false);
    assert.equal(await ferryMay('source', 'list', '', 'secrets', 'kube-system'), true, 'cluster-wide Secret reads, as the README says');
    assert.equal(await ferryMay('source', 'delete', 'kubevirt.io', 'kubevirts', 'kubevirt'), false);
    // And with ferry's own token, straight from the kubeconfig the worker uses:
    const res = await rawRequestTo({ ...stack.bed.admin('source'), token: ferryToken('source') }, 'DELETE', objectPath('KubeVirt', 'kubevirt', 'kubevirt'));
    assert.equal(res.status, 403);
    assert.match(JSON.stringify(res.body), /system:serviceaccount:ferry-system:ferry.*cannot delete resource \\"kubevirts\\"/);
  });

  it('without "create" on VMIMs at the destination, preflight refuses naming verb, resource, namespace and cluster; nothing is written', async () => {
    await withoutVerb('destination', 'virtualmachineinstancemigrations', 'create');
    const before = { source: await apiSnapshot(stack.bed, 'source', 'demo'), destination: await apiSnapshot(stack.bed, 'destination', 'demo') };
    const message = await (await startMigration(stack, input('web-01'))).result().then(() => assert.fail('web-01 migrated'), failureMessage);
    assert.match(message, /\[Forbidden\]/);
    assert.match(message, /ferry may not create virtualmachineinstancemigrations\.kubevirt\.io in namespace demo on the destination cluster destination/);
    assert.doesNotMatch(message, /on the source cluster/, 'the source grants it');
    assert.match(message, /nothing was changed/);
    assert.deepEqual(diff(before.source, await apiSnapshot(stack.bed, 'source', 'demo')), []);
    assert.deepEqual(diff(before.destination, await apiSnapshot(stack.bed, 'destination', 'demo')), []);
  });

  it('without "patch" on VMs at the source (needed only at cutover), preflight refuses too', async () => {
    await withoutVerb('source', 'virtualmachines', 'patch');
    const message = await (await startMigration(stack, input('cache-01'))).result().then(() => assert.fail('cache-01 migrated'), failureMessage);
    assert.match(
      message,
      /ferry may not patch virtualmachines\.kubevirt\.io in namespace demo on the source cluster source, which it needs because the VM is read and halted after cutover/,
    );
  });
});

function ferryToken(cluster: ClusterName): string {
  const kc = stack.bed.kubeconfig;
  const m = new RegExp(`- name: ${cluster}\\n\\s+user:\\n\\s+token: (\\S+)`).exec(kc);
  assert.ok(m, `no token for ${cluster} in ferry's kubeconfig`);
  return m[1]!;
}
