/**
 * The DataConverter every ferry process (worker, CLI, demo, codec server) uses: the encryption codec
 * when FERRY_CODEC_KEYS is set, else a pass-through that only recognises encrypted payloads. Search
 * attributes never pass through a codec (the server must index them): see docs/encryption.md.
 */
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec, NoKeysCodec } from './encryption-codec.js';
import { CodecConfigError, codecKeysFromEnvironment, KEYS_ENV } from './keys.js';

export interface FerryCodec {
  dataConverter: DataConverter;
  /** For the startup line: "payloads encrypted (key k2; k1, k2 decrypt)" or "payloads not encrypted". */
  description: string;
  encrypting: boolean;
}

export function ferryCodec(env: NodeJS.ProcessEnv = process.env): FerryCodec {
  const keys = codecKeysFromEnvironment(env);
  if (!keys) return { dataConverter: { payloadCodecs: [new NoKeysCodec()] }, description: `payloads not encrypted (${KEYS_ENV} unset)`, encrypting: false };
  return {
    dataConverter: { payloadCodecs: [new EncryptionCodec(keys)] },
    description: `payloads encrypted with key ${keys.encryptKeyId} (decrypt: ${[...keys.keys.keys()].join(', ')}; from ${keys.source})`,
    encrypting: true,
  };
}

/** For entry points: bad key configuration is one line naming the variable and the fix, then exit 2 (no stack trace). */
export function ferryCodecOrExit(program: string, env: NodeJS.ProcessEnv = process.env): FerryCodec {
  try {
    return ferryCodec(env);
  } catch (e) {
    if (!(e instanceof CodecConfigError)) throw e;
    console.error(`${program}: ${e.message}`);
    process.exit(2);
  }
}
