/**
 * Where a worker gets ferry's workflow code. From the package (dist/), a bundle `npm run build`
 * made: no webpack at start, nothing written, the same bytes on every worker. From the source tree
 * (tsx, tests), the workflows' entry point, which the SDK bundles at start.
 *
 * Two bundles, because OpenTelemetry's workflow interceptors cost even when no span is exported: they
 * start, end and hand to a sink a span for every activity, signal and timer (measured with
 * `npm run bench -- --cpu-prof`: about 40% of the workflow thread's time, traced or not). A worker
 * with tracing off loads dist/workflow-bundle.js, without them; with tracing on,
 * dist/workflow-bundle-traced.js. Interceptors add headers, never commands: a workflow may move
 * between traced and untraced workers and still replay.
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

/** What bundleWorkflowCode needs for ferry's workflow code, with or without the tracing interceptors. */
export function bundleOptions(traced = true): Pick<BundleOptions, 'workflowsPath' | 'workflowInterceptorModules'> {
  return { workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: traced ? WORKFLOW_INTERCEPTOR_MODULES : [] };
}

/** The prebuilt bundles' file names, in dist/ beside dist/workers/. */
export const BUNDLE_FILES = { untraced: 'workflow-bundle.js', traced: 'workflow-bundle-traced.js' } as const;

export function prebuiltBundle(traced: boolean): string {
  return fileURLToPath(new URL(`../${traced ? BUNDLE_FILES.traced : BUNDLE_FILES.untraced}`, import.meta.url));
}

export function workflowCode(traced: boolean): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'interceptors'> {
  const prebuilt = prebuiltBundle(traced);
  if (!fromSource && existsSync(prebuilt)) return { workflowBundle: { codePath: prebuilt } };
  // From source the SDK bundles the interceptor modules with the workflows.
  return { workflowsPath: WORKFLOWS_PATH, ...(traced ? { interceptors: { workflowModules: WORKFLOW_INTERCEPTOR_MODULES } } : {}) };
}
