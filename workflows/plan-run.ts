/**
 * What one run of a plan knows, and carries across continue-as-new: how many VMs ended each way, the
 * next VM to start (VMs start in plan order, so the ones after it are Pending), the VMs in flight, the
 * first failures and skips, the plan's phase and the children this run started. The carry stays
 * bounded whatever the plan's size (plus 4–6 bytes per VM preflight skipped ahead of the next start):
 * per-VM detail lives in the children, which visibility lists (`planChildrenQuery`). The `planStatus`
 * query, the search attributes and the Web UI's current details all follow from here; the plan's
 * phase changes only in `setPhase()`, a VM's state only here (started, reported by its child,
 * settled by its child's end, skipped).
 */
import {
  getExternalWorkflowHandle,
  isCancellation,
  ParentClosePolicy,
  setCurrentDetails,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { type Migration, type MigrationInput, migrationInputSchema, migrationWorkflowId } from './contract.js';
import { staticDetails, staticSummary } from './details.js';
import { errorMessage } from './errors.js';
import { cancelSignal, type ChildReport } from './messages.js';
import type { Phase } from './phases.js';
import { clip, END_STATES, type EndState, freshCarry, fromCarryV1, isCarryV1, type PlanCarry, type PlanCarryV1, recordEnd } from './plan-carry.js';
import {
  isVmDone,
  NOTABLE_MAX,
  type Plan,
  planChildrenQuery,
  type PlanPhase,
  type PlanResult,
  type PlanStatus,
  type PlanVm,
  type PlanVmStatus,
  vmMigrationInput,
} from './plan-contract.js';
import { planProgress } from './metrics.js';
import { planDetails } from './plan-details.js';
import { FerryDestinationCluster, FerryPhase, FerryPlan, FerrySourceCluster } from './search-attributes.js';

export type { PlanCarry, PlanCarryV1 } from './plan-carry.js';

const nowIso = () => new Date().toISOString();

/** `<namespace>/<name>` of a plan's VM, as statuses name it. */
const vmName = (vm: PlanVm) => `${vm.namespace}/${vm.name}`;

export class PlanRun {
  readonly state: PlanCarry;
  /** The VMs in flight, by workflow ID; `state.active` is rebuilt from here for the next run. */
  private readonly active: Map<string, PlanVmStatus>;
  /** How far `state.skip` has been passed by `state.next` in this run. */
  private skipPassed = 0;
  /** Children started by this run whose workflow has not closed (a slot is held until it has). */
  private readonly closing = new Set<string>();
  // Details are rebuilt at most once per workflow task: a burst of child reports costs one update.
  private detailsDirty = true;
  private readonly info = workflowInfo();

  constructor(
    readonly plan: Plan,
    carry: PlanCarry | PlanCarryV1 | undefined,
  ) {
    this.state = !carry ? freshCarry(nowIso()) : isCarryV1(carry) ? fromCarryV1(carry) : carry;
    this.active = new Map(this.state.active.map((v) => [v.workflowId, v]));
    upsertSearchAttributes([
      { key: FerryPlan, value: plan.name },
      { key: FerrySourceCluster, value: plan.source.cluster },
      { key: FerryDestinationCluster, value: plan.destination.cluster },
      { key: FerryPhase, value: this.state.phase },
    ]);
  }

  get phase(): PlanPhase {
    return this.state.phase;
  }

  get total(): number {
    return this.plan.vms.length;
  }

  get cancelling(): boolean {
    return this.state.cancelReason !== undefined;
  }

  /**
   * The child migration of the plan's VM at `index`: its input as sent, and as the child will read it.
   * Made when needed (a start, the first run's preflight), not for every VM on every run.
   */
  childAt(index: number): { vm: string; workflowId: string; input: MigrationInput; migration: Migration } {
    const vm = this.plan.vms[index]!;
    const input = vmMigrationInput(this.plan, vm);
    const migration = migrationInputSchema.parse(input);
    return { vm: vmName(vm), workflowId: migrationWorkflowId(migration), input, migration };
  }

  /** VMs not started, not skipped. */
  pending(): number {
    return this.total - this.state.next - (this.state.skip.length - this.skipPassed);
  }

  /** The index of the next VM to start, if any is left. */
  nextPending(): number | undefined {
    return this.state.next < this.total ? this.state.next : undefined;
  }

  /** Every VM in flight that is Stalled. */
  stalled(): PlanVmStatus[] {
    return [...this.active.values()].filter((v) => v.state === 'Stalled');
  }

  hasActive(): boolean {
    return this.active.size > 0;
  }

  status(): PlanStatus {
    const { state, plan } = this;
    const counts: Record<string, number> = {};
    const add = (key: string, n: number) => n && (counts[key] = (counts[key] ?? 0) + n);
    add('Pending', this.pending());
    for (const v of this.active.values()) add(v.state, 1);
    for (const s of END_STATES) add(s, state.ended[s]);
    const failed = [...state.notable.failed, ...state.notable.rolledBack];
    return {
      workflowId: this.info.workflowId,
      name: plan.name,
      phase: state.phase,
      source: plan.source.cluster,
      destination: plan.destination.cluster,
      maxInFlight: plan.maxInFlight,
      total: this.total,
      counts,
      inFlight: this.inFlight(),
      peakInFlight: state.peakInFlight,
      stalled: this.stalled(),
      failed,
      skipped: state.notable.skipped,
      unlisted: { failed: state.ended.Failed + state.ended.RolledBack - failed.length, skipped: state.ended.Skipped - state.notable.skipped.length },
      active: [...this.active.values()],
      childrenQuery: planChildrenQuery(plan.name),
      startedAt: state.startedAt,
      runs: state.runs,
      ...(state.cancelReason ? { error: `cancelled: ${state.cancelReason}` } : {}),
    };
  }

  /** Something the status shows changed: the details are rebuilt, and the plan's loop wakes. */
  touch(): void {
    this.detailsDirty = true;
  }

  get changed(): boolean {
    return this.detailsDirty;
  }

  publish(): void {
    if (!this.detailsDirty) return;
    this.detailsDirty = false;
    const s = this.status();
    setCurrentDetails(planDetails(s, this.info.namespace));
    planProgress(this.plan.name, s.counts);
  }

  setPhase(phase: PlanPhase): void {
    this.state.phase = phase;
    upsertSearchAttributes([{ key: FerryPhase, value: phase }]);
    this.detailsDirty = true;
  }

  /** The plan stops starting VMs: those not started yet are skipped. Answers the VMs in flight. */
  cancel(reason: string): string[] {
    const state = this.state;
    state.cancelReason = reason;
    this.setPhase('Cancelling');
    const error = `plan cancelled before it started: ${reason}`;
    const skipping = new Set(state.skip.slice(this.skipPassed));
    for (let i = state.next; i < this.total; i++) {
      if (skipping.has(i)) continue;
      // Only the VMs the list has room for are named: a workflow ID costs a parse.
      if (state.notable.skipped.length < NOTABLE_MAX) recordEnd(state, { vm: vmName(this.plan.vms[i]!), workflowId: this.childAt(i).workflowId, state: 'Skipped', error });
      else state.ended.Skipped++;
    }
    this.pass(this.total);
    return [...this.active.keys()];
  }

  /** Preflight's findings, one entry per VM in plan order: the blocked VMs are skipped, never started. */
  skipBlocked(vms: readonly PlanVmStatus[]): void {
    const state = this.state;
    vms.forEach((v, i) => {
      // A VM already started or skipped (a cancel during preflight skipped them all) stays as it is.
      if (!v.blockers?.length || i < state.next) return;
      recordEnd(state, {
        vm: v.vm,
        workflowId: v.workflowId,
        state: 'Skipped',
        blockers: v.blockers,
        error: `skipped: preflight blockers ${v.blockers.map((b) => b.code).join(', ')}`,
      });
      state.skip.push(i);
    });
    this.pass(state.next);
    this.detailsDirty = true;
  }

  applyReport(r: ChildReport): void {
    const v = this.active.get(r.workflowId);
    // After the end, the end wins. A VM not in flight was never started by this plan (or has ended):
    // a report for it comes from a stale child (an earlier plan of the same name) and is not ours to adopt.
    if (!v) return;
    v.state = r.phase;
    v.attempt = r.attempt;
    v.since = r.at;
    if (r.diagnosis) v.diagnosis = clip(r.diagnosis);
    else delete v.diagnosis;
    if (r.error) v.error = clip(r.error);
    if (isVmDone(v.state)) this.end(v);
    this.detailsDirty = true;
  }

  settle(workflowId: string, phase: Phase, error?: string): void {
    const v = this.active.get(workflowId);
    if (!v) return;
    v.state = phase;
    v.since = nowIso();
    delete v.diagnosis;
    if (error) v.error = error;
    this.end(v);
    this.detailsDirty = true;
  }

  private end(v: PlanVmStatus): void {
    this.active.delete(v.workflowId);
    delete v.diagnosis;
    recordEnd(this.state, v);
  }

  /** Active VMs, plus ended ones whose child workflow (started by this run) has not closed yet. */
  inFlight(): number {
    let n = this.active.size;
    for (const id of this.closing) if (!this.active.has(id)) n++;
    return n;
  }

  historyFull(): boolean {
    return workflowInfo().historyLength >= this.plan.historyEventLimit || workflowInfo().continueAsNewSuggested;
  }

  /** `next` moves to `to`, then past the skips it reaches: the VM there is the next to start. */
  private pass(to: number): void {
    const state = this.state;
    state.next = to;
    while (this.skipPassed < state.skip.length && state.skip[this.skipPassed]! < state.next) this.skipPassed++;
    while (this.skipPassed < state.skip.length && state.skip[this.skipPassed] === state.next) {
      this.skipPassed++;
      state.next++;
    }
  }

  /** Start the next VM (`nextPending()`). */
  async startVm(): Promise<void> {
    const { state, plan } = this;
    const { vm, workflowId, input: childInput, migration: m } = this.childAt(state.next);
    this.pass(state.next + 1);
    const v: PlanVmStatus = { vm, workflowId, state: 'Validating', since: nowIso() };
    this.active.set(workflowId, v);
    state.peakInFlight = Math.max(state.peakInFlight, this.inFlight());
    this.detailsDirty = true;
    try {
      const child = await startChild('migrateVm', {
        workflowId,
        args: [childInput],
        // The plan may continue as new while children run; they must not be closed with it.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        staticSummary: staticSummary(m),
        staticDetails: staticDetails(m),
      });
      // A cancel that came while this child was starting could not reach it: tell it now.
      if (state.cancelReason !== undefined)
        void getExternalWorkflowHandle(workflowId)
          .signal(cancelSignal, { reason: `plan ${plan.name} cancelled: ${state.cancelReason}` })
          .catch(() => undefined);
      // A child reports its end just before it closes; its slot frees when it has closed. The result
      // also settles ends no report describes (e.g. a terminated child).
      this.closing.add(workflowId);
      const closed = () => {
        this.closing.delete(workflowId);
        this.detailsDirty = true;
      };
      void child.result().then(
        (r: { outcome: 'Succeeded' | 'RolledBack'; reason?: string }) => (this.settle(workflowId, r.outcome, r.reason), closed()),
        (e: unknown) => (this.settle(workflowId, 'Failed', errorMessage(e)), closed()),
      );
    } catch (e) {
      if (isCancellation(e)) throw e;
      this.settle(workflowId, 'Failed', `could not start: ${errorMessage(e)} (is another migration of this VM running?)`);
    }
  }

  /** The state the next run starts from. */
  nextRun(): PlanCarry {
    const state = this.state;
    state.runs++;
    return { ...state, skip: state.skip.slice(this.skipPassed), active: [...this.active.values()] };
  }

  count(state: EndState): number {
    return this.state.ended[state];
  }

  result(outcome: PlanResult['outcome']): PlanResult {
    const state = this.state;
    return {
      name: this.plan.name,
      outcome,
      total: this.total,
      succeeded: this.count('Succeeded'),
      rolledBack: this.count('RolledBack'),
      failed: this.count('Failed'),
      skipped: this.count('Skipped'),
      notable: state.notable,
      childrenQuery: planChildrenQuery(this.plan.name),
      durationMs: Date.now() - Date.parse(state.startedAt),
    };
  }
}
