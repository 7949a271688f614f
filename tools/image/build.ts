/**
 * `npm run image:build [-- --no-cache] [--official-bases] [--tag <ref>]`: the worker image from the
 * Containerfile with buildah, into ferry's image store (tools/image/containers.ts). By default on the
 * bases tools/image/base.ts makes from this machine (no registry is reachable here);
 * `--official-bases` keeps the Containerfile's defaults (docker.io/library/node:20-*). Prints the
 * build time and each layer's size.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBaseImages } from './base.js';
import { layersOf, mib, streamTool, WORKER_IMAGE, type Layer } from './containers.js';

export interface BuildOptions {
  tag?: string;
  /** Rebuild every step (a cold build; the npm download cache mount still applies). */
  noCache?: boolean;
  officialBases?: boolean;
  log?: (line: string) => void;
}

export interface BuiltImage {
  ref: string;
  /** The Containerfile build alone, without making the bases. */
  buildSeconds: number;
  layers: Layer[];
  bytes: number;
}

export async function buildWorkerImage(o: BuildOptions = {}): Promise<BuiltImage> {
  const log = o.log ?? (() => {});
  const ref = o.tag ?? WORKER_IMAGE;
  const bases = o.officialBases ? undefined : await ensureBaseImages(log);
  const started = Date.now();
  await streamTool(
    'buildah',
    [
      'bud',
      // chroot isolation: no container runtime or cgroups needed for RUN steps; they share the host's
      // network, which `npm ci` needs for the registry.
      '--isolation',
      'chroot',
      '--layers',
      ...(o.noCache ? ['--no-cache'] : []),
      ...(bases ? ['--build-arg', `BUILD_IMAGE=${bases.build}`, '--build-arg', `RUNTIME_IMAGE=${bases.runtime}`, '--pull=never'] : []),
      '--file',
      'Containerfile',
      '--tag',
      ref,
      '.',
    ],
    log,
  );
  const buildSeconds = (Date.now() - started) / 1000;
  const layers = await layersOf(ref);
  return { ref, buildSeconds, layers, bytes: layers.reduce((sum, l) => sum + l.bytes, 0) };
}

export function describeImage(image: BuiltImage): string {
  return [
    `${image.ref}: built in ${image.buildSeconds.toFixed(1)} s, ${mib(image.bytes)} uncompressed`,
    ...image.layers.map((l) => `  ${mib(l.bytes).padStart(10)}  ${l.createdBy.slice(0, 110)}`),
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { values } = parseArgs({
    options: {
      'no-cache': { type: 'boolean', default: false },
      'official-bases': { type: 'boolean', default: false },
      tag: { type: 'string' },
    },
  });
  buildWorkerImage({
    noCache: values['no-cache'],
    officialBases: values['official-bases'],
    ...(values.tag ? { tag: values.tag } : {}),
    log: (line) => void process.stderr.write(`${line}\n`),
  }).then(
    (image) => console.log(describeImage(image)),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    },
  );
}
