/**
 * The worker image end to end (`npm run image:test`, root with buildah and podman): build it from the
 * Containerfile on bases made from this machine, run it as a hardened pod would (read-only root and
 * not even a /tmp, user 65532, no capabilities, kubeconfig mounted read-only) against a real Temporal dev server
 * and the two simulated clusters, and see it poll task queue `ferry` under its own identity, run a
 * migration the ferry CLI starts (every workflow and activity task of its history taken by the
 * container), and shut down gracefully on SIGTERM. Prints the build times, layer sizes and start time.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { ensureTemporalCli, freePort } from '../../tools/temporal-cli.js';
import { buildWorkerImage, describeImage, type BuiltImage } from '../../tools/image/build.js';
import { startWorkerContainer, type WorkerContainer } from '../../tools/image/run.js';
import { FERRY_UID } from '../../tools/image/base.js';
import { runFerry } from '../support/cli.js';
import { startStack, type Stack } from '../support/e2e.js';

const run = promisify(execFile);
const log = (line: string): void => void process.stderr.write(`${line}\n`);

let image: BuiltImage;
let stack: Stack;
let worker: WorkerContainer;
let identity = '';
let startedMs = 0;
let readyMs = 0;

/** The identities of task queue `ferry`'s pollers, as the Temporal CLI lists them. */
async function pollerIdentities(cli: string, address: string): Promise<string[]> {
  const { stdout } = await run(cli, ['task-queue', 'describe', '--task-queue', 'ferry', '--address', address, '--output', 'json']);
  return [...stdout.matchAll(/"identity":\s*"([^"]+)"/g)].map((m) => m[1]!);
}

// Minutes of building as root: `npm test` skips it, `npm run image:test` (and CI's "worker image" section) runs it.
const skip = process.env.FERRY_IMAGE_TEST === '1' ? false : 'builds and runs the image as root: npm run image:test';

