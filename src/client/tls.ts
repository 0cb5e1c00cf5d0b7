import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { ClientTls } from './client.js';

/** The TLS global flags of the docker CLI, as given (undefined when absent). */
export interface TlsFlags {
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/** A TLS setting that cannot be used: a named file missing or unreadable. */
export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (cause: unknown) {
    throw new TlsConfigError(`Could not read ${what} "${file}": ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * The client's TLS as the docker CLI decides it: --tlsverify (or DOCKER_TLS_VERIFY non-empty)
 * implies --tls; the files default to ca.pem, cert.pem, key.pem in DOCKER_CERT_PATH or
 * ~/.docker, where a default file that is absent is left out while a named one must exist;
 * the CA is used only when verifying. Undefined when TLS is off.
 */
export function clientTls(flags: TlsFlags, env: NodeJS.ProcessEnv): ClientTls | undefined {
  const verify = flags.tlsverify ?? (env.DOCKER_TLS_VERIFY ?? '') !== '';
  if (!verify && !flags.tls) return undefined;
  const dir = env.DOCKER_CERT_PATH || path.join(env.HOME || homedir(), '.docker');
  const pick = (given: string | undefined, name: string): string | undefined => {
    if (given !== undefined) return given;
    const file = path.join(dir, name);
    return existsSync(file) ? file : undefined;
  };
  const out: ClientTls = { verify };
  const ca = pick(flags.tlscacert, 'ca.pem');
  if (verify && ca !== undefined) out.ca = read(ca, 'CA certificate');
  const cert = pick(flags.tlscert, 'cert.pem');
  const key = pick(flags.tlskey, 'key.pem');
  if ((cert === undefined) !== (key === undefined)) {
    throw new TlsConfigError(
      `Could not load X509 key pair: both a certificate and a key are needed (got ${cert ?? key})`,
    );
  }
  if (cert !== undefined && key !== undefined) {
    out.cert = read(cert, 'certificate');
    out.key = read(key, 'key');
  }
  return out;
}
