/**
 * What one migration run knows about itself, and the one place its phase changes: the status the
 * `status` query answers, the search attributes, the Web UI's current details and the report to a
 * parent plan all follow from `enter()`.
 */
import { patched, setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { CreatedObject, Migration, MigrationStatus, Observation, StallInfo } from './contract.js';
import { Deadline } from './deadline.js';
import { currentDetails } from './details.js';
import { MigrationMetrics } from './metrics.js';
import { isTerminal, PHASE, type Phase } from './phases.js';
import { planLink, type PlanLink } from './plan-link.js';
import { FerryDestinationCluster, FerryPhase, FerryPlan, FerrySourceCluster, FerryStalled, FerryVm } from './search-attributes.js';

const nowIso = () => new Date().toISOString();
/** Runs started before it reported every phase to their plan (phases.ts `reportsToPlan`): they still do, on replay too. */
const REPORTS_AT_WAITS = 'plan-reports-at-waits';
/** One object, whatever its uid: a recreated object is the same entry. */
const objectKey = (o: CreatedObject) => `${o.cluster}/${o.kind}/${o.namespace ?? ''}/${o.name}`;

export class MigrationRun {
  readonly status: MigrationStatus;
  readonly deadline: Deadline;
  readonly startedAt = Date.now();
  readonly where: string;
  /** Filled in by preflight: the run strategy the target gets once it runs. */
  runStrategy = 'Always';
  private readonly toPlan: PlanLink | undefined;
  private readonly temporalNamespace = workflowInfo().namespace;
  private readonly metrics: MigrationMetrics;

  constructor(readonly migration: Migration) {
    const m = migration;
    this.toPlan = planLink(m.plan);
    this.where = `${m.source.namespace}/${m.source.name} ${m.source.cluster} → ${m.destination.cluster}/${m.destination.namespace}`;
    this.status = {
      workflowId: workflowInfo().workflowId,
      vm: `${m.source.namespace}/${m.source.name}`,
      source: m.source,
      destination: m.destination,
      phase: 'Validating',
      attempt: 1,
      phaseSince: nowIso(),
      created: [],
      history: [{ phase: 'Validating', at: nowIso() }],
      warnings: [],
    };
    this.deadline = new Deadline((at) => {
      if (at === undefined) delete this.status.deadline;
      else this.status.deadline = new Date(at).toISOString();
      this.publish();
    });
    upsertSearchAttributes([
      { key: FerryVm, value: this.status.vm },
      { key: FerrySourceCluster, value: m.source.cluster },
      { key: FerryDestinationCluster, value: m.destination.cluster },
      { key: FerryPhase, value: 'Validating' },
      { key: FerryStalled, value: false },
      ...(m.plan ? [{ key: FerryPlan, value: m.plan }] : []),
    ]);
    this.publish();
    this.metrics = new MigrationMetrics(m);
    this.metrics.started();
  }

  get phase(): Phase {
    return this.status.phase;
  }

  /** The arguments every attempt-scoped activity gets. */
  attemptRef() {
    return {
      workflowId: this.status.workflowId,
      migration: this.migration,
      attempt: this.status.attempt,
      migrationId: this.status.migrationId ?? '',
      runStrategy: this.runStrategy,
    };
  }

  ids() {
    return { workflowId: this.status.workflowId, migration: this.migration };
  }

  inPlan(): boolean {
    return this.toPlan !== undefined;
  }

  publish(): void {
    setCurrentDetails(currentDetails(this.status, this.temporalNamespace));
  }

  enter(phase: Phase, note?: string): void {
    const s = this.status;
    this.metrics.phaseChanged(s.phase, s.phaseSince, phase, s.stall);
    if (phase !== 'Stalled') delete s.stall;
    s.phase = phase;
    s.phaseSince = nowIso();
    s.history.push({ phase, at: s.phaseSince, ...(note ? { note } : {}) });
    upsertSearchAttributes([
      { key: FerryPhase, value: phase },
      { key: FerryStalled, value: phase === 'Stalled' },
    ]);
    this.publish();
    if (this.toPlan && (PHASE[phase].reportsToPlan || !patched(REPORTS_AT_WAITS)))
      this.toPlan.report({
        phase,
        attempt: s.attempt,
        ...(phase === 'Stalled' && s.stall ? { diagnosis: s.stall.diagnosis } : {}),
        ...(isTerminal(phase) && s.error ? { error: s.error } : {}),
      });
  }

  stall(stall: StallInfo): void {
    this.status.stall = stall;
    this.enter('Stalled', stall.diagnosis);
  }

  /** Back to the step that stalled, when its wait goes on (extended, or it recovered by itself). */
  resume(note: string): void {
    const stalled = this.status.stall;
    if (stalled) this.enter(stalled.phase, note);
  }

  /** The step a stall interrupted, or the current phase. */
  stepNow(): Phase {
    return this.status.stall?.phase ?? this.status.phase;
  }

  observe(o: Observation): void {
    this.status.observed = o;
    this.publish();
  }

  record(objects: CreatedObject[]): void {
    const known = new Set(this.status.created.map(objectKey));
    for (const o of objects) if (!known.has(objectKey(o))) this.status.created.push(o);
  }

  /** What is left once an attempt's objects are removed (the CA sync's are shared by attempts). */
  forget(removed: readonly CreatedObject[]): void {
    const gone = new Set(removed.map(objectKey));
    this.status.created = this.status.created.filter((c) => !gone.has(objectKey(c)));
  }

  fail(error: string, phase: 'Failed' | 'RolledBack', note = error): void {
    this.status.error = error;
    this.enter(phase, note);
  }

  durationMs(): number {
    return Date.now() - this.startedAt;
  }

  /** Whatever ended this run (even a failure nothing expected), the plan must hear an end. */
  async end(): Promise<void> {
    if (!isTerminal(this.status.phase)) this.toPlan?.report({ phase: 'Failed', attempt: this.status.attempt, error: this.status.error ?? 'the migration ended unexpectedly' });
    await this.toPlan?.flush();
  }
}
