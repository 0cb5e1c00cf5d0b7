import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { ApiTls } from '../api/server.js';
import { InvalidArgumentError, isNotFound } from '../errors/index.js';
import type { DaemonTls } from './options.js';

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err: unknown) {
    if (isNotFound(err)) {
      throw new InvalidArgumentError(`could not read ${what} ${file}: no such file`, {
        cause: err,
      });
    }
    throw err;
  }
}

/** Reads the daemon's CA, certificate and key, and checks that they make a TLS context. */
export async function loadDaemonTls(tls: DaemonTls): Promise<ApiTls> {
  const out: ApiTls = {
    ca: await readPem(tls.caFile, 'CA certificate'),
    cert: await readPem(tls.certFile, 'certificate'),
    key: await readPem(tls.keyFile, 'key'),
  };
  try {
    createSecureContext({ ca: out.ca, cert: out.cert, key: out.key });
  } catch (cause: unknown) {
    throw new InvalidArgumentError(
      `could not load the X509 key pair ${tls.certFile}, ${tls.keyFile} or CA ${tls.caFile}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  return out;
}
