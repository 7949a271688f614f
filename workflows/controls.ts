/**
 * The operator's controls on a running migration: retry, extend and cancel (as validated updates and
 * as signals), the status query and the activities' observations. A decision does not travel as a
 * thrown object: handlers (and the stall fallback) record it, and one loop applies it by cancelling a
 * scope — the current attempt's for retry, the whole forward path's for cancel. The workflow reads
 * which decision it was from here once the scope has unwound.
 */
import { CancellationScope, CancelledFailure, condition, isCancellation, log, patched, setHandler } from '@temporalio/workflow';
import type { Migration } from './contract.js';
import { extendBy, refuseRequest } from './control-request.js';
import { formatDuration } from './duration.js';
import {
  cancelSignal,
  cancelUpdate,
  type ControlAnswer,
  type ControlRequest,
  extendSignal,
  extendUpdate,
  type ExtendRequest,
  observeSignal,
  retrySignal,
  retryUpdate,
  statusQuery,
} from './messages.js';
import type { MigrationRun } from './migration-run.js';
import { countDecision } from './metrics.js';
import { isAfterCutover, isTerminal } from './phases.js';

/** Patch: the wait loop, not the extend handler, resumes a stalled step. */
const EXTEND_RESUMES_IN_WAIT = 'extend-resumes-in-wait';

export interface Decision {
  action: 'retry' | 'cancel';
  reason: string;
  /** Taken by the stall fallback, not by a person: counts against `maxAutoRetries`. */
  automatic: boolean;
}

export class Controls {
  /** The pending decision, until the scope it cancelled has unwound. */
  private decision: Decision | undefined;
  private applied = false;
  /** Removing an attempt for a retry: RollingBack, but a cancel may still stop the next attempt. */
  private betweenAttempts = false;
  private autoRetries = 0;
  /** From validation to the end of the state transfer: what cancel stops. */
  private readonly forward = new CancellationScope();
  private attemptScope: CancellationScope | undefined;

  constructor(private readonly run: MigrationRun) {}

  install(): void {
    const run = this.run;
    // A validator that throws rejects the update: the caller gets the reason, history gets nothing.
    const refuse = (why: string | undefined) => {
      if (why) throw new Error(why);
    };
    setHandler(statusQuery, () => run.status);
    // The argument is checked first: it may be any JSON value (the Temporal CLI's --input).
    setHandler(retryUpdate, (req) => this.retry(req), { validator: (req: ControlRequest) => refuse(refuseRequest('retry', req) ?? this.refuseRetry()) });
    setHandler(cancelUpdate, (req) => this.cancel(req), { validator: (req: ControlRequest) => refuse(refuseRequest('cancel', req) ?? this.refuseCancel()) });
    setHandler(extendUpdate, (req) => this.extend(req), { validator: (req: ExtendRequest) => refuse(this.refuseExtend(req)) });
    const orWarn = <R>(why: string | undefined, act: () => R) => void (why ? log.warn(why) : act());
    setHandler(retrySignal, (req) => orWarn(refuseRequest('retry', req) ?? this.refuseRetry(), () => this.retry(req)));
    setHandler(cancelSignal, (req) => orWarn(refuseRequest('cancel', req) ?? this.refuseCancel(), () => this.cancel(req)));
    setHandler(extendSignal, (req) => orWarn(this.refuseExtend(req), () => this.extend(req)));
    setHandler(observeSignal, (o) => run.observe(o));
    void CancellationScope.nonCancellable(() => this.applyDecisions());
  }

  /**
   * Decisions are applied here, after the handler that took one has returned: its update completes
   * before the scope's activities are cancelled, in that order in the history.
   */
  private async applyDecisions(): Promise<never> {
    for (;;) {
      await condition(() => this.decision !== undefined && !this.applied);
      this.applied = true;
      if (this.decision?.action === 'retry') this.attemptScope?.cancel();
      else this.forward.cancel();
    }
  }

  /** Run the forward path (validation … state transfer) where cancel can reach it. */
  forwardPath<T>(work: () => Promise<T>): Promise<T> {
    return this.forward.run(work);
  }

