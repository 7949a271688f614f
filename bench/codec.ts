/**
 * Payload encryption's cost (`npm run bench:codec -- [--migrations N]`): N migrations with ferry's
 * worker as its own process (`workers/main.ts`) without keys, then N with FERRY_CODEC_KEYS, on one
 * Temporal dev server and one simulator; the client starts each as `ferry migrate` does (input,
 * static summary and details). Per mode it prints:
 *
 *   history bytes per migration (the server's historySizeBytes, summed over the runs), events per
 *   migration, and the worker's CPU per migration (user + system from /proc/<pid>/stat, from the
 *   worker's first poll to the last result, so startup and bundling are left out); then the codec
 *   alone: encode + decode of the migration's input and result payloads, per call.
 *
 * Writes JSON to artifacts/bench-codec-<N>.json. Exit 0 only if every migration succeeded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type DataConverter } from '@temporalio/common';
import { fleetVmName } from '../simulator/fleet.js';
import { Simulator } from '../simulator/sim.js';
import { REPO_ROOT, startDevServer } from '../tools/temporal-cli.js';
import { ferryCodec } from '../workers/codec/data-converter.js';
import { migrationInputSchema, migrationWorkflowId, TASK_QUEUE, type MigrationInput, type MigrationResult } from '../workflows/contract.js';
import { staticDetails, staticSummary } from '../workflows/details.js';

const USAGE = `usage: npm run bench:codec -- [--migrations N] [--out FILE]

  --migrations N   migrations per mode (default 20), all started at once
  --out FILE       JSON report (default artifacts/bench-codec-<N>.json)`;

const { values: args } = parseArgs({ options: { migrations: { type: 'string', default: '20' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } } });
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const N = Number(args.migrations);
if (!Number.isInteger(N) || N < 1) {
  console.error(`--migrations must be a whole number >= 1, got "${args.migrations}"\n${USAGE}`);
  process.exit(2);
}
const NS = 'bench';
const log = (line: string) => console.error(`[bench:codec] ${line}`);
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

/** CPU seconds (user + system) of a process so far, from /proc: the worker is a child, so not process.cpuUsage(). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

function waitForLine(child: ChildProcess, re: RegExp, timeoutMs = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`worker: no ${re} within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (re.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}):\n${out}`)));
  });
}

interface ModeResult {
  mode: string;
  migrations: number;
  succeeded: number;
  historyBytesPerMigration: number;
  eventsPerMigration: number;
  workerCpuMsPerMigration: number;
  wallSeconds: number;
}

async function runMode(mode: 'plaintext' | 'encrypted', o: { address: string; kubeconfig: string; keysDir?: string; prefix: string }): Promise<ModeResult> {
  const env = o.keysDir ? { FERRY_CODEC_KEYS: o.keysDir } : { FERRY_CODEC_KEYS: '' };
  const dataConverter: DataConverter = ferryCodec(env).dataConverter;
  const worker = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'workers', 'main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: o.address, TEMPORAL_NAMESPACE: 'default', FERRY_KUBECONFIG: o.kubeconfig, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The bundler's output is noise here; kept for the error if the worker fails.
  let stderr = '';
  worker.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-8000)));
  const connection = await Connection.connect({ address: o.address });
  try {
    await waitForLine(worker, /ferry worker: payloads/).catch((e: Error) => {
      throw new Error(`${e.message}\n--- worker stderr (last lines) ---\n${stderr}`);
    });
    const client = new Client({ connection, dataConverter });
    const cpu0 = cpuSeconds(worker.pid!);
    const t0 = Date.now();
    const handles: WorkflowHandle[] = [];
    for (let i = 1; i <= N; i++) {
      const input: MigrationInput = {
        source: { cluster: 'source', namespace: NS, name: fleetVmName(o.prefix, i) },
        destination: { cluster: 'destination' },
        options: { pollInterval: '500ms' },
      };
      const m = migrationInputSchema.parse(input);
      handles.push(
        await client.workflow.start('migrateVm', {
          taskQueue: TASK_QUEUE,
          workflowId: migrationWorkflowId(m),
          args: [input],
          staticSummary: staticSummary(m),
          staticDetails: staticDetails(m),
        }),
      );
    }
    const outcomes = await Promise.all(
      handles.map((h) =>
        h.result().then(
          (r: MigrationResult) => r.outcome,
          () => 'Failed',
        ),
      ),
    );
    const wallSeconds = (Date.now() - t0) / 1000;
    const cpu = cpuSeconds(worker.pid!) - cpu0;
    let bytes = 0;
    let events = 0;
    for (const h of handles) {
      const info = (await h.describe()).raw.workflowExecutionInfo!;
      bytes += Number(info.historySizeBytes ?? 0);
      events += Number(info.historyLength ?? 0);
    }
    return {
      mode,
      migrations: N,
      succeeded: outcomes.filter((x) => x === 'Succeeded').length,
      historyBytesPerMigration: Math.round(bytes / N),
      eventsPerMigration: round(events / N),
      workerCpuMsPerMigration: Math.round((cpu * 1000) / N),
      wallSeconds: round(wallSeconds),
    };
  } finally {
    worker.kill('SIGTERM');
    await new Promise((r) => (worker.exitCode !== null ? r(undefined) : worker.once('exit', r)));
    await connection.close();
  }
}

/** The codec alone on what a migration carries: its input and a result of the size the bench produced. */
async function codecAlone(keysDir: string): Promise<{ payloadBytes: number; encryptedBytes: number; microsPerEncodeDecode: number }> {
  const codec = ferryCodec({ FERRY_CODEC_KEYS: keysDir }).dataConverter.payloadCodecs![0]!;
  const input = { source: { cluster: 'source', namespace: NS, name: fleetVmName('enc', 1) }, destination: { cluster: 'destination' }, options: { pollInterval: '500ms' } };
  const payload = defaultPayloadConverter.toPayload({
    input,
    created: Array.from({ length: 8 }, (_, i) => ({ cluster: 'destination', kind: 'Secret', namespace: NS, name: `s-${i}`, uid: randomBytes(16).toString('hex') })),
  });
  const rounds = 20_000;
  const t0 = process.hrtime.bigint();
  let encrypted = 0;
  for (let i = 0; i < rounds; i++) {
    const [e] = await codec.encode([payload]);
    encrypted = e!.data!.length;
    await codec.decode([e!]);
  }
  const micros = Number(process.hrtime.bigint() - t0) / 1000 / rounds;
  return { payloadBytes: payload.data!.length, encryptedBytes: encrypted, microsPerEncodeDecode: round(micros, 2) };
}

