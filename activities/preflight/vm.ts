/** The VM itself: running, live-migratable, no devices decentralized migration cannot move; its memory. */
import { field, type KubeObject } from '../kube/kinds.js';
import { parseBytes } from '../kube/quantity.js';
import { runStrategyOf } from '../vm-spec.js';
import { issues, only, type Issues, type Scope } from './scope.js';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

const conditionOf = (o: KubeObject | undefined, type: string) => (field<Condition[]>(o, 'status.conditions') ?? []).find((c) => c.type === type);

export function checkVMFound(s: Scope, vm: KubeObject | undefined): Issues {
  const f = issues();
  if (!vm) f.block('VMNotFound', `${s.vmRef} does not exist: check source.cluster, source.namespace and source.name`);
  return only(f);
}

export function checkRunning(s: Scope, vm: KubeObject, vmi: KubeObject | undefined): Issues {
  const f = issues();
  const vmiPhase = field<string>(vmi, 'status.phase');
  if (vmiPhase !== 'Running') {
    const runStrategy = runStrategyOf(vm);
    const name = s.m.source.name;
    const strategy = field(vm, 'spec.runStrategy') ? `runStrategy ${runStrategy}` : `spec.running ${String(field(vm, 'spec.running') ?? false)} (run strategy ${runStrategy})`;
    f.block(
      'VMNotRunning',
      `${s.vmRef} is not running (${strategy}; VMI ${vmi ? `phase ${vmiPhase ?? 'unknown'}` : 'absent'}): live migration moves a running VM; start it (e.g. virtctl start ${name} -n ${s.srcNs}) and wait until its VMI is Running, or move it with a cold migration`,
    );
  }
  return only(f);
}

export function checkMigratable(s: Scope, vm: KubeObject, vmi: KubeObject | undefined): Issues {
  const f = issues();
  const storage = conditionOf(vmi, 'StorageLiveMigratable') ?? conditionOf(vm, 'StorageLiveMigratable');
  if (storage?.status === 'False') {
    f.block(
      'NotStorageLiveMigratable',
      `${s.vmRef} has condition StorageLiveMigratable=False (${storage.reason ?? 'no reason'}: ${storage.message ?? 'no message'}): remove what KubeVirt names there before migrating`,
    );
  }
  const live = conditionOf(vmi, 'LiveMigratable') ?? conditionOf(vm, 'LiveMigratable');
  if (live && live.status !== 'True' && !(live.status === 'False' && live.reason === 'DisksNotLiveMigratable')) {
    f.block(
      'NotLiveMigratable',
      `${s.vmRef} has condition LiveMigratable=${live.status} (${live.reason ?? 'no reason'}: ${live.message ?? 'no message'}): only DisksNotLiveMigratable is acceptable for a decentralized migration; fix the cause KubeVirt names`,
    );
  }
  return only(f);
}

/** Shareable and LUN disks and virtiofs filesystems cannot be moved. */
export function checkDevices(s: Scope, vm: KubeObject): Issues {
  const f = issues();
  const devices = field<Record<string, unknown>>(vm, 'spec.template.spec.domain.devices') ?? {};
  for (const d of (devices.disks as { name?: string; shareable?: boolean; lun?: unknown }[] | undefined) ?? []) {
    if (d.shareable === true) {
      f.block('UnsupportedDevice', `disk ${d.name} of ${s.vmRef} is shareable: decentralized live migration cannot move shared disks; detach it (or drop "shareable") first`);
    }
    if (d.lun !== undefined && d.lun !== null) {
      f.block('UnsupportedDevice', `disk ${d.name} of ${s.vmRef} is a LUN: decentralized live migration cannot move LUN disks; detach it first`);
    }
  }
  for (const fs of (devices.filesystems as { name?: string }[] | undefined) ?? []) {
    f.block('UnsupportedDevice', `filesystem ${fs.name} of ${s.vmRef} is a virtiofs share: decentralized live migration cannot move virtiofs filesystems; remove it first`);
  }
  return only(f);
}

/** Guest memory: the VMI's, else the VM's, else the instancetype's. */
export function memoryOf(vm: KubeObject, vmi: KubeObject | undefined, typeMemory: number): number {
  return (
    parseBytes(field(vmi, 'spec.domain.memory.guest')) ||
    parseBytes(field(vmi, 'spec.domain.resources.requests.memory')) ||
    parseBytes(field(vm, 'spec.template.spec.domain.memory.guest')) ||
    parseBytes(field(vm, 'spec.template.spec.domain.resources.requests.memory')) ||
    typeMemory
  );
}
