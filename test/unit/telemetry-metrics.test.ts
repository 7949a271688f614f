/** The pure parts of ferry's metrics: request verbs, the metrics address, plan states, exposed series names. */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { kubeVerb } from '../../activities/kube/requests.js';
import { installMetrics, metricsAddress } from '../../workers/telemetry-metrics.js';
import { exposedNames, FERRY_METRICS, FERRY_SERIES } from '../../workflows/metric-names.js';
import { planVmCounts } from '../../workflows/metrics.js';
import { parsePrometheusText, sumOf } from '../observability/prometheus-text.js';

describe('kubeVerb', () => {
  const cases: [string, string, string][] = [
    ['GET', '/api/v1/namespaces/demo/secrets/db-cloudinit', 'get'],
    ['GET', '/api/v1/namespaces/demo/secrets?labelSelector=a%3Db', 'list'],
    ['GET', '/api/v1/namespaces/demo', 'get'],
    ['GET', '/api/v1/namespaces', 'list'],
    ['GET', '/apis/kubevirt.io/v1/namespaces/demo/virtualmachines/web-01', 'get'],
    ['GET', '/apis/kubevirt.io/v1/namespaces/demo/virtualmachines', 'list'],
    ['GET', '/apis/kubevirt.io/v1/namespaces/demo/virtualmachineinstances?fieldSelector=metadata.name%3Dweb-01&watch=true', 'watch'],
    ['GET', '/apis/kubevirt.io/v1/kubevirts', 'list'],
    ['GET', '/apis/instancetype.kubevirt.io/v1beta1/virtualmachineclusterinstancetypes/u1.small', 'get'],
    ['GET', '/apis', 'get'],
    ['GET', '/version', 'get'],
    ['POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', 'create'],
    ['PUT', '/api/v1/namespaces/kubevirt/configmaps/kubevirt-external-ca', 'update'],
    ['PATCH', '/apis/kubevirt.io/v1/namespaces/demo/virtualmachines/web-01', 'patch'],
    ['DELETE', '/apis/kubevirt.io/v1/namespaces/demo/virtualmachineinstancemigrations/m', 'delete'],
    ['DELETE', '/api/v1/namespaces/demo/secrets', 'deletecollection'],
    ['HEAD', '/api/v1/namespaces/demo/secrets/x', 'head'],
  ];
  for (const [method, path, verb] of cases) it(`${method} ${path} is ${verb}`, () => assert.equal(kubeVerb(method, path), verb));
});

describe('FERRY_METRICS_ADDRESS', () => {
  it('is off when unset or empty', () => {
    assert.equal(metricsAddress({}), undefined);
    assert.equal(metricsAddress({ FERRY_METRICS_ADDRESS: ' ' }), undefined);
  });
  it('takes host:port, [ipv6]:port and a bare port (all interfaces)', () => {
    assert.equal(metricsAddress({ FERRY_METRICS_ADDRESS: '127.0.0.1:9464' }), '127.0.0.1:9464');
    assert.equal(metricsAddress({ FERRY_METRICS_ADDRESS: '[::]:9464' }), '[::]:9464');
    assert.equal(metricsAddress({ FERRY_METRICS_ADDRESS: 'localhost:1' }), 'localhost:1');
    assert.equal(metricsAddress({ FERRY_METRICS_ADDRESS: '9464' }), '0.0.0.0:9464');
  });
  it('a port already taken stops the worker with the variable named', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    const { port } = taken.address() as { port: number };
    try {
      assert.throws(
        () => installMetrics({ FERRY_METRICS_ADDRESS: `127.0.0.1:${port}` }),
        new RegExp(`FERRY_METRICS_ADDRESS is 127\\.0\\.0\\.1:${port}, but /metrics cannot be served there: .*in use.*Choose a free port, or unset it`),
      );
    } finally {
      taken.close();
    }
  });
  it('refuses anything else, naming the variable and an example', () => {
    for (const bad of ['http://0.0.0.0:9464', '0.0.0.0', ':::9464', '0.0.0.0:99999', 'a b:1']) {
      assert.throws(() => metricsAddress({ FERRY_METRICS_ADDRESS: bad }), /FERRY_METRICS_ADDRESS must be host:port.*e\.g\. 0\.0\.0\.0:9464/, bad);
    }
  });
});

describe('plan progress', () => {
  it('counts every state a migration is in between as InFlight, and every state at 0 when empty', () => {
    // The plan status's counts: only the states some VM is in.
    const counts = { Pending: 2000, Validating: 1, Stalled: 2, RollingBack: 3, Succeeded: 4000, RolledBack: 1, Failed: 1, Skipped: 1 };
    assert.deepEqual(planVmCounts(counts), { Pending: 2000, InFlight: 6, Succeeded: 4000, RolledBack: 1, Failed: 1, Skipped: 1 });
    assert.deepEqual(Object.values(planVmCounts({})), [0, 0, 0, 0, 0, 0]);
  });
});

describe('metric names', () => {
  it('follow Prometheus conventions: ferry_ prefix, _total on counters, units in the name, no VM label', () => {
    for (const spec of Object.values(FERRY_METRICS)) {
      assert.match(spec.name, /^ferry_[a-z_]+$/);
      assert.ok(!spec.name.endsWith('_total'), `${spec.name}: the exporter adds _total`);
      if (spec.unit === 's') assert.ok(spec.name.endsWith('_seconds'), spec.name);
      assert.ok(!spec.labels.some((l) => ['vm', 'name', 'workflow_id'].includes(l)), `${spec.name} has an unbounded label`);
    }
    assert.deepEqual(exposedNames(FERRY_METRICS.phaseDuration), [
      'ferry_migration_phase_duration_seconds_bucket',
      'ferry_migration_phase_duration_seconds_sum',
      'ferry_migration_phase_duration_seconds_count',
    ]);
    assert.ok(FERRY_SERIES.includes('ferry_kube_requests_total') && FERRY_SERIES.includes('ferry_plan_vms'));
  });
});

describe('the Prometheus text reader the tests use', () => {
  it('reads samples with escaped labels and sums by label', () => {
    const s = parsePrometheusText('# HELP x y\nx_total{a="1",b="q\\"z"} 2\nx_total{a="2"} 3.5\nup 1\n');
    assert.equal(s.length, 3);
    assert.equal(s[0]!.labels.b, 'q"z');
    assert.equal(sumOf(s, 'x_total'), 5.5);
    assert.equal(sumOf(s, 'x_total', { a: '2' }), 3.5);
  });
});
