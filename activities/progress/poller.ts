/**
 * Progress read in the background while a wait activity watches the migration's objects: one query at a
 * time, at most one per interval, each new reading waking the wait loop. Queries never block the watches,
 * and a slow or dead endpoint only delays progress, never the migration.
 */
import type { ProgressReading, ProgressSource } from './prometheus.js';

export function noEndpoint(cluster: string): string {
  return `no metrics endpoint is configured for cluster "${cluster}", so only phases are shown (add clusters.${cluster} to the worker's FERRY_PROGRESS_CONFIG)`;
}

export class ProgressPoller {
  latest: ProgressReading;
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

  private async loop(source: ProgressSource): Promise<void> {
    while (!this.stopped) {
      const reading = await source.read(this.target.namespace, this.target.vmi).catch((e: unknown) => ({ unavailable: `reading progress failed: ${String(e)}` }));
      if (this.stopped) return;
      this.latest = reading;
      this.onReading();
      await new Promise<void>((resolve) => {
        this.wakeSleep = resolve;
        this.timer = setTimeout(resolve, this.intervalMs);
      });
    }
  }
}
