/** The renderer of `ferry watch` (client/progress.ts): terminal frames, plain change lines, exit codes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXIT } from '../../client/cli.js';
import { bytes } from '../../client/format.js';
import { bar, changeKey, changeLine, ending, frame, migrationLines, overallCode, percent, rewind, timeLeft, wrap, type Watched } from '../../client/progress.js';
import type { MigrationResult, MigrationStatus } from '../../workflows/contract.js';

const NOW = new Date('2025-01-01T12:00:00.000Z');
const MiB = 1024 * 1024;
const GiB = 1024 ** 3;
const ESC = '\x1b[';
// eslint-disable-next-line no-control-regex -- ANSI escapes are what these tests are about
const strip = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

function status(over: Partial<MigrationStatus> = {}): MigrationStatus {
  return {
    workflowId: 'migration/source/demo/web-01',
    vm: 'demo/web-01',
    source: { cluster: 'source', namespace: 'demo', name: 'web-01' },
    destination: { cluster: 'destination', namespace: 'demo' },
    phase: 'Synchronizing',
    attempt: 1,
    phaseSince: '2025-01-01T11:59:48.000Z',
    deadline: '2025-01-01T12:04:12.000Z',
    observed: { at: NOW.toISOString(), progress: { totalBytes: 10 * GiB, processedBytes: 4.2 * GiB, remainingBytes: 5.8 * GiB } },
    created: [],
    history: [],
    warnings: [],
    ...over,
  };
}

const stalled = (): MigrationStatus =>
  status({
    phase: 'Stalled',
    observed: { at: NOW.toISOString() },
    stall: {
      phase: 'Synchronizing',
      since: '2025-01-01T11:59:30.000Z',
      deadline: 'handshake',
      diagnosis: "The source cannot reach the destination's synchronization address 127.0.0.1:4444 (dial tcp: i/o timeout). Both clusters' sync controllers must reach each other.",
      observed: { at: NOW.toISOString() },
    },
  });

const tty = { color: true, width: 100 };
const plain = { color: false, width: 100 };

describe('progress: small pieces', () => {
  it('percent from status.observed.progress; undefined without a total', () => {
    assert.equal(percent(status()), 42);
    assert.equal(percent(status({ observed: { at: '' } })), undefined);
    assert.equal(percent(status({ observed: { at: '', progress: { totalBytes: 0, processedBytes: 0, remainingBytes: 0 } } })), undefined);
    assert.equal(percent(status({ observed: { at: '', progress: { totalBytes: 10, processedBytes: 11, remainingBytes: 0 } } })), 100);
  });

  it('bar fills proportionally and keeps its width', () => {
    assert.equal(bar(0.5, 10), '█████░░░░░');
    assert.equal(bar(0, 4), '░░░░');
    assert.equal(bar(2, 4), '████');
    assert.equal(bar(Number.NaN, 4), '░░░░');
  });

  it('bytes, time left and wrapping', () => {
    assert.equal(bytes(512), '512 B');
    assert.equal(bytes(10 * GiB), '10.0 GiB');
    assert.equal(timeLeft('2025-01-01T12:04:12.000Z', NOW), '4m12s left');
    assert.equal(timeLeft('2025-01-01T11:59:55.000Z', NOW), 'passed 5s ago');
    assert.equal(timeLeft('2025-01-01T12:00:00.400Z', NOW), '0s left');
    assert.equal(timeLeft('2025-01-01T13:01:01.900Z', NOW), '1h1m1s left');
    const lines = wrap('a '.repeat(60).trim(), 30, '  ');
    assert.ok(lines.length > 1);
    for (const l of lines) assert.ok(l.length <= 29 && l.startsWith('  '), l);
  });

  it('rewind moves up over the previous frame and clears it; nothing before the first frame', () => {
    assert.equal(rewind(0), '');
    assert.equal(rewind(3), '\x1b[3A\r\x1b[0J');
  });
});

describe('progress: terminal frame', () => {
  it('shows VM, phase, bar, bytes, time in phase, deadline and attempt', () => {
    const w: Watched = { workflowId: 'migration/source/demo/web-01', status: status({ attempt: 2 }) };
    const text = strip(migrationLines(w, NOW, tty).join('\n'));
    assert.match(text, /migration\/source\/demo\/web-01 {2}demo\/web-01 {2}Synchronizing {2}attempt 2/);
    assert.match(text, /█{10}░{14} {2}42% {2}4\.2 GiB \/ 10\.0 GiB/);
    assert.match(text, /in Synchronizing for 12s {2}deadline 4m12s left/);
  });

  it('highlights a stall in colour with its diagnosis, wrapped to the width, and the commands to decide', () => {
    const w: Watched = { workflowId: 'migration/source/demo/web-01', status: stalled() };
    const lines = migrationLines(w, NOW, { color: true, width: 60 });
    const text = lines.join('\n');
    assert.ok(text.includes(`${ESC}1;31mSTALLED${ESC}0m`), text);
    const flat = strip(text).replace(/\s+/g, ' ');
    assert.match(flat, /stalled for 12s decision window 4m12s left/);
    assert.match(flat, /the handshake deadline passed in Synchronizing: The source cannot reach the destination's synchronization address 127\.0\.0\.1:4444/);
    assert.match(strip(text), /decide: ferry retry migration\/source\/demo\/web-01/);
    assert.match(strip(migrationLines(w, NOW, tty).join('\n')), /decide: ferry retry migration\/source\/demo\/web-01 {2}\(or extend --by 10m, cancel\)/);
    for (const l of lines) assert.ok(strip(l).length <= 59, `too wide: ${strip(l)}`);
  });

  it('without colours (NO_COLOR) the frame has no escape codes at all', () => {
    const text = frame(
      [
        { workflowId: 'a', status: stalled() },
        { workflowId: 'b', status: status() },
      ],
      NOW,
      plain,
    ).join('\n');
    assert.ok(!text.includes('\x1b'), text);
    assert.match(text, /2 migration\(s\): 2 running {2}1 stalled/);
  });

  it('cuts long lines to the terminal width so an in-place redraw stays exact', () => {
    const w: Watched = { workflowId: `migration/source/demo/${'x'.repeat(200)}`, status: status() };
    for (const l of frame([w], NOW, { color: true, width: 40 })) assert.ok(strip(l).length <= 39, strip(l));
  });

  it('an ended migration shows its outcome; a failed query shows why', () => {
    const done: Watched = {
      workflowId: 'a',
      status: status({ phase: 'Succeeded' }),
      end: { code: EXIT.ok, outcome: 'Succeeded', text: 'Succeeded after 1 attempt(s) in 6.0 s (migration ID x)' },
    };
    const text = frame([done, { workflowId: 'b', error: 'no answer within 5 s' }], NOW, tty).join('\n');
    assert.ok(text.includes(`${ESC}32mSucceeded${ESC}0m`));
    assert.match(strip(text), /Succeeded after 1 attempt\(s\)/);
    assert.match(strip(text), /status unavailable: no answer within 5 s/);
    assert.match(strip(text), /1 ended/);
  });
});

describe('progress: plain lines (not a terminal)', () => {
  it('one line with timestamp, workflow ID, phase and progress; no escapes', () => {
    const l = changeLine({ workflowId: 'migration/source/demo/web-01', status: status() }, NOW);
    assert.equal(l, '2025-01-01T12:00:00.000Z  migration/source/demo/web-01  Synchronizing  42%  4.2 GiB / 10.0 GiB');
    const rated = status({ observed: { at: '', progress: { totalBytes: 10 * GiB, processedBytes: 5 * GiB, remainingBytes: 5 * GiB, transferRate: 64 * MiB, dirtyRate: 0 } } });
    assert.equal(changeKey({ workflowId: 'x', status: rated }), 'x  Synchronizing  50%  5.0 GiB / 10.0 GiB  transfer 64.0 MiB/s, dirty 0 B/s  about 1m20s left');
    const none = status({ observed: { at: '', progressUnavailable: 'no metrics endpoint is configured for cluster "source"' } });
    assert.equal(changeKey({ workflowId: 'x', status: none }), 'x  Synchronizing  -  progress unavailable: no metrics endpoint is configured for cluster "source"');
    assert.equal(changeLine({ workflowId: 'x', status: status({ phase: 'CreatingTarget', observed: { at: '' } }) }, NOW), '2025-01-01T12:00:00.000Z  x  CreatingTarget  -');
  });

  it('the change key ignores time, so only real changes print: phase, percent, attempt, stall', () => {
    const a = changeKey({ workflowId: 'x', status: status() });
    assert.equal(changeKey({ workflowId: 'x', status: status({ deadline: '2030-01-01T00:00:00Z', phaseSince: '2024-01-01T00:00:00Z' }) }), a);
    assert.notEqual(changeKey({ workflowId: 'x', status: status({ attempt: 2 }) }), a);
    assert.notEqual(changeKey({ workflowId: 'x', status: status({ phase: 'Finalizing' }) }), a);
    const s = changeKey({ workflowId: 'x', status: stalled() });
    assert.match(s, /Stalled {2}- {2}stalled in Synchronizing \(handshake deadline passed\): The source cannot reach/);
    assert.ok(!s.includes('\x1b'));
  });
});

describe('progress: outcomes and exit codes (as migrate --wait)', () => {
  const result = (outcome: MigrationResult['outcome']): MigrationResult => ({
    outcome,
    attempts: 2,
    migrationId: 'm',
    created: [],
    durationMs: 12_300,
    ...(outcome === 'RolledBack' ? { reason: 'cancelled' } : {}),
  });
  it('Succeeded → 0, RolledBack → 3, a failure → 1, a failure after a rollback (Temporal cancel) → 3', () => {
    assert.deepEqual(ending({ ok: true, result: result('Succeeded') }), { code: 0, outcome: 'Succeeded', text: 'Succeeded after 2 attempt(s) in 12.3 s (migration ID m)' });
    assert.equal(ending({ ok: true, result: result('RolledBack') }).code, EXIT.rolledBack);
    assert.equal(ending({ ok: false, message: 'boom', finalPhase: 'Synchronizing' }).code, EXIT.failed);
    assert.equal(ending({ ok: false, message: 'cancelled', finalPhase: 'RolledBack' }).code, EXIT.rolledBack);
  });

  it('several: 1 if any failed, else 3 if any rolled back, else 0', () => {
    const ok = ending({ ok: true, result: result('Succeeded') });
    const back = ending({ ok: true, result: result('RolledBack') });
    const failed = ending({ ok: false, message: 'x' });
    assert.equal(overallCode([ok, ok]), EXIT.ok);
    assert.equal(overallCode([ok, back]), EXIT.rolledBack);
    assert.equal(overallCode([back, failed, ok]), EXIT.failed);
    assert.equal(overallCode([]), EXIT.ok);
  });
});
