/** ConfigMaps and Secrets the VM refers to: copied unless one with the name exists there (then used as-is). */
import type { KubeObject } from '../kube/kinds.js';
import { configMapNames, optionalNames, secretNames } from '../vm-spec.js';
import { issues, only, type Issues, type Scope } from './scope.js';

export async function checkReferences(s: Scope, vm: KubeObject): Promise<Issues> {
  const f = issues();
  const { src, dst, srcNs, dstNs } = s;
  const optional = optionalNames(vm);
  for (const [kind, names] of [
    ['ConfigMap', configMapNames(vm)],
    ['Secret', secretNames(vm)],
  ] as const) {
    for (const name of names) {
      const there = await s.get(dst, kind, dstNs, name);
      if (there) {
        if (!s.ours(there))
          f.warn(
            'ExistingObjectReused',
            `${kind} ${dstNs}/${name} already exists on the destination cluster ${dst.name}: it is used as-is, not overwritten; make sure it fits ${s.m.source.name}`,
          );
        continue;
      }
      if (!optional.has(`${kind}/${name}`) && !(await s.get(src, kind, srcNs, name))) {
        f.block(
          'MissingReferencedObject',
          `${s.vmRef} refers to ${kind} ${srcNs}/${name}, which exists neither on the source nor in namespace ${dstNs} on ${dst.name}: recreate it on either side`,
        );
      }
    }
  }
  return only(f);
}
