/**
 * `ferry codec-server`: Temporal's remote codec protocol over ferry's payload encryption, so the Web
 * UI and `temporal --codec-endpoint` show migrations in plaintext to those who hold the token (or,
 * on loopback with --ui-without-token, to the configured UI origin). The keys come from
 * FERRY_CODEC_KEYS, as for the worker. Runs until SIGINT/SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { ferryCodec } from '../../workers/codec/data-converter.js';
import { CodecConfigError, KEYS_ENV } from '../../workers/codec/keys.js';
import { startCodecServer } from '../../workers/codec/server.js';
import { EXIT, parse, UsageError, type ExitCode } from '../cli.js';

export const TOKEN_ENV = 'FERRY_CODEC_SERVER_TOKEN';

export const codecServerHelp = `Usage: ferry codec-server [options]

Serve Temporal's codec protocol (POST /encode, POST /decode) with ferry's payload encryption, for
the Temporal Web UI ("Codec Server" setting, or the UI server's codec endpoint) and the Temporal CLI
(temporal --codec-endpoint URL --codec-auth "Bearer TOKEN"). Keys: ${KEYS_ENV} (docs/encryption.md).

Options:
  --listen host:port     where to listen (default 127.0.0.1:8888; 0 picks a free port)
  --token-file FILE      the bearer token every request must carry (default: $${TOKEN_ENV})
  --ui-origin URL        a Web UI origin allowed by CORS, e.g. http://127.0.0.1:8233 (repeatable)
  --ui-without-token     accept requests from the --ui-origin origins without a token (a dev Web UI
                         sends none); loopback listeners only

Examples:
  ${KEYS_ENV}=/etc/ferry/keys ${TOKEN_ENV}=$(cat token) ferry codec-server --ui-origin https://temporal.example.com
  temporal workflow show -w migration/source/demo/web-01 --codec-endpoint http://127.0.0.1:8888 --codec-auth "Bearer $(cat token)"`;

const options = {
  listen: { type: 'string' },
  'token-file': { type: 'string' },
  'ui-origin': { type: 'string', multiple: true },
  'ui-without-token': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function listenAddress(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(':');
  const port = Number(value.slice(at + 1));
  if (at <= 0 || !/^\d+$/.test(value.slice(at + 1)) || port > 65535) throw new UsageError([`--listen must be host:port, e.g. 127.0.0.1:8888 (got "${value}")`]);
  return { host: value.slice(0, at).replace(/^\[|\]$/g, ''), port };
}

function token(file: string | undefined): string {
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8').trim();
    } catch {
      throw new UsageError([`--token-file ${file}: cannot be read`]);
    }
    if (!text) throw new UsageError([`--token-file ${file} is empty: write a random token into it, e.g. openssl rand -hex 32`]);
    return text;
  }
  const fromEnv = process.env[TOKEN_ENV]?.trim();
  if (!fromEnv) throw new UsageError([`no token: give --token-file FILE or set ${TOKEN_ENV} (e.g. openssl rand -hex 32)`]);
  return fromEnv;
}

export async function codecServer(argv: string[]): Promise<ExitCode> {
  const { values } = parse(argv, options);
  if (values.help) {
    console.log(codecServerHelp);
    return EXIT.ok;
  }
  const { host, port } = listenAddress(values.listen ?? '127.0.0.1:8888');
  let codec;
  try {
    codec = ferryCodec();
  } catch (e) {
    if (e instanceof CodecConfigError) throw new UsageError([e.message]);
    throw e;
  }
  if (!codec.encrypting) throw new UsageError([`${KEYS_ENV} is not set: the codec server needs the keys the workers encrypt with`]);
  let server;
  try {
    server = await startCodecServer({
      codec: codec.dataConverter.payloadCodecs![0]!,
      token: token(values['token-file']),
      uiOrigins: values['ui-origin'] ?? [],
      uiWithoutToken: values['ui-without-token'] ?? false,
      host,
      port,
      log: (line) => console.error(line),
    });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError([(e as Error).message]);
  }
  console.log(`ferry codec-server: ${server.url} (${codec.description}); UI origins: ${(values['ui-origin'] ?? []).join(', ') || 'none'}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return EXIT.ok;
}
