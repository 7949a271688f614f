/**
 * ferry's search attributes, checked against the Temporal namespace before anything runs. Without
 * them every workflow task of a migration fails (`BadSearchAttributes`) in a loop the operator never
 * sees, so the worker registers the missing ones where it may and otherwise stops, and the CLI
 * refuses to start a workflow; both name the command that fixes the namespace.
 *
 * One ListSearchAttributes call per process start; nothing is cached. Used by the worker
 * (workers/main.ts) and the CLI (client/commands/migrate.ts, plan.ts): no worker SDK imports here.
 */
import { isGrpcServiceError, type ConnectionLike } from '@temporalio/client';
import { ferrySearchAttributes, type CliSearchAttribute, type CliSearchAttributeType } from '../workflows/search-attributes.js';

/** temporal.api.enums.v1.IndexedValueType, as ListSearchAttributes returns it and AddSearchAttributes takes it. */
const indexedValueType: Record<CliSearchAttributeType, number> = { Text: 1, Keyword: 2, Int: 3, Double: 4, Bool: 5, Datetime: 6, KeywordList: 7 };
const typeOfIndexedValue = new Map(Object.entries(indexedValueType).map(([name, n]) => [n, name as CliSearchAttributeType]));

/** The environment variable that switches the worker's registration off. */
export const REGISTER_ENV = 'FERRY_REGISTER_SEARCH_ATTRIBUTES';

const GRPC = { notFound: 5, alreadyExists: 6, permissionDenied: 7, unimplemented: 12 } as const;

export interface Mismatch {
  readonly name: string;
  readonly want: CliSearchAttributeType;
  /** The registered type; a number when the server reports a type this SDK does not know. */
  readonly have: CliSearchAttributeType | number;
}

export interface Comparison {
  readonly missing: readonly CliSearchAttribute[];
  readonly mismatched: readonly Mismatch[];
}

/** Which of `wanted` the namespace lacks or has with another type, from ListSearchAttributes' customAttributes. */
export function compareSearchAttributes(registered: Readonly<Record<string, number>>, wanted: readonly CliSearchAttribute[] = ferrySearchAttributes): Comparison {
  const missing: CliSearchAttribute[] = [];
  const mismatched: Mismatch[] = [];
  for (const a of wanted) {
    const have = registered[a.name];
    if (have === undefined) missing.push(a);
    else if (have !== indexedValueType[a.type]) mismatched.push({ name: a.name, want: a.type, have: typeOfIndexedValue.get(have) ?? have });
  }
  return { missing, mismatched };
}

export const isComplete = (c: Comparison): boolean => c.missing.length === 0 && c.mismatched.length === 0;

/** Temporal Cloud's gRPC endpoints: `<ns>.<account>.tmprl.cloud` (mTLS) and `<region>.<provider>.api.temporal.io` (API keys). */
export function isTemporalCloud(address: string | undefined): boolean {
  const host = (address ?? '').replace(/:\d+$/, '').toLowerCase();
  return host.endsWith('.tmprl.cloud') || host.endsWith('.api.temporal.io');
}

export interface MessageContext {
  namespace: string;
  /** The frontend address, repeated on the Temporal CLI commands unless it is the CLI's default. */
  address?: string;
  /** Who is refusing: `ferry worker`, `ferry migrate`, `ferry plan start`. */
  who: string;
  /** Why nothing was registered (a sentence), e.g. registration switched off or refused by the server. */
  reason?: string;
  /** What happens next, e.g. "Nothing was started." */
  outcome: string;
}

function cliFlags(c: MessageContext): string {
  const address = c.address && c.address !== 'localhost:7233' ? ` --address ${c.address}` : '';
  return `${address} --namespace ${c.namespace}`;
}

/** The commands that register `missing`: the Temporal CLI (self-hosted) and tcld (Temporal Cloud), Cloud first when the address is Cloud's. */
export function registerCommands(missing: readonly CliSearchAttribute[], c: Pick<MessageContext, 'namespace' | 'address'>): string[] {
  const selfHosted = `self-hosted Temporal:  temporal operator search-attribute create${cliFlags({ ...c, who: '', outcome: '' })} ${missing.map((a) => `--name ${a.name} --type ${a.type}`).join(' ')}`;
  const cloud = `Temporal Cloud:        tcld namespace search-attributes add --namespace ${c.namespace} ${missing.map((a) => `--sa ${a.name}=${a.type}`).join(' ')}`;
  return isTemporalCloud(c.address) ? [cloud, selfHosted] : [selfHosted, cloud];
}

