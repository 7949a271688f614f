/**
 * deploy/monitoring/, checked mechanically: the PrometheusRule's groups pass `promtool check rules`
 * and the unit tests in alerts.rules-test.yml (`promtool test rules`: each alert fires on the series
 * that should fire it, and only then); every metric the rules and the dashboard use is one ferry's
 * worker exports (workflows/metric-names.ts) or a Temporal SDK / KubeVirt metric named in
 * metric-sources.ts; the kustomization renders; the PodMonitor scrapes the port the worker serves.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { findOnPath } from '../../tools/processes.js';
import { checkRules, testRules } from '../../tools/prometheus/promtool.js';
import { REPO_ROOT } from '../../tools/temporal-cli.js';
import { metricsAddress } from '../../workers/telemetry-metrics.js';
import { FERRY_METRICS, FERRY_SERIES, exposedNames } from '../../workflows/metric-names.js';
import { KUBEVIRT_SERIES, metricNamesIn, TEMPORAL_SDK_SERIES } from './metric-sources.js';
import { readPrometheusRule, writeFerryRules } from './rules.js';

const MONITORING = join(REPO_ROOT, 'deploy', 'monitoring');

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
}

const prometheusRule = readPrometheusRule();
const rules = prometheusRule.spec.groups.flatMap((g) => g.rules);
const dashboardText = readFileSync(join(MONITORING, 'ferry-dashboard.json'), 'utf8');
const dashboard = JSON.parse(dashboardText) as { uid: string; panels: Panel[] };
const dashboardExprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })));
const ruleExprs = rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr }));

describe('deploy/monitoring', () => {
  it('the rules pass promtool check rules and their unit tests (promtool test rules)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-rules-'));
    const rulesFile = writeFerryRules(dir);
    copyFileSync(join(REPO_ROOT, 'test', 'observability', 'alerts.rules-test.yml'), join(dir, 'alerts.rules-test.yml'));
    const checked = await checkRules([rulesFile]);
    assert.ok(checked.ok, checked.output);
    assert.match(checked.output, /SUCCESS: 4 rules found/);
    const tested = await testRules([join(dir, 'alerts.rules-test.yml')]);
    assert.ok(tested.ok, tested.output);
  });

  it('alerts for a stalled migration, a failed one and a worker that stopped polling, each with summary, description and runbook', () => {
    const names = rules.map((r) => r.alert);
    for (const a of ['FerryMigrationStalled', 'FerryMigrationFailed', 'FerryWorkerNotPolling']) assert.ok(names.includes(a), `${a} missing`);
    const tested = readFileSync(join(REPO_ROOT, 'test', 'observability', 'alerts.rules-test.yml'), 'utf8');
    for (const r of rules) {
      assert.ok(r.labels?.severity, `${r.alert} has a severity`);
      for (const k of ['summary', 'description', 'runbook_url']) assert.ok(r.annotations?.[k], `${r.alert} has ${k}`);
      // The runbook is a section of the README that exists.
      const anchor = r.annotations!.runbook_url!.replace(/^README\.md#/, '');
      const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
      const headings = [...readme.matchAll(/^#+ (.+)$/gm)].map((m) =>
        m[1]!
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      );
      assert.ok(headings.includes(anchor), `${r.alert}: README has no section #${anchor}`);
      assert.match(tested, new RegExp(`alertname: ${r.alert},`), `${r.alert} has a promtool unit test that expects it to fire`);
    }
  });

  it('uses only metrics ferry exports, or Temporal SDK and KubeVirt metrics named on purpose', () => {
    const known = new Set<string>([...FERRY_SERIES, ...TEMPORAL_SDK_SERIES, ...KUBEVIRT_SERIES]);
    const used = new Set<string>();
    for (const { where, expr } of [...ruleExprs, ...dashboardExprs]) {
      const names = metricNamesIn(expr);
      assert.ok(names.length > 0, `${where}: no metric in ${expr}`);
      for (const n of names) {
        assert.ok(known.has(n), `${where} uses ${n}, which neither ferry's worker exports nor metric-sources.ts names (${expr})`);
        used.add(n);
      }
    }
    // The dashboard shows every metric ferry has.
    for (const spec of Object.values(FERRY_METRICS))
      assert.ok(
        exposedNames(spec).some((n) => dashboardExprs.some((d) => metricNamesIn(d.expr).includes(n))),
        `the dashboard shows nothing of ${spec.name}`,
      );
    for (const k of KUBEVIRT_SERIES) assert.ok(used.has(k), `the dashboard shows KubeVirt's ${k}`);
  });

  it('the PodMonitor scrapes the port the worker serves /metrics on', () => {
    const worker = parse(readFileSync(join(REPO_ROOT, 'deploy', 'worker.yaml'), 'utf8')) as {
      spec: {
        template: {
          metadata: { annotations: Record<string, string> };
          spec: { containers: { env: { name: string; value: string }[]; ports: { name: string; containerPort: number }[] }[] };
        };
      };
    };
    const c = worker.spec.template.spec.containers[0]!;
    const address = metricsAddress({ FERRY_METRICS_ADDRESS: c.env.find((e) => e.name === 'FERRY_METRICS_ADDRESS')?.value });
    assert.ok(address, 'the Deployment sets FERRY_METRICS_ADDRESS');
    const port = Number(address.split(':').at(-1));
    assert.equal(c.ports.find((p) => p.name === 'metrics')?.containerPort, port);
    assert.equal(worker.spec.template.metadata.annotations['prometheus.io/port'], String(port));
    const podMonitor = parse(readFileSync(join(MONITORING, 'podmonitor.yaml'), 'utf8')) as {
      spec: { selector: { matchLabels: Record<string, string> }; podMetricsEndpoints: { port: string; path: string }[] };
    };
    assert.deepEqual(
      podMonitor.spec.podMetricsEndpoints.map((e) => [e.port, e.path]),
      [['metrics', '/metrics']],
    );
    assert.equal(podMonitor.spec.selector.matchLabels['app.kubernetes.io/name'], 'ferry-worker');
  });

  const kubectl = findOnPath('kubectl');
  it('renders with kubectl kustomize: PodMonitor, PrometheusRule and the dashboard ConfigMap for Grafana', { skip: !kubectl && 'kubectl not on PATH' }, () => {
    const out = execFileSync(kubectl!, ['kustomize', MONITORING], { encoding: 'utf8' });
    const objects = parseAllDocuments(out).map(
      (d) => d.toJS() as { kind: string; metadata: { name: string; namespace: string; labels?: Record<string, string> }; data?: Record<string, string> },
    );
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort(), [
      'ConfigMap/ferry-system/ferry-dashboard',
      'PodMonitor/ferry-system/ferry-worker',
      'PrometheusRule/ferry-system/ferry',
    ]);
    const cm = objects.find((o) => o.kind === 'ConfigMap')!;
    assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
    assert.equal(JSON.parse(cm.data!['ferry-dashboard.json']!).uid, dashboard.uid);
  });
});

describe('metricNamesIn', () => {
  it('finds the selected metrics, not functions, labels, durations or variables', () => {
    assert.deepEqual(metricNamesIn('histogram_quantile(0.95, sum by (le, phase) (rate(ferry_x_bucket{a="b",c=~"5.."}[$__rate_interval])))'), ['ferry_x_bucket']);
    assert.deepEqual(metricNamesIn('sum(a_total) / sum without (x) (b_total) > 0.1 or absent(c{d="e"})'), ['a_total', 'b_total', 'c']);
  });
});
