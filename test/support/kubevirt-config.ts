/**
 * Changing what KubeVirt's configuration and a VM's guest would change on a real cluster, through the
 * API: the migration settings of a KubeVirt CR, and the memory dirty rate of a running guest (the
 * simulator's `sim.ferry.dev/dirty-rate` annotation, read when the VMI starts).
 */
import { type Clients, eventually, kubevirt, path } from '../../simulator/testing/sim.js';

/** Merge `migrations` into the KubeVirt CR's `spec.configuration.migrations` (the target's governs a transfer). */
export async function setMigrationConfig(c: Clients, migrations: Record<string, unknown>): Promise<void> {
  const kv = await kubevirt(c).kubevirtCR();
  const spec = structuredClone(kv.spec as { configuration: { migrations: Record<string, unknown> } });
  spec.configuration.migrations = { ...spec.configuration.migrations, ...migrations };
  await c.custom.replaceNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace: 'kubevirt', plural: 'kubevirts', name: 'kubevirt', body: { ...kv, spec } });
}

/** Restart a running VM's guest so that it dirties `rate` (a quantity, e.g. "2Gi") of memory per second. */
export async function setDirtyRate(c: Clients, namespace: string, name: string, rate: string): Promise<void> {
  const vm = await kubevirt(c).get('virtualmachines', namespace, name);
  const tmpl = path<Record<string, unknown>>(vm, 'spec.template')!;
  const meta = (tmpl.metadata ?? {}) as Record<string, unknown>;
  tmpl.metadata = { ...meta, annotations: { ...((meta.annotations as Record<string, string>) ?? {}), 'sim.ferry.dev/dirty-rate': rate } };
  await c.custom.replaceNamespacedCustomObject({ group: 'kubevirt.io', version: 'v1', namespace, plural: 'virtualmachines', name, body: vm });
  await kubevirt(c).delete('virtualmachineinstances', namespace, name);
  await eventually(
    `${namespace}/${name} restarted with dirty rate ${rate}`,
    async () => {
      const vmi = await kubevirt(c).tryGet('virtualmachineinstances', namespace, name);
      return path(vmi, 'status.phase') === 'Running' && (path<Record<string, string>>(vmi, 'metadata.annotations') ?? {})['sim.ferry.dev/dirty-rate'] === rate;
    },
    30_000,
  );
}
