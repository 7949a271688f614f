/**
 * What one run of a plan knows, and carries across continue-as-new: each VM's state, the plan's
 * phase and the children this run started. The `planStatus` query, the search attributes and the Web
 * UI's current details all follow from here; the plan's phase changes only in `setPhase()`, a VM's
 * state only here (started, reported by its child, settled by its child's end, skipped).
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
import { isVmDone, type Plan, type PlanPhase, type PlanResult, type PlanStatus, type PlanVmStatus, vmMigrationInput } from './plan-contract.js';
import { planProgress } from './metrics.js';
import { planDetails } from './plan-details.js';
import { FerryDestinationCluster, FerryPhase, FerryPlan, FerrySourceCluster } from './search-attributes.js';

/** What a plan carries across continue-as-new. */
export interface PlanCarry {
  phase: PlanPhase;
  startedAt: string;
  runs: number;
  peakInFlight: number;
  cancelReason?: string;
  vms: PlanVmStatus[];
}

export const isEnded = (v: PlanVmStatus) => isVmDone(v.state);
export const isActive = (v: PlanVmStatus) => v.state !== 'Pending' && !isEnded(v);

const nowIso = () => new Date().toISOString();

export class PlanRun {
  readonly state: PlanCarry;
  /** Each VM's child input, as sent, and as the child will read it (for IDs, summaries, preflight). */
  private readonly children: Map<string, { input: MigrationInput; migration: Migration }>;
  private readonly byId: Map<string, PlanVmStatus>;
  /** Children started by this run whose workflow has not closed (a slot is held until it has). */
  private readonly closing = new Set<string>();
  // Details are rebuilt at most once per workflow task: a burst of child reports costs one update.
  private detailsDirty = true;
  private readonly info = workflowInfo();

