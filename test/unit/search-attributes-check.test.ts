/**
 * The search-attribute check at start (workers/search-attributes.ts): the comparison, the message and
 * its commands, the env switch, and how the check answers what an operator service may say (permission
 * denied, unimplemented, a concurrent registration with another type). The real server cases are in
 * test/e2e/search-attributes.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compareSearchAttributes,
  ensureSearchAttributes,
  isTemporalCloud,
  registerCommands,
  registerFromEnv,
  requireSearchAttributes,
  SearchAttributeSetupError,
  setupMessage,
  type EnsureOptions,
} from '../../workers/search-attributes.js';
import { ferrySearchAttributes } from '../../workflows/search-attributes.js';

const KEYWORD = 2;
const BOOL = 5;
const TEXT = 1;
const complete = Object.fromEntries(ferrySearchAttributes.map((a) => [a.name, a.type === 'Bool' ? BOOL : KEYWORD]));
const without = (...names: string[]) => Object.fromEntries(Object.entries(complete).filter(([n]) => !names.includes(n)));

describe('compareSearchAttributes', () => {
  it('nothing registered: every ferry attribute is missing, in the order of the definitions', () => {
    assert.deepEqual(compareSearchAttributes({}), { missing: ferrySearchAttributes, mismatched: [] });
  });

  it('all registered with their types: complete; other programs’ attributes do not matter', () => {
    assert.deepEqual(compareSearchAttributes({ ...complete, CustomerId: TEXT }), { missing: [], mismatched: [] });
  });

  it('a wrong type is a mismatch naming both types; a type this SDK does not know stays a number', () => {
    assert.deepEqual(compareSearchAttributes({ ...complete, FerryPhase: TEXT, FerryStalled: 99 }).mismatched, [
      { name: 'FerryPhase', want: 'Keyword', have: 'Text' },
      { name: 'FerryStalled', want: 'Bool', have: 99 },
    ]);
  });
});

describe('isTemporalCloud', () => {
  for (const [address, cloud] of [
    ['billing.a2dd6.tmprl.cloud:7233', true],
    ['us-east-1.aws.api.temporal.io:7233', true],
    ['localhost:7233', false],
    ['temporal.example.com:7233', false],
    ['tmprl.cloud.example.com:7233', false],
    [undefined, false],
  ] as const) {
    it(`${address ?? 'no address'}: ${cloud ? 'Temporal Cloud' : 'self-hosted'}`, () => assert.equal(isTemporalCloud(address), cloud));
  }
});

describe('setupMessage', () => {
  it('missing ones on a self-hosted server: what, why, both commands (self-hosted first), the outcome', () => {
    const comparison = compareSearchAttributes(without('FerryPhase', 'FerryStalled'));
    const text = setupMessage(comparison, {
      who: 'ferry worker',
      namespace: 'prod',
      address: 'temporal.internal:7233',
      reason: 'Registration is switched off.',
      outcome: 'The worker stopped.',
    });
    assert.equal(
      text,
      [
        'ferry worker: Temporal namespace "prod" lacks search attributes ferry needs: FerryPhase (Keyword), FerryStalled (Bool).',
        'Without them every task of a ferry workflow fails (BadSearchAttributes) and migrations hang.',
        'Registration is switched off.',
        'Register them:',
        '  self-hosted Temporal:  temporal operator search-attribute create --address temporal.internal:7233 --namespace prod --name FerryPhase --type Keyword --name FerryStalled --type Bool',
        '  Temporal Cloud:        tcld namespace search-attributes add --namespace prod --sa FerryPhase=Keyword --sa FerryStalled=Bool',
        'The worker stopped.',
      ].join('\n'),
    );
  });

  it('the Temporal CLI default address is left off the command; one attribute is "a search attribute"', () => {
    const text = setupMessage(compareSearchAttributes(without('FerryVm')), {
      who: 'ferry migrate',
      namespace: 'default',
      address: 'localhost:7233',
      outcome: 'Nothing was started.',
    });
    assert.match(text, /lacks a search attribute ferry needs: FerryVm \(Keyword\)\./);
    assert.match(text, /temporal operator search-attribute create --namespace default --name FerryVm --type Keyword$/m);
  });

  it('on a Temporal Cloud address the tcld command comes first', () => {
    const lines = registerCommands([{ name: 'FerryVm', type: 'Keyword' }], { namespace: 'billing.a2dd6', address: 'billing.a2dd6.tmprl.cloud:7233' });
    assert.deepEqual(lines, [
      'Temporal Cloud:        tcld namespace search-attributes add --namespace billing.a2dd6 --sa FerryVm=Keyword',
      'self-hosted Temporal:  temporal operator search-attribute create --address billing.a2dd6.tmprl.cloud:7233 --namespace billing.a2dd6 --name FerryVm --type Keyword',
    ]);
  });

  it('a wrong type comes first, names the attribute, both types and the replacement on either kind of server', () => {
    const text = setupMessage(compareSearchAttributes({ ...without('FerryPlan'), FerryPhase: TEXT }), { who: 'ferry worker', namespace: 'default', outcome: 'Stopped.' });
    const lines = text.split('\n');
    assert.equal(lines[0], `ferry worker: Temporal namespace "default" has a search attribute of ferry's with the wrong type:`);
    assert.match(lines[1]!, /^ {2}FerryPhase is registered as Text; ferry needs Keyword\. ferry never changes a registered type/);
    assert.ok(
      lines.includes(
        '      self-hosted Temporal:  temporal operator search-attribute remove --namespace default --name FerryPhase --yes && temporal operator search-attribute create --namespace default --name FerryPhase --type Keyword',
      ),
      text,
    );
    assert.ok(
      lines.includes(
        '      Temporal Cloud:        tcld namespace search-attributes rename --namespace default --existing-name FerryPhase --new-name FerryPhaseText && tcld namespace search-attributes add --namespace default --sa FerryPhase=Keyword',
      ),
      text,
    );
    assert.match(text, /^Temporal namespace "default" lacks a search attribute ferry needs: FerryPlan \(Keyword\)\.$/m);
    assert.equal(lines.at(-1), 'Stopped.');
  });
});

describe('registerFromEnv', () => {
  it('on unless FERRY_REGISTER_SEARCH_ATTRIBUTES is false or 0', () => {
    assert.equal(registerFromEnv({}), true);
    assert.equal(registerFromEnv({ FERRY_REGISTER_SEARCH_ATTRIBUTES: 'true' }), true);
    assert.equal(registerFromEnv({ FERRY_REGISTER_SEARCH_ATTRIBUTES: 'False' }), false);
    assert.equal(registerFromEnv({ FERRY_REGISTER_SEARCH_ATTRIBUTES: '0' }), false);
  });

  it('anything else is an error naming the variable and its values', () => {
    assert.throws(() => registerFromEnv({ FERRY_REGISTER_SEARCH_ATTRIBUTES: 'no' }), /FERRY_REGISTER_SEARCH_ATTRIBUTES must be true or false \(got "no"\)/);
  });
});

/** A gRPC error as @temporalio/client surfaces it. */
function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
}

