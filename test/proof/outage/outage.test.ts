/**
 * API outages (issue 13, item 3): each cluster's API server unreachable from ferry — refused or hung —
 * in each phase of a migration, then back. Brief outages end in success; an outage that outlasts a
 * wait's deadline stalls with a diagnosis naming the unreachable cluster and its server, and heals
 * with a retry; a cluster gone for good ends the migration with the source VM running. After every
 * run the suite's invariants are checked on both clusters and the run is recorded for the figures.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { MigrationResult, MigrationStatus } from '../../../workflows/contract.js';
import { retryUpdate, statusQuery } from '../../../workflows/messages.js';
import type { Phase } from '../../../workflows/phases.js';
import { input, startMigration } from '../../support/e2e.js';
import { recordRun } from '../support/figures.js';
import { baseline, checkRun, type Baseline } from '../support/invariants.js';
import { type Lane, type OutageStack, PHASE_OPENER, type Side, startOutageStack, type Trip } from './harness.js';

const NS = 'outage';
const BRIEF_MS = 3000;
const MODES = ['refuse', 'hang'] as const;
type Mode = (typeof MODES)[number];
const FORWARD: Phase[] = ['Validating', 'SyncingCertificates', 'CreatingPrerequisites', 'CreatingTarget', 'CreatingMigrations', 'Synchronizing', 'Finalizing'];
const SIDES: Side[] = ['source', 'destination'];

let stack: OutageStack;
let before0: Baseline;
let nextLane = 0;
const LANES = 48;

const fault = (mode: Mode) => (mode === 'refuse' ? 'api-refused' : 'api-hang');

function lane(): Lane {
  const l = stack.lanes[nextLane++];
  assert.ok(l, 'more lanes needed');
  return l;
}

const vmOf = (l: Lane) => `vm-${String(l.n).padStart(4, '0')}`;

async function start(l: Lane, options: Record<string, unknown> = {}): Promise<WorkflowHandle> {
  return startMigration(stack, input(vmOf(l), { source: { cluster: l.clusters.source, namespace: NS, name: vmOf(l) }, destination: { cluster: l.clusters.destination }, options }));
}

/** The workflow's end: its result, or the failure's message. */
async function outcomeOf(h: WorkflowHandle): Promise<{ outcome: 'Succeeded' | 'RolledBack' | 'Failed'; result?: MigrationResult; error?: string }> {
  try {
    const result = (await h.result()) as MigrationResult;
    return { outcome: result.outcome, result };
  } catch (e) {
    if (!(e instanceof WorkflowFailedError)) throw e;
    return { outcome: 'Failed', error: String((e.cause as Error | undefined)?.message ?? e.message) };
  }
}

