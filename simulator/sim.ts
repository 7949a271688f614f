/**
 * The two-cluster simulator: `source` and `destination` clusters, the network between their
 * synchronization endpoints, fixtures, a kubeconfig with one context per cluster, and each cluster's
 * virt-handler metrics endpoint (its CA in a file of the state directory).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SimCluster } from './cluster.js';
import type { SimTiming } from './controllers/context.js';
import { DEFAULT_FIXTURES, fixturesFor, loadInto } from './fixtures.js';
import { fleetManifests, type FleetOptions } from './fleet.js';
import { kubeconfigYaml } from './kubeconfig.js';
import { publishEndpoint, type VirtHandlerMetricsEndpoint } from './metrics/endpoints.js';
import { SimNetwork } from './network.js';

export interface SimulatorOptions {
  /** Fixture directory with both/, source/, destination/; false for empty clusters. */
  fixtures?: string | false;
  sourcePort?: number;
  destinationPort?: number;
  timing?: Partial<SimTiming>;
  byteScale?: number;
  log?: (msg: string) => void;
  /** Where files for other processes go (the metrics endpoints' CA); default a temporary folder, removed on stop. */
  stateDir?: string;
}

export class Simulator {
  /** Per cluster, where virt-handler's metrics are served and the CA file to trust it with. */
  readonly virtHandlerMetrics: Record<'source' | 'destination', VirtHandlerMetricsEndpoint>;

  private constructor(
    readonly network: SimNetwork,
    readonly source: SimCluster,
    readonly destination: SimCluster,
    readonly stateDir: string,
    private readonly ownStateDir: boolean,
  ) {
    const publish = (c: SimCluster) => publishEndpoint(stateDir, c.name, c.virtHandlerMetrics.url, c.virtHandlerMetrics.caPem);
    this.virtHandlerMetrics = { source: publish(source), destination: publish(destination) };
  }

  static async start(opts: SimulatorOptions = {}): Promise<Simulator> {
    const network = new SimNetwork();
    const common = { network, ...(opts.timing ? { timing: opts.timing } : {}), ...(opts.byteScale ? { byteScale: opts.byteScale } : {}), ...(opts.log ? { log: opts.log } : {}) };
    const [source, destination] = await Promise.all([
      SimCluster.start('source', { ...common, ...(opts.sourcePort ? { apiPort: opts.sourcePort } : {}) }),
      SimCluster.start('destination', { ...common, ...(opts.destinationPort ? { apiPort: opts.destinationPort } : {}) }),
    ]);
    const sim = new Simulator(network, source, destination, opts.stateDir ?? mkdtempSync(join(tmpdir(), 'ferry-sim-')), opts.stateDir === undefined);
    for (const c of [source, destination]) {
      c.api.registerControl('network', async (method, body) => {
        if (method === 'PUT') await sim.partition((body as { partitioned?: boolean } | undefined)?.partitioned === true);
        return { partitioned: network.isPartitioned('source', 'destination') };
      });
    }
    if (opts.fixtures !== false) {
      const root = opts.fixtures ?? DEFAULT_FIXTURES;
      loadInto(source.api.store, fixturesFor(root, 'source'));
      loadInto(destination.api.store, fixturesFor(root, 'destination'));
      await sim.settled();
    }
    return sim;
  }

  /**
   * Wait until KubeVirt is deployed on both clusters (CA ConfigMaps published, sync address advertised)
   * and every VM that should run has a running VMI: the state a user expects when the simulator says
   * it is up.
   */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const ready = (c: SimCluster) => {
      const st = c.api.store;
      const kv = st.peek('KubeVirt', 'kubevirt', 'kubevirt');
      if (!kv) return true; // no KubeVirt installed in this cluster's fixtures
      if (!st.peek('ConfigMap', 'kubevirt', 'kubevirt-ca') || !st.peek('ConfigMap', 'kubevirt', 'kubevirt-external-ca')) return false;
      if (!(kv.status as { synchronizationAddresses?: string[] } | undefined)?.synchronizationAddresses?.length) return false;
      for (const vm of st.scan('VirtualMachine')) {
        const spec = vm.spec as { runStrategy?: string; running?: boolean };
        if (!(spec.runStrategy === 'Always' || spec.running === true)) continue;
        const vmi = st.peek('VirtualMachineInstance', vm.metadata.namespace, vm.metadata.name!);
        if ((vmi?.status as { phase?: string } | undefined)?.phase !== 'Running') return false;
      }
      return true;
    };
    while (!(ready(this.source) && ready(this.destination))) {
      if (Date.now() > deadline) throw new Error(`simulator did not settle within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Add a fleet of running VMs on the source (and its namespace on both sides); resolves once they run. */
  async loadFleet(o: FleetOptions, timeoutMs = 120_000): Promise<void> {
    const { source, destination } = fleetManifests(o);
    loadInto(this.source.api.store, source);
    loadInto(this.destination.api.store, destination);
    await this.settled(timeoutMs);
  }

  cluster(name: string): SimCluster {
    if (name === 'source') return this.source;
    if (name === 'destination') return this.destination;
    throw new Error(`no simulated cluster "${name}" (have: source, destination)`);
  }

  /** Cut or heal the network between the two clusters' synchronization endpoints. */
  async partition(on: boolean): Promise<void> {
    await this.network.setPartition('source', 'destination', on);
  }

  kubeconfig(as: 'admin' | 'viewer' = 'admin'): string {
    return kubeconfigYaml([this.source.endpoint(as, 'source'), this.destination.endpoint(as, 'destination')]);
  }

  writeKubeconfig(file: string, as: 'admin' | 'viewer' = 'admin'): void {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, this.kubeconfig(as), { mode: 0o600 });
  }

  async stop(): Promise<void> {
    await Promise.all([this.source.stop(), this.destination.stop()]);
    await this.network.close();
    if (this.ownStateDir) rmSync(this.stateDir, { recursive: true, force: true });
  }
}
