/**
 * The virt-handler metrics endpoint itself: the text format it writes (parsed back strictly), HTTPS
 * with the cluster's KubeVirt CA, what it answers besides GET /metrics, and where both beds' command
 * publishes it. What it reports during migrations is in migration.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { describe, it } from 'node:test';
import { publishEndpoint } from '../metrics/endpoints.js';
import { EXPOSITION_CONTENT_TYPE, renderExposition } from '../metrics/exposition.js';
import { MigrationJobs } from '../metrics/migration-jobs.js';
import { VirtHandlerMetricsServer } from '../metrics/server.js';
import { migrationFamilies } from '../metrics/virt-handler.js';
import { createCA } from '../pki.js';
import { parseExposition, scrapeMetrics } from '../testing/metrics.js';

const job = {
  namespace: 'demo',
  name: 'db-01',
  node: 'source-node-1',
  migrationUid: 'u1',
  dataTotalBytes: 100,
  dataProcessedBytes: 40.4,
  dataRemainingBytes: 60,
  memDirtyRateBytes: 5,
  memoryTransferRateBytes: 10,
  sampledAt: 1_700_000_000_123,
};

function request(url: string, opts: { method?: string; ca?: string; path?: string }) {
  return new Promise<{ status: number; type: string | undefined; body: string }>((resolve, reject) => {
    const u = new URL(opts.path ?? '', url);
    const req = httpsRequest(u, { method: opts.method ?? 'GET', agent: false, ...(opts.ca ? { ca: opts.ca } : {}) }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('virt-handler metrics endpoint', () => {
  it('writes KubeVirt-named families in format 0.0.4 that parse back, and nothing for families without samples', () => {
    const jobs = new MigrationJobs();
    assert.equal(renderExposition(migrationFamilies(jobs.list())), '');
    jobs.update(job);
    jobs.update({ ...job, name: 'we"ird\\name', node: 'n\n2' });
    const text = renderExposition(migrationFamilies(jobs.list()));
    assert.match(
      text,
      /^# HELP kubevirt_vmi_migration_data_bytes_total The total Guest OS data to be migrated to the new VM\.\n# TYPE kubevirt_vmi_migration_data_bytes_total counter\n/,
    );
    const families = parseExposition(text);
    assert.deepEqual([...families.keys()].sort(), [
      'kubevirt_vmi_migration_data_bytes_total',
      'kubevirt_vmi_migration_data_processed_bytes',
      'kubevirt_vmi_migration_data_remaining_bytes',
      'kubevirt_vmi_migration_dirty_memory_rate_bytes',
      'kubevirt_vmi_migration_memory_transfer_rate_bytes',
    ]);
    const processed = families.get('kubevirt_vmi_migration_data_processed_bytes')!;
    assert.equal(processed.type, 'gauge');
    assert.deepEqual(processed.samples, [
      { labels: { namespace: 'demo', name: 'db-01', node: 'source-node-1' }, value: 40, timestampMs: 1_700_000_000_123 },
      { labels: { namespace: 'demo', name: 'we"ird\\name', node: 'n\n2' }, value: 40, timestampMs: 1_700_000_000_123 },
    ]);
    assert.equal(families.get('kubevirt_vmi_migration_dirty_memory_rate_bytes')!.samples[0]!.value, 5);
    // A job ends only for its own migration: a late end of an earlier attempt leaves a newer one.
    jobs.end('demo', 'db-01', 'older');
    assert.equal(jobs.list().length, 2);
    jobs.end('demo', 'db-01', 'u1');
    assert.deepEqual(
      jobs.list().map((j) => j.name),
      ['we"ird\\name'],
    );
  });

  it('rejects what is not the text format', () => {
    assert.throws(() => parseExposition('metric{a="1" 2\n'), /line 1: not a sample line/);
    assert.throws(() => parseExposition('metric{a=1} 2\n'), /line 1: bad label set/);
    assert.throws(() => parseExposition('metric 2 3\n# TYPE metric gauge\n'), /line 2: TYPE for metric must come once, before its samples/);
    assert.throws(() => parseExposition('metric abc\n'), /sample value "abc" is not a number/);
  });

  it('serves GET /metrics over HTTPS trusted through the published CA file only, with the right Content-Type', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-vh-metrics-'));
    const [ca, otherCA] = await Promise.all([createCA('source-kubevirt-ca'), createCA('destination-kubevirt-ca')]);
    const jobs = new MigrationJobs();
    const server = await VirtHandlerMetricsServer.start({ kubevirtCA: ca, jobs });
    try {
      const endpoint = publishEndpoint(dir, 'source', server.url, server.caPem);
      assert.match(endpoint.url, /^https:\/\/127\.0\.0\.1:\d+\/metrics$/);
      assert.equal(endpoint.caFile, join(dir, 'source-virt-handler-ca.pem'));
      assert.equal(readFileSync(endpoint.caFile, 'utf8'), ca.certPem);
      jobs.update(job);
      const scrape = await scrapeMetrics(endpoint);
      assert.equal(scrape.status, 200);
      assert.equal(scrape.headers['content-type'], EXPOSITION_CONTENT_TYPE);
      assert.equal(scrape.families.get('kubevirt_vmi_migration_data_bytes_total')?.samples[0]?.value, 100);
      assert.equal((await request(server.url, { ca: ca.certPem, method: 'HEAD' })).status, 200);
      // Another cluster's CA (or none) does not verify it.
      await assert.rejects(request(server.url, { ca: otherCA.certPem }), /self[- ]signed|unable to verify|certificate/i);
      await assert.rejects(request(server.url, {}), /self[- ]signed|unable to verify|certificate/i);
      const other = await request(server.url, { ca: ca.certPem, path: '/healthz' });
      assert.equal(other.status, 404);
      assert.match(other.body, /serves \/metrics/);
      const post = await request(server.url, { ca: ca.certPem, method: 'POST' });
      assert.equal(post.status, 405);
      assert.match(post.body, /use GET/);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
