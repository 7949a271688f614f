/**
 * `npm run prometheus:install`: build Prometheus and promtool into `.tools/prometheus-<version>/` if
 * they are not cached yet, and print that folder. Only the folder goes to stdout:
 * `DIR=$(npx tsx tools/prometheus/install.ts)`; progress goes to stderr.
 */
import { ensurePrometheusBinaries, PROMETHEUS_MODULE, PROMETHEUS_MODULE_VERSION } from './build.js';

try {
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const started = Date.now();
  const b = await ensurePrometheusBinaries({ log });
  log(`Prometheus ${b.version} (${PROMETHEUS_MODULE}@${PROMETHEUS_MODULE_VERSION}) ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${b.prometheus}, ${b.promtool}`);
  process.stdout.write(`${b.dir}\n`);
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
