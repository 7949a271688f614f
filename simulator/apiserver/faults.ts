/**
 * Fault injection for one cluster's API: error rates by verb and resource, added latency, dropped
 * watch streams. Faults hit ferry's traffic, not the simulated KubeVirt controllers' (their users are
 * marked `system`), because they model a flaky path between ferry and a cluster, not a broken cluster.
 */
import { z } from 'zod';

export const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] as const;
export type Verb = (typeof VERBS)[number];

const errorRule = z.object({
  /** Verbs this rule applies to; all when omitted. */
  verbs: z.array(z.enum(VERBS)).optional(),
  /** Resource plurals (e.g. `virtualmachines`); all when omitted. */
  resources: z.array(z.string()).optional(),
  /** Probability in [0,1] that a matching request fails. */
  rate: z.number().min(0).max(1),
  /** 403 models permissions revoked mid-migration (not retryable), the others a struggling API server. */
  code: z.union([z.literal(500), z.literal(503), z.literal(429), z.literal(403)]).default(500),
  /** Sent as `Retry-After` and `details.retryAfterSeconds` with 429. */
  retryAfterSeconds: z.number().int().min(0).default(1),
});

export const faultsSchema = z.object({
  errors: z.array(errorRule).default([]),
  /** Added to every matching request before it is served. */
  latencyMs: z.object({ min: z.number().min(0), max: z.number().min(0) }).default({ min: 0, max: 0 }),
  /** Probability per second that each open watch stream is cut. */
  watchDropRatePerSecond: z.number().min(0).max(1).default(0),
  /** Seed for the fault dice, so a failing run can be replayed. */
  seed: z.number().int().default(1),
});

export type FaultConfig = z.infer<typeof faultsSchema>;
export type FaultInput = z.input<typeof faultsSchema>;

/** mulberry32: small, fast, seedable. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface InjectedError {
  code: number;
  retryAfterSeconds?: number;
}

export class Faults {
  private cfg: FaultConfig = faultsSchema.parse({});
  private rand = prng(1);
  /** Counts of injected faults, for tests and the CLI to confirm faults fired. */
  readonly injected = { errors: 0, droppedWatches: 0 };

  get config(): FaultConfig {
    return this.cfg;
  }

  set(input: FaultInput): FaultConfig {
    this.cfg = faultsSchema.parse(input);
    this.rand = prng(this.cfg.seed);
    return this.cfg;
  }

  clear(): void {
    this.set({});
  }

  latency(): number {
    const { min, max } = this.cfg.latencyMs;
    return max <= min ? min : min + this.rand() * (max - min);
  }

  errorFor(verb: Verb, resource: string): InjectedError | undefined {
    for (const r of this.cfg.errors) {
      if (r.verbs && !r.verbs.includes(verb)) continue;
      if (r.resources && !r.resources.includes(resource)) continue;
      if (this.rand() < r.rate) {
        this.injected.errors++;
        return r.code === 429 ? { code: 429, retryAfterSeconds: r.retryAfterSeconds } : { code: r.code };
      }
    }
    return undefined;
  }

  /** Called once a second per open watch. */
  shouldDropWatch(): boolean {
    const drop = this.cfg.watchDropRatePerSecond > 0 && this.rand() < this.cfg.watchDropRatePerSecond;
    if (drop) this.injected.droppedWatches++;
    return drop;
  }
}
