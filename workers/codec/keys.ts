/**
 * ferry's payload encryption keys, from the environment:
 *
 *   FERRY_CODEC_KEYS            a directory with one file per key (the file name is the key id, the
 *                               content the key: 32 bytes, base64) — a mounted Kubernetes Secret is
 *                               such a directory — or one YAML/JSON file mapping key id → base64 key.
 *   FERRY_CODEC_ENCRYPT_KEY_ID  the key that encrypts. Unset: the greatest key id in natural order
 *                               ("k2" < "k10", "2026-01" < "2026-12"), so a key named after its
 *                               creation date or with a rising number takes over when it is added.
 *
 * Every other key only decrypts: rotation is adding a key, and removing an old one once no history
 * that the operators still read is encrypted with it. Bad configuration is an error naming the
 * variable and the fix; key material never appears in a message.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

export const KEYS_ENV = 'FERRY_CODEC_KEYS';
export const ENCRYPT_KEY_ID_ENV = 'FERRY_CODEC_ENCRYPT_KEY_ID';
/** AES-256. */
export const KEY_BYTES = 32;
/** Valid as a Kubernetes Secret data key and as a file name; key ids are stored in clear in every payload. */
const KEY_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface CodecKeys {
  /** Where the keys came from, for messages (a path, never key material). */
  source: string;
  encryptKeyId: string;
  keys: ReadonlyMap<string, Buffer>;
}

export class CodecConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecConfigError';
  }
}

/** Natural order: digit runs compare as numbers. */
const byNaturalOrder = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

function decodeKey(id: string, text: string, where: string): Buffer {
  if (!KEY_ID.test(id)) throw new CodecConfigError(`${KEYS_ENV}: key id "${id}" (${where}) must be 1–128 letters, digits, ".", "_" or "-"`);
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) throw new CodecConfigError(`${KEYS_ENV}: key "${id}" (${where}) is not base64: generate one with \`openssl rand -base64 32\``);
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_BYTES)
    throw new CodecConfigError(`${KEYS_ENV}: key "${id}" (${where}) is ${key.length} bytes, AES-256 needs ${KEY_BYTES}: generate one with \`openssl rand -base64 32\``);
  return key;
}

function readDirectory(dir: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  // A mounted Secret also holds `..data` and `..<timestamp>` entries (the atomic-update machinery): skip dot names.
  for (const name of readdirSync(dir).filter((n) => !n.startsWith('.'))) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    keys.set(name, decodeKey(name, readFileSync(path, 'utf8'), path));
  }
  return keys;
}

function readFile(path: string): Map<string, Buffer> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CodecConfigError(`${KEYS_ENV}=${path} is not YAML or JSON (${(e as Error).name}): write a map of key id to base64 key, e.g. {"k1": "<openssl rand -base64 32>"}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new CodecConfigError(`${KEYS_ENV}=${path} must be a map of key id to base64 key, e.g. {"k1": "<openssl rand -base64 32>"}`);
  const keys = new Map<string, Buffer>();
  for (const [id, value] of Object.entries(doc)) {
    if (typeof value !== 'string') throw new CodecConfigError(`${KEYS_ENV}=${path}: key "${id}" must be a base64 string`);
    keys.set(id, decodeKey(id, value, path));
  }
  return keys;
}

/**
 * The keys the environment configures, or undefined when encryption is off (FERRY_CODEC_KEYS unset
 * or empty). Throws a CodecConfigError for anything else that is wrong.
 */
export function codecKeysFromEnvironment(env: NodeJS.ProcessEnv = process.env): CodecKeys | undefined {
  const source = env[KEYS_ENV];
  const chosen = env[ENCRYPT_KEY_ID_ENV];
  if (!source) {
    if (chosen) throw new CodecConfigError(`${ENCRYPT_KEY_ID_ENV}=${chosen} is set but ${KEYS_ENV} is not: set ${KEYS_ENV} to the key directory or file`);
    return undefined;
  }
  let isDirectory: boolean;
  try {
    isDirectory = statSync(source).isDirectory();
  } catch {
    throw new CodecConfigError(`${KEYS_ENV}=${source}: no such file or directory: point it at a directory of key files (a mounted Secret) or a YAML/JSON key file`);
  }
  const keys = isDirectory ? readDirectory(source) : readFile(source);
  if (keys.size === 0) throw new CodecConfigError(`${KEYS_ENV}=${source} holds no keys: add a file <key-id> containing \`openssl rand -base64 32\``);
  const ids = [...keys.keys()].sort(byNaturalOrder);
  if (chosen !== undefined && chosen !== '' && !keys.has(chosen))
    throw new CodecConfigError(`${ENCRYPT_KEY_ID_ENV}=${chosen} is not a key in ${KEYS_ENV}=${source} (it has ${ids.join(', ')}): name one of them, or add the key`);
  return { source, encryptKeyId: chosen || ids.at(-1)!, keys };
}
