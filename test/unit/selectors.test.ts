/** Label and field selectors of the simulated API server, with kube-apiserver's syntax. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../simulator/apiserver/errors.js';
import type { KubeObject } from '../../simulator/apiserver/object.js';
import { both, everything, fieldSelector, labelSelector } from '../../simulator/apiserver/selectors.js';

const obj = (name: string, labels?: Record<string, string>, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, namespace: 'ns1', ...(labels ? { labels } : {}) },
  ...extra,
});

const OBJS = [obj('a', { tier: 'web', env: 'prod' }), obj('b', { tier: 'db', env: 'prod' }), obj('c', { tier: 'web', env: 'dev' }), obj('d', { env: 'dev' }), obj('e')];

const pick = (sel: (o: KubeObject) => boolean) => OBJS.filter(sel).map((o) => o.metadata.name);

function assertBadRequest(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => e instanceof ApiError && e.code === 400 && e.reason === 'BadRequest');
}

describe('labelSelector', () => {
  it('an empty or missing selector matches everything', () => {
    for (const s of ['', null, undefined]) {
      assert.equal(labelSelector(s), everything);
      assert.deepEqual(pick(labelSelector(s)), ['a', 'b', 'c', 'd', 'e']);
    }
  });

  it('equality: =, == and !=', () => {
    assert.deepEqual(pick(labelSelector('tier=web')), ['a', 'c']);
    assert.deepEqual(pick(labelSelector('tier==web')), ['a', 'c']);
    // != also matches objects without the label, as in Kubernetes.
    assert.deepEqual(pick(labelSelector('tier!=web')), ['b', 'd', 'e']);
    assert.deepEqual(pick(labelSelector('tier = web')), ['a', 'c'], 'spaces around the operator');
  });

  it('set-based: in and notin', () => {
    assert.deepEqual(pick(labelSelector('tier in (web,db)')), ['a', 'b', 'c']);
    assert.deepEqual(pick(labelSelector('tier in ( web , db )')), ['a', 'b', 'c']);
    assert.deepEqual(pick(labelSelector('tier in (cache)')), []);
    // notin matches objects without the label too.
    assert.deepEqual(pick(labelSelector('tier notin (web)')), ['b', 'd', 'e']);
    assert.deepEqual(pick(labelSelector('tier notin (web,db)')), ['d', 'e']);
  });

  it('existence: key and !key', () => {
    assert.deepEqual(pick(labelSelector('tier')), ['a', 'b', 'c']);
    assert.deepEqual(pick(labelSelector('!tier')), ['d', 'e']);
    assert.deepEqual(pick(labelSelector('env')), ['a', 'b', 'c', 'd']);
  });

  it('several requirements are ANDed; commas inside a value set do not split terms', () => {
    assert.deepEqual(pick(labelSelector('tier=web,env=prod')), ['a']);
    assert.deepEqual(pick(labelSelector('tier in (web,db),env!=dev')), ['a', 'b']);
    assert.deepEqual(pick(labelSelector('env,!tier')), ['d']);
    assert.deepEqual(pick(labelSelector('env in (prod,dev), tier notin (db)')), ['a', 'c', 'd']);
  });

  it('labels with prefixes and dots', () => {
    const o = obj('p', { 'kubevirt.io/created-by': 'uid-1', 'app.kubernetes.io/name': 'web' });
    assert.equal(labelSelector('kubevirt.io/created-by=uid-1')(o), true);
    assert.equal(labelSelector('kubevirt.io/created-by=uid-2')(o), false);
    assert.equal(labelSelector('app.kubernetes.io/name in (web)')(o), true);
    assert.equal(labelSelector('!kubevirt.io/created-by')(o), false);
  });

  it('an empty value matches an empty label value only', () => {
    const empty = obj('x', { flag: '' });
    assert.equal(labelSelector('flag=')(empty), true);
    assert.equal(labelSelector('flag=')(obj('y', { flag: 'on' })), false);
  });

  it('malformed selectors are a 400 BadRequest', () => {
    for (const bad of ['tier in web', 'tier in (web', '(x)', 'tier notin', 'a b']) {
      assertBadRequest(() => labelSelector(bad));
    }
  });
});

describe('fieldSelector', () => {
  const pod = (name: string, ns: string, nodeName?: string) => obj(name, undefined, { spec: nodeName ? { nodeName } : {}, status: { phase: 'Running' } });

  it('metadata.name and metadata.namespace', () => {
    assert.deepEqual(pick(fieldSelector('metadata.name=b')), ['b']);
    assert.deepEqual(pick(fieldSelector('metadata.name==b')), ['b']);
    assert.deepEqual(pick(fieldSelector('metadata.name!=b')), ['a', 'c', 'd', 'e']);
    assert.deepEqual(pick(fieldSelector('metadata.namespace=ns1,metadata.name=c')), ['c']);
    assert.deepEqual(pick(fieldSelector('metadata.namespace=other')), []);
  });

  it('nested fields by dotted path; an absent field compares as the empty string', () => {
    const scheduled = pod('s', 'ns1', 'node-1');
    const pending = pod('p', 'ns1');
    assert.equal(fieldSelector('spec.nodeName=node-1')(scheduled), true);
    assert.equal(fieldSelector('spec.nodeName=node-1')(pending), false);
    assert.equal(fieldSelector('spec.nodeName=')(pending), true);
    assert.equal(fieldSelector('spec.nodeName=')(scheduled), false);
    assert.equal(fieldSelector('spec.nodeName!=')(scheduled), true);
    assert.equal(fieldSelector('status.phase=Running')(pending), true);
  });

  it('only =, == and != are allowed; anything else is a 400', () => {
    for (const bad of ['metadata.name in (a,b)', 'metadata.name notin (a)', 'metadata.name', '!metadata.name']) {
      assertBadRequest(() => fieldSelector(bad));
    }
  });
});

describe('both', () => {
  it('ANDs a label and a field selector, and short-cuts "everything"', () => {
    const sel = both(labelSelector('env=prod'), fieldSelector('metadata.name!=a'));
    assert.deepEqual(pick(sel), ['b']);
    const lbl = labelSelector('tier');
    assert.equal(both(everything, lbl), lbl);
    assert.equal(both(lbl, everything), lbl);
    assert.equal(both(everything, everything), everything);
  });
});
