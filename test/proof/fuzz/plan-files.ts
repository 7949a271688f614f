/**
 * Plan files for the plan-file fuzzer: valid ferry MigrationPlans and Forklift document sets, the
 * rules that break each of their fields (with the path the refusal must name, as the file spells
 * it), and text-level damage (bad YAML, alias bombs, deep nesting, extra documents) that no
 * structured mutation can produce.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';
import { badLabel, badVmName, defineOwn, notObject, notString, validCluster, validLabel, validVmName, type FieldRule } from './fuzz.js';
import { validPlan } from './inputs.js';

type Obj = Record<string, unknown>;

// ---- ferry's MigrationPlan ----------------------------------------------------------------------

/** A PlanInput in ferry's envelope: the name goes to metadata.name, the rest is spec. */
export function ferryDocument(plan: Obj): Obj {
  const spec: Obj = {};
  for (const [key, value] of Object.entries(plan)) if (key !== 'name') defineOwn(spec, key, value);
  return { apiVersion: 'ferry.dev/v1alpha1', kind: 'MigrationPlan', metadata: plan.name === undefined ? {} : { name: plan.name }, spec };
}

/** A PlanInput field (as the plan-input fuzzer names it) as ferry's plan file spells it. */
export function ferryField(field: string): string {
  if (field === 'input') return 'spec';
  if (field === 'name') return 'metadata.name';
  return `spec.${field}`;
}

/** Damage to the envelope: each names the field it broke. */
export const ferryEnvelopeDamage: fc.Arbitrary<{ edit: (d: Obj) => void; field: string; what: string }> = fc.oneof(
  fc
    .constantFrom('ferry.dev/v1', 'v1', 'ferry.dev/v1alpha2', 'ferry.dev/', 'ferry.dev/v1alpha1 ')
    .map((v) => ({ edit: (d: Obj) => void (d.apiVersion = v), field: 'apiVersion', what: `apiVersion ${v}` })),
  fc.constantFrom('Plan', 'migrationplan', 'MigrationPlans', '', 'List').map((v) => ({ edit: (d: Obj) => void (d.kind = v), field: 'kind', what: `kind ${v}` })),
  fc
    .oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null), fc.constant([]))
    .map((v) => ({ edit: (d: Obj) => void (d.metadata = v), field: 'metadata', what: `metadata ${JSON.stringify(v)}` })),
  fc
    .oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null), fc.constant([{ a: 1 }]))
    .map((v) => ({ edit: (d: Obj) => void (d.spec = v), field: 'spec', what: `spec ${JSON.stringify(v)}` })),
  fc.constantFrom('status', 'specs', 'Spec', 'items', '__proto__', 'constructor').map((k) => ({ edit: (d: Obj) => defineOwn(d, k, { x: 1 }), field: k, what: `top-level ${k}` })),
  fc
    .constantFrom('namespace', 'uid', '__proto__', 'generateName')
    .map((k) => ({ edit: (d: Obj) => defineOwn(d.metadata as Obj, k, 'x'), field: `metadata.${k}`, what: `metadata.${k}` })),
  fc.constant({ edit: (d: Obj) => void ((d.spec as Obj).name = 'wave'), field: 'spec.name', what: 'spec.name' }),
  // The same VM twice (also under another spelling of its options): a plan migrates each VM once.
  fc.constant({
    edit: (d: Obj) => {
      const vms = (d.spec as Obj).vms as Obj[];
      vms.push({ namespace: vms[0]!.namespace, name: vms[0]!.name });
    },
    field: 'spec.vms',
    what: 'a VM listed twice',
  }),
);

export { validPlan };

// ---- Forklift's documents -----------------------------------------------------------------------

const FORKLIFT = 'forklift.konveyor.io/v1beta1';
const MTV = 'openshift-mtv';
const ref = (name: string) => ({ name, namespace: MTV });
const forkliftDoc = (kind: string, metadata: Obj, spec: Obj): Obj => ({ apiVersion: FORKLIFT, kind, metadata: { namespace: MTV, ...metadata }, spec });

