/** Request counters and a latency sample per API server, read by the benchmark and the CLI. */
export interface MetricsSnapshot {
  requests: number;
  byUser: Record<string, number>;
  byVerb: Record<string, number>;
  /** Requests per user and verb: one client's mix (the benchmark's "ferry's requests by verb"). */
  byUserVerb: Record<string, Record<string, number>>;
  /** Requests per user by "verb resource" (e.g. "get virtualmachineinstances"). */
  byUserRequest: Record<string, Record<string, number>>;
  injectedErrors: number;
  /** Watch streams open now and at most at once since the last reset, per user. */
  openWatches: Record<string, number>;
  peakOpenWatches: Record<string, number>;
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
  private readonly byUserVerb = new Map<string, Map<string, number>>();
  private readonly byUserRequest = new Map<string, Map<string, number>>();
  private samples: number[] = [];
  private readonly openWatches = new Map<string, number>();
  private readonly peakOpenWatches = new Map<string, number>();
  injectedErrors = 0;

  watchOpened(user: string): void {
    const open = (this.openWatches.get(user) ?? 0) + 1;
    this.openWatches.set(user, open);
    this.peakOpenWatches.set(user, Math.max(open, this.peakOpenWatches.get(user) ?? 0));
  }

  watchClosed(user: string): void {
    this.openWatches.set(user, Math.max(0, (this.openWatches.get(user) ?? 0) - 1));
  }

  record(user: string, verb: string, ms: number | undefined, resource = ''): void {
    this.requests++;
    this.byUser.set(user, (this.byUser.get(user) ?? 0) + 1);
    this.byVerb.set(verb, (this.byVerb.get(verb) ?? 0) + 1);
    let verbs = this.byUserVerb.get(user);
    if (!verbs) this.byUserVerb.set(user, (verbs = new Map()));
    verbs.set(verb, (verbs.get(verb) ?? 0) + 1);
    let requests = this.byUserRequest.get(user);
    if (!requests) this.byUserRequest.set(user, (requests = new Map()));
    const key = resource ? `${verb} ${resource}` : verb;
    requests.set(key, (requests.get(key) ?? 0) + 1);
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
    this.byUserVerb.clear();
    this.byUserRequest.clear();
    this.samples = [];
    this.injectedErrors = 0;
    // Watches still open stay counted; the peak restarts from them.
    this.peakOpenWatches.clear();
    for (const [user, open] of this.openWatches) this.peakOpenWatches.set(user, open);
  }

  snapshot(): MetricsSnapshot {
    const sorted = [...this.samples].sort((a, b) => a - b);
    return {
      requests: this.requests,
      byUser: Object.fromEntries(this.byUser),
      byVerb: Object.fromEntries(this.byVerb),
      byUserVerb: Object.fromEntries([...this.byUserVerb].map(([user, verbs]) => [user, Object.fromEntries(verbs)])),
      byUserRequest: Object.fromEntries([...this.byUserRequest].map(([user, requests]) => [user, Object.fromEntries(requests)])),
      injectedErrors: this.injectedErrors,
      openWatches: Object.fromEntries(this.openWatches),
      peakOpenWatches: Object.fromEntries(this.peakOpenWatches),
      latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? 0, samples: sorted.length },
    };
  }
}
