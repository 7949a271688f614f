/**
 * All migration activities, built from their dependencies (cluster clients, reporter, clock) as in
 * temporalio/samples-typescript. The workflow imports only the type.
 */
import { certificateActivities } from './certificates.js';
import { cleanupActivities } from './cleanup.js';
import type { ActivityDeps } from './context.js';
import { finalizeActivities } from './finalize.js';
import { migrationActivities } from './migrations.js';
import { planActivities } from './plan.js';
import { preflightActivities } from './preflight.js';
import { prerequisiteActivities } from './prerequisites.js';
import { targetVMActivities } from './target-vm.js';
import { waitActivities } from './waits.js';

export function createActivities(deps: ActivityDeps) {
  return {
    ...preflightActivities(deps),
    ...certificateActivities(deps),
    ...prerequisiteActivities(deps),
    ...targetVMActivities(deps),
    ...migrationActivities(deps),
    ...waitActivities(deps),
    ...finalizeActivities(deps),
    ...cleanupActivities(deps),
    ...planActivities(deps),
  };
}
