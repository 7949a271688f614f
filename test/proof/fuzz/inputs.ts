/**
 * Valid inputs of the two workflows and the rules that break each field, for the fuzzers of the
 * workflow inputs (unit level and end to end) and of the plan files.
 */
import fc from 'fast-check';
import { OPTION_RANGES } from '../../../workflows/contract.js';
import {
  badCluster,
  badLabel,
  badVmName,
  inRange,
  notDuration,
  notNumber,
  notObject,
  notString,
  outOfRange,
  validCluster,
  validLabel,
  validVmName,
  type FieldRule,
  type Path,
} from './fuzz.js';

const DURATIONS = Object.keys(OPTION_RANGES) as (keyof typeof OPTION_RANGES)[];

/** A set of valid migration options (each optional). */
export const validOptions: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    ...Object.fromEntries(DURATIONS.map((k) => [k, inRange(OPTION_RANGES[k])])),
    stallFallback: fc.constantFrom('wait', 'cancel', 'retry'),
    maxAutoRetries: fc.integer({ min: 0, max: 10 }),
  },
  { requiredKeys: [] },
);

const map = fc.dictionary(validVmName, validVmName, { maxKeys: 3 });

/** A valid migration input: the destination is always another cluster (same cluster and namespace is refused). */
export const validMigration: fc.Arbitrary<Record<string, unknown>> = fc
  .record(
    {
      source: fc.record({ cluster: validCluster, namespace: validLabel, name: validVmName }),
      destination: fc.record({ cluster: validCluster, namespace: validLabel }, { requiredKeys: ['cluster'] }),
      storageClassMap: map,
      networkMap: fc.dictionary(
        fc.tuple(validLabel, validLabel).map(([a, b]) => `${a}/${b}`),
        fc.tuple(validLabel, validLabel).map(([a, b]) => `${a}/${b}`),
        { maxKeys: 2 },
      ),
      options: validOptions,
      plan: fc.stringMatching(/^[a-z0-9]{1,20}$/),
    },
    { requiredKeys: ['source', 'destination'] },
  )
  .map((m) => {
    const dst = m.destination as { cluster: string };
    if (dst.cluster === m.source.cluster) dst.cluster = `${dst.cluster}2`;
    return m;
  });

const badDuration = (k: keyof typeof OPTION_RANGES) => fc.oneof(notDuration, outOfRange(OPTION_RANGES[k]));

/** The options' rules under `at` (a migration's `options`, a plan's or a plan VM's). */
export function optionRules(at: Path): FieldRule[] {
  return [
    { path: at, required: false, bad: notObject, strict: true },
    ...DURATIONS.map((k): FieldRule => ({ path: [...at, k], required: false, bad: badDuration(k) })),
    {
      path: [...at, 'stallFallback'],
      required: false,
      bad: fc.oneof(
        fc.constantFrom('Wait', 'abort', '', 'retry '),
        notNumber.filter((v) => typeof v !== 'string'),
      ),
    },
    {
      path: [...at, 'maxAutoRetries'],
      required: false,
      bad: fc.oneof(fc.constantFrom('2', 2.5, -1, 11, 1e9, true, null, []), fc.integer({ min: 11 }), fc.integer({ max: -1 })),
    },
  ];
}

const badMap = fc.oneof(notObject.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)));
const badMapValue = fc.oneof(fc.constant(''), fc.integer(), fc.constant(null), fc.constant({ name: 'x' }), fc.constant(['a']));

export const migrationRules: FieldRule[] = [
  { path: [], required: false, bad: fc.constant(null), strict: true, named: 'input' },
  { path: ['source'], required: true, bad: notObject, strict: true },
  { path: ['source', 'cluster'], required: true, bad: fc.oneof(badCluster, notString) },
  { path: ['source', 'namespace'], required: true, bad: fc.oneof(badLabel, notString) },
  { path: ['source', 'name'], required: true, bad: fc.oneof(badVmName, notString) },
  { path: ['destination'], required: true, bad: notObject, strict: true },
  { path: ['destination', 'cluster'], required: true, bad: fc.oneof(badCluster, notString) },
  { path: ['destination', 'namespace'], required: false, bad: fc.oneof(badLabel, notString) },
  { path: ['storageClassMap'], required: false, bad: badMap },
  { path: ['storageClassMap', 'standard'], required: false, bad: badMapValue },
  { path: ['storageClassMap', '__proto__'], required: false, bad: fc.constantFrom('fast', { fast: 'x' }) },
  { path: ['networkMap'], required: false, bad: badMap },
  { path: ['networkMap', 'demo/vlan10'], required: false, bad: badMapValue },
  { path: ['networkMap', '__proto__'], required: false, bad: fc.constant('demo/vlan10') },
  ...optionRules(['options']),
  {
    path: ['plan'],
    required: false,
    bad: fc.oneof(
      notString,
      fc.integer({ min: 201, max: 5000 }).map((n) => 'p'.repeat(n)),
    ),
  },
];

