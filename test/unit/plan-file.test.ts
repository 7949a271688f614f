/** Plan files: ferry's format and Forklift's documents map onto one PlanInput; every problem names its field. */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse as yamlParse, stringify } from 'yaml';
import { loadPlanFile, parsePlanText, PlanFileError, type LoadedPlan } from '../../client/plan/load.js';
import type { PlanInput } from '../../workflows/plan-contract.js';

const example = (name: string) => fileURLToPath(new URL(`../../examples/${name}`, import.meta.url));

const DEMO_PLAN: PlanInput = {
  name: 'demo-wave-1',
  source: { cluster: 'source' },
  destination: { cluster: 'destination', namespace: 'demo' },
  storageClassMap: { standard: 'standard' },
  networkMap: {},
  maxInFlight: 2,
  onBlocked: 'abort',
  options: { decisionWindow: '1h' },
  vms: [
    { namespace: 'demo', name: 'web-01' },
    { namespace: 'demo', name: 'db-01' },
    { namespace: 'demo', name: 'cache-01' },
  ],
};

type Obj = Record<string, unknown>;
const ref = (name: string) => ({ name, namespace: 'openshift-mtv' });
const fk = (kind: string, name: string, spec: Obj, metadata: Obj = {}) => ({
  apiVersion: 'forklift.konveyor.io/v1beta1',
  kind,
  metadata: { name, namespace: 'openshift-mtv', ...metadata },
  spec,
});

/** A minimal valid Forklift file; `edit` changes the documents before they are written out. */
function forklift(edit: (docs: { plan: Obj; docs: Obj[] }) => void = () => {}): string {
  const providers = { source: ref('src'), destination: ref('dst') };
  const plan = fk('Plan', 'wave', {
    type: 'live',
    targetNamespace: 'apps',
    provider: providers,
    map: { storage: ref('storage'), network: ref('network') },
    vms: [{ name: 'web-01', namespace: 'demo' }],
  });
  const docs: Obj[] = [
    fk('Provider', 'src', { type: 'openshift', url: 'https://api.src:6443', secret: ref('src-token') }),
    fk('Provider', 'dst', { type: 'openshift', url: 'https://api.dst:6443', secret: ref('dst-token') }),
    fk('StorageMap', 'storage', { provider: providers, map: [{ source: { name: 'standard' }, destination: { storageClass: 'fast' } }] }),
    fk('NetworkMap', 'network', { provider: providers, map: [{ source: { type: 'pod' }, destination: { type: 'pod' } }] }),
    plan,
  ];
  edit({ plan: plan.spec as Obj, docs });
  return docs.map((d) => stringify(d)).join('---\n');
}

function ferry(spec: Obj, name: unknown = 'wave'): string {
  return stringify({ apiVersion: 'ferry.dev/v1alpha1', kind: 'MigrationPlan', metadata: { name }, spec });
}
const FERRY_SPEC = { source: { cluster: 'src' }, destination: { cluster: 'dst' }, vms: [{ namespace: 'demo', name: 'web-01' }] };

/** The error lines (and warnings) a bad file produces; fails if the file loads. */
function failure(text: string, file = 'plan.yaml'): { lines: string[]; warnings: string[] } {
  try {
    parsePlanText(text, file);
  } catch (e) {
    if (e instanceof PlanFileError) return { lines: e.lines, warnings: e.warnings };
    throw e;
  }
  assert.fail('the plan file was accepted');
}

const has = (lines: string[], ...parts: string[]) =>
  assert.ok(
    lines.some((l) => parts.every((p) => l.includes(p))),
    `no line has ${parts.map((p) => JSON.stringify(p)).join(' and ')}:\n${lines.join('\n')}`,
  );

describe('the examples', () => {
  it('examples/ferry-plan.yaml migrates web-01, db-01, cache-01 from source to destination/demo', async () => {
    const loaded = await loadPlanFile(example('ferry-plan.yaml'));
    assert.deepEqual(loaded, { plan: DEMO_PLAN, warnings: [], format: 'ferry' } satisfies LoadedPlan);
  });

  it('examples/forklift-plan.yaml maps to the same plan', async () => {
    const loaded = await loadPlanFile(example('forklift-plan.yaml'));
    assert.deepEqual(loaded, { plan: DEMO_PLAN, warnings: [], format: 'forklift' } satisfies LoadedPlan);
  });

  it('a missing file is a PlanFileError naming it', async () => {
    await assert.rejects(loadPlanFile('/nonexistent/plan.yaml'), (e: unknown) => e instanceof PlanFileError && /\/nonexistent\/plan\.yaml: cannot read/.test(e.lines[0]!));
  });
});

