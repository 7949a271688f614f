/** Permissions: a 403 halfway through would leave a half-made migration to roll back. */
import { denialMessage, deniedNeeds, type Scope as AccessScope, type Side } from '../access.js';
import { orFail } from '../kube/errors.js';
import { issues, type Issues, type Scope } from './scope.js';

/** What ferry may not do on one side, as blockers (or warnings for a dry run with other credentials). */
export async function checkAccess(s: Scope, side: Side, scopes: AccessScope[], kubevirtNamespace?: string): Promise<Issues & { denied: number }> {
  const f = issues();
  const c = side === 'source' ? s.src : s.dst;
  const namespaces = { workload: side === 'source' ? s.srcNs : s.dstNs, ...(kubevirtNamespace ? { kubevirt: kubevirtNamespace } : {}) };
  const denials = await orFail(deniedNeeds(c.access, side, scopes, namespaces), 'reviewing what ferry may do', c.name);
  for (const d of denials) (s.input.accessIssues === 'warn' ? f.warn : f.block)('Forbidden', denialMessage(d, c.name));
  return { blockers: f.blockers, warnings: f.warnings, denied: denials.length };
}
