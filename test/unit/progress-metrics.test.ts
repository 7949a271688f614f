/**
 * Progress from KubeVirt's virt-handler metrics: the query ferry sends, how it reads the answer, what
 * each failure of the endpoint becomes, and the worker's configuration of the endpoints. The endpoint
 * here is a local HTTP server answering as the Prometheus query API does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { progressFromSamples, progressQuery, promString, samplesOf, type VectorSample } from '../../activities/progress/metrics.js';
import { ProgressPoller } from '../../activities/progress/poller.js';
import { prometheusProgress } from '../../activities/progress/prometheus.js';
import { progressSources, progressSourcesFromEnvironment } from '../../workers/progress-config.js';
import { etaMs, outpaced, progressText } from '../../workflows/progress.js';

const sample = (name: string, value: number, at = 100, labels: Record<string, string> = {}): VectorSample => ({
  metric: { __name__: name, namespace: 'demo', name: 'web-01', node: 'node-1', ...labels },
  value: [at, String(value)],
});

describe('the progress query', () => {
  it('asks for every family of one VMI, both names of the total, with escaped values and extra labels', () => {
    const q = progressQuery('demo', 'we"b\\01', { cluster: 'source' });
    assert.equal(
      q,
      '{__name__=~"kubevirt_vmi_migration_data_bytes_total|kubevirt_vmi_migration_data_total_bytes|kubevirt_vmi_migration_data_processed_bytes|kubevirt_vmi_migration_data_remaining_bytes|kubevirt_vmi_migration_memory_transfer_rate_bytes|kubevirt_vmi_migration_dirty_memory_rate_bytes",namespace="demo",name="we\\"b\\\\01",cluster="source"}[30s]',
    );
    assert.equal(promString('a\nb'), '"a\\nb"');
  });
});

describe('reading the answer', () => {
  it('maps the families to progress; the newest sample of a family wins; the old total name still counts', () => {
    const p = progressFromSamples([
      sample('kubevirt_vmi_migration_data_total_bytes', 1000),
      sample('kubevirt_vmi_migration_data_processed_bytes', 100, 90, { node: 'old' }),
      sample('kubevirt_vmi_migration_data_processed_bytes', 400, 100),
      sample('kubevirt_vmi_migration_data_remaining_bytes', 600),
      sample('kubevirt_vmi_migration_memory_transfer_rate_bytes', 50),
    ]);
    assert.deepEqual(p, { totalBytes: 1000, processedBytes: 400, remainingBytes: 600, transferRate: 50 });
  });

  it('no total yet: no progress; a total alone: nothing sent, all remaining', () => {
    assert.equal(progressFromSamples([sample('kubevirt_vmi_migration_data_processed_bytes', 5)]), undefined);
    assert.deepEqual(progressFromSamples([sample('kubevirt_vmi_migration_data_bytes_total', 10)]), { totalBytes: 10, processedBytes: 0, remainingBytes: 10 });
  });

  it('refuses what is not an instant vector, naming what came', () => {
    assert.deepEqual(samplesOf({ status: 'error', error: 'parse error' }), { error: 'the query failed: parse error' });
    assert.deepEqual(samplesOf({ status: 'success', data: { resultType: 'vector', result: [] } }), { error: 'expected a range vector (matrix), got vector' });
    assert.deepEqual(samplesOf('x'), { error: 'the answer is not a Prometheus API response' });
  });

  it('ETA from the net rate; a guest dirtying as fast as the copy has none and says so', () => {
    const p = { totalBytes: 100, processedBytes: 40, remainingBytes: 60, transferRate: 10, dirtyRate: 4 };
    assert.equal(etaMs(p), 10_000);
    assert.equal(outpaced(p), false);
    assert.equal(progressText(p), '40 B of 100 B sent (40%), 60 B to go; transfer 10 B/s, dirty 4 B/s; about 10s left');
    const stuck = { ...p, dirtyRate: 12 };
    assert.equal(etaMs(stuck), undefined);
    assert.match(progressText(stuck), /not converging/);
    assert.equal(etaMs({ totalBytes: 1, processedBytes: 1, remainingBytes: 0 }), 0);
  });
});

describe('the query endpoint', () => {
  let url = '';
  let answer: (req: IncomingMessage) => { status: number; body: string } = () => ({ status: 200, body: '{}' });
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    const a = answer(req);
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body);
  });
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  /** A range answer: each series with an older point before the one given. */
  const vector = (samples: VectorSample[]) =>
    JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: samples.map((x) => ({ metric: x.metric, values: [[x.value[0] - 1, '0'], x.value] })) } });

  it('sends the query under the base path with the bearer token, and reads the progress', async () => {
    answer = () => ({ status: 200, body: vector([sample('kubevirt_vmi_migration_data_bytes_total', 8), sample('kubevirt_vmi_migration_data_processed_bytes', 2)]) });
    const source = prometheusProgress({ cluster: 'source', url, token: () => 's3cret', labels: { cluster: 'source' } });
    assert.deepEqual(await source.read('demo', 'web-01'), { progress: { totalBytes: 8, processedBytes: 2, remainingBytes: 6 } });
    const req = seen.at(-1)!;
    const sent = new URL(req.url!, 'http://x');
    assert.equal(sent.pathname, '/prefix/api/v1/query');
    assert.equal(sent.searchParams.get('query'), progressQuery('demo', 'web-01', { cluster: 'source' }));
    assert.equal(req.headers.authorization, 'Bearer s3cret');
  });

  it('401, 403, not JSON, a failed query and an unreachable endpoint become reasons, never the token', async () => {
    const source = prometheusProgress({ cluster: 'source', url, token: () => 's3cret' });
    const reasons: string[] = [];
    for (const a of [
      { status: 401, body: 'Unauthorized' },
      { status: 403, body: 'Forbidden' },
      { status: 200, body: '<html>' },
      { status: 400, body: JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'invalid parameter "query"' }) },
    ]) {
      answer = () => a;
      reasons.push((await source.read('demo', 'web-01')).unavailable ?? '');
    }
    assert.match(reasons[0]!, /cluster "source" \(127\.0\.0\.1:\d+\) refused ferry's credentials \(401\): give it a valid tokenFile/);
    assert.match(reasons[1]!, /denied the query \(403\): .*cluster-monitoring-view/);
    assert.match(reasons[2]!, /something other than JSON: is \/prefix\/ the query API's base path\?/);
    assert.match(reasons[3]!, /the query failed: invalid parameter "query" \(HTTP 400\)/);
    const gone = await prometheusProgress({ cluster: 'destination', url: 'http://127.0.0.1:1' }).read('demo', 'web-01');
    assert.match(gone.unavailable!, /cluster "destination" \(127\.0\.0\.1:1\) is unreachable: ECONNREFUSED/);
    for (const r of [...reasons, gone.unavailable!]) assert.doesNotMatch(r, /s3cret/);
  });

  it("samplesOf keeps each series' last point, so the newest series of a family wins", () => {
    const read = samplesOf({
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [
          {
            metric: { __name__: 'kubevirt_vmi_migration_data_bytes_total', pod: 'old' },
            values: [
              [10, '100'],
              [20, '100'],
            ],
          },
          {
            metric: { __name__: 'kubevirt_vmi_migration_data_bytes_total', pod: 'new' },
            values: [
              [25, '200'],
              [30, '200'],
            ],
          },
        ],
      },
    });
    assert.ok('samples' in read);
    assert.equal(progressFromSamples(read.samples)?.totalBytes, 200);
  });

  it('a blip does not wipe progress: the last one stands 30 s, unavailable only after three failures in a row', () => {
    const poller = new ProgressPoller(undefined, { cluster: 'source', namespace: 'demo', vmi: 'web-01' }, 1000, () => {});
    const good = { progress: { totalBytes: 10, processedBytes: 5, remainingBytes: 5 } };
    const down = { unavailable: 'the metrics endpoint of cluster "source" is unreachable' };
    assert.deepEqual(poller.judge(good, 0), good);
    assert.deepEqual(poller.judge(down, 1000), good);
    assert.deepEqual(poller.judge({}, 2000), good, 'an empty answer within 30 s of progress is a blip');
    assert.deepEqual(poller.judge(down, 3000), good);
    assert.deepEqual(poller.judge(down, 4000), down, 'the third failure in a row');
    assert.deepEqual(poller.judge(good, 5000), good);
    assert.deepEqual(poller.judge({}, 40_000), {}, 'nothing published for 35 s: the transfer is over');
  });

  it('the poller reads in the background and wakes its wait; without a source it says there is none', async () => {
    answer = () => ({ status: 200, body: vector([sample('kubevirt_vmi_migration_data_bytes_total', 4)]) });
    let woke!: () => void;
    const first = new Promise<void>((r) => (woke = r));
    const poller = new ProgressPoller(prometheusProgress({ cluster: 'source', url }), { cluster: 'source', namespace: 'demo', vmi: 'web-01' }, 50, () => woke()).start();
    await first;
    poller.stop();
    assert.deepEqual(poller.latest, { progress: { totalBytes: 4, processedBytes: 0, remainingBytes: 4 } });
    const none = new ProgressPoller(undefined, { cluster: 'source', namespace: 'demo', vmi: 'web-01' }, 50, () => {}).start();
    assert.match(none.latest.unavailable!, /no metrics endpoint is configured for cluster "source".*clusters\.source.*FERRY_PROGRESS_CONFIG/);
  });
});

