/**
 * Every limit of the migration and plan inputs has its own message, naming the field, the limit and
 * what was given: a name that is too long is not "required", a deadline of 0 is not accepted.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { DEFAULT_OPTIONS, describeInputIssues, migrationInputSchema, OPTION_RANGES } from '../../workflows/contract.js';
import { formatLimit, parseDuration } from '../../workflows/duration.js';
import { planInputSchema } from '../../workflows/plan-contract.js';

const ok = { source: { cluster: 'source', namespace: 'demo', name: 'web-01' }, destination: { cluster: 'destination' } };

function issues(input: unknown): string[] {
  const r = migrationInputSchema.safeParse(input);
  assert.equal(r.success, false, `expected ${JSON.stringify(input).slice(0, 200)} to be refused`);
  return describeInputIssues(r.error!);
}
const withSource = (over: Record<string, string>) => ({ ...ok, source: { ...ok.source, ...over } });
const withOptions = (options: Record<string, unknown>) => ({ ...ok, options });

describe('names over their limit', () => {
  it('a 254-character VM name: the limit, why, and its length', () => {
    assert.deepEqual(issues(withSource({ name: 'a'.repeat(254) })), ['source.name: must be at most 63 characters (a KubeVirt VM name: it becomes a label value; got 254)']);
  });

  it('a 64-character VM name is refused, 63 passes', () => {
    assert.deepEqual(issues(withSource({ name: 'a'.repeat(64) })), ['source.name: must be at most 63 characters (a KubeVirt VM name: it becomes a label value; got 64)']);
    assert.equal(migrationInputSchema.safeParse(withSource({ name: 'a'.repeat(63) })).success, true);
  });

  it('a 64-character namespace, source or destination', () => {
    assert.deepEqual(issues(withSource({ namespace: 'n'.repeat(64) })), ['source.namespace: must be at most 63 characters (a namespace name is a DNS-1123 label; got 64)']);
    assert.deepEqual(issues({ ...ok, destination: { cluster: 'destination', namespace: 'x'.repeat(70) } }), [
      'destination.namespace: must be at most 63 characters (a namespace name is a DNS-1123 label; got 70)',
    ]);
  });

  it('a 254-character cluster name', () => {
    assert.deepEqual(issues(withSource({ cluster: 'c'.repeat(254) })), ['source.cluster: must be at most 253 characters (a cluster is a kubeconfig context name; got 254)']);
    assert.deepEqual(issues({ ...ok, destination: { cluster: 'd'.repeat(300) } }), [
      'destination.cluster: must be at most 253 characters (a cluster is a kubeconfig context name; got 300)',
    ]);
  });

  it('missing is still "required"', () => {
    assert.deepEqual(issues({ ...ok, source: { cluster: 'source', namespace: 'demo' } }), ['source.name (the VM name) is required']);
    assert.deepEqual(issues(withSource({ name: '' })), ['source.name (the VM name) is required']);
  });

  it("a plan's name, and a plan VM's name", () => {
    const plan = { name: 'p'.repeat(101), source: { cluster: 'source' }, destination: { cluster: 'destination' }, vms: [{ namespace: 'demo', name: 'web-01' }] };
    const r = planInputSchema.safeParse(plan);
    assert.deepEqual(describeInputIssues(r.error!), ['name: must be at most 100 characters (a plan name; got 101)']);
    const long = planInputSchema.safeParse({ ...plan, name: 'wave-1', vms: [{ namespace: 'demo', name: 'v'.repeat(254) }] });
    const [line, ...rest] = describeInputIssues(long.error!);
    assert.deepEqual(rest, []);
    assert.match(line!, /^vms\[0\] \(demo\/v+…\): source\.name: must be at most 63 characters \(a KubeVirt VM name: it becomes a label value; got 254\)$/);
    assert.ok(line!.length < 200, `the 254-character name is not repeated whole: ${line}`);
  });

  it('an empty storage class mapping names the entry', () => {
    assert.deepEqual(issues({ ...ok, storageClassMap: { fast: '' } }), ['storageClassMap.fast: must not be empty: name the destination storage class']);
  });
});

describe('duration options have a range', () => {
  it('a deadline of 0 is refused, naming the range', () => {
    assert.deepEqual(issues(withOptions({ handshakeTimeout: 0 })), ['options.handshakeTimeout: must be between 1s and 24h (got 0ms)']);
    assert.deepEqual(issues(withOptions({ handshakeTimeout: '0s' })), ['options.handshakeTimeout: must be between 1s and 24h (got 0s)']);
  });

  it('an absurd deadline is refused', () => {
    assert.deepEqual(issues(withOptions({ handshakeTimeout: 1_000_000_000_000 })), ['options.handshakeTimeout: must be between 1s and 24h (got 1000000000000ms)']);
  });

  it('every duration option: below and above its range are refused, its ends are accepted', () => {
    for (const [key, range] of Object.entries(OPTION_RANGES)) {
      const expected = `options.${key}: must be between ${formatLimit(range.min)} and ${formatLimit(range.max)}`;
      assert.deepEqual(issues(withOptions({ [key]: range.min - 1 })), [`${expected} (got ${range.min - 1}ms)`]);
      assert.deepEqual(issues(withOptions({ [key]: range.max + 1 })), [`${expected} (got ${range.max + 1}ms)`]);
      for (const edge of [range.min, range.max, formatLimit(range.min), formatLimit(range.max)]) {
        const r = migrationInputSchema.safeParse(withOptions({ [key]: edge }));
        assert.equal(r.success, true, `${key}=${edge}: ${r.success ? '' : describeInputIssues(r.error).join('; ')}`);
      }
    }
  });

  it('the ranges as stated', () => {
    const stated = Object.fromEntries(Object.entries(OPTION_RANGES).map(([k, r]) => [k, `${formatLimit(r.min)}–${formatLimit(r.max)}`]));
    assert.deepEqual(stated, {
      receiverReadyTimeout: '1s–24h',
      syncAddressTimeout: '1s–24h',
      handshakeTimeout: '1s–24h',
      completionTimeoutPerGiB: '1s–30m',
      minCompletionTimeout: '1s–24h',
      decisionWindow: '1s–7d',
      pollInterval: '100ms–1m',
    });
  });

  it('every duration option has a range, and the defaults are inside it', () => {
    const durations = Object.keys(DEFAULT_OPTIONS).filter(
      (k) => typeof DEFAULT_OPTIONS[k as keyof typeof DEFAULT_OPTIONS] === 'string' && parseDuration(DEFAULT_OPTIONS[k as keyof typeof DEFAULT_OPTIONS] as string) !== undefined,
    );
    assert.deepEqual(durations.sort(), Object.keys(OPTION_RANGES).sort());
    assert.equal(migrationInputSchema.safeParse(ok).success, true);
  });

  it('the values the tests, the demo and the bench use are inside', () => {
    // The shortest and longest each suite sets (grep test/ tools/ bench/ for the option names).
    const used = {
      handshakeTimeout: ['2s', '30s', '10m'],
      decisionWindow: ['1s', '2s', '10m', '1h'],
      pollInterval: ['100ms', '200ms', '250ms', '500ms', '5s'],
      completionTimeoutPerGiB: ['5s', '30s', '300s'],
      minCompletionTimeout: ['60s', '30m'],
      receiverReadyTimeout: ['20s'],
      syncAddressTimeout: ['20s'],
    };
    for (const [key, values] of Object.entries(used)) {
      for (const v of values) assert.equal(migrationInputSchema.safeParse(withOptions({ [key]: v })).success, true, `${key}=${v}`);
    }
  });

  it("every committed history's input still validates (replay would diverge otherwise)", () => {
    const dir = new URL('../histories/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    let checked = 0;
    for (const file of files) {
      const history = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as {
        events: Record<string, { workflowType?: { name: string }; input?: { payloads?: { data: string }[] } }>[];
      };
      for (const event of history.events) {
        const a = event.workflowExecutionStartedEventAttributes ?? event.startChildWorkflowExecutionInitiatedEventAttributes;
        if (!a || a.workflowType?.name !== 'migrateVm') continue;
        for (const p of a.input?.payloads ?? []) {
          const value = JSON.parse(Buffer.from(p.data, 'base64').toString('utf8')) as unknown;
          const r = migrationInputSchema.safeParse(value);
          assert.equal(r.success, true, `${file}: ${r.success ? '' : describeInputIssues(r.error).join('; ')}`);
          checked++;
        }
      }
    }
    assert.ok(checked >= files.length, `only ${checked} migration inputs found in ${files.length} histories`);
  });

  it('a plan option out of range names the VM override', () => {
    const r = planInputSchema.safeParse({
      name: 'wave-1',
      source: { cluster: 'source' },
      destination: { cluster: 'destination' },
      vms: [{ namespace: 'demo', name: 'web-01', options: { pollInterval: '10m' } }],
    });
    assert.deepEqual(describeInputIssues(r.error!), ['vms[0].options.pollInterval: must be between 100ms and 1m (got 10m)']);
  });

  it('not a duration, and not a number or string', () => {
    assert.deepEqual(issues(withOptions({ pollInterval: 'soon' })), ['options.pollInterval: "soon" is not a duration; use milliseconds or a string like "30s", "5m", "1h", "7d"']);
    assert.deepEqual(issues(withOptions({ pollInterval: true })), [
      'options.pollInterval: must be a duration (use milliseconds or a string like "30s", "5m", "1h", "7d"; got boolean)',
    ]);
  });

  it('maxAutoRetries says its range too', () => {
    assert.deepEqual(issues(withOptions({ maxAutoRetries: -1 })), ['options.maxAutoRetries: must be between 0 and 10 (got -1)']);
    assert.deepEqual(issues(withOptions({ maxAutoRetries: 11 })), ['options.maxAutoRetries: must be between 0 and 10 (got 11)']);
  });
});
