/**
 * ferry's promises, checked by reading both clusters after a run (and, for VMIM pairs, by watching them
 * during it): a migration ends with exactly one running VMI of its VM — the destination's after
 * success, the source's after a rollback — leaves no VMIM behind after success and the source VM
 * halted; after a rollback nothing it labelled remains on the destination and what existed before is
 * untouched; one VM never has two VMIM pairs at once; and no Secret data or credential appears in any
 * history, search attribute or log line.
 *
 * The checks use each cluster's in-cluster component token (exempt from the simulator's fault
 * injection) straight to the API server: a fault or outage the run injected must not blind the checker.
 */
import * as k8s from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { createHash } from 'node:crypto';
import { ownedSelector } from '../../../activities/labels.js';
import type { SimCluster } from '../../../simulator/cluster.js';
import { kubeConfigFor } from '../../../simulator/kubeconfig.js';
import type { Simulator } from '../../../simulator/sim.js';

export type RunOutcome = 'Succeeded' | 'RolledBack' | 'Failed';

export interface RunToCheck {
  workflowId: string;
  /** The source VM's name. */
  vm: string;
  /** The source namespace; default `demo`. */
  namespace?: string;
  /** The destination namespace; default the source's. */
  destinationNamespace?: string;
  outcome: RunOutcome;
}

type Obj = { metadata: k8s.V1ObjectMeta; spec?: unknown; status?: unknown; data?: unknown; stringData?: unknown };

interface Kind {
  group: string;
  version: string;
  plural: string;
}

const core = (plural: string): Kind => ({ group: '', version: 'v1', plural });
const kubevirt = (plural: string): Kind => ({ group: 'kubevirt.io', version: 'v1', plural });
const VMIS = kubevirt('virtualmachineinstances');
const VMS = kubevirt('virtualmachines');
const VMIMS = kubevirt('virtualmachineinstancemigrations');

/** What ferry may create in a destination namespace (activities/cleanup.ts's kinds). */
const OWNED_KINDS: Kind[] = [
  VMIMS,
  VMS,
  { group: 'cdi.kubevirt.io', version: 'v1beta1', plural: 'datavolumes' },
  core('persistentvolumeclaims'),
  core('secrets'),
  core('configmaps'),
  { group: 'instancetype.kubevirt.io', version: 'v1beta1', plural: 'virtualmachineinstancetypes' },
  { group: 'instancetype.kubevirt.io', version: 'v1beta1', plural: 'virtualmachinepreferences' },
];

/** Namespaces of KubeVirt itself, which CA synchronization changes on purpose. */
const SYSTEM_NAMESPACES = new Set(['kubevirt', 'kube-system', 'kube-public', 'cdi']);

/** A client with the cluster's component token: no fault injection, no outage proxy in between. */
function checker(c: SimCluster): k8s.KubeConfig {
  return kubeConfigFor({ name: c.name, server: c.api.url, caPem: c.apiCA.certPem, token: c.tokens.system });
}

async function list(kc: k8s.KubeConfig, kind: Kind, namespace?: string, labelSelector?: string): Promise<Obj[]> {
  return (await listWithVersion(kc, kind, namespace, labelSelector)).items;
}

async function listWithVersion(kc: k8s.KubeConfig, kind: Kind, namespace?: string, labelSelector?: string): Promise<{ items: Obj[]; metadata?: { resourceVersion?: string } }> {
  const selector = labelSelector ? { labelSelector } : {};
  if (kind.group) {
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const target = { group: kind.group, version: kind.version, plural: kind.plural, ...selector };
    return (namespace ? custom.listNamespacedCustomObject({ ...target, namespace }) : custom.listClusterCustomObject(target)) as Promise<{ items: Obj[] }>;
  }
  const coreApi = kc.makeApiClient(k8s.CoreV1Api);
  const lists = {
    secrets: () => (namespace ? coreApi.listNamespacedSecret({ namespace, ...selector }) : coreApi.listSecretForAllNamespaces(selector)),
    configmaps: () => (namespace ? coreApi.listNamespacedConfigMap({ namespace, ...selector }) : coreApi.listConfigMapForAllNamespaces(selector)),
    persistentvolumeclaims: () =>
      namespace ? coreApi.listNamespacedPersistentVolumeClaim({ namespace, ...selector }) : coreApi.listPersistentVolumeClaimForAllNamespaces(selector),
  } as Record<string, () => Promise<{ items: unknown[] }>>;
  const fn = lists[kind.plural];
  if (!fn) throw new Error(`the invariant checker cannot list ${kind.plural}`);
  return (await fn()) as { items: Obj[] };
}

