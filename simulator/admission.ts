/**
 * The KubeVirt admission webhooks that matter for decentralized live migration, following virt-api's
 * VM and migration admitters. The rules are pure functions of the object and the `AdmissionFacts`
 * virt-api reads for it, so the same rules run inside the simulated API server (facts from its store)
 * and behind the real bed's HTTPS webhook (kube-bed/webhook.ts, facts read through the API), where the
 * kube-apiserver itself calls them.
 */
import { webhookDenied } from './apiserver/errors.js';
import type { KindInfo } from './apiserver/kinds.js';
import type { KubeObject } from './apiserver/object.js';
import type { Store } from './apiserver/store.js';
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

export const VM_WEBHOOK = 'virtualmachine-validator.kubevirt.io';
export const VMIM_CREATE_WEBHOOK = 'migration-create-validator.kubevirt.io';
export const VMIM_UPDATE_WEBHOOK = 'migration-update-validator.kubevirt.io';

export const GATE_DISABLED_MESSAGE = 'DecentralizedLiveMigration feature gate is not enabled in kubevirt resource';

/** What the admitters read besides the object under review. */
export interface AdmissionFacts {
  /** The KubeVirt CR (its feature gates). */
  kubevirt: KubeObject | undefined;
  /** For a VMIM: the VMI named by `spec.vmiName`. */
  vmi?: KubeObject | undefined;
  /** For a VMIM: the other VMIMs of its namespace. */
  migrations?: KubeObject[];
}

/** A webhook's refusal: the API server relays it as `admission webhook "<webhook>" denied the request: <message>`. */
export class AdmissionDenied extends Error {
  constructor(
    readonly webhook: string,
    message: string,
  ) {
    super(message);
    this.name = 'AdmissionDenied';
  }
}

const gateOn = (facts: AdmissionFacts) => decentralizedEnabled(facts.kubevirt);

/** virtualmachine-validator: run strategies and the gate `WaitAsReceiver` needs. */
export function admitVM(vm: KubeObject, facts: AdmissionFacts): void {
  const spec = (vm.spec ?? {}) as Record<string, unknown>;
  const deny = (msg: string) => new AdmissionDenied(VM_WEBHOOK, msg);
  if (spec.running !== undefined && spec.runStrategy !== undefined) throw deny('Running and RunStrategy are mutually exclusive');
  if (spec.runStrategy === 'WaitAsReceiver' && !gateOn(facts)) throw deny(`runStrategy WaitAsReceiver is not allowed: ${GATE_DISABLED_MESSAGE}`);
  const valid = ['Always', 'Halted', 'Manual', 'RerunOnFailure', 'Once', 'WaitAsReceiver'];
  if (spec.runStrategy !== undefined && !valid.includes(String(spec.runStrategy))) throw deny(`Invalid RunStrategy (${String(spec.runStrategy)})`);
}

function activeMigrationFor(migrations: KubeObject[], vmi: string): KubeObject | undefined {
  for (const m of migrations) {
    if (getPath(m, 'spec.vmiName') !== vmi) continue;
    if (!FINAL_VMIM_PHASES.has(String(getPath(m, 'status.phase') ?? ''))) return m;
  }
  return undefined;
}

