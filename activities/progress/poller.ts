/**
 * Progress read in the background while a wait activity watches the migration's objects: one query at a
 * time, at most one per interval, each new reading waking the wait loop. Queries never block the watches,
 * and a slow or dead endpoint only delays progress, never the migration.
 */
import type { ProgressReading, ProgressSource } from './prometheus.js';

export function noEndpoint(cluster: string): string {
  return `no metrics endpoint is configured for cluster "${cluster}", so only phases are shown (add clusters.${cluster} to the worker's FERRY_PROGRESS_CONFIG)`;
}

/** How long the last progress stands when readings fail or come back empty. */
const HOLD_MS = 30_000;
/** Failed readings since the last progress before progress is called unavailable. */
const FAILURES_TO_GIVE_UP = 3;

export class ProgressPoller {
  latest: ProgressReading;
  private lastGood: { reading: ProgressReading; at: number } | undefined;
  private failures = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private wakeSleep: () => void = () => {};

  constructor(
    private readonly source: ProgressSource | undefined,
    private readonly target: { cluster: string; namespace: string; vmi: string },
    private readonly intervalMs: number,
    private readonly onReading: () => void,
  ) {
    this.latest = source ? {} : { unavailable: noEndpoint(target.cluster) };
  }

  start(): this {
    if (this.source) void this.loop(this.source);
    return this;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.wakeSleep();
  }

  /**
   * What a reading means given the ones before: one timeout or empty answer between good readings is a
   * blip, not a change worth two signals and a diagnosis that says "unknown" — the last progress
   * stands for HOLD_MS, and unavailable needs FAILURES_TO_GIVE_UP failures since the last progress (an
   * empty answer between them is not a failure, nor a success).
   */
  judge(reading: ProgressReading, now: number): ProgressReading {
    if (reading.progress) {
      this.lastGood = { reading, at: now };
      this.failures = 0;
      return reading;
    }
    if (reading.unavailable) this.failures++;
    const held = this.lastGood && now - this.lastGood.at <= HOLD_MS ? this.lastGood.reading : undefined;
    if (reading.unavailable && this.failures < FAILURES_TO_GIVE_UP) return held ?? this.latest;
    return held && !reading.unavailable ? held : reading;
  }

  private async loop(source: ProgressSource): Promise<void> {
    while (!this.stopped) {
      const reading = await source.read(this.target.namespace, this.target.vmi).catch((e: unknown) => ({ unavailable: `reading progress failed: ${String(e)}` }));
      if (this.stopped) return;
      this.latest = this.judge(reading, Date.now());
      this.onReading();
      await new Promise<void>((resolve) => {
        this.wakeSleep = resolve;
        this.timer = setTimeout(resolve, this.intervalMs);
      });
    }
  }
}
