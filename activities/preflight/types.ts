/**
 * Instancetype and preference: namespaced ones are copied from the source (unless one exists on the
 * destination), cluster-scoped ones must already be installed on the destination.
 */
import { field, type KindName, type KubeObject } from '../kube/kinds.js';
import { parseBytes } from '../kube/quantity.js';
import { typeRef } from '../vm-spec.js';
import { issues, type Issues, type Scope } from './scope.js';

export async function checkTypes(s: Scope, vm: KubeObject): Promise<Issues & { typeMemory: number }> {
  const f = issues();
  const { src, dst, srcNs, dstNs } = s;
  let typeMemory = 0;
  for (const which of ['instancetype', 'preference'] as const) {
    const ref = typeRef(vm, which);
    if (!ref) continue;
    const kind = ref.kind as KindName;
    if (ref.namespaced) {
      const there = await s.get(dst, kind, dstNs, ref.name);
      const here = await s.get(src, kind, srcNs, ref.name);
      if (!here && !there) {
        f.block(
          which === 'instancetype' ? 'MissingInstancetype' : 'MissingPreference',
          `${s.vmRef} refers to ${kind} ${srcNs}/${ref.name}, which exists neither on the source cluster ${src.name} nor in namespace ${dstNs} on ${dst.name}: recreate it on the source, or create it in the destination namespace`,
        );
      }
      if (there && !s.ours(there))
        f.warn(
          'ExistingObjectReused',
          `${kind} ${dstNs}/${ref.name} already exists on the destination cluster ${dst.name}: it is used as-is, not copied; make sure it matches the source's`,
        );
      if (which === 'instancetype') typeMemory = parseBytes(field(here ?? there, 'spec.memory.guest'));
    } else {
      const there = await s.get(dst, kind, undefined, ref.name);
      if (!there) {
        f.block(
          which === 'instancetype' ? 'MissingClusterInstancetype' : 'MissingClusterPreference',
          `${s.vmRef} uses cluster-scoped ${kind} ${ref.name}, which does not exist on the destination cluster ${dst.name}: install it on the destination cluster first (ferry does not copy cluster-scoped objects)`,
        );
      }
      if (which === 'instancetype') typeMemory = parseBytes(field((await s.get(src, kind, undefined, ref.name)) ?? there, 'spec.memory.guest'));
    }
  }
  return { blockers: f.blockers, warnings: f.warnings, typeMemory };
}
