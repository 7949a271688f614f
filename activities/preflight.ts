/**
 * Preflight: everything that would make the migration fail, checked on both clusters before anything
 * is written, and reported together so an operator fixes them in one go. Reads only: nothing here
 * creates, patches or deletes. Each issue names the object and says how to fix it. Secrets are read
 * only for their existence; nothing of their content leaves this module.
 */
import type { Migration, PreflightIssue, PreflightReport } from '../workflows/contract.js';
import type { ActivityDeps } from './context.js';
import type { ClusterClient } from './kube/cluster.js';
import { denialMessage, deniedNeeds, type Scope, type Side } from './access.js';
import { apiFailure, isNotFound, orFail } from './kube/errors.js';
import { field, type KindName, type KubeObject } from './kube/kinds.js';
import { parseBytes } from './kube/quantity.js';
import { isOwnedBy } from './labels.js';
import { configMapNames, dataVolumeTemplate, diskRefs, macAddresses, optionalNames, qualifiedNetwork, runStrategyOf, secretNames, typeRef } from './vm-spec.js';

export const GATE = 'DecentralizedLiveMigration';
const GATES_FIELD = 'spec.configuration.developerConfiguration.featureGates';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

const conditionOf = (o: KubeObject | undefined, type: string) => (field<Condition[]>(o, 'status.conditions') ?? []).find((c) => c.type === type);

/** A PVC that CDI made for one of our DataVolumes belongs to us too, labelled or not. */
const controlledBy = (o: KubeObject, owner: KubeObject) => (o.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid);

