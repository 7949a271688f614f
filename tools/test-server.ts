/**
 * Temporal's Java test server (time skipping), for `TestWorkflowEnvironment.createTimeSkipping` from
 * `@temporalio/testing`. The SDK cannot download its own test server here, so ferry installs
 * `io.temporal:temporal-test-server` and its dependencies from Maven Central with `mvn` into
 * `.tools/temporal-test-server/` and writes a launcher script the SDK runs as an existing executable.
 *
 * The SDK invokes the launcher as `<launcher> <port> [...extraArgs]` and kills it on teardown; the
 * launcher `exec`s java, so that kill reaches the JVM.
 *
 * `npm run test-server:install` (or `tsx tools/test-server.ts`) prints the launcher's path on stdout,
 * progress on stderr: `FERRY_TEST_SERVER=$(npx tsx tools/test-server.ts)`.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeExit, exitOf, findOnPath, forEachLine, isExecutableFile, LineTail } from './processes.js';
import { REPO_ROOT, type Log } from './temporal-cli.js';

/** The test server release installed (Maven Central: io.temporal:temporal-test-server). */
export const TEST_SERVER_VERSION = '1.31.0';
/** Environment variable naming an existing launcher (`<launcher> <port>`); it wins over the local install. */
export const TEST_SERVER_ENV = 'FERRY_TEST_SERVER';
export const TEST_SERVER_TOOLS = join(REPO_ROOT, '.tools', 'temporal-test-server');
/** The launcher script ensureTestServer() writes. */
export const TEST_SERVER_LAUNCHER = join(TEST_SERVER_TOOLS, 'temporal-test-server');

const MAIN_CLASS = 'io.temporal.testserver.TestServer';
const ANSI_ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

function pom(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by tools/test-server.ts: only here so mvn can copy the test server's runtime classpath. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ferry.tools</groupId>
  <artifactId>temporal-test-server-classpath</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>io.temporal</groupId>
      <artifactId>temporal-test-server</artifactId>
      <version>${TEST_SERVER_VERSION}</version>
    </dependency>
    <!-- The server logs through SLF4J; without a binding SLF4J warns on every start. -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-nop</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.8.1</version>
      </plugin>
    </plugins>
  </build>
</project>
`;
}

/**
 * The jars, keyed by the pom's hash so a changed pom reinstalls. Built as `<dir>.partial-<pid>` and
 * renamed, so an interrupted install never looks finished.
 */
const installName = `${TEST_SERVER_VERSION}-${createHash('sha256').update(pom()).digest('hex').slice(0, 12)}`;
const installDir = join(TEST_SERVER_TOOLS, installName);

/**
 * The launcher. Relative to its own folder, so the repository can move. `exec`, so the SDK's kill on
 * teardown stops the JVM rather than only the shell. The SDK cannot kill it when its own process dies
 * abruptly (SIGKILL, a crash), so a watchdog ends the JVM once the process that started it is gone.
 * (JVM start-up flags such as -XX:TieredStopAtLevel=1 made no difference here: ~1 s to listen either
 * way. The serial GC keeps the footprint small on a 2-core machine.)
 */
function launcherScript(): string {
  return `#!/bin/sh
# Written by tools/test-server.ts: Temporal's Java test server ${TEST_SERVER_VERSION}. Usage: $0 <port> [args...]
here=$(cd "$(dirname "$0")" && pwd)
java=java
[ -n "\${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && java="$JAVA_HOME/bin/java"
# $$ stays this process's id after exec: it is the JVM's.
parent=$PPID
(
  while kill -0 "$parent" 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 1; done
  kill $$ 2>/dev/null
) </dev/null >/dev/null 2>&1 &
exec "$java" -XX:+UseSerialGC \${FERRY_TEST_SERVER_JAVA_OPTS:-} -cp "$here/${installName}/lib/*" ${MAIN_CLASS} "$@"
`;
}

function installed(): boolean {
  try {
    return existsSync(join(installDir, 'lib')) && readFileSync(TEST_SERVER_LAUNCHER, 'utf8') === launcherScript() && isExecutableFile(TEST_SERVER_LAUNCHER);
  } catch {
    return false;
  }
}

function requireTool(name: string, debianPackage: string): string {
  const found = findOnPath(name);
  if (!found) {
    throw new Error(
      `${name} is not on PATH: the Temporal test server is installed from Maven Central with mvn and runs on Java 17+. ` +
        `Install Debian's ${debianPackage} (apt-get install ${debianPackage}), or set ${TEST_SERVER_ENV} to an existing launcher (<launcher> <port>).`,
    );
  }
  return found;
}

