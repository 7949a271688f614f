/**
 * The three patch types kubectl and client-node send. Strategic merge patch is served as a JSON merge
 * patch except that lists of objects keyed by `name` merge element-wise, which covers what kubectl
 * sends for the core kinds served here (containers/volumes style lists); `$patch` directives are not
 * interpreted.
 */
import { isDeepStrictEqual } from 'node:util';
import { ApiError, badRequest } from './errors.js';
import { clone, isPlainObject } from './object.js';

export type PatchType = 'merge' | 'json' | 'strategic';

export function patchTypeOf(contentType: string | undefined): PatchType {
  const ct = (contentType ?? '').split(';')[0]!.trim();
  switch (ct) {
    case 'application/merge-patch+json':
      return 'merge';
    case 'application/json-patch+json':
      return 'json';
    case 'application/strategic-merge-patch+json':
      return 'strategic';
    default:
      throw new ApiError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got "${ct}")`,
      );
  }
}

export function mergePatch(target: unknown, patch: unknown, strategic = false): unknown {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (strategic && Array.isArray(v) && Array.isArray(out[k]) && v.every(namedObject)) {
      out[k] = mergeNamedList(out[k] as unknown[], v as Record<string, unknown>[]);
    } else out[k] = mergePatch(out[k], v, strategic);
  }
  return out;
}

function namedObject(v: unknown): v is Record<string, unknown> {
  return isPlainObject(v) && typeof v.name === 'string';
}

function mergeNamedList(current: unknown[], patch: Record<string, unknown>[]): unknown[] {
  const out = [...current];
  for (const p of patch) {
    const i = out.findIndex((c) => namedObject(c) && c.name === p.name);
    if (i >= 0) out[i] = mergePatch(out[i], p, true);
    else out.push(clone(p));
  }
  return out;
}

type Op = { op: string; path: string; value?: unknown; from?: string };

/**
 * A JSON patch that decodes but cannot be applied: kube-apiserver answers 422 Invalid for these
 * (only a body that is not a list of operations is a 400).
 */
const cannotApply = (message: string) => new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${message}`);

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw cannotApply(`invalid JSON pointer "${path}"`);
  return path
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, parts: string[], path: string): { parent: unknown; key: string } {
  let cur = doc;
  for (const p of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isPlainObject(cur)) cur = cur[p];
    else cur = undefined;
    if (cur === undefined) throw cannotApply(`jsonpatch: path "${path}" does not exist`);
  }
  return { parent: cur, key: parts[parts.length - 1]! };
}

function getAt(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const p of pointer(path)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isPlainObject(cur)) cur = cur[p];
    else return undefined;
  }
  return cur;
}

function removeAt(doc: unknown, path: string): unknown {
  const { parent, key } = parentOf(doc, pointer(path), path);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!(i >= 0 && i < parent.length)) throw cannotApply(`jsonpatch remove: index out of range at "${path}"`);
    return parent.splice(i, 1)[0];
  }
  if (isPlainObject(parent) && key in parent) {
    const v = parent[key];
    delete parent[key];
    return v;
  }
  throw cannotApply(`jsonpatch remove operation does not apply: doc is missing path: "${path}"`);
}

function addAt(doc: unknown, path: string, value: unknown, replace: boolean): unknown {
  const parts = pointer(path);
  if (parts.length === 0) return clone(value);
  const { parent, key } = parentOf(doc, parts, path);
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    // add may append at the end; replace needs an existing element.
    if (!(i >= 0 && (replace ? i < parent.length : i <= parent.length))) throw cannotApply(`jsonpatch: index out of range at "${path}"`);
    if (replace) parent[i] = clone(value);
    else parent.splice(i, 0, clone(value));
  } else if (isPlainObject(parent)) {
    if (replace && !(key in parent)) {
      throw cannotApply(`jsonpatch replace operation does not apply: doc is missing key: "${path}"`);
    }
    parent[key] = clone(value);
  } else throw cannotApply(`jsonpatch: path "${path}" does not exist`);
  return doc;
}

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch body must be an array of operations');
  let doc = clone(target);
  for (const raw of ops as Op[]) {
    switch (raw.op) {
      case 'add':
        doc = addAt(doc, raw.path, raw.value, false);
        break;
      case 'replace':
        doc = addAt(doc, raw.path, raw.value, true);
        break;
      case 'remove':
        removeAt(doc, raw.path);
        break;
      case 'move': {
        const v = removeAt(doc, raw.from ?? '');
        doc = addAt(doc, raw.path, v, false);
        break;
      }
      case 'copy': {
        const v = getAt(doc, raw.from ?? '');
        if (v === undefined) throw cannotApply(`jsonpatch copy operation does not apply: doc is missing from path: "${raw.from ?? ''}"`);
        doc = addAt(doc, raw.path, v, false);
        break;
      }
      case 'test':
        // JSON equality: object member order does not matter.
        if (!isDeepStrictEqual(getAt(doc, raw.path), raw.value)) throw cannotApply(`testing value ${raw.path} failed`);
        break;
      default:
        throw cannotApply(`unexpected json patch operation "${raw.op}"`);
    }
  }
  return doc;
}

export function applyPatch(type: PatchType, target: unknown, patch: unknown): unknown {
  if (type === 'json') return jsonPatch(target, patch);
  return mergePatch(target, patch, type === 'strategic');
}