/** Wait on the status query until `pred` holds (the workflow's own record of its phases). */
async function until(h: WorkflowHandle, what: string, pred: (s: MigrationStatus) => boolean, timeoutMs = 90_000): Promise<MigrationStatus> {
  const deadline = Date.now() + timeoutMs;
  let last: MigrationStatus | undefined;
  for (;;) {
    last = await h.query(statusQuery).catch(() => last);
    if (last && pred(last)) return last;
    if (Date.now() > deadline) throw new Error(`${h.workflowId}: not ${what} within ${timeoutMs} ms (phase ${last?.phase})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function verify(h: WorkflowHandle, l: Lane, scenario: string, expected: string, got: string, mode: Mode, extra: string[] = []): Promise<string[]> {
  const violations = [...extra, ...(await checkRun(stack.sim, { workflowId: h.workflowId, vm: vmOf(l), namespace: NS, outcome: got as 'Succeeded' }, before0))];
  recordRun({
    suite: 'outage',
    scenario,
    outcome: got,
    expected,
    violations,
    faults: { [fault(mode)]: stack.lanes[l.n - 1]!.proxies.source.outages[mode] + stack.lanes[l.n - 1]!.proxies.destination.outages[mode] },
  });
  return violations;
}

before(async () => {
  stack = await startOutageStack(LANES);
  await stack.sim.loadFleet({ namespace: NS, count: LANES });
  before0 = await baseline(stack.sim);
});

after(async () => {
  await stack?.stop();
});

describe('a brief API outage in each phase ends in success', { concurrency: true }, () => {
  for (const mode of MODES) {
    it(`${mode}: each cluster in each forward phase (${FORWARD.length * SIDES.length} migrations at once)`, async () => {
      const runs = FORWARD.flatMap((phase) =>
        SIDES.map(async (side) => {
          const l = lane();
          const scenario = `${side} ${mode} in ${phase}`;
          l.trip = { side, mode, ...PHASE_OPENER[phase]!, onTrip: () => setTimeout(() => void l.heal(), BRIEF_MS) } as Trip;
          const h = await start(l);
          const end = await outcomeOf(h);
          const violations = await verify(h, l, scenario, 'Succeeded', end.outcome, mode, l.tripped ? [] : [`${scenario}: the outage never started`]);
          return { scenario, end, violations };
        }),
      );
      const results = await Promise.all(runs);
      const bad = results.filter((r) => r.end.outcome !== 'Succeeded' || r.violations.length);
      assert.deepEqual(
        bad.map((r) => `${r.scenario}: ${r.end.outcome} ${r.end.error ?? ''} ${r.violations.join('; ')}`),
        [],
      );
    });
  }
});

describe('an outage that outlasts a wait stalls naming the cluster, then heals with a retry', { concurrency: true }, () => {
  // The wait of each phase, and which clusters it watches: the receiver's wait looks at the destination only.
  const waits: { phase: Phase; after: string; option: string; sides: Side[] }[] = [
    { phase: 'CreatingTarget', after: 'createTargetVM', option: 'receiverReadyTimeout', sides: ['destination'] },
    { phase: 'CreatingMigrations', after: 'createTargetMigration', option: 'syncAddressTimeout', sides: ['source', 'destination'] },
    { phase: 'Synchronizing', after: 'createSourceMigration', option: 'handshakeTimeout', sides: ['source', 'destination'] },
  ];
  for (const mode of MODES) {
    it(`${mode}: every wait, every cluster it watches`, async () => {
      const runs = waits.flatMap((w) =>
        w.sides.map(async (side) => {
          const l = lane();
          const scenario = `${side} ${mode} in ${w.phase} past its deadline`;
          l.trip = { side, mode, activity: 'waitFor', after: w.after };
          const h = await start(l, { [w.option]: '6s' });
          const problems: string[] = [];
          const stalled = await until(h, 'Stalled', (s) => s.phase === 'Stalled');
          const d = stalled.stall!.diagnosis;
          const proxy = l.proxies[side];
          if (stalled.stall!.phase !== w.phase) problems.push(`stalled in ${stalled.stall!.phase}, not ${w.phase}`);
          if (
            !d.includes(`the ${side} cluster ${l.clusters[side]}'s API server (${proxy.url})`.replace(/^t/, 'T')) &&
            !d.includes(`${l.clusters[side]}'s API server (${proxy.url}) is unreachable`)
          ) {
            problems.push(`diagnosis does not name ${l.clusters[side]} at ${proxy.url}: ${d}`);
          }
          if (mode === 'refuse' && !/ECONNREFUSED/.test(d)) problems.push(`diagnosis does not say the connection was refused: ${d}`);
          if (mode === 'hang' && !/timeout/.test(d)) problems.push(`diagnosis does not say the server timed out: ${d}`);
          // The operator retries while the cluster is still away; the attempt is removed once it is back.
          await h.executeUpdate(retryUpdate, { args: [{ reason: 'outage test: retry' }] });
          await l.heal();
          const end = await outcomeOf(h);
          if (end.outcome !== 'Succeeded') problems.push(`ended ${end.outcome}: ${end.error ?? end.result?.reason}`);
          else if (end.result!.attempts !== 2) problems.push(`succeeded in ${end.result!.attempts} attempts, not 2`);
          const violations = await verify(
            h,
            l,
            scenario,
            'Succeeded',
            end.outcome,
            mode,
            problems.map((p) => `${scenario}: ${p}`),
          );
          return violations;
        }),
      );
      assert.deepEqual((await Promise.all(runs)).flat(), []);
    });
  }
});
