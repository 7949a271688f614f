/**
 * Build the Temporal server and temporal-sql-tool if they are not cached yet, and print their folder.
 * Only the folder goes to stdout: `DIR=$(npx tsx tools/production-temporal/install.ts)`.
 */
import { ensureServerBinaries } from './build.js';

try {
  const b = await ensureServerBinaries({ log: (line) => void process.stderr.write(`${line}\n`) });
  process.stdout.write(`${b.dir}\n`);
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
