/**
 * A fleet of identical running VMs for plans, tests and benchmarks: small guests on a container disk
 * (nothing to copy but memory), numbered so a plan can list them. Loaded straight into the store like
 * fixtures, so a thousand VMs cost milliseconds rather than two thousand API calls.
 */
import type { KubeObject } from './apiserver/object.js';

export interface FleetOptions {
  namespace: string;
  count: number;
  /** Names are `<prefix>-0001`, `<prefix>-0002`, … (default `vm`). */
  prefix?: string;
  /** Guest memory per VM (default 64Mi: a near-zero transfer at the simulator's byte scale). */
  memory?: string;
  /** VMs to create Halted (preflight blocks them): 1-based indexes. */
  halted?: number[];
}

export function fleetVmName(prefix: string, i: number): string {
  return `${prefix}-${String(i).padStart(4, '0')}`;
}

export function fleetManifests(o: FleetOptions): { source: KubeObject[]; destination: KubeObject[] } {
  const prefix = o.prefix ?? 'vm';
  const namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: o.namespace } } as KubeObject;
  const vms: KubeObject[] = [];
  for (let i = 1; i <= o.count; i++) {
    const name = fleetVmName(prefix, i);
    const labels = { app: 'fleet', 'fleet.ferry.dev/name': name };
    vms.push({
      apiVersion: 'kubevirt.io/v1',
      kind: 'VirtualMachine',
      metadata: { name, namespace: o.namespace, labels },
      spec: {
        runStrategy: o.halted?.includes(i) ? 'Halted' : 'Always',
        template: {
          metadata: { labels },
          spec: {
            domain: {
              memory: { guest: o.memory ?? '64Mi' },
              devices: { disks: [{ name: 'root', disk: { bus: 'virtio' } }], interfaces: [{ name: 'default', masquerade: {} }] },
            },
            networks: [{ name: 'default', pod: {} }],
            volumes: [{ name: 'root', containerDisk: { image: 'quay.io/containerdisks/fedora:41' } }],
          },
        },
      },
    } as unknown as KubeObject);
  }
  return { source: [namespace, ...vms], destination: [namespace] };
}
