/** `npm run temporal:install`: make sure a Temporal CLI exists (building it if needed) and print its path. */
import { ensureTemporalCli } from './temporal-cli.js';

try {
  console.log(await ensureTemporalCli());
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
