/**
 * deploy/ against real kube-apiservers (the real bed, with KubeVirt's and CDI's CRDs): the kustomize
 * base and the example overlay pass a server-side dry run; the RBAC the bed runs ferry with is the
 * RBAC `kubectl kustomize deploy/` renders; the worker's pod spec is admitted under the restricted Pod
 * Security Standard its namespace enforces; and the worker, run in this process "as if in the pod"
 * (the bed's ferry ServiceAccount token in the kubelet's file layout, KUBERNETES_SERVICE_HOST/PORT at
 * the destination's API server, a kubeconfig for the source), migrates a VM.
 *
 * The Deployment itself cannot run here: the bed has no kubelet, no nodes and no image registry.
 * kubectl is required (CI installs it); FERRY_KUBECTL may name another binary.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { objectPath } from '../../simulator/kube-bed/admin-api.js';
import { FERRY_NAMESPACE, FERRY_RBAC_FILE, FERRY_SERVICE_ACCOUNT, FERRY_USER, yamlDocuments } from '../../simulator/kube-bed/cluster.js';
import type { KubeObject } from '../../simulator/apiserver/object.js';
import { REPO_ROOT } from '../../tools/temporal-cli.js';
import type { MigrationResult } from '../../workflows/contract.js';
import { KubeconfigRegistry, SERVICE_ACCOUNT_DIR } from '../../workers/clusters.js';
import { startHealthServer } from '../../workers/health.js';
import { createFerryWorker } from '../../workers/worker.js';
import { bedClients, bedFromEnv, startBedStack, type BedStack, type ClusterName } from '../support/bed.js';
import { input, startMigration, workflowBundle } from '../support/e2e.js';
import { eventually, kubevirt, path, rawRequestTo } from '../../simulator/testing/sim.js';

const kind = bedFromEnv('kube');
const kubectlBin = process.env.FERRY_KUBECTL ?? 'kubectl';
const BASE = join(REPO_ROOT, 'deploy');
const OVERLAY = join(REPO_ROOT, 'examples', 'deploy', 'destination');
let stack: BedStack;

before(async () => {
  if (kind === 'kube') stack = await startBedStack(kind, { inProcessWorker: false });
});
// Folders this file writes: one holds a live ServiceAccount token, none may stay behind.
const scratch: string[] = [];
const scratchDir = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
};

after(async () => {
  await stack?.stop();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

async function kubectl(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  try {
    return await promisify(execFile)(kubectlBin, args, { maxBuffer: 16 << 20 });
  } catch (e) {
    const { stderr, message } = e as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')} failed: ${stderr || message}`);
  }
}

/** `kubectl kustomize <dir>`: the objects `kubectl apply -k <dir>` would send. */
async function rendered(dir: string): Promise<KubeObject[]> {
  return yamlDocuments((await kubectl('kustomize', dir)).stdout, `kubectl kustomize ${dir}`);
}

