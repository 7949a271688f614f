/**
 * The worker's health endpoint (workers/health.ts) over real HTTP: what each worker state answers on
 * /readyz and /livez, and how FERRY_HEALTH_PORT is read. The bed suite (test/beds/deploy.test.ts)
 * checks it against a real worker polling a real Temporal server.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { healthFromEnvironment, startHealthServer, type HealthStatus } from '../../workers/health.js';

const polling: HealthStatus = { runState: 'RUNNING', workflowPollerState: 'POLLING', activityPollerState: 'POLLING' };

async function probe(url: string): Promise<number> {
  return (await fetch(url)).status;
}

describe('health endpoint', () => {
  it('answers each worker state as the probes need it', async () => {
    let status: HealthStatus = { ...polling, runState: 'INITIALIZED' };
    const h = await startHealthServer(() => status, 0, '127.0.0.1');
    try {
      const cases: [HealthStatus, ready: number, live: number][] = [
        [{ ...polling, runState: 'INITIALIZED' }, 503, 200],
        [polling, 200, 200],
        [{ ...polling, activityPollerState: 'FAILED' }, 503, 503],
        [{ ...polling, runState: 'DRAINING', workflowPollerState: 'SHUTDOWN', activityPollerState: 'SHUTDOWN' }, 503, 200],
        [{ ...polling, runState: 'STOPPED', workflowPollerState: 'SHUTDOWN', activityPollerState: 'SHUTDOWN' }, 503, 503],
        [{ ...polling, runState: 'FAILED' }, 503, 503],
      ];
      for (const [s, ready, live] of cases) {
        status = s;
        assert.deepEqual([await probe(`${h.url}/readyz`), await probe(`${h.url}/livez`)], [ready, live], JSON.stringify(s));
      }
      status = polling;
      const res = await fetch(`${h.url}/readyz`);
      assert.deepEqual(await res.json(), polling, 'the body is the status');
      assert.equal(await probe(`${h.url}/metrics`), 404);
    } finally {
      await h.close();
    }
  });

  it('is off without FERRY_HEALTH_PORT, refuses a bad one naming the variable', async () => {
    assert.equal(await healthFromEnvironment(() => polling, {}), undefined);
    await assert.rejects(
      healthFromEnvironment(() => polling, { FERRY_HEALTH_PORT: 'http' }),
      {
        message: 'FERRY_HEALTH_PORT must be a TCP port number 0-65535 (got "http"); unset it to serve no health endpoint',
      },
    );
    const h = await healthFromEnvironment(() => polling, { FERRY_HEALTH_PORT: '0', FERRY_HEALTH_HOST: '127.0.0.1' });
    assert.ok(h);
    try {
      assert.equal(await probe(`${h.url}/livez`), 200);
    } finally {
      await h.close();
    }
  });
});