/** The documents of a Forklift plan file, by role, so rules can name their paths. */
export interface ForkliftModel extends Obj {
  src: Obj;
  dst: Obj;
  storage: Obj;
  network: Obj;
  plan: Obj;
}

const provider = (name: string, cluster: string, annotate: boolean, url: boolean) =>
  forkliftDoc(
    'Provider',
    { name, ...(annotate ? { annotations: { 'ferry.dev/cluster': cluster } } : {}) },
    { type: 'openshift', url: url ? `https://api.${name}.example.com:6443` : '' },
  );

export const validForklift: fc.Arbitrary<ForkliftModel> = fc
  .record({
    srcCluster: validCluster.map((c) => `src-${c}`),
    dstCluster: validCluster.map((c) => `dst-${c}`),
    annotate: fc.boolean(),
    url: fc.boolean(),
    planName: fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?$/),
    targetNamespace: validLabel,
    classes: fc.uniqueArray(fc.tuple(validVmName, validVmName), { minLength: 1, maxLength: 3, selector: ([from]) => from }),
    multus: fc.tuple(validLabel, validLabel, validLabel, validLabel),
    vms: fc.uniqueArray(fc.record({ namespace: validLabel, name: validVmName }), { minLength: 1, maxLength: 4, selector: (v) => `${v.namespace}/${v.name}` }),
    qualified: fc.boolean(),
    maxInFlight: fc.option(fc.integer({ min: 1, max: 500 }).map(String), { nil: undefined }),
    onBlocked: fc.option(fc.constantFrom('abort', 'skip'), { nil: undefined }),
  })
  .map((m): ForkliftModel => {
    // Unannotated, a Provider's name is the cluster's (kubeconfig context) name.
    const srcName = 'src';
    const dstName = 'dst';
    const providers = { source: ref(srcName), destination: ref(dstName) };
    const annotations: Obj = {};
    if (m.maxInFlight !== undefined) annotations['ferry.dev/max-in-flight'] = m.maxInFlight;
    if (m.onBlocked !== undefined) annotations['ferry.dev/on-blocked'] = m.onBlocked;
    const [fromNs, fromName, toNs, toName] = m.multus;
    return {
      src: provider(srcName, m.srcCluster, m.annotate, m.url),
      dst: provider(dstName, m.dstCluster, m.annotate, true),
      storage: forkliftDoc(
        'StorageMap',
        { name: 'storage' },
        { provider: providers, map: m.classes.map(([from, to]) => ({ source: { name: from }, destination: { storageClass: to } })) },
      ),
      network: forkliftDoc(
        'NetworkMap',
        { name: 'network' },
        {
          provider: providers,
          map: [
            { source: { type: 'pod' }, destination: { type: 'pod' } },
            { source: { namespace: fromNs, name: fromName }, destination: { type: 'multus', namespace: toNs, name: toName } },
          ],
        },
      ),
      plan: forkliftDoc(
        'Plan',
        { name: m.planName, annotations },
        {
          type: 'live',
          targetNamespace: m.targetNamespace,
          provider: providers,
          map: { storage: ref('storage'), network: ref('network') },
          vms: m.vms.map((vm) => (m.qualified ? { name: `${vm.namespace}/${vm.name}` } : { ...vm })),
        },
      ),
    };
  });

/** What a valid model must load as. */
export function forkliftExpected(m: ForkliftModel): { source: string; destination: string; namespace: string; vms: string[] } {
  const cluster = (p: Obj) => ((p.metadata as Obj).annotations as Obj | undefined)?.['ferry.dev/cluster'] ?? (p.metadata as Obj).name;
  const spec = m.plan.spec as Obj;
  return {
    source: String(cluster(m.src)),
    destination: String(cluster(m.dst)),
    namespace: String(spec.targetNamespace),
    vms: (spec.vms as Obj[]).map((vm) => (vm.namespace ? `${String(vm.namespace)}/${String(vm.name)}` : String(vm.name))),
  };
}

export const forkliftDocuments = (m: ForkliftModel): Obj[] => [m.src, m.dst, m.storage, m.network, m.plan];

