/**
 * The worker's cluster registry (workers/clusters.ts): which name reaches which cluster, with what
 * credentials, when the worker has a kubeconfig, its pod's ServiceAccount, both, or neither. The
 * ServiceAccount files are laid out as the kubelet mounts them, under a temporary root that
 * client-node's own in-cluster loader reads (its path prefix).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { kubeconfigYaml } from '../../simulator/kubeconfig.js';
import { KubeconfigRegistry, SERVICE_ACCOUNT_DIR } from '../../workers/clusters.js';

const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

function kubeconfigFile(...contexts: string[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ferry-clusters-')), 'kubeconfig');
  writeFileSync(file, kubeconfigYaml(contexts.map((name) => ({ name, server: `https://${name}.example.test:6443`, caPem: CA_PEM, token: `token-of-${name}` }))));
  return file;
}

/** A filesystem root holding what the kubelet mounts into a pod for its ServiceAccount. */
function podRoot(token = 'pod-sa-token'): string {
  const root = mkdtempSync(join(tmpdir(), 'ferry-pod-'));
  const dir = join(root, SERVICE_ACCOUNT_DIR);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'token'), token);
  writeFileSync(join(dir, 'ca.crt'), CA_PEM);
  writeFileSync(join(dir, 'namespace'), 'ferry-system');
  return root;
}

const inPod = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
/** No kubeconfig anywhere: KUBECONFIG names a file that does not exist, so ~/.kube/config is not read. */
const noKubeconfig = { KUBECONFIG: join(tmpdir(), 'ferry-no-such-kubeconfig') };

async function requestOf(registry: KubeconfigRegistry, name: string): Promise<{ server: string; authorization: unknown; ca: unknown }> {
  const kc = registry.get(name).kc;
  const opts: RequestOptions = { headers: {} };
  await kc.applyToHTTPSOptions(opts);
  return { server: kc.getCurrentCluster()!.server, authorization: (opts.headers as Record<string, unknown>).Authorization, ca: opts.ca?.toString() };
}