async function mvnCopyDependencies(dir: string, log: Log): Promise<void> {
  const mvn = requireTool('mvn', 'maven');
  const args = ['-B', '-q', '-Dstyle.color=never', '-f', join(dir, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${join(dir, 'lib')}`, '-DincludeScope=runtime'];
  log(`Installing Temporal's test server ${TEST_SERVER_VERSION}: mvn ${args.join(' ')}`);
  const started = Date.now();
  const child = spawn(mvn, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = new LineTail(40);
  const onLine = (line: string): void => {
    if (line.replace(ANSI_ESCAPE, '').trim() === '') return; // mvn -q still prints colour resets
    output.push(line);
    log(line);
  };
  forEachLine(child.stdout, onLine);
  forEachLine(child.stderr, onLine);
  const ticker = setInterval(() => log(`... still downloading (${Math.round((Date.now() - started) / 1000)} s)`), 30_000);
  try {
    const status = await exitOf(child);
    if (status.code !== 0) throw new Error(`mvn dependency:copy-dependencies failed (${describeExit(status)}):\n${output.text()}`);
  } finally {
    clearInterval(ticker);
  }
  log(`Installed the test server's jars in ${Math.round((Date.now() - started) / 1000)} s`);
}

/**
 * The test server launcher: `$FERRY_TEST_SERVER`, else `.tools/temporal-test-server/temporal-test-server`,
 * installing it first if needed (mvn downloads ~30 MB once; a no-op afterwards). A set but unusable
 * `FERRY_TEST_SERVER` is an error rather than a fallthrough.
 */
export async function ensureTestServer(opts: { log?: Log } = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const fromEnv = process.env[TEST_SERVER_ENV];
  if (fromEnv) {
    const path = resolve(fromEnv);
    if (!isExecutableFile(path)) throw new Error(`${TEST_SERVER_ENV}=${fromEnv} does not name an executable file (a launcher run as <launcher> <port>).`);
    return path;
  }
  if (installed()) return TEST_SERVER_LAUNCHER;
  requireTool('java', 'openjdk-17-jre-headless');
  if (!existsSync(join(installDir, 'lib'))) {
    // Unique per process: two cold installs at once must not remove each other's work.
    const tmp = `${installDir}.partial-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    writeFileSync(join(tmp, 'pom.xml'), pom());
    try {
      await mvnCopyDependencies(tmp, log);
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    if (existsSync(join(installDir, 'lib')))
      rmSync(tmp, { recursive: true, force: true }); // another install finished first
    else renameSync(tmp, installDir);
  }
  const tmpLauncher = `${TEST_SERVER_LAUNCHER}.partial-${process.pid}`;
  writeFileSync(tmpLauncher, launcherScript(), { mode: 0o755 });
  renameSync(tmpLauncher, TEST_SERVER_LAUNCHER);
  log(`Temporal test server launcher: ${TEST_SERVER_LAUNCHER}`);
  return TEST_SERVER_LAUNCHER;
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1]);
if (isMain) {
  try {
    const launcher = await ensureTestServer({ log: (line) => void process.stderr.write(`${line}\n`) });
    process.stdout.write(`${launcher}\n`);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
