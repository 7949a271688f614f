/**
 * A deadline that signal and update handlers may move while the workflow waits on it: the Temporal
 * samples' updatable timer, with a condition as the thing waited for. Moving it wakes the wait, which
 * re-arms a timer for the new time; a deadline that is not armed waits without a timer at all.
 */
import { condition } from '@temporalio/workflow';

export type Woke = 'ready' | 'due' | 'moved';

export class Deadline {
  #at: number | undefined;
  /** Armed: passing it ends the wait. Unarmed, `at` is only shown (the decision window of `wait`). */
  #armed = false;
  #moved = false;

  constructor(private readonly onChange: (at: number | undefined) => void) {}

  get at(): number | undefined {
    return this.#at;
  }

  /** Start (or restart) the clock: due at `at`; shown but never due when not `armed`. */
  set(at: number | undefined, armed = at !== undefined): void {
    this.#at = at;
    this.#armed = armed && at !== undefined;
    this.#moved = true;
    this.onChange(at);
  }

  /** `by` later than now or than the current deadline, whichever is later. */
  extend(by: number): number {
    const at = Math.max(Date.now(), this.#at ?? Date.now()) + by;
    this.set(at);
    return at;
  }

  clear(): void {
    this.set(undefined);
  }

  /**
   * Wait until `ready()` holds ('ready'), the deadline passes ('due') or a handler moves it
   * ('moved', so the caller can act on the new state before waiting again).
   */
  async wait(ready: () => boolean): Promise<Woke> {
    this.#moved = false;
    const woken = () => ready() || this.#moved;
    if (this.#at === undefined || !this.#armed) {
      await condition(woken);
    } else {
      // condition(fn, 0) would mean "no timeout": a deadline already due gets the shortest timer.
      const beforeDue = await condition(woken, Math.max(1, this.#at - Date.now()));
      // The timer can fire in the same activation as the result, a handler's move or a decision: those
      // win, as an operator who extended just in time expects.
      if (!beforeDue && !ready() && !this.#moved) return 'due';
    }
    return ready() ? 'ready' : 'moved';
  }
}
