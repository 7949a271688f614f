/**
 * Forklift's StorageMap and NetworkMap entries as ferry's two maps. Forklift can express more than
 * ferry does (volume/access modes, moving an interface between the pod network and Multus, dropping
 * a network); ferry refuses those rather than migrate VMs whose disks or networks differ from what
 * the maps say.
 *
 *   StorageMap  source.name (storage class) → destination.storageClass   ⇒ storageClassMap[from] = to
 *   NetworkMap  source {namespace, name} or {name: ns/name} (Multus)
 *                 → destination {type: multus, namespace, name}           ⇒ networkMap['ns/name'] = 'ns/name'
 *               source {type: pod} → destination {type: pod}              ⇒ no entry: what ferry always does
 *
 * Source `id`s are UIDs in Forklift's inventory, which ferry does not have, so entries must name.
 */
import { at, isObj, str, type Findings, type Obj } from './document.js';

/** A ferry map, and for each key the map entry it came from (to name it in later messages). */
export interface MappedEntries {
  map: Record<string, string>;
  where: Record<string, string>;
}

const sides = (pair: unknown): [Obj, Obj] => [at(pair, 'source'), at(pair, 'destination')];

/** Adds one entry, refusing a key mapped two different ways (Forklift would use whichever it found first). */
function add(out: MappedEntries, what: string, from: string, to: string, where: string, findings: Findings): void {
  // Own properties only: a class or network named __proto__ must neither find Object's prototype
  // ("mapped twice") nor vanish by setting it; the plan schema then refuses the name.
  const before = Object.hasOwn(out.map, from) ? out.map[from] : undefined;
  if (before !== undefined && before !== to) findings.error(`${where}: ${what} ${from} is mapped twice (to ${before} and ${to}): keep one`);
  Object.defineProperty(out.map, from, { value: to, enumerable: true, writable: true, configurable: true });
  if (!Object.hasOwn(out.where, from)) Object.defineProperty(out.where, from, { value: where, enumerable: true, writable: true, configurable: true });
}

export function storageClasses(doc: string, pairs: unknown[], findings: Findings): MappedEntries {
  const out: MappedEntries = { map: {}, where: {} };
  pairs.forEach((pair, j) => {
    const where = `${doc} spec.map[${j}]`;
    const [src, dst] = sides(pair);
    const from = str(src.name);
    const to = str(dst.storageClass);
    if (!from) {
      findings.error(
        str(src.id)
          ? `${where}.source: only id ${str(src.id)} is given, a StorageClass UID in Forklift's inventory that ferry cannot look up: give source.name (the storage class name)`
          : `${where}.source.name: required: the source storage class`,
      );
    }
    if (!to) findings.error(`${where}.destination.storageClass: required: the destination storage class`);
    for (const key of ['volumeMode', 'accessMode'] as const) {
      if (str(dst[key]))
        findings.error(
          `${where}.destination.${key} (${String(dst[key])}): not supported, and it would change the migration: ferry gives each destination disk its source disk's ${key}. Remove it to migrate without it`,
        );
    }
    if (isObj(pair) && pair.offloadPlugin) findings.warning(`${where}.offloadPlugin: ignored (harmless here): storage copy offload applies to vSphere sources only`);
    if (from && to) add(out, 'storage class', from, to, where, findings);
  });
  return out;
}

export function multusNetworks(doc: string, pairs: unknown[], findings: Findings): MappedEntries {
  const out: MappedEntries = { map: {}, where: {} };
  pairs.forEach((pair, j) => {
    const where = `${doc} spec.map[${j}]`;
    const [src, dst] = sides(pair);
    const dstType = str(dst.type) ?? '(no destination.type)';
    if (str(src.vlan)) findings.warning(`${where}.source.vlan: ignored (harmless here): VLAN qualifiers apply to vSphere networks only`);
    if (src.type === 'pod') {
      if (dstType !== 'pod')
        findings.error(
          `${where}: the pod network is mapped to ${dstType}: not supported: ferry keeps pod-network interfaces on the pod network. Map it to {type: pod} or remove the entry`,
        );
      return;
    }
    if (src.type !== undefined && src.type !== 'multus') {
      findings.error(`${where}.source.type: ${JSON.stringify(src.type)}: expected pod, or a Multus network given by namespace and name`);
      return;
    }
    if (!str(src.name) && str(src.id)) {
      findings.error(
        `${where}.source: only id ${str(src.id)} is given, a NetworkAttachmentDefinition UID in Forklift's inventory that ferry cannot look up: give namespace and name`,
      );
      return;
    }
    const from = qualified(src, `${where}.source`, findings);
    if (dstType !== 'multus') {
      findings.error(
        `${where}: the Multus network ${from ?? ''} is mapped to ${dstType}: not supported: ferry keeps every network of the VM and maps Multus networks only to Multus networks (destination {type: multus, namespace, name})`,
      );
      return;
    }
    const to = qualified(dst, `${where}.destination`, findings);
    if (from && to) add(out, 'network', from, to, where, findings);
  });
  return out;
}

/** A Multus network as ferry names it, 'ns/name', from `{namespace, name}` or `{name: 'ns/name'}`. */
function qualified(ref: Obj, where: string, findings: Findings): string | undefined {
  const name = str(ref.name);
  const namespace = str(ref.namespace);
  if (name && namespace) return `${namespace}/${name}`;
  if (name?.includes('/')) return name;
  findings.error(`${where}: a Multus network needs namespace and name (or name: namespace/name)`);
  return undefined;
}