async function get(kc: k8s.KubeConfig, kind: Kind, namespace: string, name: string): Promise<Obj | undefined> {
  try {
    return (await kc.makeApiClient(k8s.CustomObjectsApi).getNamespacedCustomObject({ group: kind.group, version: kind.version, plural: kind.plural, namespace, name })) as Obj;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}

const phaseOf = (o: Obj | undefined) => (o?.status as { phase?: string } | undefined)?.phase;
const key = (o: Obj) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** What makes an object "the same": its identity and everything but status and bookkeeping. */
function fingerprint(o: Obj): string {
  const { labels, annotations, ownerReferences, finalizers } = o.metadata;
  return createHash('sha256')
    .update(JSON.stringify({ uid: o.metadata.uid, labels, annotations, ownerReferences, finalizers, spec: o.spec, data: o.data, stringData: o.stringData }))
    .digest('hex');
}

/** The destination's objects before a run, by kind, namespace and name. */
export interface Baseline {
  objects: Map<string, string>;
}

export async function baseline(sim: Simulator): Promise<Baseline> {
  const kc = checker(sim.destination);
  const objects = new Map<string, string>();
  for (const kind of OWNED_KINDS) {
    for (const o of await list(kc, kind)) {
      if (!SYSTEM_NAMESPACES.has(o.metadata.namespace ?? '')) objects.set(`${kind.plural}/${key(o)}`, fingerprint(o));
    }
  }
  return { objects };
}

/** Every invariant that does not hold after `run`, as a sentence; empty when all hold. */
export async function checkRun(sim: Simulator, run: RunToCheck, before?: Baseline): Promise<string[]> {
  const namespace = run.namespace ?? 'demo';
  const destinationNamespace = run.destinationNamespace ?? namespace;
  const src = checker(sim.source);
  const dst = checker(sim.destination);
  const where = `${run.workflowId} (${run.outcome})`;
  const violations: string[] = [];
  const [srcVmi, dstVmi, srcVm] = await Promise.all([get(src, VMIS, namespace, run.vm), get(dst, VMIS, destinationNamespace, run.vm), get(src, VMS, namespace, run.vm)]);
  const running = [srcVmi, dstVmi].filter((v) => phaseOf(v) === 'Running').length;
  if (running !== 1) violations.push(`${where}: ${running} running VMIs of ${run.vm} (source ${phaseOf(srcVmi) ?? 'none'}, destination ${phaseOf(dstVmi) ?? 'none'})`);
  const vmimsOf = async (kc: k8s.KubeConfig, ns: string) => (await list(kc, VMIMS, ns)).filter((m) => (m.spec as { vmiName?: string } | undefined)?.vmiName === run.vm);
  const sourceRunning = phaseOf(srcVmi) === 'Running';
  const succeeded = run.outcome === 'Succeeded' || (run.outcome === 'Failed' && !sourceRunning);
  if (succeeded) {
    if (phaseOf(dstVmi) !== 'Running') violations.push(`${where}: the destination VMI is ${phaseOf(dstVmi) ?? 'missing'}, not Running`);
    if (run.outcome === 'Succeeded') {
      const left = [...(await vmimsOf(src, namespace)).map((m) => `source ${key(m)}`), ...(await vmimsOf(dst, destinationNamespace)).map((m) => `destination ${key(m)}`)];
      if (left.length) violations.push(`${where}: VMIMs left after success: ${left.join(', ')}`);
      const strategy = (srcVm?.spec as { runStrategy?: string } | undefined)?.runStrategy;
      if (srcVm && strategy !== 'Halted') violations.push(`${where}: the source VM's runStrategy is ${strategy}, not Halted`);
    }
  } else {
    if (!sourceRunning) violations.push(`${where}: the source VMI is ${phaseOf(srcVmi) ?? 'missing'}, not Running`);
    const strategy = (srcVm?.spec as { runStrategy?: string } | undefined)?.runStrategy;
    if (strategy === 'Halted') violations.push(`${where}: the source VM was halted`);
    const selector = ownedSelector(run.workflowId);
    const inUse = await sharedInUse(dst, destinationNamespace, run.workflowId);
    for (const kind of OWNED_KINDS) {
      for (const o of await list(dst, kind, destinationNamespace, selector)) {
        if (!inUse.has(`${kind.plural}/${o.metadata.name}`)) violations.push(`${where}: ${kind.plural} ${key(o)} left on the destination`);
      }
    }
    for (const m of await list(src, VMIMS, namespace, selector)) violations.push(`${where}: source VMIM ${key(m)} left after rollback`);
  }
  if (before) violations.push(...(await untouched(sim, before)).map((v) => `${where}: ${v}`));
  return violations;
}

/**
 * Objects a rollback keeps on purpose: those another VM in the namespace refers to (a later migration
 * reused what this one copied).
 */
async function sharedInUse(kc: k8s.KubeConfig, namespace: string, workflowId: string): Promise<Set<string>> {
  const own = ownedSelector(workflowId).split('=')[1];
  const used = new Set<string>();
  for (const vm of await list(kc, VMS, namespace)) {
    if (vm.metadata.labels?.['ferry.dev/migration'] === own) continue;
    const text = JSON.stringify(vm.spec ?? {});
    for (const [, name] of text.matchAll(/"secretName":"([^"]+)"/g)) used.add(`secrets/${name}`);
    for (const [, name] of text.matchAll(/"secretRef":\{"name":"([^"]+)"/g)) used.add(`secrets/${name}`);
    for (const [, name] of text.matchAll(/"configMap":\{"name":"([^"]+)"/g)) used.add(`configmaps/${name}`);
    const spec = vm.spec as { instancetype?: { name?: string; kind?: string }; preference?: { name?: string; kind?: string } } | undefined;
    if (spec?.instancetype?.name && !/Cluster/.test(spec.instancetype.kind ?? '')) used.add(`virtualmachineinstancetypes/${spec.instancetype.name}`);
    if (spec?.preference?.name && !/Cluster/.test(spec.preference.kind ?? '')) used.add(`virtualmachinepreferences/${spec.preference.name}`);
  }
  return used;
}

/** Pre-existing destination objects that are gone or changed (anything but their status). */
export async function untouched(sim: Simulator, before: Baseline): Promise<string[]> {
  const now = (await baseline(sim)).objects;
  const violations: string[] = [];
  for (const [id, print] of before.objects) {
    // A VMI is the running guest: KubeVirt owns it and changes it; ferry's part is its VM.
    if (id.startsWith('virtualmachineinstances/')) continue;
    const after = now.get(id);
    if (after === undefined) violations.push(`pre-existing ${id} was removed`);
    else if (after !== print) violations.push(`pre-existing ${id} was changed`);
  }
  return violations;
}

/**
 * Watches VMIMs on both clusters for the length of a run: a VM with two VMIMs alive on one cluster at
 * once has two pairs (a pair is one VMIM on each side). Watched, not sampled: a pair that lived for
 * a few milliseconds counts.
 */
export class VmimPairWatch {
  private readonly found: string[] = [];
  private readonly live = new Map<string, Map<string, string>>();
  private readonly aborts: AbortController[] = [];
  private stopped = false;
  /** VMIM events seen, so a test can tell the watch saw anything. */
  events = 0;

  private constructor() {}

  static async start(sim: Simulator): Promise<VmimPairWatch> {
    const watch = new VmimPairWatch();
    await Promise.all([watch.follow(sim.source), watch.follow(sim.destination)]);
    return watch;
  }

  violations(): string[] {
    return [...this.found];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const a of this.aborts) a.abort();
  }

  private async follow(cluster: SimCluster): Promise<void> {
    const kc = checker(cluster);
    const live = new Map<string, string>();
    this.live.set(cluster.name, live);
    const relist = async () => {
      const listed = await listWithVersion(kc, VMIMS);
      live.clear();
      for (const m of listed.items) this.seen(cluster.name, live, 'ADDED', m);
      return listed.metadata?.resourceVersion ?? '0';
    };
    const connect = async (resourceVersion: string): Promise<void> => {
      if (this.stopped) return;
      const abort = new AbortController();
      this.aborts.push(abort);
      const again = () => {
        if (this.stopped) return;
        // A stream the server ended: list again (what happened meanwhile is in the list) and go on.
        relist()
          .then(connect)
          .catch(() =>
            setTimeout(
              () =>
                void relist()
                  .then(connect)
                  .catch(() => {}),
              200,
            ),
          );
      };
      const req = await new k8s.Watch(kc).watch(
        '/apis/kubevirt.io/v1/virtualmachineinstancemigrations',
        { resourceVersion, allowWatchBookmarks: true },
        (type: string, m: Obj) => this.seen(cluster.name, live, type, m),
        () => again(),
      );
      abort.signal.addEventListener('abort', () => req.abort());
    };
    await connect(await relist());
  }

  private seen(cluster: string, live: Map<string, string>, type: string, m: Obj): void {
    if (type === 'BOOKMARK' || !m?.metadata?.name) return;
    this.events++;
    const id = key(m);
    if (type === 'DELETED') {
      live.delete(id);
      return;
    }
    const vmi = `${m.metadata.namespace}/${(m.spec as { vmiName?: string } | undefined)?.vmiName}`;
    live.set(id, vmi);
    const same = [...live].filter(([, v]) => v === vmi).map(([k]) => k);
    if (same.length > 1) {
      const v = `two VMIM pairs for VMI ${vmi} at once: ${cluster} has ${same.sort().join(', ')}`;
      if (!this.found.includes(v)) this.found.push(v);
    }
  }
}

/** Every Secret value, token and private key a leak check looks for, raw and base64. */
async function secretNeedles(sim: Simulator): Promise<string[]> {
  const needles = new Set<string>();
  for (const c of [sim.source, sim.destination]) {
    for (const s of await list(checker(c), core('secrets'))) {
      for (const v of Object.values((s.data as Record<string, string> | undefined) ?? {})) {
        const plain = Buffer.from(v, 'base64').toString('utf8');
        if (v.length >= 8) needles.add(v);
        if (plain.length >= 8) needles.add(plain);
      }
    }
    for (const t of Object.values(c.tokens)) needles.add(t);
  }
  for (const n of ['PRIVATE KEY', 'certificate-authority-data', 'client-key-data']) needles.add(n);
  return [...needles];
}

/** All text in a value, with every payload's bytes decoded, so encoded values are searched too. */
export function textOf(value: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown) => {
    if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('utf8'));
    else if (typeof v === 'string') parts.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return parts.join('\n');
}

/**
 * Secret data, tokens or key material in any of these workflows' histories (payloads decoded), their
 * search attributes and memo, or the given log text. Without IDs, every workflow on the server.
 */
export async function secretLeaks(client: Client, sim: Simulator, opts: { workflowIds?: string[]; logs?: string[] } = {}): Promise<string[]> {
  const needles = await secretNeedles(sim);
  const ids = opts.workflowIds ?? [];
  if (!opts.workflowIds) for await (const w of client.workflow.list()) ids.push(w.workflowId);
  const leaks: string[] = [];
  const scan = (where: string, text: string) => {
    for (const n of needles) if (text.includes(n)) leaks.push(`${where} contains ${n.length > 12 ? `${n.slice(0, 6)}…` : 'a secret value'}`);
  };
  for (const id of new Set(ids)) {
    const handle = client.workflow.getHandle(id);
    scan(`the history of ${id}`, textOf(await handle.fetchHistory()));
    const d = await handle.describe();
    scan(`the search attributes of ${id}`, textOf([d.searchAttributes, d.raw.workflowExecutionInfo?.searchAttributes, d.raw.workflowExecutionInfo?.memo]));
  }
  (opts.logs ?? []).forEach((text, i) => scan(`log ${i + 1}`, text));
  return leaks;
}
