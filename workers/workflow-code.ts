/**
 * Where a worker gets ferry's workflow code. From the package (dist/), the bundle `npm run build`
 * made (dist/workflow-bundle.js): no webpack at start, nothing written, the same bytes on every worker.
 * From the source tree (tsx, tests), the workflows' entry point, which the SDK bundles at start.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BundleOptions, WorkerOptions } from '@temporalio/worker';

const fromSource = import.meta.url.endsWith('.ts');

export const WORKFLOWS_PATH = fileURLToPath(new URL(`../workflows/index.${fromSource ? 'ts' : 'js'}`, import.meta.url));

/**
 * Workflow interceptors bundled with the workflows, in every bundle (the prebuilt one, the one a
 * worker makes from source, the tests'): OpenTelemetry's, which continue a client's trace in the
 * workflow and pass it on to activities (workers/telemetry-tracing.ts; their spans are dropped when
 * tracing is off). Updates get no span: workflow-interceptors.ts says why.
 */
export const WORKFLOW_INTERCEPTOR_MODULES: string[] = [fileURLToPath(new URL(`./workflow-interceptors.${fromSource ? 'ts' : 'js'}`, import.meta.url))];

/** What bundleWorkflowCode needs for ferry's workflow code. */
export function bundleOptions(): Pick<BundleOptions, 'workflowsPath' | 'workflowInterceptorModules'> {
  return { workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES };
}

/** dist/workflow-bundle.js, beside dist/workers/. */
export const PREBUILT_BUNDLE = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));

export function workflowCode(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  return !fromSource && existsSync(PREBUILT_BUNDLE) ? { workflowBundle: { codePath: PREBUILT_BUNDLE } } : { workflowsPath: WORKFLOWS_PATH };
}
