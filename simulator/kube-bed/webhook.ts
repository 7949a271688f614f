/**
 * KubeVirt's admission webhooks on the real bed, served the way virt-api serves them: an HTTPS
 * endpoint that the kube-apiserver itself calls, registered with a ValidatingWebhookConfiguration and a
 * MutatingWebhookConfiguration whose `caBundle` trusts the endpoint's certificate. The rules are the
 * simulator's (admission.ts); the facts they need are read live through the API, as virt-api does.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdmissionDenied, admitVM, admitVMIMCreate, admitVMIMUpdate, type AdmissionFacts, VM_WEBHOOK, VMIM_CREATE_WEBHOOK, VMIM_UPDATE_WEBHOOK, vmimLabels } from '../admission.js';
import type { KubeObject } from '../apiserver/object.js';
import { getPath, KUBEVIRT_CR, KUBEVIRT_NAMESPACE } from '../controllers/kubevirt.js';
import { createCA, issue } from '../pki.js';
import { type AdminApi, objectPath } from './admin-api.js';

interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request: { uid: string; operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT'; object?: KubeObject; oldObject?: KubeObject };
}

type Review = (req: AdmissionReview['request']) => Promise<{ patch?: unknown[] }>;

const MUTATOR = 'migrations-mutator.kubevirt.io';

export class KubevirtWebhooks {
  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly caPem: string,
  ) {}

  /** `api` reads what the admitters need (virt-api's own credentials). */
  static async start(api: AdminApi): Promise<KubevirtWebhooks> {
    const ca = await createCA('virt-api-webhook-ca', 30);
    const cert = await issue(ca, { commonName: 'virt-api', ips: ['127.0.0.1'], usage: ['server'], validDays: 30 });
    const facts = async (o: KubeObject): Promise<AdmissionFacts> => {
      const kubevirt = await api.get('KubeVirt', KUBEVIRT_NAMESPACE, KUBEVIRT_CR).catch(() => undefined);
      if (o.kind !== 'VirtualMachineInstanceMigration') return { kubevirt };
      const ns = o.metadata.namespace!;
      const vmiName = getPath<string>(o, 'spec.vmiName');
      const [vmi, list] = await Promise.all([
        vmiName ? api.get('VirtualMachineInstance', ns, vmiName).catch(() => undefined) : undefined,
        api.json<{ items: KubeObject[] }>('GET', objectPath('VirtualMachineInstanceMigration', ns)),
      ]);
      return { kubevirt, vmi, migrations: list.items.filter((m) => m.metadata.name !== o.metadata.name) };
    };
    const reviews: Record<string, Review> = {
      '/virtualmachines-validate': async (r) => {
        admitVM(r.object!, await facts(r.object!));
        return {};
      },
      '/migration-validate-create': async (r) => {
        admitVMIMCreate(r.object!, await facts(r.object!));
        return {};
      },
      '/migration-validate-update': async (r) => {
        if (r.oldObject) admitVMIMUpdate(r.object!, r.oldObject);
        return {};
      },
      '/migration-mutate-create': async (r) => {
        const labels = vmimLabels(r.object!);
        if (Object.keys(labels).length === 0) return {};
        const existing = r.object!.metadata.labels;
        const patch = existing
          ? Object.entries(labels).map(([k, v]) => ({ op: 'add', path: `/metadata/labels/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, value: v }))
          : [{ op: 'add', path: '/metadata/labels', value: labels }];
        return { patch };
      },
    };
    const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => void handle(reviews, req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return new KubevirtWebhooks(server, url, ca.certPem);
  }

  /** The configurations that make the API server call these webhooks (virt-operator installs the same). */
  configurations(): KubeObject[] {
    const caBundle = Buffer.from(this.caPem).toString('base64');
    const hook = (name: string, path: string, operations: string[], resources: string[]) => ({
      name,
      clientConfig: { url: `${this.url}${path}`, caBundle },
      rules: [{ apiGroups: ['kubevirt.io'], apiVersions: ['v1'], operations, resources, scope: 'Namespaced' }],
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Fail',
      timeoutSeconds: 10,
    });
    return [
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name: 'virt-api-validator' },
        webhooks: [
          hook(VM_WEBHOOK, '/virtualmachines-validate', ['CREATE', 'UPDATE'], ['virtualmachines']),
          hook(VMIM_CREATE_WEBHOOK, '/migration-validate-create', ['CREATE'], ['virtualmachineinstancemigrations']),
          hook(VMIM_UPDATE_WEBHOOK, '/migration-validate-update', ['UPDATE'], ['virtualmachineinstancemigrations']),
        ],
      },
      {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'MutatingWebhookConfiguration',
        metadata: { name: 'virt-api-mutator' },
        webhooks: [hook(MUTATOR, '/migration-mutate-create', ['CREATE'], ['virtualmachineinstancemigrations'])],
      },
    ] as unknown as KubeObject[];
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function handle(reviews: Record<string, Review>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const review = reviews[new URL(req.url ?? '/', 'https://x').pathname];
  if (req.method !== 'POST' || !review) return reply(404, { message: `no webhook at ${req.method} ${req.url}` });
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  let ar: AdmissionReview;
  try {
    ar = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReview;
  } catch {
    return reply(400, { message: 'the body is not an AdmissionReview' });
  }
  const base = { apiVersion: ar.apiVersion, kind: 'AdmissionReview' };
  try {
    const { patch } = await review(ar.request);
    reply(200, {
      ...base,
      response: { uid: ar.request.uid, allowed: true, ...(patch ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}) },
    });
  } catch (e) {
    // virt-api answers a denial as an Invalid status; the API server prefixes it with the webhook's name.
    const message = e instanceof AdmissionDenied ? e.message : `internal error: ${(e as Error).message}`;
    reply(200, {
      ...base,
      response: {
        uid: ar.request.uid,
        allowed: false,
        status: { code: e instanceof AdmissionDenied ? 422 : 500, reason: e instanceof AdmissionDenied ? 'Invalid' : 'InternalError', message },
      },
    });
  }
}