async function main(): Promise<number> {
  log(`${N} migrations per mode; ${cpus().length} CPUs`);
  const server = await startDevServer({ uiPort: false });
  void server.exited.then((s) => log(`the Temporal dev server exited: ${JSON.stringify(s)}`));
  const sim = await Simulator.start();
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bench-codec-'));
  const kubeconfig = join(dir, 'kubeconfig');
  sim.writeKubeconfig(kubeconfig);
  const keysDir = join(dir, 'keys');
  mkdirSync(keysDir);
  writeFileSync(join(keysDir, 'bench-1'), randomBytes(32).toString('base64'));
  try {
    await sim.loadFleet({ namespace: NS, count: N, prefix: 'plain' });
    await sim.loadFleet({ namespace: NS, count: N, prefix: 'enc' });
    const plain = await runMode('plaintext', { address: server.address, kubeconfig, prefix: 'plain' });
    log(`plaintext: ${JSON.stringify(plain)}`);
    const enc = await runMode('encrypted', { address: server.address, kubeconfig, keysDir, prefix: 'enc' });
    log(`encrypted: ${JSON.stringify(enc)}`);
    const alone = await codecAlone(keysDir);
    const pct = (a: number, b: number) => `${a >= b ? '+' : ''}${round(((a - b) / b) * 100)}%`;
    console.log(
      [
        `codec overhead, ${N} migrations per mode (${cpus().length} CPUs; worker = workers/main.ts in its own process)`,
        `                              plaintext   encrypted   difference`,
        `  history bytes / migration   ${String(plain.historyBytesPerMigration).padStart(9)}   ${String(enc.historyBytesPerMigration).padStart(9)}   ${pct(enc.historyBytesPerMigration, plain.historyBytesPerMigration)}`,
        `  events / migration          ${String(plain.eventsPerMigration).padStart(9)}   ${String(enc.eventsPerMigration).padStart(9)}`,
        `  worker CPU ms / migration   ${String(plain.workerCpuMsPerMigration).padStart(9)}   ${String(enc.workerCpuMsPerMigration).padStart(9)}   ${pct(enc.workerCpuMsPerMigration, plain.workerCpuMsPerMigration)}`,
        `  wall time (s, all at once)  ${String(plain.wallSeconds).padStart(9)}   ${String(enc.wallSeconds).padStart(9)}`,
        `  succeeded                   ${String(plain.succeeded).padStart(9)}   ${String(enc.succeeded).padStart(9)}`,
        `codec alone: a ${alone.payloadBytes}-byte payload encrypts to ${alone.encryptedBytes} bytes; encode + decode ${alone.microsPerEncodeDecode} µs`,
      ].join('\n'),
    );
    const out = args.out ?? join(REPO_ROOT, 'artifacts', `bench-codec-${N}.json`);
    mkdirSync(join(out, '..'), { recursive: true });
    writeFileSync(out, JSON.stringify({ migrations: N, cpus: cpus().length, node: process.version, plaintext: plain, encrypted: enc, codecAlone: alone }, null, 2));
    log(`wrote ${out}`);
    return plain.succeeded === N && enc.succeeded === N ? 0 : 1;
  } finally {
    await sim.stop();
    await server.stop();
  }
}

process.exitCode = await main();
