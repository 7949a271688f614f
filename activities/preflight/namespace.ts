/** The destination namespace must exist: ferry does not create namespaces. */
import { apiFailure, isNotFound } from '../kube/errors.js';
import { issues, only, type Issues, type Scope } from './scope.js';

export async function checkDestinationNamespace(s: Scope): Promise<Issues> {
  const f = issues();
  const exists = await s.dst.core.readNamespace({ name: s.dstNs }).then(
    () => true,
    (e: unknown) => {
      if (isNotFound(e)) return false;
      throw apiFailure(e, `reading namespace ${s.dstNs}`, s.dst.name);
    },
  );
  if (!exists)
    f.block('DestinationNamespaceMissing', `namespace ${s.dstNs} does not exist on the destination cluster ${s.dst.name}: create it first (ferry does not create namespaces)`);
  return only(f);
}
