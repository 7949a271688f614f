/**
 * One cluster of the real bed: a real control plane (etcd, kube-apiserver, kube-controller-manager)
 * with KubeVirt's and CDI's own CRDs, KubeVirt's admission rules behind a real webhook, ferry's
 * ServiceAccount bound to the role in deploy/rbac.yaml, the simulated KubeVirt components running as
 * controllers against the API server, and a fault proxy in front of it for ferry and people.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KubeBedParts } from '../../tools/kube-bed/build.js';
import type { KubeObject } from '../apiserver/object.js';
import { startKubevirtComponents, syncControl, type KubevirtComponents } from '../components.js';
import type { SimTiming } from '../controllers/context.js';
import { namespacesFirst } from '../fixtures.js';
import { publishEndpoint, type VirtHandlerMetricsEndpoint } from '../metrics/endpoints.js';
import { kubeConfigFor, type ClusterEndpoint } from '../kubeconfig.js';
import type { SimNetwork } from '../network.js';
import { createCA, issue, type CertAuthority } from '../pki.js';
import { AdminApi, objectPath } from './admin-api.js';
import { ControlPlane } from './control-plane.js';
import { FaultProxy } from './fault-proxy.js';
import { KubevirtWebhooks } from './webhook.js';

/** ferry's RBAC as documented: the bed applies these exact bytes. */
export const FERRY_RBAC_FILE = fileURLToPath(new URL('../../deploy/rbac.yaml', import.meta.url));
export const FERRY_NAMESPACE = 'ferry-system';
export const FERRY_SERVICE_ACCOUNT = 'ferry';
export const FERRY_USER = `system:serviceaccount:${FERRY_NAMESPACE}:${FERRY_SERVICE_ACCOUNT}`;

export function yamlDocuments(text: string, file: string): KubeObject[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    const o = doc.toJS() as KubeObject | null;
    return o ? [o] : [];
  });
}

export interface KubeClusterOptions {
  dir: string;
  parts: KubeBedParts;
  network: SimNetwork;
  /** Manifests to create before KubeVirt's components start (namespaces first). */
  fixtures: KubeObject[];
  timing?: Partial<SimTiming>;
  byteScale?: number;
  log?: (msg: string) => void;
}

export type Identity = 'ferry' | 'admin';

export class KubeCluster {
  private constructor(
    readonly name: string,
    readonly controlPlane: ControlPlane,
    readonly admin: AdminApi,
    readonly kubevirtCA: CertAuthority,
    readonly webhooks: KubevirtWebhooks,
    readonly components: KubevirtComponents,
    readonly proxy: FaultProxy,
    private readonly tokens: Record<Identity, string>,
    /** Where virt-handler's metrics are served, and the CA file (in the cluster's dir) to trust it with. */
    readonly virtHandlerMetrics: VirtHandlerMetricsEndpoint,
  ) {}

