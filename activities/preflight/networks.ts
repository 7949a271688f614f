/** Multus networks without a mapping keep their name: a warning, they must exist on the destination. */
import { field, type KubeObject } from '../kube/kinds.js';
import { qualifiedNetwork } from '../vm-spec.js';
import { issues, only, type Issues, type Scope } from './scope.js';

export function checkNetworks(s: Scope, vm: KubeObject): Issues {
  const f = issues();
  for (const n of field<{ name?: string; multus?: { networkName?: string } }[]>(vm, 'spec.template.spec.networks') ?? []) {
    const net = n.multus?.networkName;
    if (!net) continue;
    const key = qualifiedNetwork(net, s.srcNs);
    if (!s.m.networkMap[key] && !s.m.networkMap[net]) {
      f.warn(
        'NetworkUnmapped',
        `Multus network ${key} (network ${n.name} of ${s.vmRef}) has no entry in networkMap: the target VM refers to it unchanged, so it must exist on ${s.dst.name}`,
      );
    }
  }
  return only(f);
}