describe('FERRY_PROGRESS_CONFIG', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-progress-'));
  const token = join(dir, 'token');
  writeFileSync(token, 'abc\n');

  it('a good file: one source per cluster named, described without the token', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, `clusters:\n  source:\n    url: https://thanos.example:9091\n    tokenFile: ${token}\n    labels: { cluster: source }\n`);
    const sources = progressSourcesFromEnvironment(['source', 'destination'], { FERRY_PROGRESS_CONFIG: file })!;
    assert.ok(sources.forCluster('source'));
    assert.equal(sources.forCluster('destination'), undefined);
    assert.equal(sources.describe(), 'source → thanos.example:9091 (bearer token)');
    assert.equal(progressSourcesFromEnvironment(['source'], {}), undefined);
  });

  it('bad input names the field and the fix', () => {
    const bad = (raw: unknown) =>
      assert.throws(
        () => progressSources(raw, ['source']),
        (e: Error) => (reasons.push(e.message), true),
      );
    const reasons: string[] = [];
    bad({ clusters: { source: { url: 'ftp://x' } } });
    bad({ clusters: { source: { url: 'https://x', tokenFile: join(dir, 'missing') } } });
    bad({ clusters: { elsewhere: { url: 'https://x' } } });
    bad({ clusters: { source: { url: 'https://x', labels: { '1bad': 'x' } } } });
    bad({ clusters: { source: { url: 'https://x', insecure: true } } });
    bad({ clusters: { source: { url: 'http://x:9090', tokenFile: token } } });
    assert.match(reasons[0]!, /clusters\.source\.url: an http\(s\) URL of the query API/);
    assert.match(reasons[1]!, /clusters\.source\.tokenFile is .*missing, which cannot be read \(ENOENT\): mount it there or change clusters\.source\.tokenFile/);
    assert.match(reasons[2]!, /clusters\.elsewhere is not a cluster this worker knows \("source"\): use a kubeconfig context name/);
    assert.match(reasons[3]!, /clusters\.source\.labels\.1bad: .*a Prometheus label name/);
    assert.match(reasons[4]!, /clusters\.source: Unrecognized key: "insecure"/);
    assert.match(reasons[5]!, /clusters\.source\.url: a bearer token \(tokenFile\) goes only over https/);
    assert.throws(
      () => progressSourcesFromEnvironment(['source'], { FERRY_PROGRESS_CONFIG: join(dir, 'nope.yaml') }),
      /FERRY_PROGRESS_CONFIG: the file is .*nope\.yaml, which cannot be read/,
    );
  });
});
