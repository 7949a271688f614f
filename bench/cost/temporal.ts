/**
 * What the Temporal side of a plan cost: billable actions from the server's own `action` counter
 * (the metric Temporal documents for estimating Temporal Cloud usage on a self-hosted server), and
 * history events and bytes per workflow from visibility and the histories themselves.
 */
import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';

export type ActionCounts = Record<string, number>;

/** The server's `action` counter for `namespace`, by action type. */
export async function scrapeActions(metricsUrl: string, namespace: string): Promise<ActionCounts> {
  const text = await (await fetch(metricsUrl)).text();
  const counts: ActionCounts = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('action{')) continue;
    const labels = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'));
    if (!labels.includes(`namespace="${namespace}"`)) continue;
    const type = /action_type="([^"]+)"/.exec(labels)?.[1] ?? 'unknown';
    counts[type] = (counts[type] ?? 0) + Number(line.slice(line.lastIndexOf('}') + 1));
  }
  return counts;
}

export function actionsBetween(before: ActionCounts, after: ActionCounts): ActionCounts {
  const d: ActionCounts = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) d[k] = v - (before[k] ?? 0);
  return d;
}

/** Actions the benchmark itself caused (its status queries and listings), not the plan's. */
export const OBSERVER_ACTIONS = /Query|List|Describe|GetWorkflowExecutionHistory|Count/;

export interface WorkflowCost {
  workflowId: string;
  runId: string;
  events: number;
  bytes: number;
  /** Who took its workflow and activity tasks (worker identities), and how many. */
  tasksByWorker: Record<string, number>;
  eventsByType: Record<string, number>;
}

const { temporal } = proto;
const EventType = temporal.api.enums.v1.EventType;

/** One workflow run's history: its size as the server stores it (protobuf bytes) and who worked it. */
export async function historyCost(client: Client, workflowId: string, runId: string): Promise<WorkflowCost> {
  let bytes = 0;
  let events = 0;
  const tasksByWorker: Record<string, number> = {};
  const eventsByType: Record<string, number> = {};
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    for (const e of page.history?.events ?? []) {
      events++;
      bytes += temporal.api.history.v1.HistoryEvent.encode(e).finish().length;
      const type = EventType[e.eventType ?? 0] ?? String(e.eventType);
      eventsByType[type] = (eventsByType[type] ?? 0) + 1;
      const identity = e.workflowTaskStartedEventAttributes?.identity ?? e.activityTaskStartedEventAttributes?.identity;
      if (identity) tasksByWorker[identity] = (tasksByWorker[identity] ?? 0) + 1;
    }
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return { workflowId, runId, events, bytes, tasksByWorker, eventsByType };
}
