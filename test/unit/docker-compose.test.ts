/**
 * docker-compose.temporal.yml cannot run here (no Docker engine), so its contract is checked
 * statically: the services and their wiring, published ports, pinned images, and that it registers
 * exactly ferry's search attributes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../tools/temporal-cli.js';
import { ferrySearchAttributes } from '../../workflows/search-attributes.js';

interface Service {
  image?: string;
  ports?: (string | number | { published?: string | number; target?: string | number })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[] };
  entrypoint?: string | string[];
  command?: string | string[];
  environment?: Record<string, string> | string[];
  configs?: { source: string; target?: string }[];
}

interface Compose {
  services: Record<string, Service>;
  configs?: Record<string, { content?: string; file?: string }>;
}

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.temporal.yml'), 'utf8')) as Compose;

function service(name: string): Service {
  const s = compose.services[name];
  assert.ok(s, `service ${name} is missing; services: ${Object.keys(compose.services).join(', ')}`);
  return s;
}

/** `published -> target` for short (`[ip:]published:target[/proto]`) and long port syntax. */
function publishedPorts(s: Service): Map<number, number> {
  const ports = new Map<number, number>();
  for (const p of s.ports ?? []) {
    if (typeof p === 'object') {
      if (p.published !== undefined) ports.set(Number(p.published), Number(p.target));
      continue;
    }
    const parts = String(p)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    if (parts.length < 2) continue; // container port only: not published on a fixed host port
    ports.set(Number(parts.at(-2)), Number(parts.at(-1)));
  }
  return ports;
}

function dependsOn(s: Service, on: string): string | undefined {
  if (Array.isArray(s.depends_on)) return s.depends_on.includes(on) ? 'service_started' : undefined;
  return s.depends_on?.[on]?.condition;
}

/** The shell text a service runs, with compose's `$$` escapes undone. */
function script(s: Service): string {
  const words = [s.entrypoint ?? [], s.command ?? []].flat();
  return words.join(' ').replaceAll('$$', '$');
}

describe('docker-compose.temporal.yml', () => {
  it('has PostgreSQL, the server, admin tools, the Web UI and a search-attribute registration job', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-admin-tools', 'temporal-ui', 'temporal-search-attributes']) service(name);
  });

  it('publishes the frontend on 7233 and the Web UI on 8080, and not the database', () => {
    assert.equal(publishedPorts(service('temporal')).get(7233), 7233);
    assert.equal(publishedPorts(service('temporal-ui')).get(8080), 8080);
    assert.equal(publishedPorts(service('postgresql')).size, 0, 'PostgreSQL must not be published');
    const hostPorts = Object.values(compose.services).flatMap((s) => [...publishedPorts(s).keys()]);
    assert.ok(!hostPorts.includes(5432), '5432 must not be published');
  });

  it('pins every image to a tag other than latest', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      assert.ok(s.image, `${name} has no image`);
      const tag = /:([^/:@]+)$/.exec(s.image)?.[1];
      assert.ok(tag, `${name}: image ${s.image} has no tag`);
      assert.notEqual(tag, 'latest', `${name}: image ${s.image} uses latest`);
    }
    assert.equal(service('temporal').image, 'temporalio/auto-setup:1.29.1');
    assert.equal(service('temporal-ui').image, 'temporalio/ui:2.42.1');
    assert.match(service('postgresql').image ?? '', /^postgres:16(\.|$)/);
  });

  it("registers exactly ferry's search attributes with their types", () => {
    const text = script(service('temporal-search-attributes'));
    assert.match(text, /temporal operator search-attribute create/);
    const registered = [...text.matchAll(/--name\s+(\w+)\s+--type\s+(\w+)/g)].map((m) => `${m[1]}=${m[2]}`).sort();
    const expected = ferrySearchAttributes.map((a) => `${a.name}=${a.type}`).sort();
    assert.deepEqual(registered, expected);
  });

  it('starts things in order: database healthy, then server healthy, then the rest', () => {
    assert.ok(service('postgresql').healthcheck?.test, 'postgresql needs a healthcheck');
    assert.ok(service('temporal').healthcheck?.test, 'temporal needs a healthcheck');
    assert.equal(dependsOn(service('temporal'), 'postgresql'), 'service_healthy');
    for (const name of ['temporal-search-attributes', 'temporal-admin-tools', 'temporal-ui']) {
      assert.equal(dependsOn(service(name), 'temporal'), 'service_healthy', `${name} should wait for a healthy server`);
    }
  });

  it("enables Updates in the server's dynamic config", () => {
    const content = compose.configs?.['temporal-dynamic-config']?.content;
    assert.ok(content, 'inline dynamic config is missing');
    const dynamic = parse(content) as Record<string, { value: unknown }[]>;
    assert.equal(dynamic['frontend.enableUpdateWorkflowExecution']?.[0]?.value, true);
    assert.equal(dynamic['frontend.enableUpdateWorkflowExecutionAsyncAccepted']?.[0]?.value, true);
    const env = service('temporal').environment as Record<string, string>;
    const mounted = service('temporal').configs?.find((c) => c.source === 'temporal-dynamic-config');
    assert.ok(mounted?.target, 'the dynamic config is not mounted into the server');
    assert.equal(env.DYNAMIC_CONFIG_FILE_PATH, mounted.target);
  });
});