/** Not a zero value: Forklift (Go's omitempty) reads "", 0, false, {} and [] as absent. */
const nonZero = fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.integer({ min: 1 }), fc.constant(true), fc.constant({ a: 1 }), fc.constant(['x']));
const notRef = fc.oneof(
  notObject.filter((v) => !(typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as Obj).name === 'string' && (v as Obj).name !== '')),
  fc.constantFrom({}, { name: '' }, { name: 'nope' }, { namespace: MTV }, { name: 5 }),
);
const vmName = badVmName.filter((s) => s !== '' && !s.includes('/'));
const vmNamespace = badLabel.filter((s) => s !== '' && !s.includes('/'));
const annotation = (key: string) => `metadata.annotations["${key}"]`;

export const forkliftRules: FieldRule[] = [
  { path: ['plan', 'spec'], required: false, bad: notObject, strict: true, named: 'spec' },
  { path: ['plan', 'spec', 'type'], required: true, bad: fc.constantFrom('cold', 'warm', 'Live', 'live ', '', null, 5, true, ['live']), named: 'spec.type' },
  { path: ['plan', 'spec', 'targetNamespace'], required: true, bad: fc.oneof(badLabel, notString), named: 'spec.targetNamespace' },
  { path: ['plan', 'spec', 'provider', 'source'], required: true, bad: notRef, named: 'spec.provider.source' },
  { path: ['plan', 'spec', 'provider', 'destination'], required: true, bad: notRef, named: 'spec.provider.destination' },
  { path: ['plan', 'spec', 'map', 'storage'], required: true, bad: notRef, named: 'spec.map.storage' },
  { path: ['plan', 'spec', 'map', 'network'], required: true, bad: notRef, named: 'spec.map.network' },
  {
    path: ['plan', 'spec', 'vms'],
    required: true,
    bad: fc.oneof(
      notObject.filter((v) => !Array.isArray(v)),
      fc.constant([]),
    ),
    named: 'spec.vms',
  },
  { path: ['plan', 'spec', 'vms', 0], required: false, bad: notObject.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)), strict: true, named: 'spec.vms[0]' },
  { path: ['plan', 'spec', 'vms', 0, 'name'], required: true, bad: fc.oneof(vmName, notString), named: 'spec.vms[0]' },
  // Only bad text: a namespace that is not text is ignored when the name is qualified (ns/name), as Forklift does.
  { path: ['plan', 'spec', 'vms', 0, 'namespace'], required: false, bad: vmNamespace, named: 'spec.vms[0]' },
  { path: ['plan', 'spec', 'vms', 0, 'hooks'], required: false, bad: fc.constant([{ hook: ref('pre'), step: 'PreHook' }]), named: 'spec.vms[0].hooks' },
  { path: ['plan', 'spec', 'vms', 0, 'targetName'], required: false, bad: fc.constantFrom('renamed', 'other-vm'), named: 'spec.vms[0].targetName' },
  ...['targetLabels', 'targetNodeSelector', 'pvcNameTemplate', 'targetPowerState', '__proto__', 'constructor', 'toString', 'valueOf', 'colour'].map((key): FieldRule => ({
    path: ['plan', 'spec', key],
    required: false,
    bad: key === 'targetPowerState' ? fc.constantFrom('on', 'off') : nonZero,
    named: `spec.${key}`,
  })),
  {
    path: ['plan', 'metadata', 'name'],
    required: true,
    bad: fc.oneof(
      notString,
      fc.constantFrom('', 'Wave-1', 'wave_1', '-w', 'w-', 'wave 1'),
      fc.integer({ min: 101, max: 4000 }).map((n) => 'n'.repeat(n)),
    ),
    named: 'metadata.name',
  },
  {
    path: ['plan', 'metadata', 'annotations', 'ferry.dev/max-in-flight'],
    required: false,
    bad: fc.constantFrom('0', '-1', 'abc', '501', '5.5', 'ten', true, 99999999999),
    named: annotation('ferry.dev/max-in-flight'),
  },
  {
    path: ['plan', 'metadata', 'annotations', 'ferry.dev/on-blocked'],
    required: false,
    bad: fc.constantFrom('Abort', 'continue', '', 'skip ', 5, null),
    named: annotation('ferry.dev/on-blocked'),
  },
  {
    path: ['plan', 'metadata', 'annotations', 'ferry.dev/options'],
    required: false,
    bad: fc.constantFrom('{"decisionWindow": "soon"}', '[1]', '{', 'decisionWindow: [', '{"colour": 1}', '5', '{"__proto__": {"decisionWindow": "1h"}}', '{"maxAutoRetries": 99}'),
    named: annotation('ferry.dev/options'),
  },
  { path: ['plan', 'metadata', 'annotations', 'ferry.dev/colour'], required: false, bad: fc.string({ maxLength: 5 }), named: annotation('ferry.dev/colour') },
  { path: ['src', 'spec', 'type'], required: true, bad: fc.constantFrom('vsphere', 'ovirt', 'ova', '', null, 5), named: 'Provider/src spec.type' },
  { path: ['src', 'metadata', 'name'], required: true, bad: fc.constantFrom('other', 'source-2'), named: 'spec.provider.source' },
  { path: ['dst', 'apiVersion'], required: true, bad: fc.constantFrom('v1', 'forklift.io/v1beta1'), named: 'spec.provider.destination' },
  { path: ['storage', 'spec', 'map'], required: true, bad: notObject.filter((v) => !Array.isArray(v)), named: 'StorageMap/storage spec.map' },
  { path: ['storage', 'spec', 'map', 0, 'source', 'name'], required: true, bad: fc.oneof(notString, fc.constant('')), named: 'StorageMap/storage spec.map[0]' },
  { path: ['storage', 'spec', 'map', 0, 'destination', 'storageClass'], required: true, bad: fc.oneof(notString, fc.constant('')), named: 'StorageMap/storage spec.map[0]' },
  { path: ['storage', 'spec', 'map', 0, 'destination', 'volumeMode'], required: false, bad: fc.constantFrom('Block', 'Filesystem'), named: 'StorageMap/storage spec.map[0]' },
  { path: ['network', 'spec', 'map', 0, 'destination', 'type'], required: false, bad: fc.constantFrom('multus', 'ignored', 'Pod'), named: 'NetworkMap/network spec.map[0]' },
  { path: ['network', 'spec', 'map', 1, 'destination', 'type'], required: true, bad: fc.constantFrom('pod', 'ignored', '', 5), named: 'NetworkMap/network spec.map[1]' },
  { path: ['network', 'spec', 'map', 1, 'source', 'name'], required: true, bad: fc.oneof(notString, fc.constant('')), named: 'NetworkMap/network spec.map[1]' },
  { path: ['network', 'spec', 'map', 1, 'source', 'type'], required: false, bad: fc.constantFrom('vlan', 'Multus', 5), named: 'NetworkMap/network spec.map[1]' },
];

