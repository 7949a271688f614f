/** Workflow entry points, for the worker's workflowsPath and for type-only imports. */
export { migrateVm } from './migrate-vm.js';
export { migratePlan } from './migrate-plan.js';
