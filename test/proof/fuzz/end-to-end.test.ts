/**
 * A sample of the fuzzers' invalid migration and plan inputs, started as real workflows (migrateVm,
 * migratePlan) on a real stack (Temporal dev server, ferry's worker, the simulator's two clusters):
 * each must fail with an InvalidInput failure whose lines name the broken field, schedule no activity,
 * and write nothing to either cluster — every write to either API server's store is tapped for the
 * length of the sample, and the destination's objects are compared before and after.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import fc from 'fast-check';
import { TASK_QUEUE } from '../../../workflows/contract.js';
import { startStack, type Stack } from '../../support/e2e.js';
import { recordRun } from '../support/figures.js';
import { baseline, untouched } from '../support/invariants.js';
import { mutants, namesField, plainProblems, preview, SEED, type Mutant } from './fuzz.js';
import { migrationRules, planRules, validMigration, validPlan } from './inputs.js';

/** How many of each: enough to cover every kind of mutation, few enough for a shared machine. */
const SAMPLE = Number(process.env.FERRY_FUZZ_E2E ?? 15);

interface Started {
  surface: 'migration-input' | 'plan-input';
  mutant: Mutant;
  handle: WorkflowHandle;
}

/** Why the workflow's end is not a good refusal of `s` (empty: it is). */
async function endProblems(s: Started): Promise<string[]> {
  let failure: unknown;
  try {
    const result: unknown = await s.handle.result();
    return [`completed (${preview(result)}) instead of refusing the input`];
  } catch (e) {
    failure = e;
  }
  if (!(failure instanceof WorkflowFailedError)) return [`ended with ${String(failure)}, not a workflow failure`];
  const cause = failure.cause;
  if (!(cause instanceof ApplicationFailure)) return [`failed with ${cause?.name ?? 'nothing'}: ${cause?.message ?? ''}, not an application failure`];
  const problems: string[] = [];
  if (cause.type !== 'InvalidInput') problems.push(`failure type ${cause.type}, not InvalidInput: ${cause.message.slice(0, 300)}`);
  if (!cause.nonRetryable) problems.push('the failure is retryable');
  const lines = cause.message.split('\n').slice(1);
  problems.push(...plainProblems(cause.message));
  if (!s.mutant.fields.some((f) => lines.some((l) => namesField(l, f, '- ')))) problems.push(`names none of ${s.mutant.fields.join(', ')}: ${cause.message.slice(0, 500)}`);
  // Refused before any activity: nothing was even read from a cluster.
  const activities: string[] = [];
  for (const event of (await s.handle.fetchHistory()).events ?? []) {
    if (event.activityTaskScheduledEventAttributes) activities.push(event.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
  }
  if (activities.length) problems.push(`scheduled activities ${activities.join(', ')}`);
  return problems;
}

describe('fuzz: invalid inputs end to end', () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  it(`${SAMPLE} invalid migration inputs and ${SAMPLE} invalid plan inputs fail as workflows naming the field, and write nothing`, async () => {
    const sim = stack.sim;
    // The clusters settle after start (controllers write status, CA ConfigMaps): tap only once they are quiet.
    const quiet = async () => {
      for (;;) {
        const rv = [sim.source.api.store.resourceVersion, sim.destination.api.store.resourceVersion].join();
        await new Promise((r) => setTimeout(r, 1500));
        if ([sim.source.api.store.resourceVersion, sim.destination.api.store.resourceVersion].join() === rv) return;
      }
    };
    await quiet();
    const writes: string[] = [];
    let tapping = true;
    for (const cluster of [sim.source, sim.destination]) {
      cluster.api.store.addAdmission((req) => {
        if (tapping)
          writes.push(
            `${cluster.name}: ${req.op} ${req.kind.kind}${req.subresource ? `/${req.subresource}` : ''} ${req.object.metadata?.namespace ?? ''}/${req.object.metadata?.name ?? ''}`,
          );
      });
    }
    const destinationBefore = await baseline(sim);
    const versionsBefore = [sim.source.api.store.resourceVersion, sim.destination.api.store.resourceVersion];

    const migrations = fc.sample(mutants(validMigration, migrationRules), { seed: SEED, numRuns: SAMPLE });
    const plans = fc.sample(mutants(validPlan, planRules), { seed: SEED + 1, numRuns: SAMPLE });
    const started: Started[] = [];
    for (const [i, mutant] of migrations.entries()) {
      const handle = await stack.client.workflow.start('migrateVm', { taskQueue: TASK_QUEUE, workflowId: `fuzz/migration/${SEED}/${i}`, args: [mutant.value] });
      started.push({ surface: 'migration-input', mutant, handle });
    }
    for (const [i, mutant] of plans.entries()) {
      const handle = await stack.client.workflow.start('migratePlan', { taskQueue: TASK_QUEUE, workflowId: `fuzz/plan/${SEED}/${i}`, args: [mutant.value] });
      started.push({ surface: 'plan-input', mutant, handle });
    }

    const violations: Record<Started['surface'], string[]> = { 'migration-input': [], 'plan-input': [] };
    for (const s of started) {
      for (const p of await endProblems(s)) violations[s.surface].push(`${s.handle.workflowId} (${s.mutant.what.join('; ').slice(0, 200)}): ${p}`);
    }
    tapping = false;
    const nothingWritten = [
      ...writes.map((w) => `written: ${w}`),
      ...(await untouched(sim, destinationBefore)),
      ...[sim.source, sim.destination].flatMap((c, i) =>
        c.api.store.resourceVersion !== versionsBefore[i] ? [`${c.name}: resourceVersion ${versionsBefore[i]} → ${c.api.store.resourceVersion}`] : [],
      ),
    ];
    // A write cannot be told apart by workflow: it counts against both surfaces.
    for (const surface of ['migration-input', 'plan-input'] as const) {
      violations[surface].push(...nothingWritten);
      recordRun({
        suite: 'fuzz',
        scenario: `${surface}-end-to-end`,
        outcome: 'refused',
        expected: 'refused',
        violations: violations[surface],
        faults: { inputs: started.filter((s) => s.surface === surface).length, workflows: started.filter((s) => s.surface === surface).length },
        seed: SEED,
      });
    }
    assert.deepEqual([...violations['migration-input'], ...violations['plan-input']], []);
    assert.equal(started.length, 2 * SAMPLE);
  });
});
