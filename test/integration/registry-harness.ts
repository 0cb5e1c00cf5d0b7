import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { berthBin } from './harness.js';

/**
 * `berth registry serve` as its own process on 127.0.0.1 and a free port, on a temporary root,
 * with a raw HTTP client for it. `stop` ends the process (by its pid) and removes the root.
 */

export interface Registry {
  root: string;
  port: number;
  /** `127.0.0.1:<port>`, as image references name it. */
  host: string;
  url: string;
  proc: ChildProcess;
  stderr(): string;
  /** SIGKILL, as a crash; `restart` serves the same root (on the same port) again. */
  crash(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON when it is. */
  json: unknown;
}

export async function startRegistry(
  args: string[] = [],
  options: { root?: string; tls?: boolean } = {},
): Promise<Registry> {
  const root = options.root ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'berth-reg-')));
  let proc: ChildProcess;
  let port = 0;
  let err = '';
  const launch = async (): Promise<void> => {
    const child = spawn(
      berthBin,
      [
        'registry',
        'serve',
        '--addr',
        `127.0.0.1:${port}`,
        '--root',
        path.join(root, 'data'),
        ...args,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proc = child;
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    port = await new Promise<number>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`registry did not start: ${err}`)), 30_000);
      child.stdout?.on('data', (b: Buffer) => {
        out += b.toString();
        const m = /listening on https?:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`registry exited with ${code}: ${err}`));
      });
    });
  };
  await launch();
  const exited = (p: ChildProcess): Promise<void> =>
    p.exitCode !== null || p.signalCode !== null
      ? Promise.resolve()
      : new Promise((r) => p.once('exit', () => r()));
  const reg: Registry = {
    root,
    get port() {
      return port;
    },
    get host() {
      return `127.0.0.1:${port}`;
    },
    get url() {
      return `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    },
    get proc() {
      return proc;
    },
    stderr: () => err,
    crash: async () => {
      proc.kill('SIGKILL');
      await exited(proc);
    },
    restart: async () => {
      await launch();
    },
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited(proc);
      }
      await fs.rm(root, { recursive: true, force: true });
    },
  };
  return reg;
}

/** One HTTP request to the registry (paths sent as given: no normalisation of `..`). */
export function call(
  reg: { port: number; url: string },
  method: string,
  urlPath: string,
  options: {
    headers?: Record<string, string>;
    body?: Buffer | string;
    /** Sends the body in these pieces with pauses, for requests that must stay in flight. */
    slowBody?: { pieces: Buffer[]; pauseMs: number };
  } = {},
): Promise<Reply> {
  const tls = reg.url.startsWith('https:');
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    const body = options.body === undefined ? undefined : Buffer.from(options.body);
    if (body !== undefined && headers['Content-Length'] === undefined) {
      headers['Content-Length'] = String(body.byteLength);
    }
    const req = (tls ? https : http).request(
      {
        host: '127.0.0.1',
        port: reg.port,
        method,
        path: urlPath,
        headers,
        agent: false,
        ...(tls ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => {
          const data = Buffer.concat(chunks);
          let json: unknown;
          try {
            json = JSON.parse(data.toString('utf8'));
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.slowBody) {
      const { pieces, pauseMs } = options.slowBody;
      void (async () => {
        for (const p of pieces) {
          req.write(p);
          await new Promise((r) => setTimeout(r, pauseMs));
        }
        req.end();
      })();
    } else req.end(body);
  });
}

export function digestOf(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The first error code of a spec error body. */
export function errorCode(r: Reply): string | undefined {
  const j = r.json as { errors?: { code?: string }[] } | undefined;
  return j?.errors?.[0]?.code;
}

/** Uploads a blob monolithically (POST ?digest=) and returns its digest. */
export async function pushBlob(
  reg: Registry,
  name: string,
  data: Buffer | string,
): Promise<string> {
  const d = digestOf(data);
  const r = await call(reg, 'POST', `/v2/${name}/blobs/uploads/?digest=${d}`, {
    headers: { 'Content-Type': 'application/octet-stream' },
    body: data,
  });
  if (r.status !== 201) throw new Error(`blob push: ${r.status} ${r.body.toString()}`);
  return d;
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

/** Pushes a config and one layer, then an image manifest naming them; returns its bytes and digest. */
export async function pushImage(
  reg: Registry,
  name: string,
  tag: string,
  options: {
    layer?: Buffer;
    subject?: { digest: string; size: number };
    artifactType?: string;
  } = {},
): Promise<{ digest: string; body: string; config: string; layer: string }> {
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', r: randomBytes(4).toString('hex') }),
  );
  const layer = options.layer ?? randomBytes(1000);
  const cd = await pushBlob(reg, name, config);
  const ld = await pushBlob(reg, name, layer);
  const m: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: cd,
      size: config.length,
    },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: ld, size: layer.length },
    ],
  };
  if (options.artifactType) m.artifactType = options.artifactType;
  if (options.subject) m.subject = { mediaType: OCI_MANIFEST, ...options.subject };
  const body = JSON.stringify(m);
  const r = await call(reg, 'PUT', `/v2/${name}/manifests/${tag}`, {
    headers: { 'Content-Type': OCI_MANIFEST },
    body,
  });
  if (r.status !== 201) throw new Error(`manifest push: ${r.status} ${r.body.toString()}`);
  return { digest: digestOf(body), body, config: cd, layer: ld };
}
