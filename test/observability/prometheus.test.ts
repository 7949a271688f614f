/**
 * The real Prometheus of the beds: it scrapes an HTTPS endpoint with a CA and a bearer token (as it
 * will scrape the simulator's virt-handler endpoints), a changed gauge is visible through the
 * production-like query endpoint (HTTPS, own CA, bearer token), the endpoint refuses what
 * kube-rbac-proxy refuses, rule files are evaluated, and promtool tells a good rule file from a
 * broken one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { LOOPBACK } from '../../tools/processes.js';
import { ensurePrometheusBinaries, PROMETHEUS_VERSION, type PrometheusBinaries } from '../../tools/prometheus/build.js';
import { checkRules } from '../../tools/prometheus/promtool.js';
import { startPrometheus, type RunningPrometheus } from '../../tools/prometheus/server.js';
import { generateQueryTls } from '../../tools/prometheus/tls.js';

const SCRAPE_TOKEN = 'scrape-token-of-the-test-target';

/** An HTTPS metrics endpoint serving one gauge whose value the test sets; it requires SCRAPE_TOKEN. */
class GaugeTarget {
  value = 1;
  authorizedScrapes = 0;
  refusedScrapes = 0;
  url = '';
  private readonly server: Server;

  private constructor(
    tls: { certFile: string; keyFile: string },
    readonly caFile: string,
  ) {
    this.server = createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (req, res) => {
      if (req.headers.authorization !== `Bearer ${SCRAPE_TOKEN}`) {
        this.refusedScrapes++;
        res.writeHead(401).end();
        return;
      }
      this.authorizedScrapes++;
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(
        `# HELP ferry_test_remaining_bytes Bytes left to move.\n# TYPE ferry_test_remaining_bytes gauge\nferry_test_remaining_bytes{namespace="demo",name="web-01"} ${this.value}\n`,
      );
    });
  }

  static async start(dir: string): Promise<GaugeTarget> {
    const tls = await generateQueryTls(dir);
    const target = new GaugeTarget(tls, tls.caFile);
    await new Promise<void>((done) => target.server.listen(0, LOOPBACK, done));
    target.url = `https://${LOOPBACK}:${(target.server.address() as AddressInfo).port}/metrics`;
    return target;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((done) => this.server.close(() => done()));
  }
}

interface Reply {
  status: number;
  body: string;
}

