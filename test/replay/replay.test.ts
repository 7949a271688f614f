/**
 * Replay: the workflow code as it is now must reproduce every committed history in test/histories/
 * (recorded by `npm run histories:capture`) command for command. A change to workflows/ that would
 * break running migrations (a new, removed or reordered activity, timer or search-attribute upsert
 * without `patched()`) fails here. No Temporal server is needed.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { replaySinks } from '../../workers/telemetry-tracing.js';
import { bundleOptions } from '../../workers/workflow-code.js';

const HISTORIES_DIR = fileURLToPath(new URL('../histories/', import.meta.url));
const DIVERGED_WORKFLOW = fileURLToPath(new URL('./fixtures/diverged-workflow.ts', import.meta.url));

/** Values that must never reach a history (the fixtures' Secret contents), as written and base64-encoded. */
const SECRET_VALUES = ['fixture-secret', 'fixture:secret-pull', 'Zml4dHVyZTpzZWNyZXQtcHVsbA==', 'fixture-ssh-key'];

interface HistoryFile {
  file: string;
  json: { events: Array<Record<string, unknown>> };
  text: string;
  workflowId: string;
}

function loadHistories(): HistoryFile[] {
  return readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const text = readFileSync(HISTORIES_DIR + file, 'utf8');
      const json = JSON.parse(text) as HistoryFile['json'];
      // The started event carries the workflow ID; the workflow passes it to its activities.
      const started = json.events[0]?.workflowExecutionStartedEventAttributes as { workflowId?: string } | undefined;
      return { file, json, text, workflowId: started?.workflowId ?? `replay/${file}` };
    });
}

const histories = loadHistories();
const logger = new DefaultLogger('WARN');

try {
  Runtime.install({ logger });
} catch {
  // Already installed in this process (another test file); one runtime per process.
}

describe('replay of committed histories', () => {
  let bundle: WorkflowBundleWithSourceMap;
  before(async () => {
    // The worker's own workflow code and workflow interceptors, bundled once for every history.
    bundle = await bundleWorkflowCode({ ...bundleOptions(), logger });
  });

  it('finds at least three committed histories', () => {
    assert.ok(histories.length >= 3, `expected ≥ 3 histories in ${HISTORIES_DIR}, found ${histories.map((h) => h.file).join(', ') || 'none'}`);
  });

  for (const h of histories) {
    it(`replays ${h.file} (${h.json.events.length} events) without a determinism violation`, async () => {
      assert.equal(h.json.events[0]?.eventType, 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED');
      await Worker.runReplayHistory({ workflowBundle: bundle, sinks: replaySinks() }, h.json, h.workflowId);
    });

    it(`${h.file} holds no secret value`, () => {
      const decoded: string[] = [];
      JSON.parse(h.text, (key, value: unknown) => {
        if (key === 'data' && typeof value === 'string') decoded.push(Buffer.from(value, 'base64').toString('utf8'));
        return value;
      });
      const haystack = `${h.text}\n${decoded.join('\n')}`;
      for (const secret of [...SECRET_VALUES, ...SECRET_VALUES.map((s) => Buffer.from(s).toString('base64'))]) {
        assert.ok(!haystack.includes(secret), `${h.file} contains ${secret}`);
      }
    });
  }

  it('has teeth: a workflow that runs a different activity first fails with DeterminismViolationError', async () => {
    const happy = histories.find((h) => h.file === 'happy-web-01.json');
    assert.ok(happy, 'happy-web-01.json is missing');
    await assert.rejects(Worker.runReplayHistory({ workflowsPath: DIVERGED_WORKFLOW }, happy.json, happy.workflowId), (e: unknown) => {
      assert.ok(e instanceof DeterminismViolationError, `expected DeterminismViolationError, got ${String(e)}`);
      // The violation is the planted one: history scheduled preflight, the code asked for syncCertificates.
      assert.match(e.message, /nondeterminism/i);
      assert.match(e.message, /preflight/);
      assert.match(e.message, /syncCertificates/);
      return true;
    });
  });
});