/** Damage that needs more than one field: the same VM twice, one storage class mapped two ways, two Plans. */
export const forkliftCrossDamage: fc.Arbitrary<{ edit: (m: ForkliftModel) => Obj[] | undefined; field: string; what: string }> = fc.constantFrom(
  {
    edit: (m: ForkliftModel) => {
      const vms = (m.plan.spec as Obj).vms as Obj[];
      vms.push({ ...vms[0]! });
      return undefined;
    },
    field: 'spec.vms',
    what: 'a VM listed twice',
  },
  {
    edit: (m: ForkliftModel) => {
      const map = (m.storage.spec as Obj).map as Obj[];
      const first = map[0] as { source: Obj; destination: Obj };
      map.push({ source: { ...first.source }, destination: { storageClass: `${String(first.destination.storageClass)}-other` } });
      return undefined;
    },
    field: 'StorageMap/storage spec.map',
    what: 'a storage class mapped twice',
  },
  { edit: (m: ForkliftModel) => [...forkliftDocuments(m), structuredClone(m.plan)], field: 'the file holds 2 Plans', what: 'two Plans' },
  { edit: (m: ForkliftModel) => forkliftDocuments(m).filter((d) => d !== m.plan), field: 'no Plan document', what: 'no Plan' },
  { edit: (m: ForkliftModel) => [...forkliftDocuments(m), structuredClone(m.src)], field: 'spec.provider.source', what: 'two Providers of one name' },
);

