/**
 * The real two-cluster bed: `source` and `destination`, each a real kube-apiserver + etcd with
 * KubeVirt's CRDs, webhooks and ferry's RBAC (cluster.ts), the simulated network between their sync
 * endpoints, the simulator's fixtures, and a kubeconfig whose `source`/`destination` contexts are
 * ferry's ServiceAccount and whose `source-admin`/`destination-admin` contexts are for people and tests.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureKubeBedParts, type KubeBedParts, type Log } from '../../tools/kube-bed/build.js';
import type { KubeObject } from '../apiserver/object.js';
import type { SimTiming } from '../controllers/context.js';
import { getPath, KUBEVIRT_CR, KUBEVIRT_NAMESPACE, runStrategyOf } from '../controllers/kubevirt.js';
import { DEFAULT_FIXTURES, fixturesFor } from '../fixtures.js';
import { kubeconfigYaml } from '../kubeconfig.js';
import type { VirtHandlerMetricsEndpoints } from '../metrics/endpoints.js';
import { SimNetwork } from '../network.js';
import { objectPath } from './admin-api.js';
import { type Identity, KubeCluster } from './cluster.js';

export interface KubeBedOptions {
  /** Fixture directory with both/, source/, destination/; false for empty clusters. */
  fixtures?: string | false;
  /** Where etcd data, keys and logs go (default: a fresh temporary folder, removed on stop). */
  dir?: string;
  timing?: Partial<SimTiming>;
  byteScale?: number;
  /** Progress of building and starting. */
  log?: Log;
  /** What the simulated KubeVirt components do (verbose). */
  componentLog?: (msg: string) => void;
  parts?: KubeBedParts;
}

export type ClusterName = 'source' | 'destination';

export class KubeBed {
  private constructor(
    readonly network: SimNetwork,
    readonly source: KubeCluster,
    readonly destination: KubeCluster,
    readonly parts: KubeBedParts,
    private readonly ownDir: string | undefined,
  ) {}

  static async start(opts: KubeBedOptions = {}): Promise<KubeBed> {
    const log = opts.log ?? (() => {});
    const parts = opts.parts ?? (await ensureKubeBedParts({ log }));
    const ownDir = opts.dir ? undefined : mkdtempSync(join(tmpdir(), 'ferry-kube-bed-'));
    const root = opts.dir ?? ownDir!;
    const network = new SimNetwork();
    const fixtures = (c: ClusterName): KubeObject[] => (opts.fixtures === false ? [] : fixturesFor(opts.fixtures ?? DEFAULT_FIXTURES, c));
    const start = (name: ClusterName) =>
      KubeCluster.start(name, {
        dir: join(root, name),
        parts,
        network,
        fixtures: fixtures(name),
        ...(opts.timing ? { timing: opts.timing } : {}),
        ...(opts.byteScale ? { byteScale: opts.byteScale } : {}),
        ...(opts.componentLog ? { log: opts.componentLog } : {}),
      });
    const results = await Promise.allSettled([start('source'), start('destination')]);
    const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await Promise.all(started.map((c) => c.stop()));
      await network.close();
      throw failed.reason;
    }
    const bed = new KubeBed(network, started[0]!, started[1]!, parts, ownDir);
    for (const c of [bed.source, bed.destination]) {
      c.proxy.registerControl('network', async (method, body) => {
        if (method === 'PUT') await bed.partition((body as { partitioned?: boolean } | undefined)?.partitioned === true);
        return { partitioned: network.isPartitioned('source', 'destination') };
      });
    }
    try {
      await bed.settled();
    } catch (e) {
      await bed.stop();
      throw e;
    }
    return bed;
  }

  cluster(name: string): KubeCluster {
    if (name === 'source') return this.source;
    if (name === 'destination') return this.destination;
    throw new Error(`no cluster "${name}" in the real bed (have: source, destination)`);
  }

  /**
   * Wait until KubeVirt is deployed on both clusters (CA ConfigMaps, sync address) and every VM that
   * should run has a running VMI.
   */
  async settled(timeoutMs = 60_000): Promise<void> {
    const ready = async (c: KubeCluster): Promise<boolean> => {
      const kv = await c.admin.get('KubeVirt', KUBEVIRT_NAMESPACE, KUBEVIRT_CR).catch((e: { code?: number }) => {
        if (e.code === 404) return undefined; // no KubeVirt in this cluster's fixtures
        throw e;
      });
      if (!kv) return true;
      if (!getPath<string[]>(kv, 'status.synchronizationAddresses')?.length) return false;
      for (const cm of ['kubevirt-ca', 'kubevirt-external-ca']) await c.admin.get('ConfigMap', KUBEVIRT_NAMESPACE, cm);
      const vms = await c.admin.json<{ items: KubeObject[] }>('GET', objectPath('VirtualMachine', undefined));
      const vmis = await c.admin.json<{ items: KubeObject[] }>('GET', objectPath('VirtualMachineInstance', undefined));
      const running = new Set(vmis.items.filter((v) => getPath(v, 'status.phase') === 'Running').map((v) => `${v.metadata.namespace}/${v.metadata.name}`));
      return vms.items.every((vm) => runStrategyOf(vm) !== 'Always' || running.has(`${vm.metadata.namespace}/${vm.metadata.name}`));
    };
    await this.source.admin.until(
      'KubeVirt to be deployed and the VMs to run on both clusters',
      async () => (await ready(this.source)) && (await ready(this.destination)),
      timeoutMs,
    );
  }

  /** Per cluster, where virt-handler's metrics are served and the CA file to trust it with. */
  get virtHandlerMetrics(): VirtHandlerMetricsEndpoints {
    return { source: this.source.virtHandlerMetrics, destination: this.destination.virtHandlerMetrics };
  }

  /** Cut or heal the network between the two clusters' synchronization endpoints. */
  async partition(on: boolean): Promise<void> {
    await this.network.setPartition('source', 'destination', on);
  }

  /** Contexts `source`/`destination` as `as`; with `ferry`, also `<name>-admin` contexts for people. */
  kubeconfig(as: Identity = 'ferry'): string {
    const clusters = [this.source, this.destination];
    const endpoints = clusters.map((c) => c.endpoint(as));
    if (as === 'ferry') endpoints.push(...clusters.map((c) => c.endpoint('admin', `${c.name}-admin`)));
    return kubeconfigYaml(endpoints);
  }

  writeKubeconfig(file: string, as: Identity = 'ferry'): void {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, this.kubeconfig(as), { mode: 0o600 });
  }

  async stop(): Promise<void> {
    await Promise.all([this.source.stop(), this.destination.stop()]);
    await this.network.close();
    if (this.ownDir && !process.env.FERRY_KEEP_BED) rmSync(this.ownDir, { recursive: true, force: true });
  }
}
