/**
 * Heartbeats for activities that do not send their own. A quick step (preflight, a create, finalize)
 * has a heartbeat timeout so that a worker that dies in the middle of one is noticed within that
 * timeout and the step is retried elsewhere, instead of after its start-to-close timeout (minutes);
 * those steps do not heartbeat, so this does it for them while they run. An activity that heartbeats
 * itself (a wait, with what it observed) keeps its details: this only repeats the last one it sent,
 * and only when it has been quiet for a third of the timeout.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

type Heartbeat = (details?: unknown) => void;

export const keepAlive: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const timeoutMs = ctx.info.heartbeatTimeoutMs;
      if (!timeoutMs) return next(input);
      // The SDK's Context sends heartbeats through this field: wrapping it is how the last details are known.
      const context = ctx as unknown as { heartbeatFn: Heartbeat };
      const send = context.heartbeatFn;
      let last: unknown;
      let lastAt = Date.now();
      context.heartbeatFn = (details?: unknown) => {
        last = details;
        lastAt = Date.now();
        send(details);
      };
      const everyMs = Math.max(1_000, Math.floor(timeoutMs / 3));
      const timer = setInterval(() => {
        if (Date.now() - lastAt >= everyMs) {
          lastAt = Date.now();
          send(last);
        }
      }, everyMs);
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
      }
    },
  },
});
