/**
 * Traces, configured the OpenTelemetry way (the standard OTEL_* variables), for the worker and the
 * ferry CLI. Off unless asked: with no OTLP endpoint and no OTEL_TRACES_EXPORTER, no exporter runs and
 * the worker's activities and the CLI's client get no interceptors. The workflow interceptors are in
 * every workflow bundle (workflow-code.ts) so that all workers run the same code; when tracing is
 * off their spans go to a processor that drops them.
 *
 * - OTEL_TRACES_EXPORTER: `otlp`, `console` or `none` (a comma list is allowed); unset means `otlp`
 *   when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set, else `none`.
 * - OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL: `http/protobuf` (default) or `http/json`; the exporter
 *   itself reads the endpoint, headers and timeout variables. OTEL_SDK_DISABLED=true turns it all off.
 * - OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES: the resource (default service.name ferry-worker or ferry).
 * - OTEL_BSP_*: the batch span processor's delay and sizes; OTEL_PROPAGATORS: how the trace travels.
 */
import type { Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter as OTLPHttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPHttpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { envDetectorSync, type IResource, Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, ConsoleSpanExporter, NoopSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerOptions } from '@temporalio/worker';

export type TraceExporterKind = 'otlp-http/protobuf' | 'otlp-http/json' | 'console';

/** Which exporters the OTEL_* variables ask for; [] means tracing is off. */
export function traceExporters(env: NodeJS.ProcessEnv = process.env): TraceExporterKind[] {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return [];
  const endpoint = Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim());
  const asked = env.OTEL_TRACES_EXPORTER?.trim() ? env.OTEL_TRACES_EXPORTER.split(',').map((s) => s.trim().toLowerCase()) : endpoint ? ['otlp'] : ['none'];
  if (asked.includes('none')) return [];
  return asked.map((kind): TraceExporterKind => {
    if (kind === 'console') return 'console';
    if (kind !== 'otlp') throw new Error(`OTEL_TRACES_EXPORTER "${kind}" is not supported by ferry: use otlp, console or none`);
    const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? 'http/protobuf').trim();
    if (protocol === 'http/protobuf' || protocol === 'http/json') return `otlp-${protocol}`;
    throw new Error(
      `OTEL_EXPORTER_OTLP_${env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ? 'TRACES_' : ''}PROTOCOL "${protocol}" is not supported by ferry: use http/protobuf or http/json (a collector's OTLP/HTTP port, usually 4318)`,
    );
  });
}

function exporterOf(kind: TraceExporterKind): SpanExporter {
  if (kind === 'console') return new ConsoleSpanExporter();
  return kind === 'otlp-http/json' ? new OTLPHttpJsonExporter() : new OTLPHttpProtoExporter();
}

export interface Tracing {
  readonly enabled: boolean;
  readonly resource: IResource;
  readonly spanProcessor: SpanProcessor;
  readonly tracer: Tracer | undefined;
  /** Flush what is buffered and stop exporting (before the process exits). */
  shutdown(): Promise<void>;
}

/** Tracing as the environment configures it; `service` is the default service.name. */
export function tracingFromEnvironment(service: string, env: NodeJS.ProcessEnv = process.env): Tracing {
  const kinds = traceExporters(env);
  const resource = Resource.default()
    .merge(new Resource({ 'service.name': service }))
    .merge(envDetectorSync.detect());
  if (kinds.length === 0) return { enabled: false, resource, spanProcessor: new NoopSpanProcessor(), tracer: undefined, shutdown: async () => {} };
  const processors = kinds.map((k) => new BatchSpanProcessor(exporterOf(k)));
  const provider = new BasicTracerProvider({ resource, spanProcessors: processors });
  // Temporal's interceptors carry the trace in headers through the global propagator (OTEL_PROPAGATORS,
  // default W3C tracecontext and baggage) and read the active span from the global context manager.
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  // Workflow spans are exported through the same processors as the worker's own (makeWorkflowExporter).
  const spanProcessor: SpanProcessor =
    processors.length === 1
      ? processors[0]!
      : {
          onStart: (span, ctx) => processors.forEach((p) => p.onStart(span, ctx)),
          onEnd: (span) => processors.forEach((p) => p.onEnd(span)),
          forceFlush: async () => void (await Promise.all(processors.map((p) => p.forceFlush()))),
          shutdown: async () => void (await Promise.all(processors.map((p) => p.shutdown()))),
        };
  return { enabled: true, resource, spanProcessor, tracer: provider.getTracer('ferry'), shutdown: () => provider.shutdown() };
}

/**
 * What a worker needs for tracing: the exporter sink the bundled workflow interceptors call (always:
 * without it every workflow task logs an unregistered sink) and, when on, the activity interceptors.
 */
export function workerTracing(t: Tracing): Pick<WorkerOptions, 'sinks'> & { interceptors: NonNullable<WorkerOptions['interceptors']> } {
  const tracer = t.tracer;
  return {
    sinks: { exporter: makeWorkflowExporter(t.spanProcessor, t.resource) },
    interceptors: tracer
      ? {
          activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
        }
      : {},
  };
}

/** A client's workflow interceptors: its start/signal/update/query calls become spans whose context the workflow continues. */
export function clientTracing(t: Tracing): WorkflowClientInterceptor[] {
  return t.tracer ? [new OpenTelemetryWorkflowClientInterceptor({ tracer: t.tracer })] : [];
}

/** The sinks a replay of ferry's bundled workflow code needs (its span exporter, which drops everything). */
export function replaySinks(): WorkerOptions['sinks'] {
  return workerTracing(tracingFromEnvironment('ferry-worker', {})).sinks;
}