describe('ferry plan files', () => {
  it('defaults are left to the plan schema; JSON is accepted', () => {
    const json = JSON.stringify({ apiVersion: 'ferry.dev/v1alpha1', kind: 'MigrationPlan', metadata: { name: 'wave' }, spec: FERRY_SPEC });
    assert.deepEqual(parsePlanText(json, 'plan.json').plan, { name: 'wave', ...FERRY_SPEC });
  });

  it('names each bad field as the file spells it', () => {
    const { lines } = failure(
      ferry(
        {
          ...FERRY_SPEC,
          maxInFlight: 0,
          onBlocked: 'maybe',
          colour: 'blue',
          vms: [{ namespace: 'demo', name: 'web-01', options: { decisonWindow: '1h' } }, { namespace: 'demo' }, { namespace: 'demo', name: 'Bad_Name' }],
        },
        'Wave 1',
      ),
    );
    has(lines, 'plan.yaml: metadata.name must be lower-case');
    has(lines, 'plan.yaml: spec.maxInFlight must be at least 1');
    has(lines, 'plan.yaml: spec.onBlocked must be one of abort, skip');
    has(lines, 'plan.yaml: spec: unknown field "colour"');
    has(lines, 'plan.yaml: spec.vms[0].options: unknown field "decisonWindow"');
    has(lines, 'plan.yaml: spec.vms[1].name is required');
  });

  it('a VM that would make an invalid migration names the VM entry', () => {
    const { lines } = failure(ferry({ ...FERRY_SPEC, vms: [{ namespace: 'demo', name: 'Bad_Name' }] }));
    has(lines, 'plan.yaml: spec.vms[0] (demo/Bad_Name): source.name must be a Kubernetes object name');
  });

  it('duplicate VMs are named', () => {
    const { lines } = failure(
      ferry({
        ...FERRY_SPEC,
        vms: [
          { namespace: 'demo', name: 'web-01' },
          { namespace: 'demo', name: 'db-01' },
          { namespace: 'demo', name: 'web-01' },
        ],
      }),
    );
    assert.deepEqual(lines, ['plan.yaml: spec.vms[2]: demo/web-01 is listed twice: remove the duplicate']);
  });

  it('the envelope is checked: apiVersion, unknown top-level fields, spec.name', () => {
    const text = stringify({ apiVersion: 'ferry.dev/v1', kind: 'MigrationPlan', metadata: { name: 'wave', namespace: 'x' }, status: {}, spec: { ...FERRY_SPEC, name: 'other' } });
    const { lines } = failure(text);
    has(lines, 'apiVersion: must be ferry.dev/v1alpha1');
    has(lines, 'plan.yaml: status: unknown field');
    has(lines, 'plan.yaml: metadata.namespace: unknown field');
    has(lines, 'plan.yaml: spec.name: the plan name belongs in metadata.name');
  });
});

describe('YAML and file shape', () => {
  it('a YAML syntax error names the line and shows it', () => {
    const text = 'apiVersion: ferry.dev/v1alpha1\nkind: MigrationPlan\nmetadata:\n  name: wave\nspec:\n  vms: [\n    {namespace: demo\n  source: x\n';
    const { lines } = failure(text);
    assert.match(lines[0]!, /^plan\.yaml: line \d+, column \d+: YAML syntax error: /);
    has(lines, '| ');
  });

  it('a control character YAML does not allow is refused where it is (fuzzing, seed 20261302: it became part of a key)', () => {
    for (const [char, code] of [
      ['\u0000', '0000'],
      ['\u0007', '0007'],
      ['\u009B', '009B'],
    ] as const) {
      const { lines } = failure(`apiVersion: ferry.dev/v1alpha1\nkind: MigrationPlan\n${char}spec: {}\n`);
      has(lines, `plan.yaml: line 3, column 1: character U+${code} is not allowed in YAML or JSON text: remove it`);
    }
  });

  it('duplicate keys are a syntax error on their line', () => {
    const { lines } = failure('apiVersion: ferry.dev/v1alpha1\nkind: MigrationPlan\nkind: MigrationPlan\n');
    has(lines, 'plan.yaml: line 3, column 1: YAML syntax error: Map keys must be unique', '3 | kind: MigrationPlan');
  });

  it('neither format, or an empty file, says what is expected', () => {
    has(failure('apiVersion: v1\nkind: ConfigMap\n').lines, 'not a plan file (found v1 ConfigMap)', 'MigrationPlan');
    has(failure('# nothing\n').lines, 'plan.yaml: the file is empty');
  });

  it('a kubectl List export is flattened', () => {
    const items = forklift()
      .split('---\n')
      .map((d) => yamlParse(d) as Obj);
    const list = stringify({ apiVersion: 'v1', kind: 'List', items });
    assert.equal(parsePlanText(list, 'export.yaml').plan.name, 'wave');
  });
});

