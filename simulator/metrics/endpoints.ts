/**
 * Where each cluster's virt-handler metrics endpoint is: `{ url, caFile }` per cluster, the CA PEM in
 * a file of the bed's state directory, and `virt-handler-metrics.json` beside the kubeconfig the
 * beds' command writes, for scrapers and tests started separately.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface VirtHandlerMetricsEndpoint {
  /** `https://127.0.0.1:<port>/metrics` */
  url: string;
  /** PEM of the cluster's KubeVirt CA, which signed the endpoint's serving certificate. */
  caFile: string;
}

export type VirtHandlerMetricsEndpoints = Record<string, VirtHandlerMetricsEndpoint>;

export const VIRT_HANDLER_METRICS_FILE = 'virt-handler-metrics.json';

/** Write `cluster`'s KubeVirt CA into `dir` and return the endpoint naming it. */
export function publishEndpoint(dir: string, cluster: string, url: string, caPem: string): VirtHandlerMetricsEndpoint {
  mkdirSync(dir, { recursive: true });
  const caFile = join(dir, `${cluster}-virt-handler-ca.pem`);
  writeFileSync(caFile, caPem);
  return { url, caFile };
}

/** `virt-handler-metrics.json` in the kubeconfig's directory; returns its path. */
export function writeEndpointsBeside(kubeconfig: string, endpoints: VirtHandlerMetricsEndpoints): string {
  const file = join(dirname(kubeconfig), VIRT_HANDLER_METRICS_FILE);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(endpoints, null, 2) + '\n');
  return file;
}