function mismatchFix(m: Mismatch, c: MessageContext): string[] {
  const have = typeof m.have === 'number' ? `type ${m.have}` : m.have;
  const flags = cliFlags(c);
  const selfHosted = `self-hosted Temporal:  temporal operator search-attribute remove${flags} --name ${m.name} --yes && temporal operator search-attribute create${flags} --name ${m.name} --type ${m.want}`;
  const aside = `${m.name}${typeof m.have === 'number' ? 'Old' : m.have}`;
  const cloud = `Temporal Cloud:        tcld namespace search-attributes rename --namespace ${c.namespace} --existing-name ${m.name} --new-name ${aside} && tcld namespace search-attributes add --namespace ${c.namespace} --sa ${m.name}=${m.want}`;
  return [
    `${m.name} is registered as ${have}; ferry needs ${m.want}. ferry never changes a registered type: a workflow or query of another program may rely on it.`,
    `  If nothing else uses ${m.name}, replace it (values already stored under it are lost):`,
    ...(isTemporalCloud(c.address) ? [cloud, selfHosted] : [selfHosted, cloud]).map((l) => `    ${l}`),
  ];
}

/** The whole explanation: what is wrong, why it matters, the commands that fix it, what happened. */
export function setupMessage(comparison: Comparison, c: MessageContext): string {
  const { missing, mismatched } = comparison;
  const lines: string[] = [];
  // The wrong type first: it blocks ferry even after the missing ones are registered.
  if (mismatched.length) {
    lines.push(`${c.who}: Temporal namespace "${c.namespace}" has ${mismatched.length === 1 ? 'a search attribute' : 'search attributes'} of ferry's with the wrong type:`);
    for (const m of mismatched) lines.push(...mismatchFix(m, c).map((l) => `  ${l}`));
  }
  if (missing.length) {
    lines.push(
      `${mismatched.length ? '' : `${c.who}: `}Temporal namespace "${c.namespace}" lacks ${missing.length === 1 ? 'a search attribute' : 'search attributes'} ferry needs: ${missing.map((a) => `${a.name} (${a.type})`).join(', ')}.`,
      'Without them every task of a ferry workflow fails (BadSearchAttributes) and migrations hang.',
    );
    if (c.reason) lines.push(c.reason);
    lines.push('Register them:', ...registerCommands(missing, c).map((l) => `  ${l}`));
  }
  lines.push(c.outcome);
  return lines.join('\n');
}

type Listed = { custom: Record<string, number> } | { denied: string };

/** The namespace's custom search attributes, or why the server does not let this caller list them. */
async function listCustom(connection: Pick<ConnectionLike, 'operatorService'>, namespace: string): Promise<Listed> {
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    return { custom: Object.fromEntries(Object.entries(customAttributes ?? {}).map(([name, type]) => [name, Number(type)])) };
  } catch (e) {
    if (isGrpcServiceError(e) && (e.code === GRPC.permissionDenied || e.code === GRPC.unimplemented)) return { denied: grpcText(e) };
    if (isGrpcServiceError(e) && e.code === GRPC.notFound)
      throw new SearchAttributeSetupError(`Temporal namespace "${namespace}" does not exist (${grpcText(e)}); set TEMPORAL_NAMESPACE or --namespace to an existing one.`);
    throw e;
  }
}

function grpcText(e: { code: number; details?: string; message: string }): string {
  const names: Record<number, string> = { 5: 'NOT_FOUND', 6: 'ALREADY_EXISTS', 7: 'PERMISSION_DENIED', 12: 'UNIMPLEMENTED' };
  return `${names[e.code] ?? `gRPC code ${e.code}`}: ${e.details || e.message}`;
}

/** The namespace cannot run ferry's workflows as it is; the message says why and how to fix it. */
export class SearchAttributeSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SearchAttributeSetupError';
  }
}

export interface CheckOptions {
  connection: Pick<ConnectionLike, 'operatorService'>;
  namespace: string;
  address?: string;
  who: string;
  /** Printed when the server does not allow listing: ferry cannot check, so it says so and goes on. */
  warn: (line: string) => void;
}

/**
 * For the CLI: every ferry search attribute is registered with its type, or a SearchAttributeSetupError
 * naming the commands. The CLI never registers: it may lack the rights, and registering is a change to
 * the namespace that the worker (the process an operator deploys for that namespace) owns.
 */
export async function requireSearchAttributes(o: CheckOptions): Promise<void> {
  const listed = await listCustom(o.connection, o.namespace);
  if ('denied' in listed) return o.warn(cannotList(o, listed.denied));
  const comparison = compareSearchAttributes(listed.custom);
  if (isComplete(comparison)) return;
  throw new SearchAttributeSetupError(
    setupMessage(comparison, {
      ...o,
      // While a type is wrong the worker registers nothing, so it is no way out then.
      ...(comparison.mismatched.length ? {} : { reason: `A ferry worker registers missing ones when it starts (unless ${REGISTER_ENV}=false), or register them yourself.` }),
      outcome: 'Nothing was started.',
    }),
  );
}

function cannotList(o: Pick<CheckOptions, 'namespace' | 'who'>, why: string): string {
  return `${o.who}: warning: cannot list the search attributes of namespace "${o.namespace}" (${why}), so they are not checked; if one of ${ferrySearchAttributes.map((a) => a.name).join(', ')} is missing, ferry's workflow tasks fail with BadSearchAttributes.`;
}

