/** Finding the Temporal CLI ($TEMPORAL_CLI, then PATH, then .tools/bin) and the dev server's arguments. */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { devServerArgs, devServerDynamicConfig, findTemporalCli, installInstructions, LOCAL_BIN, TEMPORAL_CLI_MODULE, TEMPORAL_CLI_VERSION } from '../../tools/temporal-cli.js';
import { ferrySearchAttributes } from '../../workflows/search-attributes.js';

function fakeCli(dir: string, name = 'temporal', mode = 0o755): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\necho fake temporal\n');
  chmodSync(path, mode);
  return path;
}

describe('findTemporalCli', () => {
  const saved = { TEMPORAL_CLI: process.env.TEMPORAL_CLI, PATH: process.env.PATH };
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-cli-'));
  });

  afterEach(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('TEMPORAL_CLI wins over a temporal on PATH', () => {
    const onPath = fakeCli(join(dir, 'bin'));
    const chosen = fakeCli(join(dir, 'elsewhere'), 'my-temporal');
    process.env.PATH = join(dir, 'bin');
    process.env.TEMPORAL_CLI = chosen;
    assert.equal(findTemporalCli(), chosen);
    assert.notEqual(findTemporalCli(), onPath);
  });

  it('a TEMPORAL_CLI naming a missing file is an error that names TEMPORAL_CLI', () => {
    process.env.TEMPORAL_CLI = join(dir, 'no-such-temporal');
    assert.throws(() => findTemporalCli(), /TEMPORAL_CLI=.*no-such-temporal/);
  });

  it('a TEMPORAL_CLI naming a non-executable file or a directory is an error too', () => {
    process.env.TEMPORAL_CLI = fakeCli(dir, 'not-executable', 0o644);
    assert.throws(() => findTemporalCli(), /TEMPORAL_CLI/);
    process.env.TEMPORAL_CLI = dir;
    assert.throws(() => findTemporalCli(), /TEMPORAL_CLI/);
  });

  it('without TEMPORAL_CLI, the first executable temporal on PATH wins', () => {
    delete process.env.TEMPORAL_CLI;
    fakeCli(join(dir, 'a'), 'temporal', 0o644); // not executable: skipped
    const second = fakeCli(join(dir, 'b'));
    fakeCli(join(dir, 'c'));
    process.env.PATH = [join(dir, 'empty'), join(dir, 'a'), join(dir, 'b'), join(dir, 'c')].join(':');
    assert.equal(findTemporalCli(), second);
  });

  it('with nothing on PATH, falls back to the project-local .tools/bin', () => {
    delete process.env.TEMPORAL_CLI;
    process.env.PATH = join(dir, 'empty');
    const local = join(LOCAL_BIN, 'temporal');
    assert.equal(findTemporalCli(), existsSync(local) ? local : undefined);
  });

  it('the install instructions give the go install command and TEMPORAL_CLI', () => {
    const text = installInstructions();
    assert.ok(text.includes(`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`), text);
    assert.match(text, /Go >= 1\.25/);
    assert.match(text, /TEMPORAL_CLI/);
  });
});

describe('devServerArgs', () => {
  /** Values of every occurrence of a repeatable flag. */
  function flagValues(args: string[], flag: string): string[] {
    return args.flatMap((a, i) => (a === flag && args[i + 1] !== undefined ? [args[i + 1] as string] : []));
  }

  it('binds loopback, registers every ferry search attribute and enables Updates', () => {
    const args = devServerArgs({ port: 7233, uiPort: 8233 });
    assert.deepEqual(args.slice(0, 2), ['server', 'start-dev']);
    assert.deepEqual(flagValues(args, '--ip'), ['127.0.0.1']);
    assert.deepEqual(flagValues(args, '--port'), ['7233']);
    assert.deepEqual(flagValues(args, '--ui-port'), ['8233']);
    assert.deepEqual(
      flagValues(args, '--search-attribute'),
      ferrySearchAttributes.map((a) => `${a.name}=${a.type}`),
    );
    const dynamic = flagValues(args, '--dynamic-config-value');
    assert.ok(dynamic.includes('frontend.enableUpdateWorkflowExecution=true'), dynamic.join(' '));
    assert.ok(dynamic.includes('frontend.enableUpdateWorkflowExecutionAsyncAccepted=true'), dynamic.join(' '));
    assert.ok(dynamic.includes('limit.maxIDLength=1000'), dynamic.join(' '));
    assert.equal(dynamic.length, Object.keys(devServerDynamicConfig).length);
    assert.ok(!args.includes('--headless'));
    assert.ok(!args.includes('--namespace'), 'default is always created; passing it again is redundant');
  });

  it('headless, persistent and with an extra namespace', () => {
    const args = devServerArgs({ port: 1234, uiPort: false, dbFile: '/tmp/x.sqlite', namespace: 'ferry' });
    assert.ok(args.includes('--headless'));
    assert.ok(!args.includes('--ui-port'));
    assert.deepEqual(flagValues(args, '--db-filename'), ['/tmp/x.sqlite']);
    assert.deepEqual(flagValues(args, '--namespace'), ['ferry']);
  });
});
