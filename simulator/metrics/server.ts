/**
 * A virt-handler-like metrics endpoint for one cluster: HTTPS on loopback with a serving certificate
 * from the cluster's KubeVirt CA (as virt-handler's is), `GET /metrics` in the Prometheus text format.
 * No authentication, as Prometheus scrapes virt-handler with TLS only.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { issue, type CertAuthority } from '../pki.js';
import { EXPOSITION_CONTENT_TYPE, renderExposition } from './exposition.js';
import type { MigrationJobs } from './migration-jobs.js';
import { migrationFamilies } from './virt-handler.js';

export interface VirtHandlerMetricsOptions {
  kubevirtCA: CertAuthority;
  jobs: MigrationJobs;
  /** Fixed port; 0 or absent picks a free one. */
  port?: number;
}

export class VirtHandlerMetricsServer {
  private constructor(
    private readonly server: https.Server,
    /** What to GET: `https://127.0.0.1:<port>/metrics`. */
    readonly url: string,
    /** The CA that signed the serving certificate (PEM): what a scraper trusts. */
    readonly caPem: string,
  ) {}

  static async start(opts: VirtHandlerMetricsOptions): Promise<VirtHandlerMetricsServer> {
    const cert = await issue(opts.kubevirtCA, {
      commonName: 'virt-handler',
      dnsNames: ['localhost', 'virt-handler.kubevirt.svc'],
      ips: ['127.0.0.1'],
      usage: ['server'],
      validDays: 7,
    });
    const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      const path = new URL(req.url ?? '/', 'https://localhost').pathname;
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`404 page not found: ${path} (virt-handler serves /metrics)\n`);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, HEAD' }).end(`method ${req.method} not allowed: use GET\n`);
        return;
      }
      const body = renderExposition(migrationFamilies(opts.jobs.list()));
      res.writeHead(200, { 'content-type': EXPOSITION_CONTENT_TYPE, 'content-length': String(Buffer.byteLength(body)) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return new VirtHandlerMetricsServer(server, `https://127.0.0.1:${port}/metrics`, opts.kubevirtCA.certPem);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