// ---- text ---------------------------------------------------------------------------------------

/** Documents as a file: multi-document YAML, or (for one document, or as a `kind: List`) JSON. */
export function fileText(docs: Obj[], asJson: boolean): string {
  if (asJson) return JSON.stringify(docs.length === 1 ? docs[0] : { apiVersion: 'v1', kind: 'List', items: docs });
  return docs.map((d) => yamlOrJson(d)).join('---\n');
}

/** YAML, or JSON (also YAML) for a value nested deeper than the YAML writer recurses. */
function yamlOrJson(d: Obj): string {
  try {
    return stringify(d, { lineWidth: 0 });
  } catch (e) {
    if (e instanceof RangeError) return `${JSON.stringify(d)}\n`;
    throw e;
  }
}

const BOMB = [
  'a: &a [x, x, x, x, x, x, x, x, x]',
  'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
  'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
  'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
];

/** Text-level damage to a valid file's text; each leaves something no plan file may be. */
export const textDamage: fc.Arbitrary<{ apply: (text: string) => string; what: string; extraTopLevel?: true }> = fc.oneof(
  fc.nat().map((at) => ({ apply: (t: string) => t.slice(0, 1 + (at % Math.max(1, t.length - 2))), what: `cut at ${at}` })),
  fc.tuple(fc.nat(), fc.constantFrom('[', '{', '"', "'", ']', '}', ': :', '\t', '- ', '&', '*', '!', '%', '@', '`', '|', '>', '\u0000', '\u0007')).map(([at, junk]) => ({
    apply: (t: string) => {
      const lines = t.split('\n');
      const i = at % lines.length;
      lines[i] = `${junk}${lines[i]}`;
      return lines.join('\n');
    },
    what: `${JSON.stringify(junk)} at the start of a line`,
  })),
  fc.constant({ apply: (t: string) => `${t.trimEnd()}\nkind: MigrationPlan\n`, what: 'a duplicate top-level key' }),
  fc.constant({ apply: () => `${BOMB.join('\n')}\n`, what: 'an alias bomb' }),
  fc.constant({ apply: (t: string) => `${t.trimEnd()}\nbomb:\n${BOMB.map((l) => `  ${l}`).join('\n')}\n`, what: 'an alias bomb inside the document' }),
  fc.constant({ apply: (t: string) => `${t.trimEnd()}\nextra: *nowhere\n`, what: 'an alias to no anchor' }),
  fc
    .integer({ min: 1000, max: 5000 })
    .map((n) => ({ apply: (t: string) => `${t.trimEnd()}\nextra: ${'['.repeat(n)}${']'.repeat(n)}\n`, what: `lists nested ${n} deep`, extraTopLevel: true as const })),
  fc
    .integer({ min: 1000, max: 5000 })
    .map((n) => ({ apply: (t: string) => `${t.trimEnd()}\nextra: ${'{"a": '.repeat(n)}1${'}'.repeat(n)}\n`, what: `maps nested ${n} deep`, extraTopLevel: true as const })),
  fc.constantFrom('', '\n\n', '# only a comment\n', '---\n---\n', 'null\n', '~\n').map((empty) => ({ apply: () => empty, what: `an empty file ${JSON.stringify(empty)}` })),
  fc
    .constantFrom('- a\n- b\n', '42\n', '"a plan"\n', 'true\n', '[1, 2]')
    .map((other) => ({ apply: () => other, what: `a document that is not an object: ${JSON.stringify(other)}` })),
  fc.constant({ apply: (t: string) => `apiVersion: v1\nkind: List\nitems: [5, "x"]\n---\n${t}`, what: 'a List with items that are not objects' }),
  fc.constant({ apply: () => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n`, what: 'another kind of manifest' }),
  fc.integer({ min: 1025, max: 4000 }).map((n) => ({ apply: (t: string) => `${'k'.repeat(n)}: 1\n${t}`, what: `a ${n}-character key` })),
);
