/**
 * What every preflight check is given (the migration, both clusters, read helpers) and what it
 * returns: issues, blockers and warnings, each naming the object and how to fix it. Checks only read.
 */
import type { Migration, PreflightIssue } from '../../workflows/contract.js';
import type { ActivityDeps } from '../context.js';
import type { ClusterClient } from '../kube/cluster.js';
import { orFail } from '../kube/errors.js';
import type { KindName, KubeObject } from '../kube/kinds.js';
import { isOwnedBy } from '../labels.js';

export interface PreflightInput {
  workflowId: string;
  migration: Migration;
  /** 'warn' reports missing permissions as warnings (a dry run with someone else's credentials). */
  accessIssues?: 'block' | 'warn';
}

export interface Issues {
  blockers: PreflightIssue[];
  warnings: PreflightIssue[];
}

/** An issue collector a check fills and returns (with whatever else it found out). */
export function issues(): Issues & { block(code: string, message: string): void; warn(code: string, message: string): void } {
  const blockers: PreflightIssue[] = [];
  const warnings: PreflightIssue[] = [];
  return {
    blockers,
    warnings,
    block: (code, message) => void blockers.push({ code, message }),
    warn: (code, message) => void warnings.push({ code, message }),
  };
}

/** Only the issues of a check's result (without the collector's methods). */
export const only = (i: Issues): Issues => ({ blockers: i.blockers, warnings: i.warnings });

export interface Scope {
  input: PreflightInput;
  m: Migration;
  src: ClusterClient;
  dst: ClusterClient;
  srcNs: string;
  dstNs: string;
  sameCluster: boolean;
  /** "VM ns/name on cluster c", for messages. */
  vmRef: string;
  /** Made by this migration (labelled with its key). */
  ours(o: KubeObject | undefined): boolean;
  /** GET; undefined when absent; any other API error fails the activity (retryable or not per apiFailure). */
  get(c: ClusterClient, kind: KindName, ns: string | undefined, name: string): Promise<KubeObject | undefined>;
  /** LIST in all namespaces. */
  list(c: ClusterClient, kind: KindName, what: string): Promise<KubeObject[]>;
}

export function scopeOf(deps: ActivityDeps, input: PreflightInput): Scope {
  const m = input.migration;
  const src = deps.clusters.get(m.source.cluster);
  return {
    input,
    m,
    src,
    dst: deps.clusters.get(m.destination.cluster),
    srcNs: m.source.namespace,
    dstNs: m.destination.namespace,
    sameCluster: m.source.cluster === m.destination.cluster,
    vmRef: `VM ${m.source.namespace}/${m.source.name} on cluster ${src.name}`,
    ours: (o) => isOwnedBy(o?.metadata, input.workflowId),
    get: (c, kind, ns, name) => orFail(c.get(kind, ns, name), `reading ${kind} ${ns ? `${ns}/` : ''}${name}`, c.name, kind === 'Secret'),
    list: (c, kind, what) => orFail(c.list(kind, undefined), what, c.name),
  };
}