  static async start(name: string, opts: KubeClusterOptions): Promise<KubeCluster> {
    const log = opts.log ?? (() => {});
    const cp = await ControlPlane.start({ name, dir: opts.dir, parts: opts.parts, log });
    const stopped: (() => Promise<void>)[] = [() => cp.stop()];
    try {
      const admin = new AdminApi(cp.url, cp.ca.certPem, cp.adminToken);
      stopped.push(async () => admin.close());
      await applyCrds(admin, opts.parts.crdFiles);

      const virtApi = new AdminApi(cp.url, cp.ca.certPem, cp.componentsToken);
      const webhooks = await KubevirtWebhooks.start(virtApi);
      stopped.push(async () => {
        await webhooks.stop();
        virtApi.close();
      });
      for (const config of webhooks.configurations()) await admin.apply(config);

      for (const o of namespacesFirst(opts.fixtures)) await admin.createIfAbsent(o);
      const ferryToken = await ferryIdentity(admin);

      const kubevirtCA = await createCA(`${name}-kubevirt-ca`, 7);
      const components = await startKubevirtComponents({
        cluster: name,
        kubeConfig: kubeConfigFor({ name, server: cp.url, caPem: cp.ca.certPem, token: cp.componentsToken }),
        kubevirtCA,
        network: opts.network,
        ...(opts.timing ? { timing: opts.timing } : {}),
        ...(opts.byteScale ? { byteScale: opts.byteScale } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      });
      stopped.push(() => components.stop());

      const proxyCert = await issue(cp.ca, { commonName: 'kube-apiserver', dnsNames: ['localhost'], ips: ['127.0.0.1'], usage: ['server'], validDays: 30 });
      const proxy = await FaultProxy.start({
        upstream: cp.url,
        upstreamCA: cp.ca.certPem,
        tls: proxyCert,
        adminToken: cp.adminToken,
        users: new Map([
          [ferryToken, FERRY_USER],
          [cp.adminToken, 'admin'],
        ]),
      });
      proxy.registerControl('sync-controller', (method, body) => syncControl(components.sync, method, body));
      const metrics = publishEndpoint(opts.dir, name, components.metrics.url, components.metrics.caPem);
      return new KubeCluster(name, cp, admin, kubevirtCA, webhooks, components, proxy, { ferry: ferryToken, admin: cp.adminToken }, metrics);
    } catch (e) {
      for (const stop of stopped.reverse()) await stop().catch(() => {});
      throw e;
    }
  }

  /** How ferry, people and tests reach this cluster: through the fault proxy, trusting the cluster's CA. */
  endpoint(as: Identity = 'admin', name = this.name): ClusterEndpoint {
    return { name, server: this.proxy.url, caPem: this.controlPlane.ca.certPem, token: this.tokens[as] };
  }

  async stop(): Promise<void> {
    await this.proxy.stop();
    await this.components.stop();
    await this.webhooks.stop();
    this.admin.close();
    await this.controlPlane.stop();
  }
}

/** KubeVirt's and CDI's CRDs, applied server-side, and served (Established) before anything uses them. */
async function applyCrds(admin: AdminApi, files: string[]): Promise<void> {
  const crds = files.flatMap((f) => yamlDocuments(readFileSync(f, 'utf8'), f));
  await Promise.all(crds.map((crd) => admin.apply(crd)));
  await admin.until('KubeVirt and CDI CRDs to be established', async () => {
    const list = await admin.json<{ items: KubeObject[] }>('GET', objectPath('CustomResourceDefinition', undefined));
    const established = new Set(
      list.items
        .filter((c) =>
          ((c.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? []).some((x) => x.type === 'Established' && x.status === 'True'),
        )
        .map((c) => c.metadata.name),
    );
    return crds.every((c) => established.has(c.metadata.name));
  });
  // Established is not yet served: until a resource's watch cache is filled, its lists answer 429
  // "storage is (re)initializing" (clients retry; the bed waits so its fixtures need not).
  await admin.until('the CRDs to be served', async () => {
    const statuses = await Promise.all(
      crds.map((c) => {
        const spec = c.spec as { group: string; names: { plural: string }; versions: { name: string; storage?: boolean }[] };
        const version = spec.versions.find((v) => v.storage)?.name ?? spec.versions[0]!.name;
        return admin.raw('GET', `/apis/${spec.group}/${version}/${spec.names.plural}?limit=1`).then((r) => r.status);
      }),
    );
    return statuses.every((s) => s === 200);
  });
}

/** ferry's namespace, ServiceAccount and RBAC from deploy/rbac.yaml; a token for it from the TokenRequest API. */
async function ferryIdentity(admin: AdminApi): Promise<string> {
  await admin.createIfAbsent({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: FERRY_NAMESPACE } });
  for (const o of yamlDocuments(readFileSync(FERRY_RBAC_FILE, 'utf8'), FERRY_RBAC_FILE)) await admin.apply(o);
  const tr = await admin.json<{ status: { token: string } }>('POST', `${objectPath('ServiceAccount', FERRY_NAMESPACE, FERRY_SERVICE_ACCOUNT)}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 48 * 3600 },
  });
  return tr.status.token;
}
