/**
 * Traces end to end: the worker (its own process) and the ferry CLI export to a tiny OTLP/HTTP
 * receiver, configured only by the standard OTEL_* variables — the worker in the default
 * http/protobuf, the CLI in http/json. Two migrations started with `ferry migrate --wait` are two
 * traces, each holding the CLI's start, the workflow's run and its activities, parent to child.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { traceExporters } from '../../workers/telemetry-tracing.js';
import { eventually } from '../../simulator/testing/sim.js';
import { runFerry } from '../support/cli.js';
import { spawnWorker, startStack, type Stack } from '../support/e2e.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from './otlp-receiver.js';

let stack: Stack | undefined;
let worker: ChildProcess | undefined;
let receiver: OtlpReceiver | undefined;
let workerLog = '';

before(async () => {
  receiver = await startOtlpReceiver();
  stack = await startStack({ inProcessWorker: false });
  worker = spawnWorker(stack, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SERVICE_NAME: 'ferry-worker-under-test', OTEL_BSP_SCHEDULE_DELAY: '200' });
  worker.stdout?.on('data', (b: Buffer) => (workerLog += b.toString()));
  worker.stderr?.on('data', (b: Buffer) => (workerLog += b.toString()));
});

after(async () => {
  if (worker && worker.exitCode === null) {
    worker.kill('SIGTERM');
    await new Promise((r) => worker!.once('exit', r));
  }
  await stack?.stop();
  await receiver?.close();
});

const FAST = ['--option', 'pollInterval=200ms', '--option', 'receiverReadyTimeout=20s', '--option', 'syncAddressTimeout=20s', '--option', 'minCompletionTimeout=60s'];

describe('traces', () => {
  it('one trace per migration: the CLI starts it, the workflow and its activities continue it', async () => {
    const cliEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver!.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' };
    const runs = await Promise.all(
      ['web-01', 'cache-01'].map((vm) => runFerry(stack!, ['migrate', `demo/${vm}`, '--from', 'source', '--to', 'destination', '--wait', ...FAST], cliEnv)),
    );
    for (const r of runs) assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${workerLog}`);

    const spans = receiver!.spans;
    const starts = () => spans.filter((s) => s.name === 'StartWorkflow:migrateVm');
    await eventually('both CLI starts exported', async () => starts().length === 2, 10_000, 100);
    const traceIds = starts().map((s) => s.traceId);
    assert.notEqual(traceIds[0], traceIds[1], 'each migration is its own trace');
    // The finalize activity is the last one of a successful migration: once it is in, the trace is whole.
    await eventually(
      'each trace up to its finalize activity',
      async () =>
        traceIds.every((t) => spans.some((s) => s.traceId === t && s.name === 'RunActivity:finalize') && spans.some((s) => s.traceId === t && s.name === 'RunWorkflow:migrateVm')),
      20_000,
      100,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\nreceived: ${spans.map((s) => `${s.traceId.slice(0, 6)} ${s.name}`).join(', ')}\nunreadable: ${receiver!.errors.join('; ')}\n${workerLog}`);
    });
    assert.deepEqual(receiver!.errors, []);

    for (const traceId of traceIds) {
      const trace = spans.filter((s) => s.traceId === traceId);
      const byId = new Map(trace.map((s) => [s.spanId, s]));
      const one = (name: string): ReceivedSpan => {
        const found = trace.filter((s) => s.name === name);
        assert.equal(found.length, 1, `${name} once in trace ${traceId}: ${trace.map((s) => s.name).join(', ')}`);
        return found[0]!;
      };
      const start = one('StartWorkflow:migrateVm');
      assert.equal(start.service, 'ferry');
      assert.equal(start.protocol, 'http/json');
      assert.equal(start.parentSpanId, '', 'the CLI starts the trace');
      const run = one('RunWorkflow:migrateVm');
      assert.equal(run.parentSpanId, start.spanId);
      assert.equal(run.service, 'ferry-worker-under-test', 'OTEL_SERVICE_NAME names the worker');
      assert.equal(run.protocol, 'http/protobuf');
      for (const activity of ['preflight', 'syncCertificates', 'createPrerequisites', 'createTargetVM', 'createTargetMigration', 'createSourceMigration', 'finalize']) {
        const exec = one(`RunActivity:${activity}`);
        const scheduled = byId.get(exec.parentSpanId);
        assert.equal(scheduled?.name, `StartActivity:${activity}`, `${activity} runs under its scheduling`);
        assert.equal(scheduled.parentSpanId, run.spanId, `${activity} is scheduled by the workflow's run`);
      }
      // The waiting activities' observations reach the workflow as signals, inside the same trace.
      const observed = trace.filter((s) => s.name === 'HandleSignal:observe');
      assert.ok(observed.length > 0, 'observe signals are part of the trace');
      for (const h of observed) assert.equal(byId.get(h.parentSpanId)?.name, 'SignalWorkflow:observe');
      assert.ok(trace.every((s) => s.service === 'ferry' || s.service === 'ferry-worker-under-test'));
    }
    // Nothing of one migration leaked into a trace of its own.
    const traced = new Set(traceIds);
    assert.deepEqual(
      spans.filter((s) => s.name.startsWith('RunActivity:') && !traced.has(s.traceId)).map((s) => s.name),
      [],
      'every activity belongs to a migration trace',
    );
  });

  it('is configured by the standard variables, and off without them', () => {
    assert.deepEqual(traceExporters({}), []);
    assert.deepEqual(traceExporters({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), ['otlp-http/protobuf']);
    assert.deepEqual(traceExporters({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), ['otlp-http/json']);
    assert.deepEqual(traceExporters({ OTEL_TRACES_EXPORTER: 'console,otlp' }), ['console', 'otlp-http/protobuf']);
    assert.deepEqual(traceExporters({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }), []);
    assert.deepEqual(traceExporters({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }), []);
    assert.throws(() => traceExporters({ OTEL_TRACES_EXPORTER: 'zipkin' }), /OTEL_TRACES_EXPORTER "zipkin" is not supported by ferry: use otlp, console or none/);
    assert.throws(
      () => traceExporters({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }),
      /OTEL_EXPORTER_OTLP_TRACES_PROTOCOL "grpc" is not supported.*http\/protobuf or http\/json/,
    );
  });
});
