/**
 * Temporal's time-skipping test environment (`TestWorkflowEnvironment.createTimeSkipping`) on the Java
 * test server that tools/test-server.ts installs: workflow timers (`sleep('30m')`) complete as soon as
 * nothing else is running, so tests can cover hours of workflow time in seconds without a dev server.
 *
 *   const env = await startTimeSkipping();
 *   const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowsPath });
 *   await worker.runUntil(env.client.workflow.execute(myWorkflow, { taskQueue, workflowId, args }));
 *   await env.teardown();
 *
 * `env.client.workflow` skips time only while a caller awaits a workflow's result (`execute`,
 * `handle.result()`); between `start` and `result()` time stands still unless `env.sleep(ms)` moves it.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes.js';
import { ensureTestServer } from '../../tools/test-server.js';
import { ferrySearchAttributeKeys } from '../../workflows/search-attributes.js';

/** The SDK gives the server 5 s to accept connections; a JVM on a busy 2-core machine can miss that. */
const START_ATTEMPTS = 3;

export interface TimeSkippingOptions {
  /** Extra arguments after the port, passed to the test server. */
  extraArgs?: string[];
  /** Progress of a first install (mvn downloads ~33 MB once); default silent. */
  log?: (line: string) => void;
}

function installRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed in this process (by another test file or support module); one runtime per process.
  }
}

/** A time-skipping TestWorkflowEnvironment on a fresh test server (a free port picked by the SDK). Call `teardown()`. */
export async function startTimeSkipping(opts: TimeSkippingOptions = {}): Promise<TestWorkflowEnvironment> {
  const path = await ensureTestServer({ log: opts.log });
  installRuntime();
  for (let attempt = 1; ; attempt++) {
    try {
      const env = await TestWorkflowEnvironment.createTimeSkipping({
        server: { executable: { type: 'existing-path', path }, extraArgs: opts.extraArgs ?? [] },
      });
      await registerSearchAttributes(env);
      return env;
    } catch (e) {
      // The SDK kills a server that was not up in time; anything else (a broken install) fails at once.
      if (attempt >= START_ATTEMPTS || !/did not start|timed? ?out|timeout/i.test(String(e))) throw e;
    }
  }
}

/** The test server rejects upserts of unknown search attributes, as a real server does: register ferry's. */
async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(ferrySearchAttributeKeys.map((k) => [k.name, encodeSearchAttributeIndexedValueType(k.type)!])),
  });
}
