/**
 * The production Temporal's configuration, without starting it: what it takes from
 * docker-compose.temporal.yml, the server config it writes, and the compose file's dynamic config
 * as the built server itself validates it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { ensureServerBinaries } from '../../tools/production-temporal/build.js';
import { dynamicConfigValues, readComposeTemporal } from '../../tools/production-temporal/compose.js';
import { serverConfig, serverConfigYaml, type ServerConfigInput } from '../../tools/production-temporal/server-config.js';

const input: ServerConfigInput = {
  host: '127.0.0.1',
  postgres: { host: '127.0.0.1', port: 5432, user: 'temporal', password: 'not-a-real-password' },
  databases: { temporal: 'temporal', visibility: 'temporal_visibility' },
  ports: {
    frontend: { grpc: 21001, http: 21002, membership: 21003 },
    history: { grpc: 21004, membership: 21005 },
    matching: { grpc: 21006, membership: 21007 },
    worker: { grpc: 21008, membership: 21009 },
    metrics: 40000,
  },
  dynamicConfigFile: '/x/dynamicconfig.yaml',
};

describe('production Temporal configuration', () => {
  it('takes version, dynamic config, namespace and retention from docker-compose.temporal.yml', () => {
    const c = readComposeTemporal();
    assert.equal(c.serverVersion, '1.29.1');
    assert.equal(c.namespace, 'default');
    assert.equal(c.retention, '72h');
    assert.deepEqual(dynamicConfigValues(c.dynamicConfigYaml), {
      'frontend.enableUpdateWorkflowExecution': [true],
      'frontend.enableUpdateWorkflowExecutionAsyncAccepted': [true],
      'limit.maxIDLength': [255],
    });
  });

  it('refuses a compose file without the server image, naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-compose-'));
    try {
      const file = join(dir, 'compose.yml');
      writeFileSync(file, 'services:\n  temporal:\n    image: temporalio/auto-setup:latest\n');
      assert.throws(() => readComposeTemporal(file), /services\.temporal\.image must be temporalio\/auto-setup:X\.Y\.Z \(got "temporalio\/auto-setup:latest"\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses PostgreSQL (postgres12) for the default store and SQL visibility, on loopback, TLS only when asked', () => {
    const c = serverConfig(input) as { persistence: Record<string, unknown>; global: Record<string, unknown>; services: Record<string, { rpc: Record<string, unknown> }> };
    const p = parse(serverConfigYaml(input)) as typeof c;
    assert.deepEqual(p, JSON.parse(JSON.stringify(c)), 'the YAML is the object');
    const stores = c.persistence.datastores as Record<string, { sql: { pluginName: string; databaseName: string; connectAddr: string } }>;
    assert.equal(stores[c.persistence.defaultStore as string]!.sql.pluginName, 'postgres12');
    assert.equal(stores[c.persistence.visibilityStore as string]!.sql.pluginName, 'postgres12');
    assert.equal(stores[c.persistence.visibilityStore as string]!.sql.databaseName, 'temporal_visibility');
    assert.equal(stores[c.persistence.defaultStore as string]!.sql.connectAddr, '127.0.0.1:5432');
    for (const s of Object.values(c.services)) assert.equal(s.rpc.bindOnLocalHost, true);
    assert.equal(c.global.tls, undefined);
    const tls = {
      certFile: 'f.pem',
      keyFile: 'f-key.pem',
      caFile: 'ca.pem',
      requireClientAuth: true,
      systemWorkerCertFile: 'w.pem',
      systemWorkerKeyFile: 'w-key.pem',
      serverName: 'localhost',
    };
    const withTls = serverConfig({ ...input, tls }) as { global: { tls: { frontend: { server: Record<string, unknown> }; systemWorker: Record<string, unknown> } } };
    assert.deepEqual(withTls.global.tls.frontend.server, { certFile: 'f.pem', keyFile: 'f-key.pem', requireClientAuth: true, clientCaFiles: ['ca.pem'] });
    assert.deepEqual(withTls.global.tls.systemWorker, { certFile: 'w.pem', keyFile: 'w-key.pem', client: { serverName: 'localhost', rootCaFiles: ['ca.pem'] } });
  });

  it("the compose file's dynamic config passes the built server's own validation (known keys, right types)", async () => {
    const b = await ensureServerBinaries();
    const dir = mkdtempSync(join(tmpdir(), 'ferry-dynamic-config-'));
    try {
      const file = join(dir, 'dynamicconfig.yaml');
      writeFileSync(file, readComposeTemporal().dynamicConfigYaml);
      const { stdout, stderr } = await promisify(execFile)(b.server, ['validate-dynamic-config', file]);
      assert.doesNotMatch(stdout + stderr, /warning|error/i, stdout + stderr);
      // The validator does catch mistakes (it exits 0 either way, so its words are what count).
      writeFileSync(file, 'limit.maxIDLengthh:\n  - value: 255\n');
      const bad = await promisify(execFile)(b.server, ['validate-dynamic-config', file]);
      assert.match(bad.stdout + bad.stderr, /unregistered key "limit\.maxIDLengthh"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
