/**
 * The ferry CLI's traces (workers/telemetry-tracing.ts: the OTEL_* variables, off without them):
 * `ferry migrate` starts the trace a migration's workflow and activities continue. One per process;
 * its spans are flushed when the command's connection closes.
 */
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { clientTracing, type Tracing, tracingFromEnvironment } from '../workers/telemetry-tracing.js';

let tracing: Tracing | undefined;

export function cliTracing(): { interceptors: { workflow: WorkflowClientInterceptor[] }; shutdown(): Promise<void> } {
  const t = (tracing ??= tracingFromEnvironment('ferry'));
  return { interceptors: { workflow: clientTracing(t) }, shutdown: () => t.shutdown() };
}