export interface EnsureOptions extends CheckOptions {
  /** Register missing ones (the worker's default; FERRY_REGISTER_SEARCH_ATTRIBUTES=false turns it off). */
  register: boolean;
  log: (line: string) => void;
  /** How long registered attributes may take to show in ListSearchAttributes; default 30 s. */
  visibleWithinMs?: number;
}

/**
 * For the worker: registers the missing search attributes where it may and waits until the namespace
 * lists them; otherwise (registration off or refused, a wrong type) a SearchAttributeSetupError.
 */
export async function ensureSearchAttributes(o: EnsureOptions): Promise<void> {
  const listed = await listCustom(o.connection, o.namespace);
  if ('denied' in listed) return o.warn(cannotList(o, listed.denied));
  const before = compareSearchAttributes(listed.custom);
  if (isComplete(before)) return;
  const refuse = (comparison: Comparison, reason?: string) =>
    new SearchAttributeSetupError(
      setupMessage(comparison, {
        ...o,
        ...(reason ? { reason } : {}),
        outcome: `The worker stopped before polling; start it again once ${comparison.mismatched.length ? 'the namespace is fixed' : 'they are registered'}.`,
      }),
    );
  // A wrong type is never fixed here: replacing it loses what is stored under it.
  if (before.mismatched.length) throw refuse(before, before.missing.length ? 'Nothing was registered while a type is wrong.' : undefined);
  if (!o.register) throw refuse(before, `Registration is switched off (${REGISTER_ENV}=false).`);

  const started = Date.now();
  try {
    await o.connection.operatorService.addSearchAttributes({
      namespace: o.namespace,
      searchAttributes: Object.fromEntries(before.missing.map((a) => [a.name, indexedValueType[a.type]])),
    });
  } catch (e) {
    // Another worker may have registered them meanwhile (older servers answer ALREADY_EXISTS); the wait below checks the types.
    if (!(isGrpcServiceError(e) && e.code === GRPC.alreadyExists)) {
      const why = isGrpcServiceError(e) ? grpcText(e) : e instanceof Error ? e.message : String(e);
      const hint = isGrpcServiceError(e) && (e.code === GRPC.permissionDenied || e.code === GRPC.unimplemented) ? ' (on Temporal Cloud, use tcld or the Cloud UI)' : '';
      throw refuse(before, `The server refused to register them: ${why}${hint}.`);
    }
  }
  const after = await waitVisible(o, o.visibleWithinMs ?? 30_000);
  // The server keeps an existing attribute's type when asked to add it again, so a concurrent registration with another type shows only here.
  if (after.mismatched.length) throw refuse(after);
  if (after.missing.length) throw refuse(after, `They were registered but the namespace did not list them within ${(o.visibleWithinMs ?? 30_000) / 1000} s.`);
  o.log(
    `${o.who}: registered search attributes ${before.missing.map((a) => `${a.name}=${a.type}`).join(', ')} in namespace "${o.namespace}" (listed after ${Date.now() - started} ms)`,
  );
}

/** Polls ListSearchAttributes until ferry's attributes are all listed (or one has a wrong type, or time runs out). */
async function waitVisible(o: EnsureOptions, withinMs: number): Promise<Comparison> {
  const deadline = Date.now() + withinMs;
  for (let pause = 100; ; pause = Math.min(pause * 2, 2_000)) {
    const listed = await listCustom(o.connection, o.namespace);
    // It listed a moment ago; if it stops being allowed, the add succeeded and there is nothing more to check.
    if ('denied' in listed) return { missing: [], mismatched: [] };
    const c = compareSearchAttributes(listed.custom);
    if (isComplete(c) || c.mismatched.length || Date.now() >= deadline) return c;
    await new Promise((r) => setTimeout(r, pause));
  }
}

/** FERRY_REGISTER_SEARCH_ATTRIBUTES: true (default) or false. */
export function registerFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[REGISTER_ENV]?.trim().toLowerCase();
  if (value === undefined || value === '' || value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new SearchAttributeSetupError(`${REGISTER_ENV} must be true or false (got "${env[REGISTER_ENV]}").`);
}

/** The worker's exit code when the namespace is not ready for ferry (a configuration error, as the CLI's 2). */
export const EXIT_NOT_READY = 2;

/**
 * The worker's start-up step: true when the namespace has ferry's search attributes (registered now
 * if needed and allowed); false after printing why not and the commands that fix it.
 */
export async function searchAttributesReady(o: Pick<CheckOptions, 'connection' | 'namespace' | 'address'> & { env?: NodeJS.ProcessEnv }): Promise<boolean> {
  const who = 'ferry worker';
  try {
    await ensureSearchAttributes({ ...o, who, register: registerFromEnv(o.env), log: (l) => console.log(l), warn: (l) => console.warn(l) });
    return true;
  } catch (e) {
    if (!(e instanceof SearchAttributeSetupError)) throw e;
    console.error(e.message.startsWith(who) ? e.message : `${who}: ${e.message}`);
    return false;
  }
}
