/**
 * Secrets as kube-apiserver stores them: `stringData` is write-only. Every write (create, update,
 * patch) merges it into base64 `data`, its keys winning over `data`'s, and the field itself is dropped.
 */
import { isPlainObject, type KubeObject } from './object.js';

export function foldStringData(secret: KubeObject): void {
  const plain = secret.stringData;
  if (plain === undefined) return;
  delete secret.stringData;
  if (!isPlainObject(plain)) return;
  const data: Record<string, unknown> = isPlainObject(secret.data) ? { ...secret.data } : {};
  for (const [k, v] of Object.entries(plain)) data[k] = Buffer.from(String(v)).toString('base64');
  secret.data = data;
}
