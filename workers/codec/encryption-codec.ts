/**
 * ferry's PayloadCodec: AES-256-GCM over the whole serialized payload (its metadata included, so the
 * original encoding is hidden too), a fresh random 96-bit IV per payload. The conventions are those
 * of Temporal's encryption samples, so their codec servers and ferry's read each other's payloads:
 *
 *   metadata.encoding           "binary/encrypted"
 *   metadata.encryption-key-id  the id of the key that encrypted it (not secret)
 *   data                        IV (12 bytes) ‖ ciphertext ‖ GCM tag (16 bytes), the plaintext being
 *                               the original Payload as protobuf bytes
 *
 * Payloads that are not "binary/encrypted" decode as they are: histories written before encryption
 * was turned on stay readable. Without keys the codec only recognises encrypted payloads, to say
 * clearly which key is missing instead of the converter's "Unknown encoding".
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type Payload, type PayloadCodec, PayloadConverterError } from '@temporalio/common';
import proto from '@temporalio/proto';
import { type CodecKeys, KEYS_ENV } from './keys.js';

export const ENCODING_ENCRYPTED = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';
const { Payload: PayloadProto } = proto.temporal.api.common.v1;
const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

export const isEncrypted = (p: Payload): boolean => text(p.metadata?.[METADATA_ENCODING_KEY]) === ENCODING_ENCRYPTED;

/** The key id an encrypted payload names, or undefined. */
export const keyIdOf = (p: Payload): string | undefined => text(p.metadata?.[METADATA_KEY_ID]);

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly config: CodecKeys) {}

  get encryptKeyId(): string {
    return this.config.encryptKeyId;
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    const id = this.config.encryptKeyId;
    const key = this.config.keys.get(id)!;
    return Promise.resolve(
      payloads.map((p) => {
        const iv = randomBytes(IV_BYTES);
        const cipher = createCipheriv(CIPHER, key, iv);
        const plaintext = PayloadProto.encode(p).finish();
        const data = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
        return { metadata: { [METADATA_ENCODING_KEY]: utf8(ENCODING_ENCRYPTED), [METADATA_KEY_ID]: utf8(id) }, data: new Uint8Array(data) };
      }),
    );
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    // A rejected promise, not a throw: callers chain on it.
    return new Promise((resolve) => resolve(payloads.map((p) => (isEncrypted(p) ? this.decrypt(p) : p))));
  }

  private decrypt(p: Payload): Payload {
    const id = keyIdOf(p);
    if (id === undefined) throw new PayloadConverterError(`ferry codec: an encrypted payload has no ${METADATA_KEY_ID} in its metadata: it was not written by ferry's codec`);
    const key = this.config.keys.get(id);
    if (!key) {
      const have = [...this.config.keys.keys()].join(', ');
      throw new PayloadConverterError(
        `ferry codec: payload encrypted with key "${id}", which this process does not have (${KEYS_ENV}=${this.config.source} has ${have}): add key "${id}" to ${KEYS_ENV}`,
      );
    }
    const data = Buffer.from(p.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadConverterError(`ferry codec: payload encrypted with key "${id}" is truncated (${data.length} bytes)`);
    try {
      const decipher = createDecipheriv(CIPHER, key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return PayloadProto.decode(plaintext);
    } catch {
      // GCM authenticates: a wrong key under the right id, or altered bytes, end here, never as garbage.
      throw new PayloadConverterError(
        `ferry codec: payload encrypted with key "${id}" failed to decrypt: the key "${id}" in ${KEYS_ENV}=${this.config.source} is not the one that encrypted it, or the payload was altered`,
      );
    }
  }
}

/** The codec of a process without keys: encodes nothing, and names the key an encrypted payload needs. */
export class NoKeysCodec implements PayloadCodec {
  encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(payloads);
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    const encrypted = payloads.find(isEncrypted);
    if (encrypted)
      return Promise.reject(
        new PayloadConverterError(
          `ferry codec: payload encrypted with key "${keyIdOf(encrypted) ?? '(none named)'}", but ${KEYS_ENV} is not set: set ${KEYS_ENV} to the key directory or file that holds that key`,
        ),
      );
    return Promise.resolve(payloads);
  }
}
