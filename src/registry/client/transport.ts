import { promises as fs } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import type { Readable } from 'node:stream';
import { isNotFound } from '../../errors/index.js';

/**
 * One HTTP exchange with a registry over node:http(s), with per-registry TLS material from a
 * certs.d directory laid out as Docker's: `<certsDir>/<host:port>/ca.crt` (any `*.crt` is a CA),
 * and a client certificate pair `*.cert` + `*.key`.
 */

export interface TlsMaterial {
  ca?: Buffer[];
  cert?: Buffer;
  key?: Buffer;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | Readable;
  tls?: TlsMaterial;
  /** Accept any certificate (insecure registries). */
  insecure?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: IncomingMessage;
}

/** Reads `<certsDir>/<hostDir>/`; none when the directory is absent. */
export async function loadTls(certsDir: string, hostDir: string): Promise<TlsMaterial> {
  const dir = path.join(certsDir, hostDir.replace(/[/\\]/g, '_'));
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err: unknown) {
    if (isNotFound(err)) return {};
    throw err;
  }
  const out: TlsMaterial = {};
  for (const n of names.sort()) {
    const file = path.join(dir, n);
    if (n.endsWith('.crt')) (out.ca ??= []).push(await fs.readFile(file));
    else if (n.endsWith('.cert')) {
      const key = path.join(dir, `${n.slice(0, -'.cert'.length)}.key`);
      out.cert = await fs.readFile(file);
      out.key = await fs.readFile(key);
    }
  }
  return out;
}

/** Sends one request; resolves with the response head, the body left to the caller. */
export function send(req: HttpRequest): Promise<HttpResponse> {
  const u = new URL(req.url);
  const secure = u.protocol === 'https:';
  const headers: Record<string, string> = {
    'User-Agent': 'berth/1 (docker-compatible)',
    ...req.headers,
  };
  if (Buffer.isBuffer(req.body)) headers['Content-Length'] = String(req.body.length);
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = {
      method: req.method,
      hostname: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port || (secure ? 443 : 80),
      path: u.pathname + u.search,
      headers,
      ...(req.signal ? { signal: req.signal } : {}),
    };
    if (secure) {
      if (req.tls?.ca && req.tls.ca.length > 0) {
        // A registry's own CA is trusted in addition to the system's, as dockerd does.
        options.ca = [...req.tls.ca, ...tls.rootCertificates];
      }
      if (req.tls?.cert && req.tls.key) {
        options.cert = req.tls.cert;
        options.key = req.tls.key;
      }
      options.rejectUnauthorized = !req.insecure;
    }
    const r = (secure ? https : http).request(options, (res) =>
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
    );
    r.setTimeout(req.timeoutMs ?? 60_000, () =>
      r.destroy(new Error(`${req.method} ${req.url}: timed out`)),
    );
    r.on('error', reject);
    const body = req.body;
    if (body === undefined) r.end();
    else if (Buffer.isBuffer(body)) r.end(body);
    else {
      body.on('error', (err) => r.destroy(err));
      body.pipe(r);
    }
  });
}

/** Reads a whole response body (bounded: registries' JSON answers are small). */
export async function readBody(res: HttpResponse, limit = 16 << 20): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    const b = c as Buffer;
    n += b.length;
    if (n > limit) {
      res.body.destroy();
      throw new Error(`response from registry larger than ${limit} bytes`);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Drains and discards a response body so that its socket can be reused or closed. */
export function discard(res: HttpResponse): void {
  res.body.resume();
}
