/**
 * `npm run temporal:dev [-- --port 7233 --ui-port 8233 | --headless]`: the Temporal dev server in the
 * foreground with the Web UI, ferry's search attributes and a SQLite file under .state/ (git-ignored),
 * so workflows survive restarts. Ctrl-C stops it.
 */
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ferrySearchAttributes } from '../workflows/search-attributes.js';
import { ensureTemporalCli, REPO_ROOT, startDevServer } from './temporal-cli.js';

const usage = 'usage: npm run temporal:dev -- [--port 7233] [--ui-port 8233 | --headless]';

function portFlag(value: string, flag: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--${flag} must be a port number, got ${value}\n${usage}`);
  return port;
}

function parseFlags(): { port: number; uiPort: number | false } {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '7233' },
      'ui-port': { type: 'string', default: '8233' },
      headless: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return { port: portFlag(values.port, 'port'), uiPort: values.headless ? false : portFlag(values['ui-port'], 'ui-port') };
}

async function main(): Promise<void> {
  const { port, uiPort } = parseFlags();
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const cli = await ensureTemporalCli({ log });
  const dbFile = join(REPO_ROOT, '.state', 'temporal', 'dev.sqlite');
  const server = await startDevServer({ cli, port, uiPort, dbFile, log });

  console.log(
    [
      `Temporal dev server (${cli})`,
      `  gRPC:    ${server.address}   (export TEMPORAL_ADDRESS=${server.address})`,
      ...(server.uiUrl ? [`  Web UI:  ${server.uiUrl}`] : []),
      `  data:    ${relative(process.cwd(), dbFile)}`,
      `  search attributes: ${ferrySearchAttributes.map((a) => `${a.name}=${a.type}`).join(', ')}`,
      'Ctrl-C stops it.',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping the Temporal dev server...`);
    void server.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const status = await server.exited;
  if (!stopping) {
    log(`the Temporal dev server exited on its own (code ${status.code}, signal ${status.signal})`);
    process.exit(1);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
