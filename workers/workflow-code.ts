/**
 * Where a worker gets ferry's workflow code. From the package (dist/), the bundle `npm run build`
 * made (dist/workflow-bundle.js): no webpack at start, nothing written, the same bytes on every worker.
 * From the source tree (tsx, tests), the workflows' entry point, which the SDK bundles at start.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WorkerOptions } from '@temporalio/worker';

const fromSource = import.meta.url.endsWith('.ts');

export const WORKFLOWS_PATH = fileURLToPath(new URL(`../workflows/index.${fromSource ? 'ts' : 'js'}`, import.meta.url));

/** dist/workflow-bundle.js, beside dist/workers/. */
export const PREBUILT_BUNDLE = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

export function workflowCode(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  return !fromSource && existsSync(PREBUILT_BUNDLE) ? { workflowBundle: { codePath: PREBUILT_BUNDLE } } : { workflowsPath: WORKFLOWS_PATH };
}