const admin = (cluster: ClusterName) => ['--kubeconfig', stack.kubeconfigFile, '--context', `${cluster}-admin`];
const key = (o: KubeObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const RBAC_KINDS = new Set(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

describe('deploy/ on the real bed', { skip: kind !== 'kube' && 'needs real kube-apiservers (FERRY_BED=kube runs this)' }, () => {
  it('the RBAC the bed runs ferry with is what `kubectl kustomize deploy/` renders, object for object', async () => {
    const fromKustomize = (await rendered(BASE)).filter((o) => RBAC_KINDS.has(o.kind));
    const fromFile = yamlDocuments(readFileSync(FERRY_RBAC_FILE, 'utf8'), FERRY_RBAC_FILE);
    assert.deepEqual(fromKustomize.map(key).sort(), fromFile.map(key).sort(), 'kustomize renders exactly the objects of deploy/rbac.yaml');
    const byKey = new Map(fromFile.map((o) => [key(o), o]));
    for (const o of fromKustomize) assert.deepEqual(o, byKey.get(key(o)), `${key(o)}: kustomize changed nothing (no namespace or label transformer)`);

    // And what each cluster of the bed serves, which is what the end-to-end tests ran with.
    for (const cluster of ['source', 'destination'] as const) {
      for (const want of fromKustomize) {
        const r = await rawRequestTo(stack.bed.admin(cluster), 'GET', objectPath(want.kind, want.metadata.namespace, want.metadata.name));
        assert.equal(r.status, 200, `${key(want)} on ${cluster}`);
        const served = r.body as Record<string, unknown>;
        for (const field of ['rules', 'roleRef', 'subjects'] as const)
          assert.deepEqual(served[field], (want as Record<string, unknown>)[field], `${key(want)}.${field} on ${cluster}`);
      }
    }
  });

  it('the worker pod is admitted under the restricted Pod Security the namespace enforces; a loosened one is refused', async () => {
    const objects = await rendered(BASE);
    // The namespace exists on the bed (it applied rbac.yaml into it); this gives it deploy/'s labels.
    const ns = objects.find((o) => o.kind === 'Namespace')!;
    await kubectl(...admin('destination'), 'label', 'namespace', FERRY_NAMESPACE, '--overwrite', ...Object.entries(ns.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`));
    const deployment = objects.find((o) => o.kind === 'Deployment')!;
    const template = path(deployment, 'spec.template') as { metadata: object; spec: { containers: { securityContext: Record<string, unknown> }[] } };
    const pod = (spec: unknown) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { ...template.metadata, name: 'ferry-worker-probe' }, spec });
    const create = (spec: unknown) => rawRequestTo(stack.bed.admin('destination'), 'POST', `/api/v1/namespaces/${FERRY_NAMESPACE}/pods?dryRun=All`, { body: pod(spec) });

    const admitted = await create(template.spec);
    assert.equal(admitted.status, 201, JSON.stringify(admitted.body));

    const loosened = structuredClone(template.spec);
    delete loosened.containers[0]!.securityContext.allowPrivilegeEscalation;
    const refused = await create(loosened);
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.match((refused.body as { message: string }).message, /violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
  });

  it('`kubectl apply -k deploy/ --dry-run=server` and the example overlay pass on the API server, and write nothing', async () => {
    for (const dir of [BASE, OVERLAY]) {
      const { stdout, stderr } = await kubectl(...admin('destination'), 'apply', '-k', dir, '--dry-run=server');
      for (const o of await rendered(dir)) {
        const shown = `${o.kind.toLowerCase()}${o.apiVersion.includes('/') ? `.${o.apiVersion.split('/')[0]}` : ''}/${o.metadata.name}`;
        assert.match(
          stdout,
          new RegExp(`^${shown.replace(/[.]/g, '\\.')} (created|configured|unchanged) \\(server dry run\\)$`, 'm'),
          `${dir}: ${o.kind} ${o.metadata.name}\n${stdout}`,
        );
      }
      // The namespace warns on restricted (the previous case labelled it): the Deployment's template is checked too.
      assert.doesNotMatch(stderr, /PodSecurity/, stderr);
    }
    // That check is live: the same Deployment with a loosened container is warned about.
    const deployment = structuredClone((await rendered(BASE)).find((o) => o.kind === 'Deployment')!);
    const container = (path(deployment, 'spec.template.spec.containers') as { securityContext: Record<string, unknown> }[])[0]!;
    delete container.securityContext.capabilities;
    const loosened = join(scratchDir('ferry-deploy-'), 'deployment.json');
    writeFileSync(loosened, JSON.stringify(deployment));
    const { stderr } = await kubectl(...admin('destination'), 'apply', '-f', loosened, '--dry-run=server');
    assert.match(stderr, /would violate PodSecurity "restricted:latest": unrestricted capabilities/);

    const overlay = await rendered(OVERLAY);
    assert.deepEqual(
      overlay
        .filter((o) => o.kind === 'Secret')
        .map((o) => (o.metadata.name ?? '').replace(/-[a-z0-9]{10}$/, ''))
        .sort(),
      ['ferry-clusters', 'ferry-temporal'],
    );
    const r = await rawRequestTo(stack.bed.admin('destination'), 'GET', '/apis/apps/v1/namespaces/ferry-system/deployments/ferry-worker');
    assert.equal(r.status, 404, 'a dry run creates nothing');
  });

  it('as if in the pod: its own cluster through the ServiceAccount, the other through the kubeconfig; a real 403, real reads, a migration, health', async () => {
    const dest = stack.bed.admin('destination');
    // What the kubelet mounts: a TokenRequest token of ferry's ServiceAccount, the cluster's CA, the namespace.
    const tr = await rawRequestTo(dest, 'POST', `${objectPath('ServiceAccount', FERRY_NAMESPACE, FERRY_SERVICE_ACCOUNT)}/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    });
    assert.equal(tr.status, 201, JSON.stringify(tr.body));
    const root = scratchDir('ferry-pod-');
    const saDir = join(root, SERVICE_ACCOUNT_DIR);
    mkdirSync(saDir, { recursive: true });
    writeFileSync(join(saDir, 'token'), (tr.body as { status: { token: string } }).status.token, { mode: 0o600 });
    writeFileSync(join(saDir, 'ca.crt'), dest.caPem);
    writeFileSync(join(saDir, 'namespace'), FERRY_NAMESPACE);
    // The Secret ferry-clusters: ferry's kubeconfig reduced to the other cluster's context.
    const all = new KubeConfig();
    all.loadFromString(stack.bed.kubeconfig);
    const remote = new KubeConfig();
    remote.loadFromOptions({
      clusters: all.getClusters().filter((c) => c.name === 'source'),
      users: all.getUsers().filter((u) => u.name === 'source'),
      contexts: all.getContexts().filter((c) => c.name === 'source'),
      currentContext: 'source',
    });
    const kubeconfigFile = join(root, 'kubeconfig');
    writeFileSync(kubeconfigFile, remote.exportConfig(), { mode: 0o600 });

    const server = new URL(dest.server);
    const clusters = KubeconfigRegistry.fromEnvironment(
      { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port, FERRY_IN_CLUSTER_NAME: 'destination', FERRY_KUBECONFIG: kubeconfigFile },
      { root },
    );
    assert.deepEqual(clusters.names().sort(), ['destination', 'source']);

    // The API server sees ferry's ServiceAccount: what rbac.yaml grants works, what it does not is a 403 naming it.
    const own = clusters.get('destination');
    assert.equal((await own.core.readNamespace({ name: 'demo' })).metadata?.name, 'demo');
    assert.ok((await own.list('VirtualMachine', 'demo')).length >= 0);
    await assert.rejects(own.get('KubeVirt', 'kubevirt', 'kubevirt'), (e: { code?: number; body?: unknown }) => {
      assert.equal(e.code, 403);
      assert.match(String(e.body), new RegExp(`User \\\\?"${FERRY_USER}\\\\?" cannot get resource \\\\?"kubevirts\\\\?"`));
      return true;
    });
    assert.ok(await clusters.get('source').get('VirtualMachine', 'demo', 'db-01'), 'the source through the kubeconfig context');

    // The worker with that registry and its health endpoint, on the stack's Temporal server.
    const connection = await NativeConnection.connect({ address: stack.server.address });
    const client = await Connection.connect({ address: stack.server.address });
    const worker = await createFerryWorker({ connection, client, namespace: 'default', clusters, workflowBundle: await workflowBundle() });
    const health = await startHealthServer(() => worker.getStatus(), 0, '127.0.0.1');
    const probe = async (p: string) => (await fetch(`${health.url}${p}`)).status;
    try {
      assert.deepEqual([await probe('/readyz'), await probe('/livez')], [503, 200], 'created, not yet polling');
      const running = worker.run();
      try {
        await eventually('the worker to report it is polling', async () => (await probe('/readyz')) === 200);
        for (const c of ['source', 'destination'] as const) await stack.bed.control(c, 'metrics', 'DELETE');
        const handle = await startMigration(stack, input('db-01'));
        const result = (await handle.result()) as MigrationResult;
        assert.equal(result.outcome, 'Succeeded');
        const dst = kubevirt(bedClients(stack.bed, 'destination'));
        assert.equal(path(await dst.get('virtualmachineinstances', 'demo', 'db-01'), 'status.phase'), 'Running');
        // Who asked, as the bed's API front counts it: on the destination only the pod's token (which
        // it does not know by name: "other"), never the kubeconfig's ferry token; on the source that one.
        const byUser = async (c: ClusterName) => ((await stack.bed.control(c, 'metrics')) as { byUser: Record<string, number> }).byUser;
        const [onSource, onDestination] = [await byUser('source'), await byUser('destination')];
        assert.ok((onDestination.other ?? 0) > 0 && onDestination[FERRY_USER] === undefined, JSON.stringify(onDestination));
        assert.ok((onSource[FERRY_USER] ?? 0) > 0 && onSource.other === undefined, JSON.stringify(onSource));
      } finally {
        worker.shutdown();
        await running;
      }
      assert.deepEqual([await probe('/readyz'), await probe('/livez')], [503, 503], 'stopped');
    } finally {
      await health.close();
      await client.close();
      await connection.close();
    }
  });
});