/** An operator service answering with `lists` in turn (an Error is thrown) and `add` for AddSearchAttributes. */
function fakeOperator(lists: (Record<string, number> | Error)[], add: () => Promise<void> = async () => {}) {
  const calls = { list: 0, add: [] as Record<string, number>[] };
  const operatorService = {
    listSearchAttributes: async () => {
      const next = lists[Math.min(calls.list++, lists.length - 1)]!;
      if (next instanceof Error) throw next;
      return { customAttributes: next, systemAttributes: {}, storageSchema: {} };
    },
    addSearchAttributes: async (r: { searchAttributes?: Record<string, number> | null }) => {
      calls.add.push({ ...(r.searchAttributes ?? {}) });
      await add();
      return {};
    },
  };
  return { connection: { operatorService } as unknown as EnsureOptions['connection'], calls };
}

function options(connection: EnsureOptions['connection'], over: Partial<EnsureOptions> = {}) {
  const logged: string[] = [];
  const warned: string[] = [];
  const o: EnsureOptions = {
    connection,
    namespace: 'default',
    who: 'ferry worker',
    register: true,
    log: (l) => logged.push(l),
    warn: (l) => warned.push(l),
    visibleWithinMs: 2_000,
    ...over,
  };
  return { o, logged, warned };
}

