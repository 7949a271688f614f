/** The simulated API server's patch types: JSON merge patch, JSON patch (RFC 6902), strategic merge patch. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../simulator/apiserver/errors.js';
import { applyPatch, jsonPatch, mergePatch, patchTypeOf } from '../../simulator/apiserver/patch.js';

function assertApiError(fn: () => unknown, code: number, reason: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ApiError, `expected an ApiError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.equal(e.reason, reason);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('patchTypeOf', () => {
  it('maps the three patch media types, ignoring parameters', () => {
    assert.equal(patchTypeOf('application/merge-patch+json'), 'merge');
    assert.equal(patchTypeOf('application/json-patch+json'), 'json');
    assert.equal(patchTypeOf('application/strategic-merge-patch+json'), 'strategic');
    assert.equal(patchTypeOf('application/merge-patch+json; charset=utf-8'), 'merge');
  });

  it('anything else is 415 UnsupportedMediaType', () => {
    for (const ct of ['application/json', 'application/apply-patch+yaml', '', undefined]) {
      assertApiError(() => patchTypeOf(ct), 415, 'UnsupportedMediaType');
    }
  });
});

describe('JSON merge patch (RFC 7386)', () => {
  const doc = () => ({ metadata: { name: 'x', labels: { a: '1', b: '2' } }, data: { k: 'v' }, list: [1, 2, 3] });

  it('merges objects recursively and null deletes, at any depth', () => {
    const out = mergePatch(doc(), { metadata: { labels: { b: null, c: '3' } }, data: null, extra: { deep: { x: 1 } } });
    assert.deepEqual(out, { metadata: { name: 'x', labels: { a: '1', c: '3' } }, list: [1, 2, 3], extra: { deep: { x: 1 } } });
  });

  it('replaces arrays wholesale, and a non-object patch replaces the target', () => {
    assert.deepEqual(mergePatch(doc(), { list: [9] }), { ...doc(), list: [9] });
    assert.deepEqual(mergePatch(doc(), { data: 'scalar' }), { ...doc(), data: 'scalar' });
    assert.deepEqual(mergePatch({ a: 1 }, [1, 2]), [1, 2]);
    // A patch object against a scalar builds the object.
    assert.deepEqual(mergePatch({ a: 1 }, { a: { b: 2 } }), { a: { b: 2 } });
  });

  it('deleting an absent key is a no-op, and the target is not mutated', () => {
    const target = doc();
    const out = mergePatch(target, { nope: null, metadata: { labels: { zzz: null } } });
    assert.deepEqual(out, doc());
    mergePatch(target, { metadata: { labels: { a: 'changed' } }, data: null });
    assert.deepEqual(target, doc(), 'input untouched');
  });

  it('merge patch does not merge named lists element-wise (only strategic does)', () => {
    const vm = {
      spec: {
        disks: [
          { name: 'root', bus: 'virtio' },
          { name: 'data', bus: 'virtio' },
        ],
      },
    };
    assert.deepEqual(applyPatch('merge', vm, { spec: { disks: [{ name: 'data', bus: 'sata' }] } }), { spec: { disks: [{ name: 'data', bus: 'sata' }] } });
  });
});

describe('strategic merge patch', () => {
  const spec = () => ({
    containers: [
      { name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }] },
      { name: 'sidecar', image: 'side:1', resources: { limits: { cpu: '1' } } },
    ],
    args: ['--a', '--b'],
  });

  it('merges lists of objects by name: patches matching elements, keeps the others in order, appends new ones', () => {
    const out = applyPatch('strategic', spec(), {
      containers: [
        { name: 'sidecar', image: 'side:2' },
        { name: 'new', image: 'new:1' },
      ],
    });
    assert.deepEqual(out, {
      containers: [
        { name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }] },
        { name: 'sidecar', image: 'side:2', resources: { limits: { cpu: '1' } } },
        { name: 'new', image: 'new:1' },
      ],
      args: ['--a', '--b'],
    });
  });

  it('merges nested named lists and deletes fields with null inside an element', () => {
    const out = applyPatch('strategic', spec(), {
      containers: [
        {
          name: 'app',
          env: [
            { name: 'A', value: '2' },
            { name: 'B', value: 'x' },
          ],
        },
        { name: 'sidecar', resources: null },
      ],
    }) as ReturnType<typeof spec>;
    assert.deepEqual(out.containers[0], {
      name: 'app',
      image: 'app:1',
      env: [
        { name: 'A', value: '2' },
        { name: 'B', value: 'x' },
      ],
    });
    assert.deepEqual(out.containers[1], { name: 'sidecar', image: 'side:1' });
  });

  it('replaces lists of scalars and lists of unnamed objects', () => {
    assert.deepEqual((applyPatch('strategic', spec(), { args: ['--c'] }) as ReturnType<typeof spec>).args, ['--c']);
    const ports = { ports: [{ port: 80 }, { port: 443 }] };
    assert.deepEqual(applyPatch('strategic', ports, { ports: [{ port: 8080 }] }), { ports: [{ port: 8080 }] });
  });

  it('behaves as a merge patch for maps (null deletes)', () => {
    assert.deepEqual(applyPatch('strategic', { data: { a: '1', b: '2' } }, { data: { a: null, c: '3' } }), { data: { b: '2', c: '3' } });
  });
});

describe('JSON patch (RFC 6902)', () => {
  const doc = () => ({ metadata: { name: 'x', labels: { a: '1' } }, spec: { list: ['a', 'b', 'c'], n: 1 }, 'we/ird~key': 'w' });

  it('add: object member, array index, array end ("-"), and replacing an existing member', () => {
    const out = jsonPatch(doc(), [
      { op: 'add', path: '/metadata/labels/b', value: '2' },
      { op: 'add', path: '/spec/list/1', value: 'X' },
      { op: 'add', path: '/spec/list/-', value: 'END' },
      { op: 'add', path: '/spec/n', value: 2 },
      { op: 'add', path: '/spec/obj', value: { deep: true } },
    ]);
    assert.deepEqual(out, {
      metadata: { name: 'x', labels: { a: '1', b: '2' } },
      spec: { list: ['a', 'X', 'b', 'c', 'END'], n: 2, obj: { deep: true } },
      'we/ird~key': 'w',
    });
  });

  it('remove and replace, for members and array elements', () => {
    const out = jsonPatch(doc(), [
      { op: 'remove', path: '/metadata/labels/a' },
      { op: 'remove', path: '/spec/list/0' },
      { op: 'replace', path: '/spec/list/1', value: 'C' },
      { op: 'replace', path: '/spec/n', value: { now: 'object' } },
    ]);
    assert.deepEqual(out, { metadata: { name: 'x', labels: {} }, spec: { list: ['b', 'C'], n: { now: 'object' } }, 'we/ird~key': 'w' });
  });

  it('move and copy', () => {
    const out = jsonPatch(doc(), [
      { op: 'move', from: '/metadata/labels/a', path: '/metadata/labels/moved' },
      { op: 'copy', from: '/spec/list', path: '/spec/copy' },
      { op: 'move', from: '/spec/list/0', path: '/spec/list/-' },
      { op: 'add', path: '/spec/copy/-', value: 'only-in-copy' },
    ]) as { metadata: { labels: Record<string, string> }; spec: { list: string[]; copy: string[] } };
    assert.deepEqual(out.metadata.labels, { moved: '1' });
    assert.deepEqual(out.spec.list, ['b', 'c', 'a']);
    assert.deepEqual(out.spec.copy, ['a', 'b', 'c', 'only-in-copy'], 'a copy is independent of its source');
  });

  it('test: passes on equal values (object member order does not matter), fails with 422 Invalid', () => {
    const target = { spec: { sel: { a: '1', b: '2' }, n: 1 } };
    assert.deepEqual(
      jsonPatch(target, [
        { op: 'test', path: '/spec/sel', value: { b: '2', a: '1' } },
        { op: 'replace', path: '/spec/n', value: 2 },
      ]),
      {
        spec: { sel: { a: '1', b: '2' }, n: 2 },
      },
    );
    assertApiError(() => jsonPatch(target, [{ op: 'test', path: '/spec/n', value: 2 }]), 422, 'Invalid', /testing value \/spec\/n failed/);
    assertApiError(() => jsonPatch(target, [{ op: 'test', path: '/spec/n', value: '1' }]), 422, 'Invalid');
    assertApiError(() => jsonPatch(target, [{ op: 'test', path: '/spec/missing', value: 1 }]), 422, 'Invalid');
  });

  it('JSON pointer escapes: ~1 is "/" and ~0 is "~"', () => {
    const out = jsonPatch(doc(), [{ op: 'replace', path: '/we~1ird~0key', value: 'W' }]) as Record<string, unknown>;
    assert.equal(out['we/ird~key'], 'W');
  });

  it('operations that cannot be applied are 422 Invalid', () => {
    const cases: [string, unknown[]][] = [
      ['remove a missing member', [{ op: 'remove', path: '/metadata/nope' }]],
      ['remove out of range', [{ op: 'remove', path: '/spec/list/3' }]],
      ['replace a missing member', [{ op: 'replace', path: '/spec/nope', value: 1 }]],
      ['replace past the end of an array', [{ op: 'replace', path: '/spec/list/3', value: 'd' }]],
      ['replace "-"', [{ op: 'replace', path: '/spec/list/-', value: 'd' }]],
      ['add under a missing parent', [{ op: 'add', path: '/status/phase', value: 'Running' }]],
      ['add beyond the end of an array', [{ op: 'add', path: '/spec/list/5', value: 'x' }]],
      ['move from a missing path', [{ op: 'move', from: '/spec/nope', path: '/spec/there' }]],
      ['copy from a missing path', [{ op: 'copy', from: '/spec/nope', path: '/spec/there' }]],
      ['an unknown op', [{ op: 'frobnicate', path: '/spec/n' }]],
      ['a pointer without a leading slash', [{ op: 'add', path: 'spec/n', value: 1 }]],
    ];
    for (const [what, ops] of cases) {
      assert.throws(
        () => jsonPatch(doc(), ops),
        (e: unknown) => e instanceof ApiError && e.code === 422 && e.reason === 'Invalid',
        what,
      );
    }
  });

  it('a body that is not a list of operations is a 400 BadRequest', () => {
    assertApiError(() => jsonPatch(doc(), { op: 'add', path: '/a', value: 1 }), 400, 'BadRequest');
  });

  it('is atomic: a failing operation leaves the target untouched', () => {
    const target = doc();
    assert.throws(() =>
      jsonPatch(target, [
        { op: 'replace', path: '/spec/n', value: 99 },
        { op: 'remove', path: '/spec/list/0' },
        { op: 'test', path: '/spec/n', value: 0 },
      ]),
    );
    assert.deepEqual(target, doc());
  });

  it('an empty path replaces the whole document', () => {
    assert.deepEqual(jsonPatch(doc(), [{ op: 'replace', path: '', value: { fresh: true } }]), { fresh: true });
  });
});
