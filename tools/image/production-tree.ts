/**
 * `node --import tsx tools/image/production-tree.ts [dir]`: reduce an installed node_modules (from
 * `npm ci`) to what ferry's own production dependencies reach: the image's runtime tree.
 *
 * `npm prune --omit=dev` is not enough in a workspace: the lockfile marks a package as dev only when
 * no workspace needs it in production, so the simulator's production dependencies (tsx, esbuild,
 * @peculiar/x509) would ship in the worker image. This walks the lockfile from the root package's
 * dependencies, optionalDependencies and peerDependencies, resolving each name as Node does (the
 * nearest node_modules up the tree), and deletes every installed package it does not reach,
 * workspace links included.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

interface LockedPackage {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  link?: boolean;
}

interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockedPackage>;
}

const dependencyNames = (p: LockedPackage): string[] => [
  ...Object.keys(p.dependencies ?? {}),
  ...Object.keys(p.optionalDependencies ?? {}),
  ...Object.keys(p.peerDependencies ?? {}),
];

/** Where `name` required from the package at `from` ("" is the root) resolves, as Node looks it up. */
function resolveFrom(packages: Lockfile['packages'], from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (base === '') return undefined;
    const up = base.lastIndexOf('/node_modules/');
    base = up === -1 ? '' : base.slice(0, up);
  }
}

/** The lockfile locations the root's production dependencies reach. */
export function productionLocations(lock: Lockfile): Set<string> {
  const root = lock.packages[''];
  if (!root) throw new Error('package-lock.json has no root package ("" in packages): regenerate it with npm ≥ 7');
  const reached = new Set<string>();
  const pending = dependencyNames(root).flatMap((name) => resolveFrom(lock.packages, '', name) ?? []);
  for (let location = pending.pop(); location !== undefined; location = pending.pop()) {
    if (reached.has(location)) continue;
    reached.add(location);
    for (const name of dependencyNames(lock.packages[location]!)) {
      // A missing optional or peer dependency (another platform's binary) is not installed at all.
      const found = resolveFrom(lock.packages, location, name);
      if (found) pending.push(found);
    }
  }
  return reached;
}

function main(): void {
  const dir = resolve(process.argv[2] ?? '.');
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as Lockfile;
  if (lock.lockfileVersion < 2) throw new Error(`package-lock.json is lockfileVersion ${lock.lockfileVersion}; this needs ≥ 2 (npm ≥ 7)`);
  const keep = productionLocations(lock);
  let removed = 0;
  for (const location of Object.keys(lock.packages)) {
    if (!location.startsWith('node_modules/') || keep.has(location)) continue;
    // Nested under a removed package: gone with it.
    const path = join(dir, location);
    if (!existsSync(path) && !lock.packages[location]!.link) continue;
    rmSync(path, { recursive: true, force: true });
    removed++;
  }
  // Scopes whose every package went.
  for (const scope of readdirSync(join(dir, 'node_modules')).filter((n) => n.startsWith('@'))) {
    const path = join(dir, 'node_modules', scope);
    if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
  }
  // Their commands and npm's record of the full tree would only point at what is gone.
  rmSync(join(dir, 'node_modules', '.bin'), { recursive: true, force: true });
  rmSync(join(dir, 'node_modules', '.package-lock.json'), { force: true });
  console.log(`production tree: kept ${keep.size} packages, removed ${removed}`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
