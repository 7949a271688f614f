/**
 * `npm run temporal:production`: ferry's production Temporal (docker-compose.temporal.yml's setup)
 * without Docker, in the foreground: PostgreSQL 15, the Temporal server built from Go, the compose
 * file's dynamic config, namespace and retention, ferry's search attributes. Prints how to connect;
 * Ctrl-C stops everything it started.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { preferredPort } from '../processes.js';
import { dynamicConfigValues, readComposeTemporal } from './compose.js';
import { profileToml } from './profile.js';
import { startProductionTemporal } from './server.js';
import { generateTlsFiles } from './tls.js';

const USAGE = `usage: npm run temporal:production [-- --port 7233] [--tls] [--dir DIR]

  --port N    frontend gRPC port (default 7233, or a free port if taken)
  --tls       TLS with client certificates (mTLS) on the frontend, from a CA generated into DIR/tls
  --dir DIR   keep the database, config, logs (and certificates) in DIR after Ctrl-C
              (default: a temporary folder, removed on exit). DIR must be new or empty.`;

function flags(): { port?: number; tls: boolean; dir?: string } {
  const { values } = parseArgs({
    options: { port: { type: 'string' }, tls: { type: 'boolean', default: false }, dir: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port must be a port number 1-65535 (got "${values.port}")\n${USAGE}`);
  }
  return { ...(port !== undefined ? { port } : {}), tls: values.tls, ...(values.dir !== undefined ? { dir: values.dir } : {}) };
}

async function main(): Promise<void> {
  const f = flags();
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const dir = f.dir ?? mkdtempSync(join(tmpdir(), 'ferry-production-temporal-'));
  // PostgreSQL may run as another user (under root), who must pass through to its folder.
  if (f.dir === undefined) chmodSync(dir, 0o711);
  const tls = f.tls ? await generateTlsFiles(join(dir, 'tls')) : undefined;
  const server = await startProductionTemporal({
    dir,
    keep: f.dir !== undefined,
    // 7233 when free; else one the server picks (below 32768, see server.ts).
    ...(f.port !== undefined ? { port: f.port } : (await preferredPort(7233)) === 7233 ? { port: 7233 } : {}),
    ...(tls ? { tls } : {}),
    log,
  }).catch((e: unknown) => {
    // Refused before the server took the folder over (e.g. a bad --port): remove it here.
    if (f.dir === undefined) rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  const profileFile = join(dir, 'temporal.toml');
  writeFileSync(profileFile, profileToml('production', server.address, server.namespace, server.tls));
  const env = server.clientEnv();
  const t = server.timings;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const dynamic = dynamicConfigValues(readComposeTemporal().dynamicConfigYaml);
  console.log(
    [
      `Temporal server ${server.version} with PostgreSQL ${server.postgres.version} (docker-compose.temporal.yml's setup, without Docker)`,
      '',
      'For ferry, ferry-worker (npm run worker) and the Temporal CLI:',
      ...Object.entries(env).map(([k, v]) => `  export ${k}=${v}`),
      `or the profile file: export TEMPORAL_CONFIG_FILE=${profileFile} TEMPORAL_PROFILE=production`,
      '',
      `  dynamic config: ${Object.entries(dynamic)
        .map(([k, v]) => `${k}=${v.join(',')}`)
        .join(' ')}`,
      `  server log:     ${server.serverLog}`,
      `  server config:  ${server.configFile}`,
      `  PostgreSQL:     127.0.0.1:${server.postgres.port}, log ${server.postgres.logFile}`,
      `  metrics:        ${server.metricsUrl}`,
      `  ready in ${s(t.totalMs)}: PostgreSQL ${s(t.postgresMs)}, schema ${s(t.schemaMs)}, server ${s(t.serverStartMs)}, namespace + search attributes ${s(t.namespaceAndSearchAttributesMs)}`,
      f.dir ? `Ctrl-C stops everything; ${dir} is kept.` : 'Ctrl-C stops everything and removes the temporary folder.',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping the Temporal server and PostgreSQL...`);
    void server.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const status = await server.exited;
  if (!stopping) {
    log(`temporal-server exited on its own (code ${status.code}, signal ${status.signal}); see ${server.serverLog}`);
    await server.stop();
    process.exit(1);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