describe('the worker image', { skip }, () => {
  before(async () => {
    // Warm: the Containerfile's layers are cached unless a file in the context changed.
    const started = Date.now();
    image = await buildWorkerImage({ log: () => {} });
    log(`image built (cached layers where unchanged) in ${((Date.now() - started) / 1000).toFixed(1)} s including the bases`);
    log(describeImage(image));
    stack = await startStack({ inProcessWorker: false });
  });

  after(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  it('is configured to run the worker as the non-root user', async () => {
    const entrypoint = image.layers.at(-1)?.createdBy ?? '';
    assert.match(entrypoint, /ENTRYPOINT \["node", "dist\/workers\/main\.js"\]/);
    assert.ok(
      image.layers.some((l) => l.createdBy.includes(`USER ${FERRY_UID}:${FERRY_UID}`)),
      image.layers.map((l) => l.createdBy).join('\n'),
    );
  });

  it('starts with nothing writable, as user 65532, and polls task queue ferry under its own identity', async () => {
    const cli = await ensureTemporalCli();
    const name = `ferry-image-test-${process.pid}`;
    startedMs = Date.now();
    const healthPort = await freePort();
    worker = startWorkerContainer({
      image: image.ref,
      name,
      temporalAddress: stack.server.address,
      kubeconfigFile: stack.kubeconfigFile,
      env: { FERRY_HEALTH_PORT: String(healthPort), FERRY_HEALTH_HOST: '127.0.0.1' },
      tmp: false,
    });
    await worker.waitForLine(/^ferry worker: Temporal .* task queue ferry; clusters: source .*destination/, 60_000);
    readyMs = Date.now() - startedMs;
    await worker.waitForLine(/^ferry worker: health on /, 10_000);
    let ready = 0;
    while (ready !== 200 && Date.now() - startedMs < 60_000) {
      ready = await fetch(`http://127.0.0.1:${healthPort}/readyz`).then((r) => r.status);
      if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ready, 200, `/readyz never answered 200; container output:\n${worker.output()}`);
    const readyzMs = Date.now() - startedMs;
    // The SDK's default identity is <pid>@<hostname>; the hostname is the container's name.
    const deadline = Date.now() + 30_000;
    for (;;) {
      identity = (await pollerIdentities(cli, stack.server.address)).find((id) => id.endsWith(`@${name}`)) ?? '';
      if (identity || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(identity, `no poller with identity *@${name} on task queue ferry; container output:\n${worker.output()}`);
    log(`worker container: worker created ${readyMs} ms after podman run, /readyz 200 after ${readyzMs} ms, listed as poller ${identity} after ${Date.now() - startedMs} ms`);

    assert.equal((await worker.exec(['node', '-p', 'process.getuid() + ":" + process.getgid()'])).trim(), `${FERRY_UID}:${FERRY_UID}`);
    await assert.rejects(worker.exec(['node', '-e', 'require("fs").writeFileSync("/app/dist/written", "")']), /EROFS/);
    // Not even /tmp: the container has no writable path at all, so whatever it does, it writes nothing.
    await assert.rejects(worker.exec(['node', '-e', 'require("fs").writeFileSync("/tmp/scratch", "")']), /EROFS/);
  });

  it('holds production dependencies only: no dev tools, no simulator, one core-bridge platform, the prebuilt bundle', async () => {
    const probe = ['typescript', 'tsx', 'eslint', 'prettier', '@temporalio/testing', 'ferry-simulator', '@peculiar/x509', '@temporalio/worker', '@kubernetes/client-node'];
    const script = `const fs = require("fs"); console.log(JSON.stringify({
      present: ${JSON.stringify(probe)}.filter((p) => fs.existsSync("/app/node_modules/" + p)),
      releases: fs.readdirSync("/app/node_modules/@temporalio/core-bridge/releases"),
      bundle: fs.existsSync("/app/dist/workflow-bundle.js"),
    }))`;
    const found = JSON.parse(await worker.exec(['node', '-e', script])) as { present: string[]; releases: string[]; bundle: boolean };
    assert.deepEqual(found, {
      present: ['@temporalio/worker', '@kubernetes/client-node'],
      releases: [`${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-unknown-linux-gnu`],
      bundle: true,
    });
  });

  it('runs a migration the ferry CLI starts: every task in its history is taken by the container', async () => {
    assert.ok(identity, 'the worker container is not polling');
    const options = ['--option', 'pollInterval=200ms', '--option', 'receiverReadyTimeout=20s', '--option', 'syncAddressTimeout=20s', '--option', 'minCompletionTimeout=60s'];
    const r = await runFerry(stack, ['migrate', 'demo/web-01', '--from', 'source', '--to', 'destination', ...options, '--wait']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\ncontainer output:\n${worker.output()}`);
    assert.match(r.stdout, /Succeeded/);

    const history = await stack.client.workflow.getHandle('migration/source/demo/web-01').fetchHistory();
    const taken = (history.events ?? []).flatMap((e) => {
      const started = e.workflowTaskStartedEventAttributes ?? e.activityTaskStartedEventAttributes;
      return started ? [{ kind: e.workflowTaskStartedEventAttributes ? 'workflow task' : 'activity', identity: started.identity ?? '' }] : [];
    });
    assert.ok(taken.filter((t) => t.kind === 'activity').length >= 5, `expected the migration's activities in the history, got ${JSON.stringify(taken)}`);
    assert.deepEqual(
      taken.filter((t) => t.identity !== identity),
      [],
      `tasks taken by someone other than the container (${identity})`,
    );

    // The VM runs on the destination cluster now.
    const custom = stack.sim.cluster('destination').kubeConfig('admin').makeApiClient(CustomObjectsApi);
    const vm = (await custom.getNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: 'demo', plural: 'virtualmachines', name: 'web-01' })) as {
      status?: { printableStatus?: string };
    };
    assert.equal(vm.status?.printableStatus, 'Running');
  });

  it('shuts down gracefully on SIGTERM', async () => {
    const status = await worker.stop();
    assert.match(worker.output(), /^ferry worker stopped$/m);
    // The SDK logs at INFO; had the worker bundled the workflow code itself (webpack), it would say so.
    assert.match(worker.output(), /Worker state changed/);
    assert.doesNotMatch(worker.output(), /Workflow bundle created/);
    assert.equal(status.code, 0, worker.output());
  });
});
