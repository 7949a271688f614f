/**
 * `npm run demo [-- --exit]`: the whole product on one machine. Gets the Temporal CLI, starts the dev
 * server with the Web UI, the two simulated clusters and a ferry worker, then tells a short story:
 *
 *   web-01 and cache-01 migrate; batch-01 is refused by preflight (it is not running; nothing is
 *   written); db-01 runs into a network partition, stalls with a diagnosis, the partition is healed and
 *   the migration is retried to success.
 *
 * It prints what happens as it happens, then stays up for exploring (Web UI, ferry CLI, Temporal CLI,
 * kubectl) until Ctrl-C. With `--exit` it stops after the story and exits 0 only if every migration
 * reached its expected outcome. Everything it started is stopped either way.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { Simulator } from '../simulator/sim.js';
import { progressSources } from '../workers/progress-config.js';
import { startPrometheus } from './prometheus/server.js';
import { KubeconfigRegistry } from '../workers/clusters.js';
import { ferryCodec } from '../workers/codec/data-converter.js';
import { startCodecServer } from '../workers/codec/server.js';
import { createFerryWorker } from '../workers/worker.js';
import { type MigrationInput, migrationInputSchema, type MigrationResult, type MigrationStatus, migrationWorkflowId, TASK_QUEUE } from '../workflows/contract.js';
import { staticDetails, staticSummary } from '../workflows/details.js';
import { progressText } from '../workflows/progress.js';
import { errorMessage } from '../workflows/errors.js';
import { retryUpdate, statusQuery } from '../workflows/messages.js';
import { isTerminal } from '../workflows/phases.js';
import { type DevServer, ensureTemporalCli, preferredPort, REPO_ROOT, startDevServer } from './temporal-cli.js';

const USAGE = `usage: npm run demo [-- --exit] [--port 7233] [--ui-port 8233] [--plaintext]

  --exit          run the story, stop everything, exit 0 only if every migration ended as expected
  --plaintext     no payload encryption (default: a demo key in .state/demo/codec-keys, a codec server for the Web UI)
  --port N        Temporal frontend port (default 7233, or a free one if taken)
  --ui-port N     Temporal Web UI port (default 8233, or a free one if taken)`;

const { values: flags } = parseArgs({
  options: {
    exit: { type: 'boolean', default: false },
    plaintext: { type: 'boolean', default: false },
    port: { type: 'string', default: '7233' },
    'ui-port': { type: 'string', default: '8233' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

const t0 = Date.now();
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const red = (s: string) => (process.stdout.isTTY ? `\x1b[31m${s}\x1b[0m` : s);
const say = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The demo's payload encryption: one key and a codec-server token under .state/demo/, made once and
 * reused, so a rerun against the same SQLite file still reads its old histories.
 */
