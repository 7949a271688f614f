/**
 * KubeVirt's components for one cluster (virt-operator, virt-controller, virt-handler and its metrics
 * endpoint, CDI and the synchronization controller), started against any Kubernetes API server the given kubeconfig reaches:
 * the simulator's own or a real kube-apiserver.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { startCDI } from './controllers/cdi.js';
import { ControllerContext, DEFAULT_TIMING, type SimTiming } from './controllers/context.js';
import { KubeClient } from './controllers/kube.js';
import { SYNC_CLIENT_CN, SYNC_SERVER_CN } from './controllers/kubevirt.js';
import { startMigrationController } from './controllers/migration.js';
import { startOperator } from './controllers/operator.js';
import { SyncController } from './controllers/sync.js';
import { startVMController } from './controllers/vm.js';
import { startVMIController } from './controllers/vmi.js';
import { MigrationJobs } from './metrics/migration-jobs.js';
import { VirtHandlerMetricsServer } from './metrics/server.js';
import type { SimNetwork } from './network.js';
import { issue, type CertAuthority } from './pki.js';

export interface ComponentOptions {
  cluster: string;
  /** Credentials of KubeVirt's own service accounts. */
  kubeConfig: KubeConfig;
  /** The CA virt-operator publishes in `kubevirt-ca`. */
  kubevirtCA: CertAuthority;
  network: SimNetwork;
  syncPort?: number;
  timing?: Partial<SimTiming>;
  /** One byte on the sync wire stands for this many bytes of guest state (default 4096). */
  byteScale?: number;
  log?: (msg: string) => void;
}

export interface KubevirtComponents {
  controllers: ControllerContext;
  sync: SyncController;
  /** virt-handler's metrics endpoint: migration progress as KubeVirt publishes it. */
  metrics: VirtHandlerMetricsServer;
  stop(): Promise<void>;
}

export async function startKubevirtComponents(opts: ComponentOptions): Promise<KubevirtComponents> {
  const [syncServer, syncClient] = await Promise.all([
    issue(opts.kubevirtCA, { commonName: SYNC_SERVER_CN, usage: ['server', 'client'] }),
    issue(opts.kubevirtCA, { commonName: SYNC_CLIENT_CN, usage: ['client', 'server'] }),
  ]);
  const log = opts.log ?? (() => {});
  const ctx = new ControllerContext(opts.cluster, new KubeClient(opts.kubeConfig), { ...DEFAULT_TIMING, ...opts.timing }, (m) => log(`[${opts.cluster}] ${m}`));
  // The sync controller tells virt-operator when its address changes; the operator needs the sync
  // controller to know the address: a forward reference breaks the cycle.
  const operator: { poke?: () => void } = {};
  const jobs = new MigrationJobs();
  const sync = new SyncController(
    ctx,
    { network: opts.network, serverCert: syncServer, clientCert: syncClient, byteScale: opts.byteScale ?? 4096, jobs, ...(opts.syncPort ? { port: opts.syncPort } : {}) },
    () => operator.poke?.(),
  );
  operator.poke = startOperator(ctx, opts.kubevirtCA.certPem, sync).poke;
  startCDI(ctx);
  startVMIController(ctx);
  startVMController(ctx);
  startMigrationController(ctx);
  const metrics = await VirtHandlerMetricsServer.start({ kubevirtCA: opts.kubevirtCA, jobs });
  await ctx.start();
  await sync.start();
  return {
    controllers: ctx,
    sync,
    metrics,
    async stop() {
      await sync.stop();
      ctx.stop();
      await metrics.stop();
    },
  };
}

/** The simulator control `sync-controller`: stop or start a cluster's sync controller, and show it. */
export async function syncControl(sync: SyncController, method: string, body: unknown): Promise<unknown> {
  if (method === 'PUT') {
    const running = (body as { running?: boolean } | undefined)?.running;
    if (running === false) await sync.stop();
    if (running === true) await sync.start();
  }
  return { running: sync.isRunning, address: sync.address(), bytesReceived: sync.bytesReceived };
}