  /**
   * One attempt in its own scope. Resolves undefined when it completed, or with the retry that
   * cancelled it; a cancel or any failure rejects.
   */
  async attempt(work: () => Promise<void>): Promise<Decision | undefined> {
    // A cancel accepted while the previous attempt was being removed: no new attempt starts.
    if (this.forward.consideredCancelled) throw new CancelledFailure('cancelled between attempts');
    this.betweenAttempts = false;
    const scope = new CancellationScope();
    this.attemptScope = scope;
    try {
      await scope.run(work);
      return undefined;
    } catch (e) {
      const d = this.decision;
      if (d?.action !== 'retry' || !isCancellation(e)) throw e;
      this.decision = undefined;
      this.applied = false;
      this.betweenAttempts = true;
      if (d.automatic) this.autoRetries++;
      return d;
    } finally {
      this.attemptScope = undefined;
    }
  }

  /** Why the forward path stopped, when an operator, the fallback or Temporal cancelled it. */
  cancelReason(e: unknown): string | undefined {
    if (this.decision?.action === 'cancel') return this.decision.reason;
    return isCancellation(e) ? 'the workflow was cancelled' : undefined;
  }

  /** Whether an operator or the fallback asked to cancel (as opposed to a Temporal cancellation). */
  cancelRequested(): boolean {
    return this.decision?.action === 'cancel';
  }

  /** Nobody decided within the window: the configured fallback decides, and the wait ends cancelled. */
  async fallback(o: Migration['options']): Promise<never> {
    const window = formatDuration(o.decisionWindow);
    if (this.decision !== undefined) {
      // An operator decided in the same activation as the window closed: theirs stands.
    } else if (o.stallFallback === 'retry' && this.autoRetries < o.maxAutoRetries) {
      this.decide({ action: 'retry', reason: `no decision within ${window}: automatic retry ${this.autoRetries + 1} of ${o.maxAutoRetries}`, automatic: true });
    } else {
      const why = o.stallFallback === 'retry' ? `automatic retries exhausted (${o.maxAutoRetries})` : `no decision within ${window}`;
      this.decide({ action: 'cancel', reason: `${why}: stall fallback cancels`, automatic: true });
    }
    return CancellationScope.current().cancelRequested;
  }

  private decide(d: Decision): void {
    this.decision = d;
    countDecision(d.action, d.automatic);
  }

  private answer(message: string, extra: Partial<ControlAnswer> = {}): ControlAnswer {
    const s = this.run.status;
    return { accepted: true, phase: s.phase, attempt: s.attempt, message, ...extra };
  }

  private refuseRetry(): string | undefined {
    const phase = this.run.phase;
    return phase === 'Stalled' ? undefined : `retry refused: only a Stalled migration can be retried (phase is ${phase})`;
  }

  private refuseCancel(): string | undefined {
    const phase = this.run.phase;
    if (isTerminal(phase)) return `cancel refused: the migration already ended (${phase})`;
    if (isAfterCutover(phase)) return `cancel refused: the migration is past cutover (${phase}); the VM now runs on ${this.run.migration.destination.cluster}`;
    if ((phase === 'RollingBack' && !this.betweenAttempts) || this.decision?.action === 'cancel') return 'cancel refused: already rolling back';
    return undefined;
  }

  private refuseExtend(req: ExtendRequest | undefined): string | undefined {
    const bad = refuseRequest('extend', req);
    if (bad) return bad;
    if (this.run.deadline.at === undefined) return `extend refused: no deadline is running (phase is ${this.run.phase})`;
    return undefined;
  }

  private retry(req?: ControlRequest): ControlAnswer {
    this.decide({ action: 'retry', reason: req?.reason ?? 'operator asked to retry', automatic: false });
    return this.answer(`retrying: attempt ${this.run.status.attempt + 1} starts after the current one is cleaned up`);
  }

  private cancel(req?: ControlRequest): ControlAnswer {
    this.decide({ action: 'cancel', reason: req?.reason ?? 'operator cancelled', automatic: false });
    return this.answer('cancelling: rolling back; the source VM keeps running');
  }

  /** A stalled wait resumes with `by` from now; a running one gets `by` more. The wait loop resumes the step. */
  private extend(req: ExtendRequest): ControlAnswer {
    const by = extendBy(req)!;
    const deadline = this.run.deadline;
    countDecision('extend', false);
    if (this.run.phase !== 'Stalled') deadline.extend(by);
    else {
      deadline.set(Date.now() + by);
      // Before this patch the handler itself resumed the step (its phase change precedes the update's completion).
      if (!patched(EXTEND_RESUMES_IN_WAIT)) this.run.resume('deadline extended by an operator');
    }
    return this.answer(`deadline extended by ${formatDuration(by)}`, { phase: this.run.stepNow(), deadline: new Date(deadline.at!).toISOString() });
  }
}
