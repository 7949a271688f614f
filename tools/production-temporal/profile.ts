/**
 * A Temporal client config file (TOML, the format @temporalio/envconfig and the Temporal CLI read via
 * TEMPORAL_CONFIG_FILE and TEMPORAL_PROFILE) for a running production Temporal.
 */
import type { ClientTls } from './server.js';

const quoted = (s: string) => JSON.stringify(s); // a TOML basic string is JSON's string syntax for these values

export function profileToml(profile: string, address: string, namespace: string, tls?: ClientTls): string {
  const lines = [`[profile.${profile}]`, `address = ${quoted(address)}`, `namespace = ${quoted(namespace)}`];
  if (tls) {
    lines.push(
      '',
      `[profile.${profile}.tls]`,
      `server_ca_cert_path = ${quoted(tls.caFile)}`,
      `client_cert_path = ${quoted(tls.certFile)}`,
      `client_key_path = ${quoted(tls.keyFile)}`,
      `server_name = ${quoted(tls.serverName)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
