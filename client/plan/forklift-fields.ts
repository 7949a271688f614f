/**
 * Which Forklift Plan fields ferry cannot honour, and how much that matters. A field Forklift
 * would act on is never dropped quietly: running a plan that silently lost a setting would give
 * the operator something other than what the file says.
 *
 * The rule for the verdict: if honouring the field would change the migrated VM or what happens to
 * it (its name, labels, placement, CPU, disks, power state, hooks), ferry cannot stand in for
 * Forklift and the field is an ERROR (remove it to accept ferry's behaviour). If the field only
 * steers machinery a live migration between KubeVirt clusters never uses (virt-v2v conversion,
 * vSphere/oVirt/EC2 specifics, disk-copy networks), it is a WARNING and ignored.
 *
 * Zero values (false, "", {}, []) count as absent, as Go's `omitempty` does: they ask for nothing,
 * and `kubectl get -o yaml` output is full of them (e.g. `luks: {}`).
 *
 * Field names are those of kubev2v/forklift pkg/apis/forklift/v1beta1 (PlanSpec, plan.VM).
 */
import { fieldName, isZero, type Findings } from './document.js';

type Severity = 'error' | 'warning';
type Verdict = { severity: Severity; why: string } | undefined;
type Rule = (value: unknown, entry: Record<string, unknown>) => Verdict;

const error =
  (why: string): Rule =>
  () => ({ severity: 'error', why });
const warning =
  (why: string): Rule =>
  () => ({ severity: 'warning', why });
const errorUnless =
  (ok: (v: unknown, entry: Record<string, unknown>) => boolean, why: string): Rule =>
  (v, e) =>
    ok(v, e) ? undefined : { severity: 'error', why };

const CONVERSION = 'a guest-conversion (virt-v2v) setting; a live migration converts nothing';
/** Forklift's own default for OpenShift sources: the destination PVC keeps the source PVC's name, as ferry does. */
const SOURCE_PVC_NAME = '{{.SourcePVCName}}';

const pvcNameTemplate = errorUnless(
  (v) => v === SOURCE_PVC_NAME,
  `ferry gives each destination disk the name of its source disk (Forklift's ${SOURCE_PVC_NAME}); other names are not supported`,
);
const targetPowerState = errorUnless(
  (v) => v === 'auto',
  "ferry gives each target VM its source VM's run strategy (targetPowerState: auto); forcing it on or off is not supported",
);
const nestedVirt = error("ferry copies the source VM's CPU features unchanged; it would not add or remove vmx/svm");
const namingTemplate = warning('Forklift does not apply it to OpenShift sources either: interface and volume names are kept');
const sharedDisks = warning('ferry never migrates shared disks: preflight refuses a VM with a shareable disk');
const deleteOnFail = warning("ferry always removes what it created on the destination when a migration fails or is cancelled, as Forklift's live migrator does");
const rdm = warning('applies to vSphere RDM disks only');

/** Plan fields ferry maps itself, or ignores because they do not affect the migration. */
export const PLAN_HANDLED = new Set(['targetNamespace', 'provider', 'map', 'vms', 'type', 'warm', 'description', 'archived']);

export const PLAN_RULES: Record<string, Rule> = {
  targetLabels: error("ferry copies the source VM's labels and adds none: the target VMs would lack these labels"),
  targetNodeSelector: error('ferry does not constrain where the target VMs run: they would be scheduled without this node selector'),
  targetAffinity: error('ferry does not constrain where the target VMs run: they would be scheduled without this affinity'),
  pvcNameTemplate,
  pvcNameTemplateUseGenerateName: error('ferry gives each destination disk exactly the name of its source disk; generated names are not supported'),
  targetPowerState,
  enableNestedVirtualization: nestedVirt,
  serviceAccount: warning('ferry runs no pods in the target namespace'),
  transferNetwork: warning(
    "it selects the network for cold and warm disk copies; a live migration moves guest state and disks over KubeVirt's migration network, which neither ferry nor Forklift's live migrator chooses",
  ),
  convertorLabels: warning(CONVERSION),
  convertorNodeSelector: warning(CONVERSION),
  convertorAffinity: warning(CONVERSION),
  conversionTempStorageClass: warning(CONVERSION),
  conversionTempStorageSize: warning(CONVERSION),
  deleteGuestConversionPod: warning(CONVERSION),
  installLegacyDrivers: warning(CONVERSION),
  skipGuestConversion: warning(CONVERSION),
  useCompatibilityMode: warning(CONVERSION),
  customizationScripts: warning(CONVERSION),
  virtV2vImage: warning(CONVERSION),
  xfsCompatibility: warning(CONVERSION),
  diskBus: warning(`deprecated in Forklift; ${CONVERSION}`),
  preserveClusterCpuModel: warning('applies to oVirt sources only'),
  preserveStaticIPs: warning('applies to vSphere and Hyper-V sources only; a live-migrated guest keeps its running network configuration'),
  skipZoneNodeSelector: warning('applies to EC2 sources only'),
  runPreflightInspection: warning('applies to vSphere warm migrations only'),
  tagMapping: warning('applies to vSphere tags only'),
  rdmAsLun: rdm,
  scsiReservation: rdm,
  volumeNameTemplate: namingTemplate,
  networkNameTemplate: namingTemplate,
  migrateSharedDisks: sharedDisks,
  deleteVmOnFailMigration: deleteOnFail,
};

/** plan.VM fields ferry maps itself (the VM reference). */
export const VM_HANDLED = new Set(['id', 'name', 'namespace', 'type']);

export const VM_RULES: Record<string, Rule> = {
  hooks: error('ferry runs no migration hooks: the pre/post-migration hook jobs would not run'),
  instanceType: error("ferry keeps the source VM's instancetype; it would not apply this one"),
  targetName: errorUnless(
    (v, vm) => v === vm.name || (typeof vm.name === 'string' && vm.name.endsWith(`/${String(v)}`)),
    'ferry keeps the VM name: renaming on the destination is not supported',
  ),
  pvcNameTemplate,
  targetPowerState,
  enableNestedVirtualization: nestedVirt,
  luks: warning(CONVERSION),
  nbdeClevis: warning(CONVERSION),
  rootDisk: warning(CONVERSION),
  volumeNameTemplate: namingTemplate,
  networkNameTemplate: namingTemplate,
  migrateSharedDisks: sharedDisks,
  deleteVmOnFailMigration: deleteOnFail,
  rdmAsLun: rdm,
  scsiReservation: rdm,
};

/** Reports every non-zero field of `entry` that is not handled: by its rule, or as unknown. */
export function reportFields(entry: Record<string, unknown>, where: string, handled: Set<string>, rules: Record<string, Rule>, findings: Findings): void {
  for (const [key, value] of Object.entries(entry)) {
    if (handled.has(key) || isZero(value)) continue;
    // Own entries only: a field named __proto__, constructor or toString must not find Object's own.
    const rule = Object.hasOwn(rules, key) ? rules[key] : undefined;
    const verdict: Verdict = rule ? rule(value, entry) : { severity: 'error', why: 'not a Forklift field ferry knows, so it cannot tell whether it changes the migration' };
    if (!verdict) continue;
    const json = JSON.stringify(value);
    const shown = json.length > 60 ? `${json.slice(0, 57)}...` : json;
    findings[verdict.severity](
      verdict.severity === 'error'
        ? `${where}.${fieldName(key)} (${shown}): not supported, and it would change the migration: ${verdict.why}. Remove it to migrate without it`
        : `${where}.${fieldName(key)}: ignored (harmless here): ${verdict.why}`,
    );
  }
}
