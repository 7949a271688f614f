/**
 * Fuzzing the simulator's API server (surface 5): bad JSON, wrong field types, bad patch documents of
 * each patch type, wrong content types, garbage paths and query parameters, unknown verbs, bodies over
 * the size limit. Every refusal must be a Kubernetes Status (v1, Failure, a 4xx code equal to the
 * HTTP status, a message), never a 500 from a thrown exception, and the server must keep serving.
 */
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Simulator } from '../../../simulator/sim.js';
import { startSim } from '../../../simulator/testing/sim.js';
import { recordRun } from '../support/figures.js';
import { Count, params, RUNS, SEED } from './fuzz.js';

interface Answer {
  status: number;
  body: string;
}

interface Req {
  method: string;
  path: string;
  contentType?: string;
  body?: string | Buffer;
}

function send(sim: Simulator, r: Req): Promise<Answer> {
  const ep = sim.cluster('source').endpoint('admin');
  return new Promise((resolve, reject) => {
    const server = new URL(ep.server);
    const req = request(
      {
        host: server.hostname,
        port: server.port,
        // As sent: a URL object would normalize `//x` and `..` away.
        path: r.path,
        method: r.method,
        ca: ep.caPem,
        agent: false,
        headers: {
          authorization: `Bearer ${ep.token}`,
          accept: 'application/json',
          ...(r.contentType !== undefined ? { 'content-type': r.contentType } : {}),
          // Node frames no body of a DELETE (or OPTIONS, TRACE) by itself: it would reach the server as a second, garbled request.
          ...(r.body !== undefined ? { 'content-length': String(Buffer.byteLength(r.body)) } : {}),
        },
      },
      (res) => {
        // A watch that was accepted streams until closed: its status is the answer.
        if (res.statusCode === 200 && /[?&]watch=(true|1)/.test(r.path)) {
          res.destroy();
          return resolve({ status: 200, body: '' });
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    // The server may answer a body over its limit before reading all of it: the rest of the write fails, the answer stands.
    req.on('error', (e) => (req.writableEnded ? undefined : reject(e)));
    // An answer that never comes is a hang: a failure, not a stuck test.
    req.setTimeout(15_000, () => {
      req.destroy();
      reject(new Error(`no answer within 15 s`));
    });
    req.end(r.body);
  });
}

/** Why an answer is not a proper refusal or success (empty: it is). */
function answerProblems(a: Answer): string[] {
  if (a.status >= 200 && a.status < 300) return [];
  if (a.status >= 500) return [`HTTP ${a.status}: ${a.body.slice(0, 300)}`];
  let s: { kind?: unknown; apiVersion?: unknown; status?: unknown; code?: unknown; message?: unknown };
  try {
    s = JSON.parse(a.body) as typeof s;
  } catch {
    return [`HTTP ${a.status} with a body that is not JSON: ${a.body.slice(0, 200)}`];
  }
  const problems: string[] = [];
  if (s.kind !== 'Status' || s.apiVersion !== 'v1' || s.status !== 'Failure') problems.push(`not a v1 Failure Status: ${a.body.slice(0, 200)}`);
  if (s.code !== a.status) problems.push(`code ${String(s.code)} differs from HTTP ${a.status}`);
  if (a.status < 400) problems.push(`HTTP ${a.status} is not a refusal`);
  if (typeof s.message !== 'string' || !s.message) problems.push('no message');
  if (typeof s.message === 'string' && /^\s+at\s/m.test(s.message)) problems.push('a stack trace in the message');
  return problems;
}

const COLLECTIONS = [
  '/api/v1/namespaces/demo/configmaps',
  '/api/v1/namespaces/demo/secrets',
  '/api/v1/namespaces',
  '/apis/kubevirt.io/v1/namespaces/demo/virtualmachines',
  '/apis/kubevirt.io/v1/namespaces/demo/virtualmachineinstances',
  '/apis/kubevirt.io/v1/namespaces/demo/virtualmachineinstancemigrations',
  '/apis/cdi.kubevirt.io/v1beta1/namespaces/demo/datavolumes',
  '/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts',
];
const OBJECTS = [
  '/api/v1/namespaces/demo/configmaps/fuzz-cm',
  '/api/v1/namespaces/demo',
  '/apis/kubevirt.io/v1/namespaces/demo/virtualmachines/batch-01',
  '/apis/kubevirt.io/v1/namespaces/demo/virtualmachines/batch-01/status',
  '/apis/kubevirt.io/v1/namespaces/kubevirt/kubevirts/kubevirt',
];
const JUNK_SEGMENTS = ['%E0%A4%A', '%', '%00', '..', '%2F', '%C3%BCn%C3%AF', 'x'.repeat(3000), '', 'status', 'finalize', 'scale', '%ZZ', '%25', '%ff%fe'];
const QUERIES = [
  'labelSelector=a%20in%20(b',
  'labelSelector=!!!',
  'labelSelector=a=b=c',
  'labelSelector=' + 'x'.repeat(5000),
  'fieldSelector=metadata.uid=x',
  'fieldSelector=spec.junk',
  'fieldSelector=%3D%3D',
  'resourceVersion=abc',
  'resourceVersion=-5',
  'resourceVersion=1e999',
  'watch=true&resourceVersion=junk',
  'watch=true&resourceVersion=99999999999',
  'watch=1&labelSelector=%3D',
  'watch=true&timeoutSeconds=abc',
  'limit=-1',
  'limit=abc',
  'limit=1e400',
  'continue=%%%',
  'continue=eyJvIjoiYWJjIn0',
  'continue=bnVsbA',
  'dryRun=All&fieldManager=%00',
];

const json = (v: unknown) => JSON.stringify(v);
const BODIES = fc.oneof(
  fc.constantFrom('{', '{"metadata":', 'null', '[]', '"x"', '42', 'true', '{"a":1}{"b":2}', '\u0000', '{"metadata":{"name":"x"}', 'NaN'),
  fc.constantFrom(
    json({ metadata: 'fuzz' }),
    json({ metadata: { name: 42 } }),
    json({ metadata: { name: 'fuzz-x', labels: { a: 5 } } }),
    json({ metadata: { name: 'fuzz-x', labels: 'a=b' } }),
    json({ metadata: { name: 'fuzz-x', annotations: [1, 2] } }),
    json({ metadata: { name: 'fuzz-x', finalizers: 'x' } }),
    json({ metadata: { name: 'fuzz-x', ownerReferences: {} } }),
    json({ metadata: { name: 'fuzz-x', ownerReferences: [{ uid: 5 }] } }),
    json({ metadata: { name: 'fuzz-x', resourceVersion: { a: 1 } } }),
    json({ metadata: { name: 'fuzz-x', generateName: 5 } }),
    json({ metadata: { generateName: 'fuzz-' }, data: 'x' }),
    json({ metadata: { name: 'fuzz-x' }, data: { a: 5 } }),
    json({ metadata: { name: 'fuzz-x' }, stringData: [1] }),
    json({ metadata: { name: 'fuzz-x' }, spec: 'x', status: 5 }),
    json({ metadata: { name: 'fuzz-x' }, spec: { runStrategy: 42, template: 'x' } }),
    json({ metadata: { name: 'fuzz-x', namespace: ['demo'] } }),
    json({ kind: 5, apiVersion: {}, metadata: { name: 'fuzz-x' } }),
    json({ metadata: { name: 'UPPER_case!' } }),
    json({ metadata: null }),
    json({ __proto__: { metadata: { name: 'x' } } }),
    '{"__proto__":{"polluted":true},"metadata":{"name":"fuzz-proto"}}',
    json({ metadata: { name: 'fuzz-x' }, preconditions: { uid: 5 } }),
  ),
  // Patch documents: JSON patches with bad ops, paths and values, merge patches of wrong shapes.
  fc.constantFrom(
    json([{ op: 'replace', path: 'metadata', value: 1 }]),
    json([{ op: 'bogus', path: '/metadata/labels' }]),
    json([{ op: 'add', path: '/metadata/labels/a', value: 5 }]),
    json([{ op: 'remove', path: '/spec/nothing/here' }]),
    json([{ op: 'move', from: '/nowhere', path: '/x' }]),
    json([{ op: 'copy', from: 5, path: '/x' }]),
    json([{ op: 'test', path: '/metadata/name', value: 'wrong' }]),
    json([{ op: 'replace', path: '/metadata', value: 'x' }]),
    json([{ op: 'add', path: '/metadata/labels/~2', value: 'x' }]),
    json([{ op: 'add', path: '/spec/template/-', value: 'x' }]),
    json([{ op: 'add', path: '/__proto__/polluted', value: true }]),
    json([{}]),
    json([null]),
    json({ op: 'add' }),
    json({ metadata: { labels: 5 } }),
    json({ metadata: 'x' }),
    json({ metadata: { name: 'renamed' } }),
    json({ spec: { runStrategy: null, running: 'yes' } }),
    json({ status: [1] }),
    json({ metadata: { resourceVersion: 'stale' } }),
    json({ $patch: 'delete' }),
    json({ metadata: { labels: { $patch: 'replace' } } }),
    json({ metadata: { finalizers: [5] } }),
    json({ metadata: { uid: 'changed' } }),
    '{"__proto__":{"polluted":true}}',
  ),
  fc.string({ maxLength: 50 }),
  fc.jsonValue({ maxDepth: 4 }).map(json),
  fc.integer({ min: 100, max: 3000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
  fc.integer({ min: 100, max: 3000 }).map((d) => '{"a":'.repeat(d) + '1' + '}'.repeat(d)),
);
const CONTENT_TYPES = fc.constantFrom(
  undefined,
  'application/json',
  'application/merge-patch+json',
  'application/json-patch+json',
  'application/strategic-merge-patch+json',
  'application/apply-patch+yaml',
  'text/plain',
  'application/yaml',
  'application/json; charset=utf-16',
  'multipart/form-data; boundary=x',
  '',
  ';;;',
);
// Verbs Node's HTTP parser knows (others it refuses itself, before any handler, as Go's server does for kube-apiserver).
const METHODS = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'PROPFIND', 'MKCOL', 'PURGE', 'LOCK', 'TRACE');

const path = fc.oneof(
  fc.constantFrom(...COLLECTIONS, ...OBJECTS),
  fc.tuple(fc.constantFrom(...COLLECTIONS, ...OBJECTS), fc.constantFrom(...JUNK_SEGMENTS)).map(([p, j]) => `${p}/${j}`),
  fc.tuple(fc.constantFrom(...COLLECTIONS, ...OBJECTS), fc.constantFrom(...QUERIES)).map(([p, q]) => `${p}?${q}`),
  fc.array(fc.constantFrom('api', 'apis', 'v1', 'namespaces', 'demo', 'kubevirt.io', ...JUNK_SEGMENTS), { minLength: 1, maxLength: 7 }).map((s) => `/${s.join('/')}`),
  fc.constantFrom('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', '/apis/authorization.k8s.io/v1/junk', '/openapi/v3/%E0', '/openapi/v2', '/api/%', '/sim/v1/nothing'),
);

const requests: fc.Arbitrary<Req> = fc
  .record({ method: METHODS, path, contentType: CONTENT_TYPES, body: BODIES }, { requiredKeys: ['method', 'path'] })
  .map((r) => (r.method === 'GET' || r.method === 'OPTIONS' ? { ...r, body: undefined } : r));

describe('fuzz: the simulator API server', () => {
  let sim: Simulator;
  before(async () => {
    sim = await startSim();
  });
  after(async () => {
    await sim?.stop();
  });

  it('regressions: a malformed escape, a path read as a host, a body nested past the stack are each answered with a 4xx Status', async () => {
    // Were: a 500 "URI malformed"; no answer at all (an unhandled rejection); a 500 "Maximum call stack size exceeded".
    const deep = '{"a":'.repeat(3000) + '1' + '}'.repeat(3000);
    for (const r of [
      { method: 'GET', path: '/api/v1/namespaces/%ZZ' },
      { method: 'GET', path: '//%00//v1' },
      { method: 'POST', path: '/api/v1/namespaces/demo/configmaps', contentType: 'application/json', body: deep },
    ]) {
      const a = await send(sim, r);
      assert.ok(a.status === 400 || a.status === 404, `${r.method} ${r.path}: ${a.status} ${a.body.slice(0, 200)}`);
      assert.deepEqual(answerProblems(a), []);
    }
    assert.equal((await send(sim, { method: 'GET', path: '/api/v1/namespaces' })).status, 200);
  });

  it(`${RUNS} malformed requests are each answered with a Kubernetes Status (4xx) or served; the server keeps serving`, async () => {
    const count = new Count();
    const codes = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requests, async (r) => {
        count.add();
        const what = `${r.method} ${r.path.slice(0, 200)} (${r.contentType ?? 'no content type'}, body ${String(r.body ?? '').slice(0, 120)})`;
        const a = await send(sim, r).catch((e: unknown) => {
          throw new Error(`${what}: ${(e as Error).message}`);
        });
        codes.set(a.status, (codes.get(a.status) ?? 0) + 1);
        const problems = answerProblems(a);
        if (problems.length) throw new Error(`${what}: ${problems.join('; ')}`);
        if (count.n % 50 === 0) {
          const ok = await send(sim, { method: 'GET', path: '/api/v1/namespaces' });
          if (ok.status !== 200) throw new Error(`the server stopped serving: GET /api/v1/namespaces → ${ok.status}`);
        }
      }),
      params('simulator-api'),
    );
    // Bodies over MAX_BODY (3 MiB), of each write verb.
    for (const method of ['POST', 'PUT', 'PATCH']) {
      count.add();
      const a = await send(sim, {
        method,
        path: '/api/v1/namespaces/demo/configmaps' + (method === 'POST' ? '' : '/fuzz-cm'),
        contentType: 'application/merge-patch+json',
        body: Buffer.alloc(4 * 1024 * 1024, 0x20),
      });
      assert.deepEqual(answerProblems(a), [], `${method} with a 4 MiB body`);
      assert.equal(a.status, 413, `${method} with a 4 MiB body`);
    }
    const ok = await send(sim, { method: 'GET', path: '/api/v1/namespaces/demo/configmaps' });
    assert.equal(ok.status, 200);
    assert.equal(Object.getPrototypeOf({}).polluted, undefined, 'no prototype pollution');
    console.log(
      `simulator-api: ${count.n} requests; answers by HTTP status: ${[...codes]
        .sort(([x], [y]) => x - y)
        .map(([c, n]) => `${c}×${n}`)
        .join(' ')}`,
    );
    assert.ok(count.n >= RUNS);
    recordRun({ suite: 'fuzz', scenario: 'simulator-api', outcome: 'refused', expected: 'refused', violations: [], faults: { inputs: count.n }, seed: SEED });
  });
});