function demoSecrets(dir: string): { keysDir: string; token: string } {
  const keysDir = join(dir, 'codec-keys');
  const tokenFile = join(dir, 'codec-token');
  mkdirSync(keysDir, { recursive: true, mode: 0o700 });
  if (!existsSync(join(keysDir, 'demo-1'))) writeFileSync(join(keysDir, 'demo-1'), randomBytes(32).toString('base64'), { mode: 0o600 });
  if (!existsSync(tokenFile)) writeFileSync(tokenFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  return { keysDir, token: readFileSync(tokenFile, 'utf8').trim() };
}

/** Demo deadlines: short enough that the stall shows within seconds. */
const DEMO_OPTIONS = { handshakeTimeout: '8s', pollInterval: '250ms', decisionWindow: '10m' };

interface Expectation {
  vm: string;
  expected: string;
  outcome?: string;
}

/** Print each phase change of a migration until it ends; resolves to its final status. */
async function follow(handle: WorkflowHandle, vm: string): Promise<MigrationStatus | undefined> {
  let last = '';
  let final: MigrationStatus | undefined;
  let ended = false;
  void handle.result().then(
    () => (ended = true),
    () => (ended = true),
  );
  for (;;) {
    const s = await handle.query(statusQuery).catch(() => undefined);
    if (s) {
      final = s;
      const progress = s.phase === 'Synchronizing' && s.observed?.progress;
      const key = `${s.phase}/${s.attempt}/${progress ? progress.processedBytes : ''}`;
      if (key !== last) {
        last = key;
        const pct = progress ? `: ${progressText(progress)}` : '';
        if (s.phase === 'Stalled') say(red(`${vm}: Stalled in ${s.stall?.phase}: ${s.stall?.diagnosis}`));
        else
          say(
            `${vm}: ${s.phase}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}${s.phase === 'Synchronizing' ? pct : ''}${s.phase === 'Failed' && s.error ? `: ${s.error.split('\n').slice(0, 3).join(' ')}` : ''}`,
          );
      }
    }
    if (ended) return (await handle.query(statusQuery).catch(() => final)) ?? final;
    await sleep(150);
  }
}

async function main(): Promise<number> {
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((e: unknown) => console.error(`while stopping: ${String(e)}`));
  };
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    say('Ctrl-C: stopping everything the demo started…');
    // Exploring ends fine with Ctrl-C; a checked run (--exit) that was interrupted did not pass.
    void stopAll().then(() => process.exit(flags.exit ? 130 : 0));
  });

  try {
    say(bold('ferry demo: live-migrating KubeVirt VMs between two (simulated) clusters with Temporal'));
    const cli = await ensureTemporalCli({ log: (l) => say(l) });
    const [port, uiPort] = [await preferredPort(Number(flags.port)), await preferredPort(Number(flags['ui-port']))];
    // Payload encryption: the codec server must exist before the dev server, whose Web UI points at it.
    const stateDir = join(REPO_ROOT, '.state', 'demo');
    const secrets = flags.plaintext ? undefined : demoSecrets(stateDir);
    const codec = ferryCodec(secrets ? { FERRY_CODEC_KEYS: secrets.keysDir } : {});
    const codecServer = secrets
      ? await startCodecServer({ codec: codec.dataConverter.payloadCodecs![0]!, token: secrets.token, uiOrigins: [`http://127.0.0.1:${uiPort}`], uiWithoutToken: true })
      : undefined;
    if (codecServer) stops.push(() => codecServer.close());
    const server: DevServer = await startDevServer({
      cli,
      port,
      uiPort,
      dbFile: join(stateDir, 'temporal.sqlite'),
      ...(codecServer ? { uiCodecEndpoint: codecServer.url } : {}),
    });
    stops.push(() => server.stop());
    say(`Temporal dev server at ${server.address}; Web UI at ${server.uiUrl}`);
    say(codecServer ? `${codec.description}; codec server for the Web UI at ${codecServer.url}` : codec.description);

    const sim = await Simulator.start();
    stops.push(() => sim.stop());
    const kubeconfigFile = join(REPO_ROOT, '.state', 'demo', 'kubeconfig');
    sim.writeKubeconfig(kubeconfigFile);
    say(`simulated clusters "source" and "destination" are up (kubeconfig ${relative(process.cwd(), kubeconfigFile)})`);

    // Progress as a real cluster offers it: virt-handler's metrics, scraped by a real Prometheus, read
    // by the worker through an HTTPS endpoint that wants a bearer token (docs/progress.md).
    const prometheus = await startPrometheus({
      targets: (['source', 'destination'] as const).map((cluster) => ({
        job: 'kubevirt-virt-handler',
        url: sim.virtHandlerMetrics[cluster].url,
        caFile: sim.virtHandlerMetrics[cluster].caFile,
        labels: { cluster },
      })),
      log: (l) => say(l),
    });
    stops.push(() => prometheus.stop());
    const progressDir = join(REPO_ROOT, '.state', 'demo', 'progress');
    mkdirSync(progressDir, { recursive: true });
    writeFileSync(join(progressDir, 'token'), prometheus.token, { mode: 0o600 });
    const endpoint = (cluster: string) => ({ url: prometheus.queryUrl, caFile: prometheus.caFile, tokenFile: join(progressDir, 'token'), labels: { cluster } });
    const progress = progressSources({ clusters: { source: endpoint('source'), destination: endpoint('destination') } }, ['source', 'destination']);
    say("the worker reads progress (KubeVirt's virt-handler metrics) through Prometheus's query endpoint");

    Runtime.install({ logger: new DefaultLogger('ERROR') });
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigFile);
    const nativeConnection = await NativeConnection.connect({ address: server.address });
    const connection = await Connection.connect({ address: server.address });
    const worker: Worker = await createFerryWorker({
      connection: nativeConnection,
      client: connection,
      namespace: 'default',
      clusters: new KubeconfigRegistry(kc),
      progress,
      dataConverter: codec.dataConverter,
    });
    const workerRun = worker.run();
    stops.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun.catch(() => undefined);
      await nativeConnection.close();
      await connection.close();
    });
    say('ferry worker is polling task queue "ferry"');
    const client = new Client({ connection, dataConverter: codec.dataConverter });

    const start = async (vm: string): Promise<WorkflowHandle> => {
      const input: MigrationInput = { source: { cluster: 'source', namespace: 'demo', name: vm }, destination: { cluster: 'destination' }, options: DEMO_OPTIONS };
      const m = migrationInputSchema.parse(input);
      const workflowId = migrationWorkflowId(m);
      // A rerun of the demo against the same SQLite file starts fresh migrations under the same IDs.
      await client.workflow
        .getHandle(workflowId)
        .terminate('demo restarted')
        .catch(() => undefined);
      return client.workflow.start('migrateVm', { taskQueue: TASK_QUEUE, workflowId, args: [input], staticSummary: staticSummary(m), staticDetails: staticDetails(m) });
    };
    const outcomeOf = async (h: WorkflowHandle): Promise<string> => {
      try {
        const r = (await h.result()) as MigrationResult;
        return r.outcome === 'Succeeded' && r.attempts > 1 ? `Succeeded after ${r.attempts} attempts` : r.outcome;
      } catch (e) {
        return `Failed: ${errorMessage(e).split('\n')[0]}`;
      }
    };
    const expectations: Expectation[] = [];

    // Act 1: two VMs migrate side by side; one is refused by preflight.
    say(bold('Act 1: web-01 and cache-01 migrate; batch-01 is halted, so preflight refuses it'));
    const act1 = await Promise.all(['web-01', 'cache-01', 'batch-01'].map(async (vm) => ({ vm, handle: await start(vm) })));
    await Promise.all(act1.map(({ vm, handle }) => follow(handle, vm)));
    for (const { vm, handle } of act1) expectations.push({ vm, expected: vm === 'batch-01' ? 'Failed: preflight' : 'Succeeded', outcome: await outcomeOf(handle) });

    // Act 2: a partition between the clusters' sync endpoints; the migration stalls with a diagnosis.
    say(bold('Act 2: the network between the clusters is cut; db-01 stalls'));
    await sim.partition(true);
    say("partition ON: the source cannot reach the destination's synchronization address");
    const db = await start('db-01');
    const dbFollowed = follow(db, 'db-01');
    for (;;) {
      const s = await db.query(statusQuery).catch(() => undefined);
      if (s?.phase === 'Stalled' || (s && isTerminal(s.phase))) break;
      await sleep(200);
    }
    say(`the Web UI shows the diagnosis and the commands: ${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(db.workflowId)}`);
    say(`an operator would now run:  npm run -s ferry -- retry ${db.workflowId}   (or: temporal workflow update execute -w ${db.workflowId} --name retry)`);
    await sleep(2000);
    await sim.partition(false);
    say('partition OFF: healed; retrying db-01');
    const answer = await db.executeUpdate(retryUpdate, { args: [{ reason: 'demo: partition healed' }] });
    say(`db-01 answered: ${answer.message}`);
    await dbFollowed;
    expectations.push({ vm: 'db-01', expected: 'Succeeded after 2 attempts', outcome: await outcomeOf(db) });

    // The verdict.
    say(bold('Outcomes'));
    let ok = true;
    for (const e of expectations) {
      const met = e.outcome?.startsWith(e.expected) ?? false;
      ok &&= met;
      say(`  ${met ? 'ok  ' : red('FAIL')} ${e.vm.padEnd(9)} expected ${e.expected.padEnd(28)} got ${e.outcome}`);
    }

    const env = `TEMPORAL_ADDRESS=${server.address} FERRY_KUBECONFIG=${relative(process.cwd(), kubeconfigFile)}${secrets ? ` FERRY_CODEC_KEYS=${relative(process.cwd(), secrets.keysDir)}` : ''}`;
    const codecFlags = codecServer ? ` --codec-endpoint ${codecServer.url} --codec-auth "Bearer $(cat ${relative(process.cwd(), join(stateDir, 'codec-token'))})"` : '';
    console.log(`
${bold('Explore')}
  Web UI:          ${server.uiUrl}/namespaces/default/workflows
  ferry CLI:       ${env} npm run -s ferry -- list
                   ${env} npm run -s ferry -- status migration/source/demo/db-01
                   ${env} npm run -s ferry -- validate demo/batch-01 --from source --to destination
  Temporal CLI:    ${cli} workflow list --address ${server.address} --query "WorkflowType = 'migrateVm'"
                   ${cli} workflow describe --address ${server.address} -w migration/source/demo/db-01${codecFlags}${codecServer ? `\n                   (without --codec-endpoint the Temporal CLI shows only ciphertext: payloads are encrypted)` : ''}
  kubectl:         kubectl --kubeconfig ${relative(process.cwd(), kubeconfigFile)} --context destination get vm,vmi -n demo
  Prometheus:      curl -s '${prometheus.url}/api/v1/query?query=kubevirt_vmi_migration_data_remaining_bytes'   (KubeVirt's progress metrics, while a migration runs)
  faults:          npm run sim:control -- --kubeconfig ${relative(process.cwd(), kubeconfigFile)} partition on`);

    if (flags.exit) {
      await stopAll();
      say(ok ? 'every demo migration reached its expected outcome' : red('some demo migration did not reach its expected outcome'));
      return ok ? 0 : 1;
    }
    say('the demo stays up for exploring; Ctrl-C stops everything it started');
    await new Promise(() => undefined);
    return 0;
  } catch (e) {
    console.error(red(`demo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
    await stopAll();
    return 1;
  }
}

process.exitCode = await main();
