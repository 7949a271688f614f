/**
 * What every command shares: exit codes, usage errors, flag parsing (unknown flags are usage errors
 * naming the flag) and the connection flags.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDuration } from '../workflows/duration.js';
import { quote } from '../workflows/quote.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, rolledBack: 3, refused: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODES_HELP = `Exit codes:
  0  ok (migrate --wait, watch: every migration succeeded; validate: no blockers)
  1  failed (a migration failed, validate found blockers, or an error talking to Temporal or a cluster)
  2  usage or validation error (nothing was sent)
  3  rolled back (migrate --wait, watch: a migration rolled back, none failed)
  4  refused (the workflow refused the control, with its reason)`;

export const CONNECTION_HELP = `Connection (default: TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE / TEMPORAL_PROFILE, else localhost:7233, default):
  --address host:port   Temporal frontend address
  --namespace ns        Temporal namespace`;

export const KUBECONFIG_HELP = `Clusters (each kubeconfig context is a cluster of that name):
  --kubeconfig FILE     kubeconfig to read (default: FERRY_KUBECONFIG, else the first file of
                        KUBECONFIG, else ~/.kube/config)`;

/** A problem with the command line: reported on stderr with exit 2, nothing sent. */
export class UsageError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'UsageError';
  }
}

/** An error the command has already explained, with the exit code to use. */
export class ExitError extends Error {
  constructor(
    message: string,
    readonly code: ExitCode,
  ) {
    super(message);
    this.name = 'ExitError';
  }
}

export const connectionOptions = {
  address: { type: 'string' },
  namespace: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies NonNullable<ParseArgsConfig['options']>;

/**
 * `-demo/web-01` is read as the short options -d -e -m …: say which argument that was, and that no
 * Kubernetes name starts with "-", instead of only naming a `-d` the operator never typed.
 */
function shortOptionsHint(message: string, argv: string[]): string {
  const flag = /^Unknown option '(-[^-'])'/.exec(message)?.[1];
  const token = flag && argv.find((a) => a.startsWith(flag) && a.length > 2 && !a.startsWith('--'));
  if (!token) return '';
  return `, read from ${quote(token)}: a name cannot start with "-" (a VM is <namespace>/<vm>, each starting with a letter or digit)`;
}

/** node:util parseArgs in strict mode, with its errors turned into usage errors. */
export function parse<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    const err = e as { code?: string; message?: string };
    if (typeof err.code === 'string' && err.code.startsWith('ERR_PARSE_ARGS')) {
      // node:util quotes the flag as given: a 3,000-character one is quoted short.
      const message = (err.message ?? String(e)).replace(/\. To specify a positional.*$/s, '').replace(/'([^']{61,})'/g, (_, token: string) => quote(token));
      throw new UsageError([message + shortOptionsHint(message, argv)]);
    }
    throw e;
  }
}

export function outputFormat(value: string | undefined): 'table' | 'json' {
  if (value === undefined || value === 'table') return 'table';
  if (value === 'json') return 'json';
  throw new UsageError([`--output must be "table" or "json" (got "${value}")`]);
}

/** Bounds of `--interval`: faster polling only loads Temporal; a longer wait would overflow Node's timers (they then fire at once). */
const INTERVAL = { min: 100, max: 3_600_000 };

/** `--interval` in milliseconds (default 1s); checked before anything is sent. */
export function intervalFlag(value: string | undefined): number {
  const ms = parseDuration(value ?? '1s');
  if (ms === undefined || ms < INTERVAL.min || ms > INTERVAL.max) throw new UsageError([`--interval must be a duration between 100ms and 1h, e.g. 1s or 500ms (got "${value}")`]);
  return ms;
}

export function onePositional(positionals: string[], what: string): string {
  if (positionals.length === 0) throw new UsageError([`missing ${what}`]);
  if (positionals.length > 1) throw new UsageError([`unexpected argument ${quote(positionals[1]!)}: give one ${what}`]);
  return positionals[0]!;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
