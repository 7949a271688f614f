/** Request counters and a latency sample per API server, read by the benchmark and the CLI. */
export interface MetricsSnapshot {
  requests: number;
  byUser: Record<string, number>;
  byVerb: Record<string, number>;
  injectedErrors: number;
  latencyMs: { p50: number; p99: number; max: number; samples: number };
}

const SAMPLE_CAP = 200_000;

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export class RequestMetrics {
  private requests = 0;
  private readonly byUser = new Map<string, number>();
  private readonly byVerb = new Map<string, number>();
  private samples: number[] = [];
  injectedErrors = 0;

  record(user: string, verb: string, ms: number | undefined): void {
    this.requests++;
    this.byUser.set(user, (this.byUser.get(user) ?? 0) + 1);
    this.byVerb.set(verb, (this.byVerb.get(verb) ?? 0) + 1);
    // Watches are long-lived; their duration says nothing about latency.
    if (ms !== undefined) {
      if (this.samples.length >= SAMPLE_CAP) this.samples.splice(0, SAMPLE_CAP / 2);
      this.samples.push(ms);
    }
  }

  reset(): void {
    this.requests = 0;
    this.byUser.clear();
    this.byVerb.clear();
    this.samples = [];
    this.injectedErrors = 0;
  }

  snapshot(): MetricsSnapshot {
    const sorted = [...this.samples].sort((a, b) => a - b);
    return {
      requests: this.requests,
      byUser: Object.fromEntries(this.byUser),
      byVerb: Object.fromEntries(this.byVerb),
      injectedErrors: this.injectedErrors,
      latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0, samples: sorted.length },
    };
  }
}