/** migration-create-validator: the decentralized fields, the VMI's state, one migration per VMI. */
export function admitVMIMCreate(m: KubeObject, facts: AdmissionFacts): void {
  const deny = (msg: string) => new AdmissionDenied(VMIM_CREATE_WEBHOOK, msg);
  const spec = (m.spec ?? {}) as { vmiName?: string; sendTo?: { migrationID?: string; connectURL?: string }; receive?: { migrationID?: string } };
  if (!spec.vmiName) throw deny('spec.vmiName is required');
  if ((spec.sendTo || spec.receive) && !gateOn(facts)) throw deny(GATE_DISABLED_MESSAGE);
  if (spec.sendTo && (!spec.sendTo.migrationID || !spec.sendTo.connectURL)) throw deny('spec.sendTo.migrationID and spec.sendTo.connectURL are required');
  if (spec.receive && !spec.receive.migrationID) throw deny('spec.receive.migrationID is required');
  if (spec.sendTo && spec.receive && spec.sendTo.migrationID !== spec.receive.migrationID) throw deny('spec.sendTo.migrationID and spec.receive.migrationID must match');
  const ns = m.metadata.namespace!;
  const vmi = facts.vmi;
  if (!vmi) throw deny(`the VMI "${ns}/${spec.vmiName}" does not exist`);
  const phase = String(getPath(vmi, 'status.phase') ?? '');
  if (FINAL_VMI_PHASES.has(phase)) throw deny(`Cannot migrate VMI in finalized state (${phase})`);
  if (spec.receive && !spec.sendTo) {
    if (!isReceiver(vmi) || phase !== 'WaitingForSync') {
      throw deny(`the receiver VMI "${ns}/${spec.vmiName}" must be in phase WaitingForSync to receive a migration (it is ${phase || 'not started'})`);
    }
  } else {
    const lm = condition(vmi, 'LiveMigratable');
    if (lm?.status === 'False' && !(lm.reason === 'DisksNotLiveMigratable' && isDecentralizedVmim(m))) {
      throw deny(`Cannot migrate VMI, Reason: ${lm.reason}, Message: ${lm.message ?? ''}`);
    }
  }
  const active = activeMigrationFor(facts.migrations ?? [], spec.vmiName);
  if (active) {
    throw deny(`in-flight migration detected. Active migration job (${active.metadata.name}) is currently already in progress for VMI ${spec.vmiName}.`);
  }
}

/** migration-update-validator: a VMIM's spec never changes. */
export function admitVMIMUpdate(m: KubeObject, old: KubeObject): void {
  if (JSON.stringify(m.spec ?? {}) !== JSON.stringify(old.spec ?? {})) {
    throw new AdmissionDenied(VMIM_UPDATE_WEBHOOK, "update of VMIM object's spec is restricted");
  }
}

/** What virt-api's mutating webhook adds so the one-migration-per-VMI rule can be enforced by label. */
export function vmimLabels(m: KubeObject): Record<string, string> {
  const vmiName = getPath<string>(m, 'spec.vmiName');
  return vmiName ? { [LABEL_VMI_NAME]: vmiName } : {};
}

function factsFromStore(store: Store, o: KubeObject): AdmissionFacts {
  const kubevirt = store.peek('KubeVirt', KUBEVIRT_NAMESPACE, KUBEVIRT_CR);
  if (o.kind !== 'VirtualMachineInstanceMigration') return { kubevirt };
  const ns = o.metadata.namespace!;
  const vmiName = getPath<string>(o, 'spec.vmiName');
  return {
    kubevirt,
    vmi: vmiName ? store.peek('VirtualMachineInstance', ns, vmiName) : undefined,
    migrations: [...store.scan('VirtualMachineInstanceMigration')].filter((m) => m.metadata.namespace === ns && m.metadata.name !== o.metadata.name),
  };
}

function relayed(k: KindInfo, name: string, run: () => void): void {
  try {
    run();
  } catch (e) {
    if (e instanceof AdmissionDenied) throw webhookDenied(e.webhook, k, name, e.message);
    throw e;
  }
}

/** The same admitters, registered on the simulated API server's store. */
export function registerKubevirtAdmission(store: Store): void {
  store.addAdmission((req) => {
    if (req.subresource === 'status' || req.op === 'delete') return;
    const name = req.object.metadata.name ?? req.object.metadata.generateName ?? '';
    switch (req.kind.kind) {
      case 'VirtualMachine':
        return relayed(req.kind, name, () => admitVM(req.object, factsFromStore(req.store, req.object)));
      case 'VirtualMachineInstanceMigration':
        if (req.op === 'create') {
          relayed(req.kind, name, () => admitVMIMCreate(req.object, factsFromStore(req.store, req.object)));
          req.object.metadata.labels = { ...req.object.metadata.labels, ...vmimLabels(req.object) };
        }
        if (req.op === 'update' && req.old) relayed(req.kind, name, () => admitVMIMUpdate(req.object, req.old!));
    }
  });
}
