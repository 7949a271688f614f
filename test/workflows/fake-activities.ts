/**
 * Stand-in activities for the time-skipping workflow tests: the real workflow code runs against
 * these, and each test says what the "clusters" do — which waits never arrive (until healed),
 * which activity holds until released, which one fails and how. Every call is recorded, so a test
 * asserts what the workflow asked for, not only how it ended.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { createActivities } from '../../activities/index.js';
import type { WaitGoal, WaitResult } from '../../activities/waits.js';
import type { CreatedObject, PreflightReport } from '../../workflows/contract.js';

type Activities = ReturnType<typeof createActivities>;
export type ActivityName = keyof Activities;

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const obj = (kind: string, name: string, cluster = 'destination'): CreatedObject => ({ cluster, kind, namespace: 'demo', name });

export class FakeClusters {
  readonly calls: string[] = [];
  /** Goals whose condition never arrives until `heal(goal)`. */
  readonly stuck = new Set<WaitGoal>();
  /** Activities that fail (every attempt) with this failure. */
  readonly failures = new Map<ActivityName, () => Error>();
  report: PreflightReport = { blockers: [], warnings: [], memoryBytes: 2 * 1024 ** 3, diskBytes: 0, runStrategy: 'Always' };
  sourceVMIPhase = 'Running';
  private readonly held = new Map<ActivityName, Deferred>();
  private readonly started = new Map<ActivityName, Deferred>();

  /** The next call of `name` blocks (after it started) until `release(name)`. */
  hold(name: ActivityName): void {
    this.held.set(name, deferred());
  }

  release(name: ActivityName): void {
    this.held.get(name)?.resolve();
    this.held.delete(name);
  }

  /** Resolves once `name` has been called (now or later). */
  entered(name: ActivityName): Promise<void> {
    let d = this.started.get(name);
    if (!d) this.started.set(name, (d = deferred()));
    return d.promise;
  }

  heal(goal: WaitGoal): void {
    this.stuck.delete(goal);
  }

  count(name: ActivityName): number {
    return this.calls.filter((c) => c === name).length;
  }

  private async call(name: ActivityName): Promise<void> {
    this.calls.push(name);
    void this.entered(name);
    this.started.get(name)!.resolve();
    const hold = this.held.get(name);
    if (hold) await hold.promise;
    const fail = this.failures.get(name);
    if (fail) throw fail();
  }

  activities(): Activities {
    const fake = {
      preflight: async () => (await this.call('preflight'), this.report),
      preflightMany: async () => [],
      syncCertificates: async () => (await this.call('syncCertificates'), { updated: [] }),
      createPrerequisites: async () => (await this.call('createPrerequisites'), [obj('DataVolume', 'web-01-rootdisk')]),
      createTargetVM: async () => (await this.call('createTargetVM'), obj('VirtualMachine', 'web-01')),
      createTargetMigration: async () => (await this.call('createTargetMigration'), obj('VirtualMachineInstanceMigration', 'web-01-target')),
      createSourceMigration: async () => (await this.call('createSourceMigration'), obj('VirtualMachineInstanceMigration', 'web-01-source', 'source')),
      waitFor: async (_ref: unknown, goal: WaitGoal): Promise<WaitResult> => {
        await this.call('waitFor');
        const ctx = Context.current();
        // The test server does not skip time while an activity runs, so a wait that does not arrive
        // ends its attempt soon (retryable) and is retried: between attempts the workflow's clock moves.
        if (this.stuck.has(goal)) {
          ctx.heartbeat();
          throw ApplicationFailure.create({ type: 'StillWaiting', message: `${goal} not yet`, nonRetryable: false });
        }
        return { goal, ...(goal === 'syncAddress' ? { syncAddress: '10.0.0.7:9185' } : {}), observed: { at: new Date().toISOString(), sourceVMIM: 'Running' } };
      },
      finalize: async () => (await this.call('finalize'), { targetVMIPhase: 'Running' }),
      removeAttempt: async () => (
        await this.call('removeAttempt'),
        [obj('VirtualMachineInstanceMigration', 'web-01-target'), obj('VirtualMachine', 'web-01'), obj('DataVolume', 'web-01-rootdisk')]
      ),
      rollback: async () => (await this.call('rollback'), { removed: [], kept: [], sourceVMIPhase: this.sourceVMIPhase }),
    };
    return fake as unknown as Activities;
  }
}

/** Activities that route each call to the FakeClusters of the workflow that made it. */
export function routedActivities(fakeOf: (workflowId: string) => FakeClusters): Activities {
  const names = Object.keys(new FakeClusters().activities()) as ActivityName[];
  return Object.fromEntries(
    names.map((name) => [
      name,
      (...args: unknown[]) => {
        const fake = fakeOf(Context.current().info.workflowExecution?.workflowId ?? '');
        return (fake.activities()[name] as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as unknown as Activities;
}

export const failure =
  (type: string, message: string, nonRetryable = true) =>
  () =>
    ApplicationFailure.create({ type, message, nonRetryable });