describe('ensureSearchAttributes', () => {
  it('complete: one ListSearchAttributes call, nothing added, nothing logged', async () => {
    const { connection, calls } = fakeOperator([complete]);
    const { o, logged } = options(connection);
    await ensureSearchAttributes(o);
    assert.deepEqual(calls, { list: 1, add: [] });
    assert.deepEqual(logged, []);
  });

  it('adds exactly the missing ones with their types, waits until they are listed, logs what it registered', async () => {
    const { connection, calls } = fakeOperator([without('FerryPlan', 'FerryStalled'), without('FerryPlan', 'FerryStalled'), complete]);
    const { o, logged } = options(connection);
    await ensureSearchAttributes(o);
    assert.deepEqual(calls.add, [{ FerryStalled: BOOL, FerryPlan: KEYWORD }]);
    assert.equal(calls.list, 3);
    assert.match(logged.join('\n'), /^ferry worker: registered search attributes FerryStalled=Bool, FerryPlan=Keyword in namespace "default" \(listed after \d+ ms\)$/);
  });

  it('registration refused (PERMISSION_DENIED, as on Temporal Cloud): the server’s words and the commands', async () => {
    const { connection } = fakeOperator([without('FerryVm')], async () => {
      throw grpcError(7, 'Request unauthorized.');
    });
    const { o } = options(connection);
    await assert.rejects(ensureSearchAttributes(o), (e: Error) => {
      assert.ok(e instanceof SearchAttributeSetupError);
      assert.match(e.message, /The server refused to register them: PERMISSION_DENIED: Request unauthorized\. \(on Temporal Cloud, use tcld or the Cloud UI\)\./);
      assert.match(e.message, /tcld namespace search-attributes add --namespace default --sa FerryVm=Keyword/);
      return true;
    });
  });

  it('switched off: no AddSearchAttributes call', async () => {
    const { connection, calls } = fakeOperator([{}]);
    const { o } = options(connection, { register: false });
    await assert.rejects(ensureSearchAttributes(o), /Registration is switched off \(FERRY_REGISTER_SEARCH_ATTRIBUTES=false\)\./);
    assert.deepEqual(calls.add, []);
  });

  it('a concurrent registration with another type (ALREADY_EXISTS, then listed as Text) is a mismatch, not success', async () => {
    const { connection } = fakeOperator([without('FerryPhase'), { ...complete, FerryPhase: TEXT }], async () => {
      throw grpcError(6, 'Search attribute FerryPhase already exists.');
    });
    const { o } = options(connection);
    await assert.rejects(ensureSearchAttributes(o), /FerryPhase is registered as Text; ferry needs Keyword/);
  });

  it('registered but never listed: says so after the wait', async () => {
    const { connection } = fakeOperator([without('FerryVm')]);
    const { o } = options(connection, { visibleWithinMs: 300 });
    await assert.rejects(ensureSearchAttributes(o), /They were registered but the namespace did not list them within 0\.3 s\./);
  });

  it('listing not allowed (UNIMPLEMENTED or PERMISSION_DENIED): a warning that nothing was checked, and the worker goes on', async () => {
    for (const code of [12, 7]) {
      const { connection, calls } = fakeOperator([grpcError(code, 'not here')]);
      const { o, warned } = options(connection);
      await ensureSearchAttributes(o);
      assert.deepEqual(calls.add, []);
      assert.match(
        warned.join('\n'),
        /ferry worker: warning: cannot list the search attributes of namespace "default" \((UNIMPLEMENTED|PERMISSION_DENIED): not here\), so they are not checked/,
      );
    }
  });

  it('an unknown namespace is named, with the setting to change', async () => {
    const { connection } = fakeOperator([grpcError(5, 'Namespace prod is not found.')]);
    const { o } = options(connection, { namespace: 'prod' });
    await assert.rejects(ensureSearchAttributes(o), /Temporal namespace "prod" does not exist \(NOT_FOUND: Namespace prod is not found\.\); set TEMPORAL_NAMESPACE or --namespace/);
  });

  it('other errors (the server unreachable) pass through unchanged', async () => {
    const unavailable = grpcError(14, 'connection refused');
    const { connection } = fakeOperator([unavailable]);
    await assert.rejects(ensureSearchAttributes(options(connection).o), (e) => e === unavailable);
  });
});

describe('requireSearchAttributes (the CLI)', () => {
  it('never registers: refuses with the commands and "Nothing was started."', async () => {
    const { connection, calls } = fakeOperator([{}]);
    await assert.rejects(requireSearchAttributes({ connection, namespace: 'default', who: 'ferry migrate', warn: () => {} }), (e: Error) => {
      assert.match(e.message, /^ferry migrate: Temporal namespace "default" lacks search attributes/);
      assert.match(e.message, /A ferry worker registers missing ones when it starts \(unless FERRY_REGISTER_SEARCH_ATTRIBUTES=false\), or register them yourself\./);
      assert.match(e.message, /Nothing was started\.$/);
      return true;
    });
    assert.deepEqual(calls.add, []);
  });

  it('with a wrong type it does not send the user to a worker (which would refuse too)', async () => {
    const { connection } = fakeOperator([{ FerryPhase: TEXT }]);
    await assert.rejects(requireSearchAttributes({ connection, namespace: 'default', who: 'ferry plan start', warn: () => {} }), (e: Error) => {
      assert.match(e.message, /^ferry plan start: Temporal namespace "default" has a search attribute of ferry's with the wrong type:/);
      assert.doesNotMatch(e.message, /A ferry worker registers/);
      return true;
    });
  });

  it('complete: resolves after one call', async () => {
    const { connection, calls } = fakeOperator([complete]);
    await requireSearchAttributes({ connection, namespace: 'default', who: 'ferry migrate', warn: () => assert.fail('no warning expected') });
    assert.deepEqual(calls, { list: 1, add: [] });
  });
});
