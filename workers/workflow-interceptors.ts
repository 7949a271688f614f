/**
 * The workflow interceptors in ferry's bundles: OpenTelemetry's (continue the client's trace in the
 * workflow, pass it on to activities), except around update handlers. With OpenTelemetry's update
 * interceptor (SDK 1.24.0), replaying a migration that took an update whose handler upserts search
 * attributes (extend a stalled migration, then cancel it) fails with a nondeterminism error ("Update
 * machine does not handle this event: UpsertWorkflowSearchAttributes"): reproduced by
 * test/e2e/cli.test.ts, gone without the update interception. Updates lose their own span; the
 * workflow's, its activities' and its signals' spans stay.
 */
import { OpenTelemetryInboundInterceptor, OpenTelemetryInternalsInterceptor, OpenTelemetryOutboundInterceptor } from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import type { Next, UpdateInput, WorkflowInboundCallsInterceptor, WorkflowInterceptors } from '@temporalio/workflow';

class InboundWithoutUpdateSpans extends OpenTelemetryInboundInterceptor {
  override handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    return next(input);
  }
  override validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>): void {
    next(input);
  }
}

export const interceptors = (): WorkflowInterceptors => ({
  inbound: [new InboundWithoutUpdateSpans()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