/** GET over HTTPS trusting only `ca` (no ambient trust store), optionally with a bearer token. */
function httpsGet(url: string, opts: { ca?: string; token?: string }): Promise<Reply> {
  return new Promise((resolveReply, reject) => {
    const req = request(url, { ca: opts.ca, headers: opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveReply({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe(`a real Prometheus (${PROMETHEUS_VERSION}) for the beds`, () => {
  let dir: string;
  let binaries: PrometheusBinaries;
  let target: GaugeTarget;
  let prom: RunningPrometheus;
  let ca: string;

  const query = async (promql: string): Promise<Sample[]> => {
    const r = await httpsGet(`${prom.queryUrl}/api/v1/query?query=${encodeURIComponent(promql)}`, { ca, token: prom.token });
    assert.equal(r.status, 200, r.body);
    const parsed = JSON.parse(r.body) as { status: string; data: { resultType: string; result: Sample[] } };
    assert.equal(parsed.status, 'success');
    assert.equal(parsed.data.resultType, 'vector');
    return parsed.data.result;
  };

  /** Poll the query API until `promql` yields `want` (scrapes are 1 s apart), or fail naming the last value. */
  const waitForValue = async (promql: string, want: string, timeoutMs = 20_000): Promise<Sample> => {
    const deadline = Date.now() + timeoutMs;
    let last: Sample[] = [];
    while (Date.now() < deadline) {
      last = await query(promql);
      if (last.length === 1 && last[0]!.value[1] === want) return last[0]!;
      await delay(200);
    }
    assert.fail(`${promql} did not become ${want} within ${timeoutMs} ms; last result: ${JSON.stringify(last)}`);
  };

  before(async () => {
    binaries = await ensurePrometheusBinaries({ log: (line) => console.error(line) });
    dir = mkdtempSync(join(tmpdir(), 'ferry-prometheus-test-'));
    writeFileSync(
      join(dir, 'recording.yml'),
      'groups:\n  - name: ferry-test\n    rules:\n      - record: ferry_test:remaining_kib\n        expr: ferry_test_remaining_bytes / 1024\n',
    );
    target = await GaugeTarget.start(join(dir, 'target-tls'));
    prom = await startPrometheus({
      binaries,
      targets: [{ job: 'kubevirt-handler', url: target.url, caFile: target.caFile, bearerToken: SCRAPE_TOKEN, labels: { cluster: 'source' } }],
      ruleFiles: [join(dir, 'recording.yml')],
      dir: join(dir, 'prometheus'),
      keep: false,
    });
    ca = readFileSync(prom.caFile, 'utf8');
  });

  after(async () => {
    await prom?.stop();
    await target?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('resolves only after the first scrape: the first query through the HTTPS endpoint has the sample, with its target labels', async () => {
    assert.ok(target.authorizedScrapes >= 1, 'the target was scraped with its bearer token');
    assert.equal(target.refusedScrapes, 0, 'Prometheus always sent the scrape token');
    const [sample, ...more] = await query('ferry_test_remaining_bytes');
    assert.equal(more.length, 0);
    assert.equal(sample!.value[1], '1');
    assert.deepEqual(
      { job: sample!.metric.job, cluster: sample!.metric.cluster, namespace: sample!.metric.namespace, name: sample!.metric.name, instance: sample!.metric.instance },
      { job: 'kubevirt-handler', cluster: 'source', namespace: 'demo', name: 'web-01', instance: new URL(target.url).host },
    );
  });

  it('a changed gauge is the query result within a few scrapes, and the recording rule follows', async () => {
    target.value = 4096;
    await waitForValue('ferry_test_remaining_bytes{cluster="source"}', '4096');
    await waitForValue('ferry_test:remaining_kib', '4');
    target.value = 0;
    await waitForValue('ferry_test_remaining_bytes', '0');
  });

  it('the query endpoint is HTTPS with its own CA: 401 without a token, 403 with a wrong one, only /api/v1/*', async () => {
    const url = `${prom.queryUrl}/api/v1/query?query=up`;
    assert.ok(prom.queryUrl.startsWith('https://'));
    const none = await httpsGet(url, { ca });
    assert.equal(none.status, 401);
    assert.match(none.body, /Bearer/);
    assert.equal((await httpsGet(url, { ca, token: 'not-the-token' })).status, 403);
    assert.equal((await httpsGet(`${prom.queryUrl}/-/quit`, { ca, token: prom.token })).status, 404);
    // Its certificate is signed by prom.caFile only: without that CA the TLS handshake fails.
    await assert.rejects(httpsGet(url, { ca: readFileSync(target.caFile, 'utf8'), token: prom.token }), /certificate/i);
    const targets = await httpsGet(`${prom.queryUrl}/api/v1/targets`, { ca, token: prom.token });
    assert.equal(targets.status, 200);
    assert.ok(!targets.body.includes(SCRAPE_TOKEN), 'the scrape token is not in the targets API');
    assert.ok(!readFileSync(prom.logFile, 'utf8').includes(prom.token), 'the query token is not in the log');
  });

  it('fails to start with the target and its scrape error named when a target is down', async () => {
    const closed = await GaugeTarget.start(join(dir, 'closed-tls'));
    const url = closed.url;
    await closed.close();
    await assert.rejects(
      startPrometheus({ binaries, targets: [{ job: 'kubevirt-handler', url, insecureSkipVerify: true }], readyTimeoutMs: 4_000 }),
      (e: Error) => e.message.includes(url) && /connection refused/.test(e.message),
    );
  });

  it('promtool check rules accepts a valid rule file and rejects a broken one, naming the problem', async () => {
    const good = join(dir, 'good.yml');
    const broken = join(dir, 'broken.yml');
    writeFileSync(
      good,
      'groups:\n  - name: ferry\n    rules:\n      - alert: FerryMigrationStalled\n        expr: delta(ferry_test_remaining_bytes[5m]) == 0 and ferry_test_remaining_bytes > 0\n        for: 10m\n        labels: { severity: warning }\n        annotations: { summary: "{{ $labels.namespace }}/{{ $labels.name }} has not moved for 10 minutes" }\n',
    );
    writeFileSync(broken, 'groups:\n  - name: ferry\n    rules:\n      - alert: FerryMigrationStalled\n        expr: delta(ferry_test_remaining_bytes[5m] == 0\n');
    const ok = await checkRules([good], binaries);
    assert.equal(ok.ok, true, ok.output);
    assert.match(ok.output, /SUCCESS: 1 rules found/);
    const bad = await checkRules([broken], binaries);
    assert.equal(bad.ok, false, bad.output);
    assert.match(bad.output, /broken\.yml/);
    assert.match(bad.output, /parse error/);
  });
});
