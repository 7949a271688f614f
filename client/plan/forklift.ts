/**
 * Forklift plans as ferry plans, so a team that already wrote (or exported with
 * `kubectl get plan,provider,storagemap,networkmap -o yaml`) a Forklift live-migration plan can run
 * it with ferry unchanged. The file holds one `Plan` (forklift.konveyor.io/v1beta1, spec.type: live)
 * plus the `Provider`, `StorageMap` and `NetworkMap` documents it references; they must all be in
 * the same file, because ferry has no Forklift inventory to look them up in.
 *
 * Clusters: ferry reaches clusters through kubeconfig contexts, not Provider secrets. A Provider
 * maps to the context named by its annotation `ferry.dev/cluster`, else to its metadata.name. A
 * Provider of type openshift with an empty spec.url is Forklift's "host" cluster (where Forklift
 * runs); it has no address of its own, so ferry warns when it falls back to the Provider's name.
 * Only openshift Providers are accepted: ferry moves VMs between KubeVirt clusters only.
 *
 * VMs: `{name, namespace}` or a qualified `name: ns/name` (Forklift's OpenShift inventory accepts
 * both). An `id` alone is the VM's UID in Forklift's inventory, which ferry cannot resolve.
 *
 * StorageMap and NetworkMap entries: see forklift-maps.ts.
 *
 * ferry-only settings ride on the Plan as annotations Forklift ignores:
 *   ferry.dev/max-in-flight: "20"      (default 20, like Forklift's controller_max_vm_inflight)
 *   ferry.dev/on-blocked: abort|skip   (default abort: like Forklift, a blocked VM stops the plan)
 *   ferry.dev/options: '{"decisionWindow": "1h"}'   (YAML or JSON: migration options for every VM)
 *
 * Which other Plan fields are errors or warnings: see forklift-fields.ts.
 */
import { parse as parseYaml } from 'yaml';
import type { PlanInput } from '../../workflows/plan-contract.js';
import { at, docName, isObj, renderPath, str, type Conversion, type Doc, type Findings, type Obj } from './document.js';
import { PLAN_HANDLED, PLAN_RULES, reportFields, VM_HANDLED, VM_RULES } from './forklift-fields.js';
import { multusNetworks, storageClasses } from './forklift-maps.js';

export const FORKLIFT_GROUP = 'forklift.konveyor.io';
const FORKLIFT_API_VERSION = `${FORKLIFT_GROUP}/v1beta1`;
const KINDS = new Set(['Plan', 'Provider', 'StorageMap', 'NetworkMap']);

export const CLUSTER_ANNOTATION = 'ferry.dev/cluster';
const MAX_IN_FLIGHT_ANNOTATION = 'ferry.dev/max-in-flight';
const ON_BLOCKED_ANNOTATION = 'ferry.dev/on-blocked';
const OPTIONS_ANNOTATION = 'ferry.dev/options';
const PLAN_ANNOTATIONS = new Set([MAX_IN_FLIGHT_ANNOTATION, ON_BLOCKED_ANNOTATION, OPTIONS_ANNOTATION]);

export function isForkliftDocument(d: Obj): boolean {
  return typeof d.apiVersion === 'string' && d.apiVersion.startsWith(`${FORKLIFT_GROUP}/`);
}

const meta = (d: Obj): Obj => at(d, 'metadata');
const spec = (d: Obj): Obj => at(d, 'spec');
const annotations = (d: Obj): Obj => at(meta(d), 'annotations');

/** A reference `{name, namespace?}` → the one document of that kind in the file, or an error. */
function resolve(docs: Obj[], kind: string, ref: unknown, where: string, fail: (line: string) => void): Obj | undefined {
  const name = isObj(ref) ? str(ref.name) : undefined;
  if (!name) {
    fail(`${where}: must reference a ${kind}: {name, namespace}`);
    return undefined;
  }
  const namespace = isObj(ref) ? str(ref.namespace) : undefined;
  const found = docs.filter((d) => d.kind === kind && meta(d).name === name && (!namespace || !str(meta(d).namespace) || meta(d).namespace === namespace));
  const shown = namespace ? `${namespace}/${name}` : name;
  if (found.length === 1) return found[0];
  fail(
    found.length
      ? `${where}: ${found.length} ${kind} documents are named ${shown}: give the reference a namespace`
      : `${where}: ${kind} ${shown} is not in the file: add the ${kind} document (ferry has no Forklift inventory to look it up in)`,
  );
  return undefined;
}