describe('Forklift plans', () => {
  it('maps Plan, Providers and maps onto PlanInput', () => {
    const { plan, warnings, format } = parsePlanText(forklift(), 'plan.yaml');
    assert.equal(format, 'forklift');
    assert.deepEqual(warnings, []);
    assert.deepEqual(plan, {
      name: 'wave',
      source: { cluster: 'src' },
      destination: { cluster: 'dst', namespace: 'apps' },
      storageClassMap: { standard: 'fast' },
      networkMap: {},
      vms: [{ namespace: 'demo', name: 'web-01' }],
    });
  });

  for (const type of ['cold', 'warm', 'conversion']) {
    it(`spec.type: ${type} is rejected, naming spec.type`, () => {
      const { lines } = failure(forklift(({ plan }) => (plan.type = type)));
      has(lines, `plan.yaml: spec.type: "${type}": ferry performs live migrations only`);
    });
  }

  it('no spec.type means cold (or warm with spec.warm) to Forklift, and is rejected', () => {
    has(failure(forklift(({ plan }) => delete plan.type)).lines, 'spec.type: not set, so Forklift would run a cold migration');
    has(failure(forklift(({ plan }) => ((plan.warm = true), delete plan.type))).lines, 'a warm (spec.warm: true) migration');
    assert.deepEqual(
      parsePlanText(
        forklift(({ plan }) => (plan.warm = true)),
        'p.yaml',
      ).warnings,
      ['p.yaml: spec.warm: ignored (harmless here): spec.type: live supersedes it'],
    );
  });

  // Each field ferry cannot honour, with the verdict the loader must give it.
  const planFields: [string, unknown, 'error' | 'warning'][] = [
    ['targetLabels', { team: 'a' }, 'error'],
    ['targetNodeSelector', { zone: 'a' }, 'error'],
    ['targetAffinity', { podAffinity: { x: 1 } }, 'error'],
    ['pvcNameTemplate', '{{.VmName}}-disk-{{.DiskIndex}}', 'error'],
    ['pvcNameTemplateUseGenerateName', true, 'error'],
    ['targetPowerState', 'on', 'error'],
    ['enableNestedVirtualization', true, 'error'],
    ['futureField', 'x', 'error'],
    ['serviceAccount', 'migrator', 'warning'],
    ['transferNetwork', { name: 'net', namespace: 'x' }, 'warning'],
    ['convertorLabels', { a: 'b' }, 'warning'],
    ['convertorNodeSelector', { a: 'b' }, 'warning'],
    ['convertorAffinity', { nodeAffinity: { x: 1 } }, 'warning'],
    ['conversionTempStorageClass', 'scratch', 'warning'],
    ['conversionTempStorageSize', '30Gi', 'warning'],
    ['deleteGuestConversionPod', true, 'warning'],
    ['installLegacyDrivers', true, 'warning'],
    ['skipGuestConversion', true, 'warning'],
    ['useCompatibilityMode', true, 'warning'],
    ['customizationScripts', { name: 'scripts', namespace: 'x' }, 'warning'],
    ['virtV2vImage', 'quay.io/x/v2v', 'warning'],
    ['xfsCompatibility', true, 'warning'],
    ['diskBus', 'virtio', 'warning'],
    ['preserveClusterCpuModel', true, 'warning'],
    ['preserveStaticIPs', true, 'warning'],
    ['skipZoneNodeSelector', true, 'warning'],
    ['runPreflightInspection', true, 'warning'],
    ['tagMapping', { disabled: true }, 'warning'],
    ['rdmAsLun', true, 'warning'],
    ['scsiReservation', true, 'warning'],
    ['volumeNameTemplate', 'disk-{{.VolumeIndex}}', 'warning'],
    ['networkNameTemplate', 'net-{{.NetworkIndex}}', 'warning'],
    ['migrateSharedDisks', true, 'warning'],
    ['deleteVmOnFailMigration', true, 'warning'],
  ];
  const vmFields: [string, unknown, 'error' | 'warning'][] = [
    ['hooks', [{ step: 'PreHook', hook: { name: 'h', namespace: 'x' } }], 'error'],
    ['instanceType', 'u1.large', 'error'],
    ['targetName', 'web-02', 'error'],
    ['pvcNameTemplate', '{{.VmName}}-{{.DiskIndex}}', 'error'],
    ['targetPowerState', 'off', 'error'],
    ['enableNestedVirtualization', true, 'error'],
    ['luks', { name: 'keys' }, 'warning'],
    ['nbdeClevis', true, 'warning'],
    ['rootDisk', 'sda', 'warning'],
    ['volumeNameTemplate', 'v', 'warning'],
    ['networkNameTemplate', 'n', 'warning'],
    ['migrateSharedDisks', true, 'warning'],
    ['deleteVmOnFailMigration', true, 'warning'],
    ['rdmAsLun', true, 'warning'],
    ['scsiReservation', true, 'warning'],
    ['surprise', 1, 'error'],
  ];

  it('every unsupported Plan field is reported by path, as an error or a warning', () => {
    const { lines, warnings } = failure(forklift(({ plan }) => planFields.forEach(([k, v]) => (plan[k] = v))));
    for (const [field, , severity] of planFields) {
      if (severity === 'error') has(lines, `plan.yaml: spec.${field} (`, 'not supported, and it would change the migration');
      else has(warnings, `plan.yaml: spec.${field}: ignored (harmless here)`);
    }
    assert.equal(lines.length, planFields.filter((f) => f[2] === 'error').length, lines.join('\n'));
    assert.equal(warnings.length, planFields.filter((f) => f[2] === 'warning').length, warnings.join('\n'));
  });

  it('every unsupported VM field is reported by path', () => {
    const { lines, warnings } = failure(forklift(({ plan }) => vmFields.forEach(([k, v]) => ((plan.vms as Obj[])[0]![k] = v))));
    for (const [field, , severity] of vmFields) {
      if (severity === 'error') has(lines, `plan.yaml: spec.vms[0].${field} (`, 'not supported, and it would change the migration');
      else has(warnings, `plan.yaml: spec.vms[0].${field}: ignored (harmless here)`);
    }
    assert.equal(lines.length, vmFields.filter((f) => f[2] === 'error').length, lines.join('\n'));
    assert.equal(warnings.length, vmFields.filter((f) => f[2] === 'warning').length, warnings.join('\n'));
  });

  it('values that ask for what ferry does anyway, and zero values, are accepted quietly', () => {
    const loaded = parsePlanText(
      forklift(({ plan }) => {
        Object.assign(plan, {
          pvcNameTemplate: '{{.SourcePVCName}}',
          targetPowerState: 'auto',
          pvcNameTemplateUseGenerateName: false,
          warm: false,
          archived: true,
          description: 'x',
          targetLabels: {},
        });
        Object.assign((plan.vms as Obj[])[0]!, { id: 'f3a1-uid', luks: {}, hooks: [], targetName: 'web-01', enableNestedVirtualization: null });
      }),
      'plan.yaml',
    );
    assert.deepEqual(loaded.warnings, []);
    assert.deepEqual(loaded.plan.vms, [{ namespace: 'demo', name: 'web-01' }]);
  });

  it('VM references: qualified names work; an id alone or a missing namespace is named', () => {
    const ok = parsePlanText(
      forklift(({ plan }) => (plan.vms = [{ name: 'demo/web-01' }, { name: 'db-01', namespace: 'demo', id: 'uid-2' }])),
      'p.yaml',
    );
    assert.deepEqual(ok.plan.vms, [
      { namespace: 'demo', name: 'web-01' },
      { namespace: 'demo', name: 'db-01' },
    ]);
    const { lines } = failure(forklift(({ plan }) => (plan.vms = [{ id: '5f0c-uid' }, { name: 'db-01' }])));
    has(lines, 'plan.yaml: spec.vms[0]: only id 5f0c-uid is given', 'add name and namespace');
    has(lines, 'plan.yaml: spec.vms[1].namespace: required');
  });

  it('duplicate VMs are named, whichever way they are written', () => {
    const { lines } = failure(forklift(({ plan }) => (plan.vms = [{ name: 'web-01', namespace: 'demo' }, { name: 'demo/web-01' }])));
    assert.deepEqual(lines, ['plan.yaml: spec.vms[1]: demo/web-01 is listed twice: remove the duplicate']);
  });

  it('missing Provider, StorageMap and NetworkMap documents are named', () => {
    const { lines } = failure(forklift(({ docs }) => docs.splice(0, 4, docs[0]!)));
    has(lines, 'plan.yaml: spec.provider.destination: Provider openshift-mtv/dst is not in the file');
    has(lines, 'plan.yaml: spec.map.storage: StorageMap openshift-mtv/storage is not in the file');
    has(lines, 'plan.yaml: spec.map.network: NetworkMap openshift-mtv/network is not in the file');
    has(failure(forklift(({ docs }) => docs.pop())).lines, 'no Plan document');
  });

  it('a missing targetNamespace or Plan name is named', () => {
    has(failure(forklift(({ plan }) => delete plan.targetNamespace)).lines, 'plan.yaml: spec.targetNamespace: required');
    const noName = forklift(({ docs }) => ((docs[4]!.metadata as Obj).name = 'Wave_1'));
    has(failure(noName).lines, 'plan.yaml: metadata.name must be lower-case');
  });

  it('Providers: the annotation names the cluster; the host Provider warns; other types are rejected', () => {
    const named = parsePlanText(
      forklift(({ docs }) => ((docs[1]!.metadata as Obj).annotations = { 'ferry.dev/cluster': 'prod-east' })),
      'p.yaml',
    );
    assert.equal(named.plan.destination.cluster, 'prod-east');
    const host = parsePlanText(
      forklift(({ docs }) => ((docs[1]!.spec as Obj).url = '')),
      'p.yaml',
    );
    assert.equal(host.plan.destination.cluster, 'dst');
    has(host.warnings, "p.yaml: Provider/dst is Forklift's host cluster (empty spec.url)", 'ferry.dev/cluster');
    has(
      failure(forklift(({ docs }) => ((docs[0]!.spec as Obj).type = 'vsphere'))).lines,
      'plan.yaml: Provider/src spec.type: "vsphere": ferry migrates between KubeVirt clusters only',
    );
  });

  it('network maps: Multus → Multus becomes an entry; pod ↔ Multus and ignored are errors', () => {
    const ok = parsePlanText(
      forklift(({ docs }) => {
        (docs[3]!.spec as Obj).map = [
          { source: { type: 'pod' }, destination: { type: 'pod' } },
          { source: { name: 'vlan10', namespace: 'demo' }, destination: { type: 'multus', name: 'vlan10', namespace: 'net' } },
          { source: { type: 'multus', name: 'demo/storage-net' }, destination: { type: 'multus', name: 'net/storage' } },
        ];
      }),
      'p.yaml',
    );
    assert.deepEqual(ok.plan.networkMap, { 'demo/vlan10': 'net/vlan10', 'demo/storage-net': 'net/storage' });
    const { lines } = failure(
      forklift(({ docs }) => {
        (docs[3]!.spec as Obj).map = [
          { source: { type: 'pod' }, destination: { type: 'multus', name: 'x', namespace: 'y' } },
          { source: { name: 'a', namespace: 'demo' }, destination: { type: 'pod' } },
          { source: { name: 'b', namespace: 'demo' }, destination: { type: 'ignored' } },
          { source: { id: 'nad-uid' }, destination: { type: 'multus', name: 'x', namespace: 'y' } },
          { source: { name: 'c', namespace: 'demo' }, destination: { type: 'multus', name: 'x' } },
        ];
      }),
    );
    has(lines, 'plan.yaml: NetworkMap/network spec.map[0]: the pod network is mapped to multus');
    has(lines, 'plan.yaml: NetworkMap/network spec.map[1]: the Multus network demo/a is mapped to pod');
    has(lines, 'plan.yaml: NetworkMap/network spec.map[2]: the Multus network demo/b is mapped to ignored');
    has(lines, 'plan.yaml: NetworkMap/network spec.map[3].source: only id nad-uid is given');
    has(lines, 'plan.yaml: NetworkMap/network spec.map[4].destination: a Multus network needs namespace and name');
  });

  it('storage maps: missing classes, UIDs, volume and access modes, conflicting entries are named', () => {
    const { lines, warnings } = failure(
      forklift(({ docs }) => {
        (docs[2]!.spec as Obj).map = [
          { source: { id: 'sc-uid' }, destination: { storageClass: 'fast' } },
          { source: { name: 'slow' }, destination: {} },
          {
            source: { name: 'standard' },
            destination: { storageClass: 'fast', volumeMode: 'Block', accessMode: 'ReadWriteMany' },
            offloadPlugin: { vsphereXcopyConfig: { secretRef: 's' } },
          },
          { source: { name: 'standard' }, destination: { storageClass: 'other' } },
        ];
      }),
    );
    has(lines, 'plan.yaml: StorageMap/storage spec.map[0].source: only id sc-uid is given');
    has(lines, 'plan.yaml: StorageMap/storage spec.map[1].destination.storageClass: required');
    has(lines, 'plan.yaml: StorageMap/storage spec.map[2].destination.volumeMode (Block): not supported');
    has(lines, 'plan.yaml: StorageMap/storage spec.map[2].destination.accessMode (ReadWriteMany): not supported');
    has(lines, 'plan.yaml: StorageMap/storage spec.map[3]: storage class standard is mapped twice (to fast and other)');
    has(warnings, 'plan.yaml: StorageMap/storage spec.map[2].offloadPlugin: ignored');
  });

  it('ferry annotations set maxInFlight, onBlocked and options, and are checked by their names', () => {
    const ok = parsePlanText(
      forklift(
        ({ docs }) => ((docs[4]!.metadata as Obj).annotations = { 'ferry.dev/max-in-flight': '5', 'ferry.dev/on-blocked': 'skip', 'ferry.dev/options': 'stallFallback: cancel' }),
      ),
      'p.yaml',
    );
    assert.deepEqual([ok.plan.maxInFlight, ok.plan.onBlocked, ok.plan.options], [5, 'skip', { stallFallback: 'cancel' }]);
    const { lines } = failure(
      forklift(
        ({ docs }) =>
          ((docs[4]!.metadata as Obj).annotations = {
            'ferry.dev/max-in-flight': 'lots',
            'ferry.dev/on-blocked': 'maybe',
            'ferry.dev/options': '{"pollInterval": "soon"}',
            'ferry.dev/max-inflight': '3',
          }),
      ),
    );
    has(lines, 'plan.yaml: metadata.annotations["ferry.dev/max-inflight"]: unknown ferry annotation');
    assert.equal(lines.length, 1, 'conversion errors come first');
    const bad = failure(
      forklift(
        ({ docs }) =>
          ((docs[4]!.metadata as Obj).annotations = { 'ferry.dev/max-in-flight': 'lots', 'ferry.dev/on-blocked': 'maybe', 'ferry.dev/options': '{"pollInterval": "soon"}' }),
      ),
    ).lines;
    has(bad, 'plan.yaml: metadata.annotations["ferry.dev/max-in-flight"] must be a number');
    has(bad, 'plan.yaml: metadata.annotations["ferry.dev/on-blocked"] must be one of abort, skip');
    has(bad, 'plan.yaml: metadata.annotations["ferry.dev/options"].pollInterval: "soon" is not a duration');
  });

  it('other documents and a second Plan are reported', () => {
    const secret = stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'src-token' } });
    assert.deepEqual(parsePlanText(`${secret}---\n${forklift()}`, 'p.yaml').warnings, [
      'p.yaml: document 1 (v1 Secret/src-token): not a Forklift Plan, Provider, StorageMap or NetworkMap: ignored',
    ]);
    const twoPlans = forklift(({ docs }) => docs.push({ ...docs[4]!, metadata: { name: 'wave-2' } }));
    has(failure(twoPlans).lines, 'the file holds 2 Plans (Plan/wave, Plan/wave-2)');
  });
});
