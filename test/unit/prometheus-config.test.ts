/**
 * The beds' prometheus.yml (tools/prometheus/config.ts) and the query endpoint's token check
 * (tools/prometheus/auth-proxy.ts), without a Prometheus: what goes into the config, and which
 * mistakes are refused with the field named.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { checkBearer } from '../../tools/prometheus/auth-proxy.js';
import { prometheusConfigYaml, type ScrapeTarget } from '../../tools/prometheus/config.js';

interface ScrapeConfig {
  job_name: string;
  scheme: string;
  metrics_path: string;
  params?: Record<string, string[]>;
  tls_config?: Record<string, unknown>;
  authorization?: { type: string; credentials_file: string };
  static_configs: { targets: string[]; labels: Record<string, string> }[];
}

const render = (targets: ScrapeTarget[], extra: { ruleFiles?: string[] } = {}) =>
  prometheusConfigYaml({ targets, scrapeInterval: '1s', evaluationInterval: '2s', ruleFiles: extra.ruleFiles ?? [], tokenFile: (i) => `/d/target-${i + 1}.token` });

describe("the beds' prometheus.yml", () => {
  it('one scrape pool per target; a shared job keeps its name as the job label; the token is a file reference', () => {
    const yaml = render(
      [
        { job: 'kubevirt-handler', url: 'https://127.0.0.1:9443/metrics', caFile: '/ca/source.pem', bearerToken: 'secret-a', labels: { cluster: 'source' } },
        { job: 'kubevirt-handler', url: 'https://127.0.0.1:9444/metrics?node=n1', insecureSkipVerify: true, labels: { cluster: 'destination' } },
      ],
      { ruleFiles: ['/rules/ferry.yml'] },
    );
    assert.ok(!yaml.includes('secret-a'), 'no token in the config');
    const config = parse(yaml) as { global: Record<string, string>; rule_files: string[]; scrape_configs: ScrapeConfig[] };
    assert.deepEqual(config.global, { scrape_interval: '1s', evaluation_interval: '2s' });
    assert.deepEqual(config.rule_files, ['/rules/ferry.yml']);
    const [a, b] = config.scrape_configs;
    assert.deepEqual(
      [a!.job_name, a!.scheme, a!.metrics_path, a!.tls_config, a!.authorization, a!.static_configs],
      [
        'kubevirt-handler-1',
        'https',
        '/metrics',
        { ca_file: '/ca/source.pem' },
        { type: 'Bearer', credentials_file: '/d/target-1.token' },
        [{ targets: ['127.0.0.1:9443'], labels: { job: 'kubevirt-handler', cluster: 'source' } }],
      ],
    );
    assert.deepEqual([b!.job_name, b!.params, b!.tls_config, b!.authorization], ['kubevirt-handler-2', { node: ['n1'] }, { insecure_skip_verify: true }, undefined]);
  });

  it('a job with one target is its own pool name', () => {
    const config = parse(render([{ job: 'ferry-worker', url: 'http://127.0.0.1:9464/metrics' }])) as { scrape_configs: ScrapeConfig[] };
    assert.equal(config.scrape_configs[0]!.job_name, 'ferry-worker');
  });

  it('refuses bad input naming the field and the fix', () => {
    const bad: [ScrapeTarget[], RegExp][] = [
      [[], /targets must name at least one/],
      [[{ job: '', url: 'https://127.0.0.1:1/m' }], /targets\[0\]\.job/],
      [[{ job: 'j', url: '127.0.0.1:9443/metrics' }], /targets\[0\]\.url must be/],
      [[{ job: 'j', url: 'https://127.0.0.1/metrics' }], /targets\[0\]\.url must name its port/],
      [[{ job: 'j', url: 'https://u:p@127.0.0.1:1/metrics' }], /must not carry credentials: use bearerToken/],
      [[{ job: 'j', url: 'https://127.0.0.1:1/m', caFile: '/ca', insecureSkipVerify: true }], /caFile and insecureSkipVerify/],
      [[{ job: 'j', url: 'https://127.0.0.1:1/m', labels: { 'bad-name': 'x' } }], /targets\[0\]\.labels: "bad-name"/],
      [[{ job: 'j', url: 'https://127.0.0.1:1/m', labels: { job: 'x' } }], /targets\[0\]\.labels\.job/],
    ];
    for (const [targets, message] of bad) assert.throws(() => render(targets), message);
    assert.throws(
      () => prometheusConfigYaml({ targets: [], scrapeInterval: '1 second', evaluationInterval: '1s', ruleFiles: [], tokenFile: () => '' }),
      /scrapeInterval must be a Prometheus duration/,
    );
  });
});

describe("the query endpoint's bearer check", () => {
  it('missing (401), wrong (403), ok', () => {
    assert.equal(checkBearer(undefined, 'tok'), 'missing');
    assert.equal(checkBearer('Basic dG9rOg==', 'tok'), 'missing');
    assert.equal(checkBearer('Bearer', 'tok'), 'missing');
    assert.equal(checkBearer('Bearer tik', 'tok'), 'wrong');
    assert.equal(checkBearer('Bearer tokk', 'tok'), 'wrong');
    assert.equal(checkBearer('Bearer tok', 'tok'), 'ok');
    assert.equal(checkBearer('bearer tok', 'tok'), 'ok');
  });
});
