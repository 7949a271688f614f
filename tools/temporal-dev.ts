/**
 * `npm run temporal:dev`: the Temporal dev server with the Web UI, ferry's search attributes and a
 * SQLite file under .state/ (git-ignored), in the foreground until Ctrl-C.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, startDevServer } from './temporal-cli.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '7233' }, 'ui-port': { type: 'string', default: '8233' }, headless: { type: 'boolean', default: false } } });
const server = await startDevServer({
  port: Number(values.port),
  uiPort: values.headless ? false : Number(values['ui-port']),
  dbFile: join(REPO_ROOT, '.state', 'temporal', 'dev.sqlite'),
});
console.log(`Temporal dev server at ${server.address}${server.uiUrl ? `, Web UI ${server.uiUrl}` : ''}. Ctrl-C stops it.`);
const stop = () => void server.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