export function preflightActivities(deps: ActivityDeps) {
  return {
    /**
     * `accessIssues: 'warn'` reports missing permissions as warnings: for a dry run with someone
     * else's (read-only) credentials, where the worker's own are what counts.
     */
    async preflight(input: { workflowId: string; migration: Migration; accessIssues?: 'block' | 'warn' }): Promise<PreflightReport> {
      const { workflowId, migration: m } = input;
      const src = deps.clusters.get(m.source.cluster);
      const dst = deps.clusters.get(m.destination.cluster);
      const srcNs = m.source.namespace;
      const dstNs = m.destination.namespace;
      const sameCluster = m.source.cluster === m.destination.cluster;
      const blockers: PreflightIssue[] = [];
      const warnings: PreflightIssue[] = [];
      const block = (code: string, message: string) => void blockers.push({ code, message });
      const warn = (code: string, message: string) => void warnings.push({ code, message });
      const ours = (o: KubeObject | undefined) => isOwnedBy(o?.metadata, workflowId);

      /** GET; undefined when absent; any other API error fails the activity (retryable or not per apiFailure). */
      const get = (c: ClusterClient, kind: KindName, ns: string | undefined, name: string) =>
        orFail(c.get(kind, ns, name), `reading ${kind} ${ns ? `${ns}/` : ''}${name}`, c.name, kind === 'Secret');
      const list = (c: ClusterClient, kind: KindName, what: string) =>
        orFail(c.list(kind, undefined), what, c.name);
      const vmRef = `VM ${srcNs}/${m.source.name} on cluster ${src.name}`;
      const clusterOf = { source: src, destination: dst };
      const access = async (side: Side, scopes: Scope[], kubevirtNamespace?: string) => {
        const c = clusterOf[side];
        const namespaces = { workload: side === 'source' ? srcNs : dstNs, ...(kubevirtNamespace ? { kubevirt: kubevirtNamespace } : {}) };
        const denials = await orFail(deniedNeeds(c.access, side, scopes, namespaces), 'reviewing what ferry may do', c.name);
        for (const d of denials) (input.accessIssues === 'warn' ? warn : block)('Forbidden', denialMessage(d, c.name));
        return denials.length;
      };
      const emptyReport = () => ({ blockers, warnings, memoryBytes: 0, diskBytes: 0, runStrategy: 'Unknown' });

      // 0. Permissions: a 403 halfway through would leave a half-made migration to roll back.
      const denied = (await Promise.all([access('source', ['workload', 'cluster']), access('destination', ['workload', 'cluster'])])).reduce((a, b) => a + b, 0);
      if (denied > 0 && input.accessIssues !== 'warn') return emptyReport();

      // 1. KubeVirt on both sides: installed, gate on, a synchronization address advertised.
      let destinationSyncAddress: string | undefined;
      for (const [side, c] of [
        ['source', src],
        ['destination', dst],
      ] as const) {
        const kvs = await list(c, 'KubeVirt', 'listing KubeVirt CRs in all namespaces');
        const kv = kvs.find((k) => !k.metadata.deletionTimestamp) ?? kvs[0];
        if (!kv) {
          block(
            'KubeVirtNotFound',
            `no KubeVirt CR found in any namespace of the ${side} cluster ${c.name}: install KubeVirt (or OpenShift Virtualization) there, and check that ferry's worker may list kubevirts.kubevirt.io`,
          );
          continue;
        }
        const kvName = `KubeVirt ${kv.metadata.namespace ? `${kv.metadata.namespace}/` : ''}${kv.metadata.name}`;
        // CA sync works in KubeVirt's namespace (kubevirt, or openshift-cnv under HCO): known only now.
        if (kv.metadata.namespace) await access(side, ['kubevirt'], kv.metadata.namespace);
        const gates = field<unknown[]>(kv, GATES_FIELD) ?? [];
        if (!gates.some((g) => typeof g === 'string' && g.toLowerCase() === GATE.toLowerCase())) {
          block('GateDisabled', `the ${GATE} feature gate is not enabled on the ${side} cluster ${c.name}: add "${GATE}" to ${GATES_FIELD} of ${kvName}`);
        }
        const addrs = (field<unknown[]>(kv, 'status.synchronizationAddresses') ?? []).filter((a): a is string => typeof a === 'string' && a.length > 0);
        if (!addrs.length) {
          block(
            'NoSyncAddress',
            `${kvName} on the ${side} cluster ${c.name} advertises no synchronization address (status.synchronizationAddresses is empty): enable the ${GATE} gate and check that virt-synchronization-controller is running and reachable`,
          );
        }
        if (side === 'destination' && addrs[0]) destinationSyncAddress = addrs[0];
      }
      const withAddress = destinationSyncAddress ? { destinationSyncAddress } : {};

      // 2. The destination namespace must exist: ferry does not create namespaces.
      const nsExists = await dst.core.readNamespace({ name: dstNs }).then(
        () => true,
        (e: unknown) => {
          if (isNotFound(e)) return false;
          throw apiFailure(e, `reading namespace ${dstNs}`, dst.name);
        },
      );
      if (!nsExists) block('DestinationNamespaceMissing', `namespace ${dstNs} does not exist on the destination cluster ${dst.name}: create it first (ferry does not create namespaces)`);

      // 3. The VM: present, running, migratable. Without it nothing else can be checked.
      const vm = await get(src, 'VirtualMachine', srcNs, m.source.name);
      if (!vm) {
        block('VMNotFound', `${vmRef} does not exist: check source.cluster, source.namespace and source.name`);
        return { blockers, warnings, memoryBytes: 0, diskBytes: 0, runStrategy: 'Halted', ...withAddress };
      }
      const runStrategy = runStrategyOf(vm);
      const vmi = await get(src, 'VirtualMachineInstance', srcNs, m.source.name);
      const vmiPhase = field<string>(vmi, 'status.phase');
      if (vmiPhase !== 'Running') {
        const strategy = field(vm, 'spec.runStrategy') ? `runStrategy ${runStrategy}` : `spec.running ${String(field(vm, 'spec.running') ?? false)} (run strategy ${runStrategy})`;
        block(
          'VMNotRunning',
          `${vmRef} is not running (${strategy}; VMI ${vmi ? `phase ${vmiPhase ?? 'unknown'}` : 'absent'}): live migration moves a running VM; start it (e.g. virtctl start ${m.source.name} -n ${srcNs}) and wait until its VMI is Running, or move it with a cold migration`,
        );
      }
      const storage = conditionOf(vmi, 'StorageLiveMigratable') ?? conditionOf(vm, 'StorageLiveMigratable');
      if (storage?.status === 'False') {
        block(
          'NotStorageLiveMigratable',
          `${vmRef} has condition StorageLiveMigratable=False (${storage.reason ?? 'no reason'}: ${storage.message ?? 'no message'}): remove what KubeVirt names there before migrating`,
        );
      }
      const live = conditionOf(vmi, 'LiveMigratable') ?? conditionOf(vm, 'LiveMigratable');
      if (live && live.status !== 'True' && !(live.status === 'False' && live.reason === 'DisksNotLiveMigratable')) {
        block(
          'NotLiveMigratable',
          `${vmRef} has condition LiveMigratable=${live.status} (${live.reason ?? 'no reason'}: ${live.message ?? 'no message'}): only DisksNotLiveMigratable is acceptable for a decentralized migration; fix the cause KubeVirt names`,
        );
      }

      // 4. Devices decentralized migration cannot move.
      const devices = field<Record<string, unknown>>(vm, 'spec.template.spec.domain.devices') ?? {};
      for (const d of (devices.disks as { name?: string; shareable?: boolean; lun?: unknown }[] | undefined) ?? []) {
        if (d.shareable === true) {
          block('UnsupportedDevice', `disk ${d.name} of ${vmRef} is shareable: decentralized live migration cannot move shared disks; detach it (or drop "shareable") first`);
        }
        if (d.lun !== undefined && d.lun !== null) {
          block('UnsupportedDevice', `disk ${d.name} of ${vmRef} is a LUN: decentralized live migration cannot move LUN disks; detach it first`);
        }
      }
      for (const f of (devices.filesystems as { name?: string }[] | undefined) ?? []) {
        block('UnsupportedDevice', `filesystem ${f.name} of ${vmRef} is a virtiofs share: decentralized live migration cannot move virtiofs filesystems; remove it first`);
      }

      // 5. Instancetype and preference: namespaced ones are copied from the source (unless one exists on
      //    the destination), cluster-scoped ones must already be installed on the destination.
      let typeMemory = 0;
      for (const which of ['instancetype', 'preference'] as const) {
        const ref = typeRef(vm, which);
        if (!ref) continue;
        const kind = ref.kind as KindName;
        if (ref.namespaced) {
          const there = await get(dst, kind, dstNs, ref.name);
          const here = await get(src, kind, srcNs, ref.name);
          if (!here && !there) {
            block(
              which === 'instancetype' ? 'MissingInstancetype' : 'MissingPreference',
              `${vmRef} refers to ${kind} ${srcNs}/${ref.name}, which exists neither on the source cluster ${src.name} nor in namespace ${dstNs} on ${dst.name}: recreate it on the source, or create it in the destination namespace`,
            );
          }
          if (there && !ours(there)) warn('ExistingObjectReused', `${kind} ${dstNs}/${ref.name} already exists on the destination cluster ${dst.name}: it is used as-is, not copied; make sure it matches the source's`);
          if (which === 'instancetype') typeMemory = parseBytes(field(here ?? there, 'spec.memory.guest'));
        } else {
          const there = await get(dst, kind, undefined, ref.name);
          if (!there) {
            block(
              which === 'instancetype' ? 'MissingClusterInstancetype' : 'MissingClusterPreference',
              `${vmRef} uses cluster-scoped ${kind} ${ref.name}, which does not exist on the destination cluster ${dst.name}: install it on the destination cluster first (ferry does not copy cluster-scoped objects)`,
            );
          }
          if (which === 'instancetype') typeMemory = parseBytes(field((await get(src, kind, undefined, ref.name)) ?? there, 'spec.memory.guest'));
        }
      }
      const memoryBytes =
        parseBytes(field(vmi, 'spec.domain.memory.guest')) ||
        parseBytes(field(vmi, 'spec.domain.resources.requests.memory')) ||
        parseBytes(field(vm, 'spec.template.spec.domain.memory.guest')) ||
        parseBytes(field(vm, 'spec.template.spec.domain.resources.requests.memory')) ||
        typeMemory;

      // 6. Disks: their size, their storage class mapping, and no name collisions on the destination.
      let diskBytes = 0;
      const unmappedClasses = new Map<string, string[]>();
      for (const disk of diskRefs(vm)) {
        const pvc = await get(src, 'PersistentVolumeClaim', srcNs, disk.name);
        const dv = disk.kind === 'DataVolume' ? ((await get(src, 'DataVolume', srcNs, disk.name)) ?? dataVolumeTemplate(vm, disk.name)) : undefined;
        diskBytes +=
          parseBytes(field(pvc, 'status.capacity.storage')) ||
          parseBytes(field(pvc, 'spec.resources.requests.storage')) ||
          parseBytes(field(dv, 'spec.storage.resources.requests.storage')) ||
          parseBytes(field(dv, 'spec.pvc.resources.requests.storage'));
        if (!pvc && !dv) {
          block('MissingDisk', `${vmRef} uses ${disk.kind} ${srcNs}/${disk.name}, which does not exist on the source: the VM cannot be moved without it`);
        }
        const sc = field<string>(pvc, 'spec.storageClassName') ?? field<string>(dv, 'spec.storage.storageClassName') ?? field<string>(dv, 'spec.pvc.storageClassName');
        if (sc && !m.storageClassMap[sc]) unmappedClasses.set(sc, [...(unmappedClasses.get(sc) ?? []), disk.name]);

        const dvThere = await get(dst, 'DataVolume', dstNs, disk.name);
        const pvcThere = await get(dst, 'PersistentVolumeClaim', dstNs, disk.name);
        const clash =
          dvThere && !ours(dvThere)
            ? dvThere
            : pvcThere && !ours(pvcThere) && !(dvThere && ours(dvThere) && controlledBy(pvcThere, dvThere))
              ? pvcThere
              : undefined;
        if (clash) {
          block(
            'DiskNameCollision',
            `${clash.kind} ${dstNs}/${disk.name} already exists on the destination cluster ${dst.name} and was not created by this migration; the disk of ${vmRef} must be recreated under that name: delete or rename it there, or migrate to another namespace`,
          );
        }
      }
      for (const [sc, claims] of unmappedClasses) {
        warn('StorageClassUnmapped', `storage class ${sc} (used by ${claims.join(', ')}) has no entry in storageClassMap: the destination disks keep storage class ${sc}, which must exist on ${dst.name}`);
      }

      const vmThere = await get(dst, 'VirtualMachine', dstNs, m.source.name);
      if (vmThere && !ours(vmThere)) {
        block('VMNameCollision', `a VM ${dstNs}/${m.source.name} already exists on the destination cluster ${dst.name} and was not created by this migration: delete or rename it, or migrate to another namespace`);
      }

      // 7. MAC addresses must be unique on the whole destination cluster.
      const macs = new Set(macAddresses(vm));
      if (macs.size) {
        for (const other of await list(dst, 'VirtualMachine', 'listing VMs in all namespaces')) {
          if (ours(other)) continue;
          if (sameCluster && other.metadata.namespace === srcNs && other.metadata.name === m.source.name) continue;
          const clash = macAddresses(other).filter((mac) => macs.has(mac));
          if (clash.length) {
            block(
              'MacConflict',
              `MAC address${clash.length > 1 ? 'es' : ''} ${clash.join(', ')} of ${vmRef} ${clash.length > 1 ? 'are' : 'is'} already used by VM ${other.metadata.namespace}/${other.metadata.name} on the destination cluster ${dst.name}: change the MAC of one of the two VMs`,
            );
          }
        }
      }

      // 8. ConfigMaps and Secrets: copied unless one with the name exists there (then used as-is).
      const optional = optionalNames(vm);
      for (const [kind, names] of [
        ['ConfigMap', configMapNames(vm)],
        ['Secret', secretNames(vm)],
      ] as const) {
        for (const name of names) {
          const there = await get(dst, kind, dstNs, name);
          if (there) {
            if (!ours(there)) warn('ExistingObjectReused', `${kind} ${dstNs}/${name} already exists on the destination cluster ${dst.name}: it is used as-is, not overwritten; make sure it fits ${m.source.name}`);
            continue;
          }
          if (!optional.has(`${kind}/${name}`) && !(await get(src, kind, srcNs, name))) {
            block('MissingReferencedObject', `${vmRef} refers to ${kind} ${srcNs}/${name}, which exists neither on the source nor in namespace ${dstNs} on ${dst.name}: recreate it on either side`);
          }
        }
      }

      // 9. Multus networks without a mapping keep their name.
      for (const n of field<{ name?: string; multus?: { networkName?: string } }[]>(vm, 'spec.template.spec.networks') ?? []) {
        const net = n.multus?.networkName;
        if (!net) continue;
        const key = qualifiedNetwork(net, srcNs);
        if (!m.networkMap[key] && !m.networkMap[net]) {
          warn('NetworkUnmapped', `Multus network ${key} (network ${n.name} of ${vmRef}) has no entry in networkMap: the target VM refers to it unchanged, so it must exist on ${dst.name}`);
        }
      }

      return { blockers, warnings, memoryBytes, diskBytes, runStrategy, ...withAddress };
    },
  };
}