export function fromForklift(all: Doc[]): Conversion {
  const errors: string[] = [];
  const warnings: string[] = [];
  const findings: Findings = { error: (line) => void errors.push(line), warning: (line) => void warnings.push(line) };
  const fail = findings.error;

  const docs: Obj[] = [];
  for (const { index, value } of all) {
    if (isForkliftDocument(value) && KINDS.has(String(value.kind))) {
      if (value.apiVersion !== FORKLIFT_API_VERSION) warnings.push(`document ${index} (${docName(value)}): apiVersion ${String(value.apiVersion)} read as ${FORKLIFT_API_VERSION}`);
      docs.push(value);
    } else {
      warnings.push(`document ${index} (${String(value.apiVersion ?? '(no apiVersion)')} ${docName(value)}): not a Forklift Plan, Provider, StorageMap or NetworkMap: ignored`);
    }
  }

  const plans = docs.filter((d) => d.kind === 'Plan');
  if (plans.length !== 1) {
    fail(
      plans.length
        ? `the file holds ${plans.length} Plans (${plans.map(docName).join(', ')}): put one Plan in each file`
        : 'no Plan document: a Forklift plan file needs one kind: Plan (forklift.konveyor.io/v1beta1)',
    );
    return { plan: {} as PlanInput, warnings, errors, fieldPath: renderPath };
  }
  const planDoc = plans[0]!;
  const s = spec(planDoc);

  // Only live migrations: cold and warm copy disks and convert guests, which ferry does not do.
  const type = str(s.type);
  if (type === undefined) {
    fail(`spec.type: not set, so Forklift would run a ${s.warm === true ? 'warm (spec.warm: true)' : 'cold'} migration; ferry performs live migrations only: set spec.type: live`);
  } else if (type !== 'live') {
    fail(`spec.type: "${type}": ferry performs live migrations only (spec.type: live); a ${type} migration needs Forklift`);
  } else if (s.warm === true) {
    findings.warning('spec.warm: ignored (harmless here): spec.type: live supersedes it');
  }
  reportFields(s, 'spec', PLAN_HANDLED, PLAN_RULES, findings);

  // Clusters.
  const cluster = (role: 'source' | 'destination'): string | undefined => {
    const p = resolve(docs, 'Provider', at(s, 'provider')[role], `spec.provider.${role}`, fail);
    if (!p) return undefined;
    const ps = spec(p);
    if (ps.type !== 'openshift') {
      fail(`${docName(p)} spec.type: ${JSON.stringify(ps.type ?? null)}: ferry migrates between KubeVirt clusters only (Provider type openshift)`);
      return undefined;
    }
    const named = str(annotations(p)[CLUSTER_ANNOTATION]);
    const name = named ?? str(meta(p).name)!;
    if (!named && !str(ps.url)) {
      findings.warning(
        `${docName(p)} is Forklift's host cluster (empty spec.url): ferry uses the kubeconfig context "${name}"; set the annotation ${CLUSTER_ANNOTATION} to use another`,
      );
    }
    return name;
  };
  const source = cluster('source');
  const destination = cluster('destination');

  // Maps.
  const map = at(s, 'map');
  const providerNames = (d: Obj) => ['source', 'destination'].map((role) => str(at(spec(d).provider, role).name));
  const pairs = (d: Obj): unknown[] => {
    const ours = providerNames(planDoc);
    if (providerNames(d).some((n, i) => n && n !== ours[i]))
      findings.warning(`${docName(d)} spec.provider: differs from the Plan's providers (${ours.join(' → ')}); the map is used as written`);
    if (Array.isArray(spec(d).map)) return spec(d).map as unknown[];
    fail(`${docName(d)} spec.map: must be a list of {source, destination} pairs`);
    return [];
  };

  const storage = resolve(docs, 'StorageMap', map.storage, 'spec.map.storage', fail);
  const storageClassMap = storage ? storageClasses(docName(storage), pairs(storage), findings) : { map: {}, where: {} };
  const networks = resolve(docs, 'NetworkMap', map.network, 'spec.map.network', fail);
  const networkMap = networks ? multusNetworks(docName(networks), pairs(networks), findings) : { map: {}, where: {} };

  // VMs.
  const vms: { namespace: string; name: string }[] = [];
  const vmIndex: number[] = [];
  if (!Array.isArray(s.vms) || s.vms.length === 0) fail('spec.vms: must list at least one VM: {name, namespace}');
  (Array.isArray(s.vms) ? (s.vms as unknown[]) : []).forEach((vm, i) => {
    const where = `spec.vms[${i}]`;
    if (!isObj(vm)) return fail(`${where}: must be an object: {name, namespace}`);
    reportFields(vm, where, VM_HANDLED, VM_RULES, findings);
    let name = str(vm.name);
    let namespace = str(vm.namespace);
    if (name && !namespace && name.includes('/')) [namespace, name] = name.split('/', 2) as [string, string];
    if (!name)
      return fail(
        str(vm.id)
          ? `${where}: only id ${str(vm.id)} is given, the VM's UID in Forklift's inventory, which ferry cannot look up: add name and namespace`
          : `${where}.name: required: the VM's name (and namespace)`,
      );
    if (!namespace) return fail(`${where}.namespace: required: the namespace of VM ${name} on the source cluster (or write name as namespace/name)`);
    vms.push({ namespace, name });
    vmIndex.push(i);
  });

  // ferry's own settings.
  const ferryNotes = annotations(planDoc);
  const extra: Partial<PlanInput> = {};
  for (const key of Object.keys(ferryNotes)) {
    if (key.startsWith('ferry.dev/') && !PLAN_ANNOTATIONS.has(key)) fail(`metadata.annotations["${key}"]: unknown ferry annotation: use ${[...PLAN_ANNOTATIONS].join(', ')}`);
  }
  const maxInFlight = ferryNotes[MAX_IN_FLIGHT_ANNOTATION];
  if (maxInFlight !== undefined) extra.maxInFlight = (typeof maxInFlight === 'string' && /^\d+$/.test(maxInFlight) ? Number(maxInFlight) : maxInFlight) as number;
  if (ferryNotes[ON_BLOCKED_ANNOTATION] !== undefined) extra.onBlocked = ferryNotes[ON_BLOCKED_ANNOTATION] as PlanInput['onBlocked'];
  if (ferryNotes[OPTIONS_ANNOTATION] !== undefined) {
    try {
      const options: unknown = parseYaml(String(ferryNotes[OPTIONS_ANNOTATION]));
      if (isObj(options)) extra.options = options as PlanInput['options'];
      else fail(`metadata.annotations["${OPTIONS_ANNOTATION}"]: must be a YAML or JSON object of migration options, e.g. '{"decisionWindow": "1h"}'`);
    } catch (e) {
      fail(`metadata.annotations["${OPTIONS_ANNOTATION}"]: not YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
    }
  }

  const targetNamespace = str(s.targetNamespace);
  if (!targetNamespace) fail('spec.targetNamespace: required: the namespace the VMs move to on the destination cluster');

  const plan = {
    name: meta(planDoc).name,
    source: { cluster: source },
    destination: { cluster: destination, ...(targetNamespace ? { namespace: targetNamespace } : {}) },
    storageClassMap: storageClassMap.map,
    networkMap: networkMap.map,
    vms,
    ...extra,
  } as PlanInput;

  const annotation = (key: string) => `metadata.annotations["${key}"]`;
  const fieldPath = (path: readonly PropertyKey[]): string => {
    const [head, next, ...rest] = path;
    switch (head) {
      case 'name':
        return 'metadata.name';
      case 'source':
      case 'destination':
        return next === 'namespace' ? 'spec.targetNamespace' : `spec.provider.${head}`;
      case 'storageClassMap':
        return Object.hasOwn(storageClassMap.where, String(next)) ? storageClassMap.where[String(next)]! : 'spec.map.storage';
      case 'networkMap':
        return Object.hasOwn(networkMap.where, String(next)) ? networkMap.where[String(next)]! : 'spec.map.network';
      case 'vms':
        return typeof next === 'number' ? renderPath(['spec', 'vms', vmIndex[next] ?? next, ...rest]) : 'spec.vms';
      case 'maxInFlight':
        return annotation(MAX_IN_FLIGHT_ANNOTATION);
      case 'onBlocked':
        return annotation(ON_BLOCKED_ANNOTATION);
      case 'options':
        return renderPath([annotation(OPTIONS_ANNOTATION), ...path.slice(1)]);
      default:
        return renderPath(['spec', ...path]);
    }
  };
  return { plan, warnings, errors, fieldPath };
}
