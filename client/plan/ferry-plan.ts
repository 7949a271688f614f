/**
 * ferry's own plan file: a Kubernetes-style envelope around the plan workflow's input, so it reads
 * like the manifests operators already keep in Git, while `spec` stays exactly PlanInput (minus the
 * name, which lives in metadata.name) and needs no translation or separate documentation.
 *
 *   apiVersion: ferry.dev/v1alpha1
 *   kind: MigrationPlan
 *   metadata: { name: demo-wave-1 }
 *   spec:
 *     source: { cluster: source }
 *     destination: { cluster: destination, namespace: demo }
 *     storageClassMap: { standard: standard }      # source class → destination class
 *     networkMap: { demo/vlan10: demo/vlan10 }     # Multus ns/name → ns/name; pod needs no entry
 *     maxInFlight: 20
 *     onBlocked: abort                             # or skip
 *     options: { decisionWindow: 1h }              # every VM; a VM's own options win
 *     vms:
 *       - { namespace: demo, name: web-01 }
 *       - { namespace: demo, name: db-01, targetNamespace: db, options: { completionTimeoutPerGiB: 300s } }
 *
 * Unknown fields are errors (the plan schema is strict), so a misspelt option never silently
 * falls back to its default.
 */
import type { PlanInput } from '../../workflows/plan-contract.js';
import { fieldName, isObj, renderPath, type Conversion, type Obj } from './document.js';

export const FERRY_API_VERSION = 'ferry.dev/v1alpha1';
export const FERRY_KIND = 'MigrationPlan';

/** Whether a document claims to be a ferry plan (then it is checked as one, whatever else is wrong). */
export function isFerryPlan(d: Obj): boolean {
  return d.kind === FERRY_KIND || (typeof d.apiVersion === 'string' && d.apiVersion.startsWith('ferry.dev/'));
}

const TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata', 'spec']);
/** Labels and annotations are for the people and tools keeping the file; ferry ignores them. */
const METADATA = new Set(['name', 'labels', 'annotations']);

export function fromFerry(d: Obj): Conversion {
  const errors: string[] = [];
  if (d.apiVersion !== FERRY_API_VERSION) errors.push(`apiVersion: must be ${FERRY_API_VERSION}, found ${JSON.stringify(d.apiVersion ?? null)}`);
  if (d.kind !== FERRY_KIND) errors.push(`kind: must be ${FERRY_KIND}, found ${JSON.stringify(d.kind ?? null)}`);
  for (const key of Object.keys(d)) if (!TOP_LEVEL.has(key)) errors.push(`${fieldName(key)}: unknown field: a plan has apiVersion, kind, metadata and spec`);

  const metadata = isObj(d.metadata) ? d.metadata : {};
  if (d.metadata !== undefined && !isObj(d.metadata)) errors.push('metadata: must be an object: {name}');
  for (const key of Object.keys(metadata)) if (!METADATA.has(key)) errors.push(`metadata.${fieldName(key)}: unknown field: metadata has name, labels and annotations`);

  const spec = isObj(d.spec) ? d.spec : {};
  if (!isObj(d.spec)) errors.push('spec: is required: {source, destination, vms, ...}');
  if ('name' in spec) errors.push('spec.name: the plan name belongs in metadata.name');

  const plan = { ...spec, name: metadata.name } as PlanInput;
  return {
    plan,
    warnings: [],
    errors,
    fieldPath: (path) => (path[0] === 'name' ? 'metadata.name' : renderPath(['spec', ...path])),
  };
}
