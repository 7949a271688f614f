/** runLogged (tools/processes.ts): the one way the tools run a long build — lines streamed, a failure with its last lines. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runLogged } from '../../tools/processes.js';

describe('runLogged', () => {
  it('streams every line of stdout and stderr and resolves on exit 0', async () => {
    const lines: string[] = [];
    await runLogged(process.execPath, ['-e', "console.log('one'); console.error('two')"], { log: (l) => lines.push(l), what: 'a build' });
    assert.deepEqual([...lines].sort(), ['one', 'two']);
  });

  it('fails naming what ran, how it ended and its last lines', async () => {
    await assert.rejects(
      runLogged(process.execPath, ['-e', "console.error('compile error in x.go'); process.exit(3)"], { log: () => {}, what: 'go install of x' }),
      (e: Error) => e.message === 'go install of x failed (exit code 3):\ncompile error in x.go',
    );
  });

  it('says a silent command is still running', async () => {
    const lines: string[] = [];
    await runLogged(process.execPath, ['-e', 'setTimeout(() => {}, 300)'], { log: (l) => lines.push(l), what: 'a quiet build', tickEveryMs: 100 });
    assert.ok(
      lines.some((l) => /^\.\.\. still running a quiet build \(\d+ s\)$/.test(l)),
      lines.join('\n'),
    );
  });
});