describe('cluster registry: names to clusters', () => {
  it('a kubeconfig alone: each context is a cluster of its name, with its own server and token', async () => {
    const r = KubeconfigRegistry.fromEnvironment({ FERRY_KUBECONFIG: kubeconfigFile('source', 'destination') });
    assert.deepEqual(r.names(), ['source', 'destination']);
    assert.deepEqual(await requestOf(r, 'destination'), { server: 'https://destination.example.test:6443', authorization: 'Bearer token-of-destination', ca: CA_PEM });
  });

  it('in a pod with FERRY_IN_CLUSTER_NAME: the pod’s cluster through its ServiceAccount AND the kubeconfig’s contexts', async () => {
    const file = kubeconfigFile('source');
    const r = KubeconfigRegistry.fromEnvironment({ ...inPod, FERRY_IN_CLUSTER_NAME: 'destination', FERRY_KUBECONFIG: file }, { root: podRoot() });
    assert.deepEqual(r.names().sort(), ['destination', 'source']);
    assert.deepEqual(await requestOf(r, 'destination'), { server: 'https://10.0.0.1:443', authorization: 'Bearer pod-sa-token', ca: CA_PEM });
    assert.deepEqual(await requestOf(r, 'source'), { server: 'https://source.example.test:6443', authorization: 'Bearer token-of-source', ca: CA_PEM });
    assert.equal(r.describe(), `source (context in ${file}), destination (in-cluster ServiceAccount)`);
    assert.doesNotMatch(r.describe(), /token/);
  });

  it('an IPv6 service host is bracketed in the server URL', async () => {
    const r = KubeconfigRegistry.fromEnvironment(
      { ...noKubeconfig, KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443', FERRY_IN_CLUSTER_NAME: 'here' },
      { root: podRoot() },
    );
    assert.equal((await requestOf(r, 'here')).server, 'https://[fd00::1]:443');
  });

  it('in a pod without FERRY_IN_CLUSTER_NAME but with a kubeconfig: only the contexts (the pod’s cluster is not guessed)', () => {
    const r = KubeconfigRegistry.fromEnvironment({ ...inPod, FERRY_KUBECONFIG: kubeconfigFile('source', 'destination') }, { root: podRoot() });
    assert.deepEqual(r.names(), ['source', 'destination']);
  });

  it('in a pod with no kubeconfig and no name: the pod’s cluster as "local"', async () => {
    const r = KubeconfigRegistry.fromEnvironment({ ...inPod, ...noKubeconfig }, { root: podRoot() });
    assert.deepEqual(r.names(), ['local']);
    assert.equal((await requestOf(r, 'local')).authorization, 'Bearer pod-sa-token');
  });

  it('the in-cluster name also a context: a startup error naming both', () => {
    const file = kubeconfigFile('source', 'destination');
    assert.throws(
      () => KubeconfigRegistry.fromEnvironment({ ...inPod, FERRY_IN_CLUSTER_NAME: 'destination', FERRY_KUBECONFIG: file }, { root: podRoot() }),
      (e: Error) => {
        assert.equal(
          e.message,
          `FERRY_IN_CLUSTER_NAME "destination" is also a context in ${file}: one name would mean two clusters. ` +
            'Remove context "destination" from the kubeconfig (the worker reaches its own cluster with its ServiceAccount) or set FERRY_IN_CLUSTER_NAME to another name',
        );
        return true;
      },
    );
  });

  it('neither a kubeconfig nor a pod: a startup error saying what to set', () => {
    assert.throws(() => KubeconfigRegistry.fromEnvironment({ ...noKubeconfig }), {
      message: `no kubeconfig at ${noKubeconfig.KUBECONFIG} and not running in a cluster (KUBERNETES_SERVICE_HOST is unset): set FERRY_KUBECONFIG to a kubeconfig whose contexts are the clusters`,
    });
  });

  it('a kubeconfig without contexts and no in-cluster name: no cluster, refused', () => {
    assert.throws(
      () => KubeconfigRegistry.fromEnvironment({ FERRY_KUBECONFIG: kubeconfigFile() }),
      /has no contexts and FERRY_IN_CLUSTER_NAME is unset: this worker would know no cluster/,
    );
  });

  it('FERRY_KUBECONFIG naming a missing file is a broken mount, even in a pod', () => {
    const missing = join(tmpdir(), 'ferry-missing', 'kubeconfig');
    assert.throws(() => KubeconfigRegistry.fromEnvironment({ ...inPod, FERRY_IN_CLUSTER_NAME: 'destination', FERRY_KUBECONFIG: missing }, { root: podRoot() }), {
      message: `FERRY_KUBECONFIG is ${missing}, which does not exist: mount the remote clusters' kubeconfig there, or unset FERRY_KUBECONFIG`,
    });
  });

  it('FERRY_IN_CLUSTER_NAME outside a pod: names every missing piece', () => {
    const root = mkdtempSync(join(tmpdir(), 'ferry-not-a-pod-'));
    assert.throws(
      () => KubeconfigRegistry.fromEnvironment({ FERRY_IN_CLUSTER_NAME: 'destination', FERRY_KUBECONFIG: kubeconfigFile('source') }, { root }),
      (e: Error) => {
        assert.match(e.message, /^FERRY_IN_CLUSTER_NAME is "destination", so the worker needs its pod's ServiceAccount, but /);
        assert.match(e.message, /KUBERNETES_SERVICE_HOST is unset, KUBERNETES_SERVICE_PORT is unset/);
        assert.ok(e.message.includes(`${root}${SERVICE_ACCOUNT_DIR}/token does not exist`), e.message);
        assert.ok(e.message.includes(`${root}${SERVICE_ACCOUNT_DIR}/ca.crt does not exist`), e.message);
        return true;
      },
    );
  });

  it('a FERRY_IN_CLUSTER_NAME that is no cluster name is refused with the rule', () => {
    assert.throws(
      () => KubeconfigRegistry.fromEnvironment({ ...inPod, ...noKubeconfig, FERRY_IN_CLUSTER_NAME: 'my cluster!' }, { root: podRoot() }),
      /FERRY_IN_CLUSTER_NAME must be a kubeconfig context name .* \(got "my cluster!"\)/,
    );
  });

  it('an unknown name in a workflow input: a non-retryable failure naming what the worker knows', () => {
    const r = KubeconfigRegistry.fromEnvironment({ ...inPod, FERRY_IN_CLUSTER_NAME: 'destination', FERRY_KUBECONFIG: kubeconfigFile('source') }, { root: podRoot() });
    assert.throws(
      () => r.get('staging'),
      (e: unknown) => {
        assert.ok(e instanceof ApplicationFailure);
        assert.equal(e.nonRetryable, true);
        assert.equal(e.message, 'unknown cluster "staging": this worker knows "source", "destination" (its own cluster "destination" and kubeconfig contexts)');
        return true;
      },
    );
  });
});
