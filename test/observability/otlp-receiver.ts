/**
 * A tiny OTLP/HTTP trace receiver for tests: what ferry's real exporters post to it, as configured by
 * OTEL_EXPORTER_OTLP_ENDPOINT, in either protocol (http/protobuf, decoded with OpenTelemetry's own
 * generated protobuf code, or http/json).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import otlpRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  service: string;
  /** How it arrived: the Content-Type's protocol. */
  protocol: 'http/protobuf' | 'http/json';
}

interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
    scopeSpans?: { spans?: { traceId: Uint8Array | string; spanId: Uint8Array | string; parentSpanId?: Uint8Array | string | null; name: string }[] }[];
  }[];
}

type Decoder = { decode(b: Uint8Array): unknown };
const requestType = (otlpRoot as unknown as { opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: Decoder } } } } } }).opentelemetry.proto.collector
  .trace.v1.ExportTraceServiceRequest;

const hex = (id: Uint8Array | string | null | undefined) => (id === undefined || id === null ? '' : typeof id === 'string' ? id : Buffer.from(id).toString('hex'));

export interface OtlpReceiver {
  /** For OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/traces). */
  endpoint: string;
  spans: ReceivedSpan[];
  /** Bodies that could not be read. */
  errors: string[];
  close(): Promise<void>;
}

/** The spans of one export request body. */
function spansOf(body: Buffer, json: boolean): ReceivedSpan[] {
  const decoded = (json ? JSON.parse(body.toString('utf8')) : requestType.decode(body)) as ExportRequest;
  const out: ReceivedSpan[] = [];
  for (const rs of decoded.resourceSpans ?? []) {
    const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? [])
        out.push({ traceId: hex(s.traceId), spanId: hex(s.spanId), parentSpanId: hex(s.parentSpanId), name: s.name, service, protocol: json ? 'http/json' : 'http/protobuf' });
  }
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const errors: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') return void res.writeHead(404).end();
      const json = (req.headers['content-type'] ?? '').includes('json');
      try {
        spans.push(...spansOf(Buffer.concat(chunks), json));
      } catch (e) {
        // A body the test cannot read is a failure the test reports, not a crash of the receiver.
        errors.push(e instanceof Error ? e.message : String(e));
        return void res.writeHead(400).end();
      }
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, spans, errors, close: () => new Promise((r) => server.close(() => r())) };
}
