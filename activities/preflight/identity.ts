/** The VM's identity on the destination: its name in the namespace, its MACs on the whole cluster. */
import type { KubeObject } from '../kube/kinds.js';
import { macAddresses } from '../vm-spec.js';
import { issues, only, type Issues, type Scope } from './scope.js';

export async function checkVMName(s: Scope): Promise<Issues> {
  const f = issues();
  const name = s.m.source.name;
  const there = await s.get(s.dst, 'VirtualMachine', s.dstNs, name);
  if (there && !s.ours(there)) {
    f.block(
      'VMNameCollision',
      `a VM ${s.dstNs}/${name} already exists on the destination cluster ${s.dst.name} and was not created by this migration: delete or rename it, or migrate to another namespace`,
    );
  }
  return only(f);
}

export async function checkMacs(s: Scope, vm: KubeObject): Promise<Issues> {
  const f = issues();
  const macs = new Set(macAddresses(vm));
  if (!macs.size) return only(f);
  for (const other of await s.list(s.dst, 'VirtualMachine', 'listing VMs in all namespaces')) {
    if (s.ours(other)) continue;
    if (s.sameCluster && other.metadata.namespace === s.srcNs && other.metadata.name === s.m.source.name) continue;
    const clash = macAddresses(other).filter((mac) => macs.has(mac));
    if (clash.length) {
      f.block(
        'MacConflict',
        `MAC address${clash.length > 1 ? 'es' : ''} ${clash.join(', ')} of ${s.vmRef} ${clash.length > 1 ? 'are' : 'is'} already used by VM ${other.metadata.namespace}/${other.metadata.name} on the destination cluster ${s.dst.name}: change the MAC of one of the two VMs`,
      );
    }
  }
  return only(f);
}
