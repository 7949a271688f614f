/**
 * The image's runtime tree (tools/image/production-tree.ts): what the root package's production
 * dependencies reach in a lockfile, resolved as Node resolves, and nothing a workspace alone needs.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../../tools/temporal-cli.js';
import { productionLocations } from '../../tools/image/production-tree.js';

describe('the production tree', () => {
  it('follows dependencies, optional and peer dependencies to the nearest node_modules, and skips workspaces and dev dependencies', () => {
    const reached = productionLocations({
      lockfileVersion: 3,
      packages: {
        '': { dependencies: { a: '1' }, optionalDependencies: { gone: '1' } },
        'node_modules/a': { dependencies: { b: '1', c: '1' }, peerDependencies: { p: '1' } },
        'node_modules/a/node_modules/b': { dependencies: { c: '2' } },
        'node_modules/a/node_modules/b/node_modules/c': {},
        'node_modules/c': {},
        'node_modules/p': {},
        'node_modules/dev-only': {},
        'node_modules/ws-dep': {},
        'node_modules/my-workspace': { link: true },
        workspace: { dependencies: { 'ws-dep': '1' } },
      },
    });
    assert.deepEqual([...reached].sort(), ['node_modules/a', 'node_modules/a/node_modules/b', 'node_modules/a/node_modules/b/node_modules/c', 'node_modules/c', 'node_modules/p']);
  });

  it("on ferry's lockfile keeps the worker's dependencies and none of the simulator's or the tools'", () => {
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as Parameters<typeof productionLocations>[0];
    const reached = productionLocations(lock);
    for (const needed of [
      'node_modules/@temporalio/worker',
      'node_modules/@temporalio/core-bridge',
      'node_modules/@kubernetes/client-node',
      'node_modules/zod',
      'node_modules/yaml',
    ]) {
      assert.ok(reached.has(needed), needed);
    }
    for (const unwanted of [
      'node_modules/tsx',
      'node_modules/typescript',
      'node_modules/eslint',
      'node_modules/@peculiar/x509',
      'node_modules/ferry-simulator',
      'node_modules/@temporalio/testing',
    ]) {
      assert.ok(!reached.has(unwanted), unwanted);
    }
  });
});
