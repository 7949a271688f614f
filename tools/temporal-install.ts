/**
 * `npm run temporal:install`: find the Temporal CLI, building it with `go install` if needed, and print
 * its path. Only the path goes to stdout, so scripts can capture it: `TEMPORAL_CLI=$(npx tsx tools/temporal-install.ts)`.
 */
import { ensureTemporalCli } from './temporal-cli.js';

try {
  const cli = await ensureTemporalCli({ log: (line) => void process.stderr.write(`${line}\n`) });
  process.stdout.write(`${cli}\n`);
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
