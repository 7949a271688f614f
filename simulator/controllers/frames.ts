/** Length-prefixed frames on the sync connection: JSON control messages and raw state bytes. */
import type { Duplex } from 'node:stream';

export const JSON_FRAME = 1;
export const DATA_FRAME = 2;

export function writeJson(s: Duplex, msg: Record<string, unknown>): boolean {
  const body = Buffer.from(JSON.stringify(msg));
  const head = Buffer.alloc(5);
  head.writeUInt8(JSON_FRAME, 0);
  head.writeUInt32BE(body.length, 1);
  return s.write(Buffer.concat([head, body]));
}

export function writeData(s: Duplex, bytes: Buffer): boolean {
  const head = Buffer.alloc(5);
  head.writeUInt8(DATA_FRAME, 0);
  head.writeUInt32BE(bytes.length, 1);
  s.write(head);
  return s.write(bytes);
}

/** Calls `onJson` per control message and `onData` with the size of each data frame. */
export function readFrames(s: Duplex, onJson: (m: Record<string, unknown>) => void, onData: (n: number) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  s.on('data', (chunk: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 5) {
      const len = buf.readUInt32BE(1);
      if (buf.length < 5 + len) break;
      const type = buf.readUInt8(0);
      const body = buf.subarray(5, 5 + len);
      buf = buf.subarray(5 + len);
      if (type === JSON_FRAME) onJson(JSON.parse(body.toString('utf8')) as Record<string, unknown>);
      else onData(body.length);
    }
  });
}