// ---- plan input (the migratePlan workflow's) ---------------------------------------------------

const validPlanName = fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?$/);

export const validPlan: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    name: validPlanName,
    source: fc.record({ cluster: validCluster.map((c) => `src-${c}`) }),
    destination: fc.record({ cluster: validCluster.map((c) => `dst-${c}`), namespace: validLabel }, { requiredKeys: ['cluster'] }),
    storageClassMap: map,
    vms: fc.uniqueArray(fc.record({ namespace: validLabel, name: validVmName, targetNamespace: validLabel, options: validOptions }, { requiredKeys: ['namespace', 'name'] }), {
      minLength: 1,
      maxLength: 4,
      selector: (v) => `${v.namespace}/${v.name}`,
    }),
    maxInFlight: fc.integer({ min: 1, max: 500 }),
    onBlocked: fc.constantFrom('abort', 'skip'),
    options: validOptions,
    historyEventLimit: fc.integer({ min: 200, max: 40_000 }),
  },
  { requiredKeys: ['name', 'source', 'destination', 'vms'] },
);

export const planRules: FieldRule[] = [
  { path: [], required: false, bad: fc.constant(null), strict: true, named: 'input' },
  {
    path: ['name'],
    required: true,
    bad: fc.oneof(
      notString,
      fc.constantFrom('', 'Wave-1', 'wave_1', '-w', 'w-', 'wave 1'),
      fc.integer({ min: 101, max: 4000 }).map((n) => 'n'.repeat(n)),
    ),
  },
  { path: ['source'], required: true, bad: notObject, strict: true },
  { path: ['source', 'cluster'], required: true, bad: fc.oneof(badCluster, notString) },
  { path: ['destination'], required: true, bad: notObject, strict: true },
  { path: ['destination', 'cluster'], required: true, bad: fc.oneof(badCluster, notString) },
  { path: ['destination', 'namespace'], required: false, bad: fc.oneof(badLabel, notString) },
  { path: ['storageClassMap'], required: false, bad: badMap },
  { path: ['storageClassMap', '__proto__'], required: false, bad: fc.constant('fast') },
  {
    path: ['vms'],
    required: true,
    bad: fc.oneof(
      notObject.filter((v) => !Array.isArray(v)),
      fc.constant([]),
    ),
  },
  { path: ['vms', 0], required: false, bad: notObject, strict: true },
  {
    path: ['vms', 0, 'namespace'],
    required: true,
    bad: fc.oneof(
      badLabel.filter((s) => s !== ''),
      notString,
    ),
    named: 'vms[0]',
  },
  {
    path: ['vms', 0, 'name'],
    required: true,
    bad: fc.oneof(
      badVmName.filter((s) => s !== ''),
      notString,
    ),
    named: 'vms[0]',
  },
  { path: ['vms', 0, 'targetNamespace'], required: false, bad: fc.oneof(badLabel, notString) },
  ...optionRules(['vms', 0, 'options']),
  { path: ['maxInFlight'], required: false, bad: fc.oneof(notNumber, fc.constantFrom(0, -1, 501, 1.5, 1e12)) },
  { path: ['onBlocked'], required: false, bad: fc.oneof(fc.constantFrom('Abort', 'continue', '', 'skip '), fc.integer(), fc.constant(null)) },
  ...optionRules(['options']),
  { path: ['historyEventLimit'], required: false, bad: fc.oneof(notNumber, fc.constantFrom(0, 199, 40_001, 1000.5)) },
];
