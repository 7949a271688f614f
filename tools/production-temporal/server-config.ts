/**
 * The Temporal server's static config for the production setup: PostgreSQL (`postgres12` plugin) for
 * both the default and the visibility store (SQL visibility: ferry's search attributes live in the
 * database), the four services on loopback ports, the dynamic config file, and optionally TLS on the
 * frontend (with client certificates required: mTLS).
 *
 * A pure function of its inputs, so the config can be checked without starting anything.
 */
import { stringify } from 'yaml';

export interface ServicePorts {
  grpc: number;
  membership: number;
}

export interface ServerPorts {
  frontend: ServicePorts & { http: number };
  history: ServicePorts;
  matching: ServicePorts;
  worker: ServicePorts;
  /** Prometheus metrics (`/metrics`). */
  metrics: number;
}

export interface FrontendTls {
  /** PEM files. */
  certFile: string;
  keyFile: string;
  /** The CA that signs client certificates (and, here, the server's). */
  caFile: string;
  /** mTLS: refuse clients without a certificate from `caFile`. */
  requireClientAuth: boolean;
  /**
   * The certificate Temporal's own system workers (the worker service) present to the frontend
   * when client certificates are required; they verify the frontend against `caFile`.
   */
  systemWorkerCertFile: string;
  systemWorkerKeyFile: string;
  /** A name in the frontend certificate, for the system workers' host verification. */
  serverName: string;
}

export interface ServerConfigInput {
  host: string;
  postgres: { host: string; port: number; user: string; password: string };
  databases: { temporal: string; visibility: string };
  ports: ServerPorts;
  dynamicConfigFile: string;
  tls?: FrontendTls;
  /** Shards are fixed when the database is first set up; 4 is plenty for one machine. */
  numHistoryShards?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

function sqlStore(i: ServerConfigInput, databaseName: string, maxConns: number) {
  return {
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${i.postgres.host}:${i.postgres.port}`,
      connectProtocol: 'tcp',
      user: i.postgres.user,
      password: i.postgres.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  };
}

const service = (p: ServicePorts, extra: Record<string, unknown> = {}) => ({ rpc: { grpcPort: p.grpc, membershipPort: p.membership, bindOnLocalHost: true, ...extra } });

export function serverConfig(i: ServerConfigInput): Record<string, unknown> {
  const frontendAddress = `${i.host}:${i.ports.frontend.grpc}`;
  return {
    log: { stdout: true, level: i.logLevel ?? 'info' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: i.numHistoryShards ?? 4,
      datastores: {
        'postgres-default': sqlStore(i, i.databases.temporal, 20),
        'postgres-visibility': sqlStore(i, i.databases.visibility, 5),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: i.host },
      pprof: { port: 0 },
      metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `${i.host}:${i.ports.metrics}` } },
      ...(i.tls
        ? {
            tls: {
              frontend: {
                server: { certFile: i.tls.certFile, keyFile: i.tls.keyFile, requireClientAuth: i.tls.requireClientAuth, clientCaFiles: [i.tls.caFile] },
              },
              // The worker service is a client of the frontend like any other: it must pass the same TLS.
              systemWorker: {
                certFile: i.tls.systemWorkerCertFile,
                keyFile: i.tls.systemWorkerKeyFile,
                client: { serverName: i.tls.serverName, rootCaFiles: [i.tls.caFile] },
              },
            },
          }
        : {}),
    },
    services: {
      frontend: service(i.ports.frontend, { httpPort: i.ports.frontend.http }),
      history: service(i.ports.history),
      matching: service(i.ports.matching),
      worker: service(i.ports.worker),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: frontendAddress } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: i.dynamicConfigFile, pollInterval: '10s' },
  };
}

export function serverConfigYaml(i: ServerConfigInput): string {
  return `# Written by tools/production-temporal (ferry): Temporal server with PostgreSQL persistence and visibility.\n${stringify(serverConfig(i))}`;
}
