/**
 * What docker-compose.temporal.yml says about the production Temporal: the server version (its image
 * tag), the dynamic config, the default namespace and its retention. The Docker-free server reads them
 * from there, so the compose file stays the one description of ferry's production Temporal.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../temporal-cli.js';

export const COMPOSE_FILE = join(REPO_ROOT, 'docker-compose.temporal.yml');

/** The compose services this reads; their names are part of the contract. */
const SERVER_SERVICE = 'temporal';
const DYNAMIC_CONFIG = 'temporal-dynamic-config';

export interface ComposeTemporal {
  /** e.g. `1.29.1`, the tag of `temporalio/auto-setup`. */
  serverVersion: string;
  /** The dynamic config file's text, as the compose file gives it to the server. */
  dynamicConfigYaml: string;
  namespace: string;
  /** As auto-setup takes it, e.g. `72h`. */
  retention: string;
}

interface Compose {
  services?: Record<string, { image?: string; environment?: Record<string, string> | string[] }>;
  configs?: Record<string, { content?: string }>;
}

function environment(env: Record<string, string> | string[] | undefined): Record<string, string> {
  if (!Array.isArray(env)) return env ?? {};
  return Object.fromEntries(env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

/** Parse the compose file; every missing piece is an error naming the field to restore. */
export function readComposeTemporal(file = COMPOSE_FILE): ComposeTemporal {
  const compose = parse(readFileSync(file, 'utf8')) as Compose;
  const where = (field: string) => `${file}: ${field}`;
  const server = compose.services?.[SERVER_SERVICE];
  if (!server) throw new Error(`${where(`services.${SERVER_SERVICE}`)} is missing: it describes the Temporal server`);
  const tag = /^temporalio\/(?:auto-setup|server):(\d+\.\d+\.\d+)$/.exec(server.image ?? '')?.[1];
  if (!tag) throw new Error(`${where(`services.${SERVER_SERVICE}.image`)} must be temporalio/auto-setup:X.Y.Z (got "${server.image ?? ''}")`);
  const dynamicConfigYaml = compose.configs?.[DYNAMIC_CONFIG]?.content;
  if (!dynamicConfigYaml) throw new Error(`${where(`configs.${DYNAMIC_CONFIG}.content`)} is missing: it holds the server's dynamic config`);
  const env = environment(server.environment);
  const namespace = env.DEFAULT_NAMESPACE;
  const retention = env.DEFAULT_NAMESPACE_RETENTION;
  if (!namespace) throw new Error(`${where(`services.${SERVER_SERVICE}.environment.DEFAULT_NAMESPACE`)} is missing`);
  if (!retention || !/^\d+[hdms]$/.test(retention)) {
    throw new Error(`${where(`services.${SERVER_SERVICE}.environment.DEFAULT_NAMESPACE_RETENTION`)} must be a duration such as 72h (got "${retention ?? ''}")`);
  }
  return { serverVersion: tag, dynamicConfigYaml, namespace, retention };
}

/** The dynamic config as key → values, for printing and checks. */
export function dynamicConfigValues(yamlText: string): Record<string, unknown[]> {
  const parsed = parse(yamlText) as Record<string, { value: unknown }[]> | null;
  return Object.fromEntries(Object.entries(parsed ?? {}).map(([key, entries]) => [key, entries.map((e) => e.value)]));
}
