/**
 * Tests that run on either bed: the simulator (`FERRY_BED=sim`) or real kube-apiservers
 * (`FERRY_BED=kube`). Everything here goes through the clusters' HTTPS APIs, so a test written against
 * it asserts the same observable outcome on both.
 */
import * as k8s from '@kubernetes/client-node';
import { KINDS } from '../../simulator/apiserver/kinds.js';
import { objectPath } from '../../simulator/kube-bed/admin-api.js';
import { KubeBed } from '../../simulator/kube-bed/bed.js';
import { kubeConfigFor, type ClusterEndpoint } from '../../simulator/kubeconfig.js';
import type { Simulator } from '../../simulator/sim.js';
import { startStackWith, type StackBase, type StackOptions } from './e2e.js';
import type { Snapshot } from './snapshot.js';
import { FAST_TIMING, rawRequestTo, startSim, type Clients, type RawResponse } from '../../simulator/testing/sim.js';

export type BedKind = 'sim' | 'kube';
export type ClusterName = 'source' | 'destination';

/** The bed named by FERRY_BED, else `fallback`; anything else is refused rather than guessed. */
export function bedFromEnv(fallback: BedKind): BedKind {
  const v = process.env.FERRY_BED ?? fallback;
  if (v !== 'sim' && v !== 'kube') throw new Error(`FERRY_BED must be "sim" or "kube", got "${v}"`);
  return v;
}

export interface TestBed {
  kind: BedKind;
  /** ferry's kubeconfig: on the real bed, ferry's ServiceAccount under deploy/rbac.yaml. */
  kubeconfig: string;
  /** The bed's administrator on `cluster` (tests arrange and inspect with it). */
  admin(cluster: ClusterName): ClusterEndpoint;
  /** A simulator control (`/sim/v1/<path>`): both beds serve the same ones. */
  control(cluster: ClusterName, path: string, method?: string, body?: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

function simBed(sim: Simulator): TestBed {
  return {
    kind: 'sim',
    kubeconfig: sim.kubeconfig(),
    admin: (c) => sim.cluster(c).endpoint('admin'),
    control: (c, path, method, body) => control(sim.cluster(c).endpoint('admin'), path, method, body),
    stop: () => sim.stop(),
  };
}

function kubeBed(bed: KubeBed): TestBed {
  return {
    kind: 'kube',
    kubeconfig: bed.kubeconfig('ferry'),
    admin: (c) => bed.cluster(c).endpoint('admin'),
    control: (c, path, method, body) => control(bed.cluster(c).endpoint('admin'), path, method, body),
    stop: () => bed.stop(),
  };
}

export async function startTestBed(kind: BedKind): Promise<TestBed> {
  if (kind === 'sim') return simBed(await startSim());
  return kubeBed(await KubeBed.start({ timing: FAST_TIMING, log: (line) => console.error(line) }));
}

export interface BedStack extends StackBase {
  bed: TestBed;
}

export async function startBedStack(kind: BedKind, opts: StackOptions = {}): Promise<BedStack> {
  const stack = await startStackWith(
    () => startTestBed(kind),
    (bed) => bed,
    opts,
  );
  return Object.assign(stack, { bed: stack.clusters });
}

export function bedClients(bed: TestBed, cluster: ClusterName): Clients {
  const kc = kubeConfigFor(bed.admin(cluster));
  return { kc, core: kc.makeApiClient(k8s.CoreV1Api), custom: kc.makeApiClient(k8s.CustomObjectsApi) };
}

async function control(endpoint: ClusterEndpoint, path: string, method = 'GET', body?: unknown): Promise<unknown> {
  const p = path.startsWith('/') ? path : `/sim/v1/${path}`;
  const res: RawResponse = await rawRequestTo(endpoint, method, p, body === undefined ? {} : { body });
  if (res.status < 200 || res.status > 299) throw new Error(`${method} ${p}: HTTP ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Cut or heal the network between the clusters' sync endpoints. */
export async function partition(bed: TestBed, on: boolean): Promise<void> {
  await bed.control('source', 'network', 'PUT', { partitioned: on });
}

/**
 * Every object of the served kinds in `namespace` (and the cluster-scoped ones) as
 * kind/namespace/name → uid@resourceVersion, read through the API: what changed and what did not.
 */
export async function apiSnapshot(bed: TestBed, cluster: ClusterName, namespace: string): Promise<Snapshot> {
  const out: Snapshot = new Map();
  const admin = bed.admin(cluster);
  for (const k of KINDS) {
    if (k.kind === 'Namespace') continue;
    const res = await readRetrying(admin, objectPath(k.kind, k.namespaced ? namespace : undefined));
    if (res.status !== 200) throw new Error(`listing ${k.plural} on ${cluster}: HTTP ${res.status}`);
    for (const o of (res.body as { items: { metadata: { name: string; namespace?: string; uid: string; resourceVersion: string } }[] }).items) {
      out.set(`${k.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, `${o.metadata.uid}@${o.metadata.resourceVersion}`);
    }
  }
  return out;
}

/** GET, retrying what a real API server asks to retry (429 with Retry-After, e.g. a cache refilling). */
async function readRetrying(endpoint: ClusterEndpoint, path: string): Promise<RawResponse> {
  for (let attempt = 0; ; attempt++) {
    const res = await rawRequestTo(endpoint, 'GET', path);
    if (res.status !== 429 || attempt >= 10) return res;
    await new Promise((r) => setTimeout(r, 1000 * Number(res.headers['retry-after'] ?? 1)));
  }
}
