/**
 * Certificate authorities and leaf certificates for the simulator: one for each API server's HTTPS
 * endpoint, and one per cluster playing KubeVirt's CA (the one published in `kubevirt-ca` and used to
 * authenticate synchronization controllers). EC P-256 keeps generation fast (~ms) so every cluster
 * gets fresh keys at start.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type KeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface CertAuthority {
  certPem: string;
  keyPem: string;
  cert: x509.X509Certificate;
  keys: KeyPair;
}

export interface LeafCert {
  certPem: string;
  keyPem: string;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64.trimEnd()}\n-----END ${label}-----\n`;
}

let serial = Date.now();
const nextSerial = () => (++serial).toString(16).padStart(16, '0');

async function keyPem(keys: KeyPair): Promise<string> {
  return pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey));
}

export async function createCA(commonName: string, validDays = 7): Promise<CertAuthority> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: nextSerial(),
    name: `CN=${commonName}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + validDays * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys), cert, keys };
}

export async function issue(
  ca: CertAuthority,
  opts: { commonName: string; dnsNames?: string[]; ips?: string[]; usage: ('server' | 'client')[]; validDays?: number },
): Promise<LeafCert> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const san = [...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })), ...(opts.ips ?? []).map((value) => ({ type: 'ip' as const, value }))];
  const eku = opts.usage.map((u) => (u === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: nextSerial(),
    subject: `CN=${opts.commonName}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + (opts.validDays ?? 7) * DAY),
    signingKey: ca.keys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(eku),
      ...(san.length ? [new x509.SubjectAlternativeNameExtension(san)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys) };
}

/** Split a PEM bundle into its certificates (normalised), as virt-operator does when merging CAs. */
export function splitBundle(bundle: string): string[] {
  return (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((c) => c.trim() + '\n');
}

/** Certificates in a bundle that are currently valid: expired or not-yet-valid ones are dropped. */
export function currentCerts(bundle: string, now = new Date()): string[] {
  return splitBundle(bundle).filter((p) => {
    try {
      const c = new x509.X509Certificate(p);
      return c.notBefore <= now && now <= c.notAfter;
    } catch {
      return false;
    }
  });
}