  constructor(
    readonly plan: Plan,
    carry: PlanCarry | undefined,
  ) {
    this.children = new Map(
      plan.vms.map((vm) => {
        const input = vmMigrationInput(plan, vm);
        const migration = migrationInputSchema.parse(input);
        return [migrationWorkflowId(migration), { input, migration }];
      }),
    );
    this.state = carry ?? {
      phase: 'Validating',
      startedAt: nowIso(),
      runs: 0,
      peakInFlight: 0,
      vms: [...this.children].map(([workflowId, c]) => ({ vm: vmOf(c.migration), workflowId, state: 'Pending' })),
    };
    this.byId = new Map(this.state.vms.map((v) => [v.workflowId, v]));
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

  get vms(): PlanVmStatus[] {
    return this.state.vms;
  }

  get cancelling(): boolean {
    return this.state.cancelReason !== undefined;
  }

  migrationOf(workflowId: string): Migration {
    return this.children.get(workflowId)!.migration;
  }

  status(): PlanStatus {
    const { state, plan } = this;
    const counts: Record<string, number> = {};
    for (const v of state.vms) counts[v.state] = (counts[v.state] ?? 0) + 1;
    const active = state.vms.filter(isActive);
    return {
      workflowId: this.info.workflowId,
      name: plan.name,
      phase: state.phase,
      source: plan.source.cluster,
      destination: plan.destination.cluster,
      maxInFlight: plan.maxInFlight,
      total: state.vms.length,
      counts,
      inFlight: this.inFlight(),
      peakInFlight: state.peakInFlight,
      stalled: state.vms.filter((v) => v.state === 'Stalled'),
      failed: state.vms.filter((v) => v.state === 'Failed' || v.state === 'RolledBack'),
      skipped: state.vms.filter((v) => v.state === 'Skipped'),
      active,
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
    setCurrentDetails(planDetails(this.status(), this.info.namespace));
    planProgress(this.plan.name, this.state.vms);
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
    for (const v of state.vms) {
      if (v.state === 'Pending') {
        v.state = 'Skipped';
        v.error = `plan cancelled before it started: ${state.cancelReason}`;
      }
    }
    return state.vms.filter(isActive).map((v) => v.workflowId);
  }

  skipBlocked(blocked: PlanVmStatus[]): void {
    for (const v of blocked) {
      if (v.state !== 'Pending') continue;
      v.state = 'Skipped';
      v.error = `skipped: preflight blockers ${v.blockers!.map((b) => b.code).join(', ')}`;
    }
  }

  applyReport(r: ChildReport): void {
    const v = this.byId.get(r.workflowId);
    // After the end, the end wins. A VM still Pending was never started by this plan: a report for it
    // comes from a stale child (an earlier plan of the same name) and is not ours to adopt.
    if (!v || isEnded(v) || v.state === 'Pending') return;
    v.state = r.phase;
    v.attempt = r.attempt;
    v.since = r.at;
    if (r.diagnosis) v.diagnosis = r.diagnosis;
    else delete v.diagnosis;
    if (r.error) v.error = r.error;
    this.detailsDirty = true;
  }

  settle(v: PlanVmStatus, phase: Phase, error?: string): void {
    if (isEnded(v)) return;
    v.state = phase;
    v.since = nowIso();
    delete v.diagnosis;
    if (error) v.error = error;
    this.detailsDirty = true;
  }

  /** Active VMs, plus ended ones whose child workflow (started by this run) has not closed yet. */
  inFlight(): number {
    let n = this.closing.size;
    for (const v of this.state.vms) if (isActive(v) && !this.closing.has(v.workflowId)) n++;
    return n;
  }

  historyFull(): boolean {
    return workflowInfo().historyLength >= this.plan.historyEventLimit || workflowInfo().continueAsNewSuggested;
  }

  async startVm(v: PlanVmStatus): Promise<void> {
    const { input: childInput, migration: m } = this.children.get(v.workflowId)!;
    const { state, plan } = this;
    v.state = 'Validating';
    v.since = nowIso();
    state.peakInFlight = Math.max(state.peakInFlight, this.inFlight());
    this.detailsDirty = true;
    try {
      const child = await startChild('migrateVm', {
        workflowId: v.workflowId,
        args: [childInput],
        // The plan may continue as new while children run; they must not be closed with it.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        staticSummary: staticSummary(m),
        staticDetails: staticDetails(m),
      });
      // A cancel that came while this child was starting could not reach it: tell it now.
      if (state.cancelReason !== undefined)
        void getExternalWorkflowHandle(v.workflowId)
          .signal(cancelSignal, { reason: `plan ${plan.name} cancelled: ${state.cancelReason}` })
          .catch(() => undefined);
      // A child reports its end just before it closes; its slot frees when it has closed. The result
      // also settles ends no report describes (e.g. a terminated child).
      this.closing.add(v.workflowId);
      const closed = () => {
        this.closing.delete(v.workflowId);
        this.detailsDirty = true;
      };
      void child.result().then(
        (r: { outcome: 'Succeeded' | 'RolledBack'; reason?: string }) => (this.settle(v, r.outcome, r.reason), closed()),
        (e: unknown) => (this.settle(v, 'Failed', errorMessage(e)), closed()),
      );
    } catch (e) {
      if (isCancellation(e)) throw e;
      this.settle(v, 'Failed', `could not start: ${errorMessage(e)} (is another migration of this VM running?)`);
    }
  }

  /** The state the next run starts from. */
  nextRun(): PlanCarry {
    this.state.runs++;
    return this.state;
  }

  count(state: string): number {
    return this.state.vms.filter((v) => v.state === state).length;
  }

  result(outcome: PlanResult['outcome']): PlanResult {
    const state = this.state;
    return {
      name: this.plan.name,
      outcome,
      total: state.vms.length,
      succeeded: this.count('Succeeded'),
      rolledBack: this.count('RolledBack'),
      failed: this.count('Failed'),
      skipped: this.count('Skipped'),
      vms: state.vms,
      durationMs: Date.now() - Date.parse(state.startedAt),
    };
  }
}

function vmOf(m: Migration): string {
  return `${m.source.namespace}/${m.source.name}`;
}
