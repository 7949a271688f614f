/**
 * The KubeVirt admission webhooks that matter for decentralized live migration, registered on the
 * simulated API server. Denials look like the real ones once relayed (422, "admission webhook ...
 * denied the request: ..."), and the checks follow virt-api's VM and migration admitters.
 */
import { webhookDenied } from './apiserver/errors.js';
import type { AdmissionRequest, Store } from './apiserver/store.js';
import type { KubeObject } from './apiserver/object.js';
import {
  condition,
  decentralizedEnabled,
  FINAL_VMI_PHASES,
  FINAL_VMIM_PHASES,
  getPath,
  isDecentralizedVmim,
  isReceiver,
  KUBEVIRT_CR,
  KUBEVIRT_NAMESPACE,
  LABEL_VMI_NAME,
} from './controllers/kubevirt.js';

const VM_WEBHOOK = 'virtualmachine-validator.kubevirt.io';
const VMIM_CREATE_WEBHOOK = 'migration-create-validator.kubevirt.io';
const VMIM_UPDATE_WEBHOOK = 'migration-update-validator.kubevirt.io';

export const GATE_DISABLED_MESSAGE = 'DecentralizedLiveMigration feature gate is not enabled in kubevirt resource';

function gateOn(store: Store): boolean {
  return decentralizedEnabled(store.peek('KubeVirt', KUBEVIRT_NAMESPACE, KUBEVIRT_CR));
}

function admitVM(req: AdmissionRequest): void {
  if (req.subresource === 'status' || req.op === 'delete') return;
  const vm = req.object;
  const name = vm.metadata.name ?? '';
  const spec = (vm.spec ?? {}) as Record<string, unknown>;
  if (spec.running !== undefined && spec.runStrategy !== undefined) {
    throw webhookDenied(VM_WEBHOOK, req.kind, name, 'Running and RunStrategy are mutually exclusive');
  }
  if (spec.runStrategy === 'WaitAsReceiver' && !gateOn(req.store)) {
    throw webhookDenied(VM_WEBHOOK, req.kind, name, `runStrategy WaitAsReceiver is not allowed: ${GATE_DISABLED_MESSAGE}`);
  }
  const valid = ['Always', 'Halted', 'Manual', 'RerunOnFailure', 'Once', 'WaitAsReceiver'];
  if (spec.runStrategy !== undefined && !valid.includes(String(spec.runStrategy))) {
    throw webhookDenied(VM_WEBHOOK, req.kind, name, `Invalid RunStrategy (${String(spec.runStrategy)})`);
  }
}

function activeMigrationFor(store: Store, ns: string, vmi: string, except?: string): KubeObject | undefined {
  for (const m of store.scan('VirtualMachineInstanceMigration')) {
    if (m.metadata.namespace !== ns || m.metadata.name === except) continue;
    if (getPath(m, 'spec.vmiName') !== vmi) continue;
    if (!FINAL_VMIM_PHASES.has(String(getPath(m, 'status.phase') ?? ''))) return m;
  }
  return undefined;
}

function admitVMIMCreate(req: AdmissionRequest): void {
  const m = req.object;
  const name = m.metadata.name ?? m.metadata.generateName ?? '';
  const deny = (msg: string) => webhookDenied(VMIM_CREATE_WEBHOOK, req.kind, name, msg);
  const spec = (m.spec ?? {}) as { vmiName?: string; sendTo?: { migrationID?: string; connectURL?: string }; receive?: { migrationID?: string } };
  if (!spec.vmiName) throw deny('spec.vmiName is required');
  if ((spec.sendTo || spec.receive) && !gateOn(req.store)) throw deny(GATE_DISABLED_MESSAGE);
  if (spec.sendTo && (!spec.sendTo.migrationID || !spec.sendTo.connectURL)) {
    throw deny('spec.sendTo.migrationID and spec.sendTo.connectURL are required');
  }
  if (spec.receive && !spec.receive.migrationID) throw deny('spec.receive.migrationID is required');
  if (spec.sendTo && spec.receive && spec.sendTo.migrationID !== spec.receive.migrationID) {
    throw deny('spec.sendTo.migrationID and spec.receive.migrationID must match');
  }
  const ns = m.metadata.namespace!;
  const vmi = req.store.peek('VirtualMachineInstance', ns, spec.vmiName);
  if (!vmi) throw deny(`the VMI "${ns}/${spec.vmiName}" does not exist`);
  const phase = String(getPath(vmi, 'status.phase') ?? '');
  if (FINAL_VMI_PHASES.has(phase)) throw deny(`Cannot migrate VMI in finalized state (${phase})`);
  const decentralized = isDecentralizedVmim(m);
  if (spec.receive && !spec.sendTo) {
    if (!isReceiver(vmi) || phase !== 'WaitingForSync') {
      throw deny(`the receiver VMI "${ns}/${spec.vmiName}" must be in phase WaitingForSync to receive a migration (it is ${phase || 'not started'})`);
    }
  } else {
    const lm = condition(vmi, 'LiveMigratable');
    if (lm?.status === 'False' && !(lm.reason === 'DisksNotLiveMigratable' && decentralized)) {
      throw deny(`Cannot migrate VMI, Reason: ${lm.reason}, Message: ${lm.message ?? ''}`);
    }
  }
  const active = activeMigrationFor(req.store, ns, spec.vmiName);
  if (active) {
    throw deny(
      `in-flight migration detected. Active migration job (${active.metadata.name}) is currently already in progress for VMI ${spec.vmiName}.`,
    );
  }
  // What virt-api's mutating webhook adds so the one-migration-per-VMI rule can be enforced by label.
  m.metadata.labels = { ...m.metadata.labels, [LABEL_VMI_NAME]: spec.vmiName };
}

function admitVMIMUpdate(req: AdmissionRequest): void {
  if (req.subresource === 'status' || !req.old) return;
  if (JSON.stringify(req.object.spec ?? {}) !== JSON.stringify(req.old.spec ?? {})) {
    throw webhookDenied(VMIM_UPDATE_WEBHOOK, req.kind, req.object.metadata.name ?? '', "update of VMIM object's spec is restricted");
  }
}

export function registerKubevirtAdmission(store: Store): void {
  store.addAdmission((req) => {
    switch (req.kind.kind) {
      case 'VirtualMachine':
        return admitVM(req);
      case 'VirtualMachineInstanceMigration':
        if (req.op === 'create') return admitVMIMCreate(req);
        if (req.op === 'update') return admitVMIMUpdate(req);
    }
  });
}
