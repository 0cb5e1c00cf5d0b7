import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { errnoCode, isNotFound } from '../../errors/index.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { HtpasswdVerifier, parseHtpasswd } from './auth.js';
import { parseAddr, parseBytes, parseDuration } from './config.js';
import type { RegistryStore } from './registry.js';
import { newRegistryHandler, type AuthConfig } from './server.js';
import { newFsRegistryStore } from './store.js';

/**
 * The process entry of `berth registry serve` and `berth registry gc`: a registry is its own
 * process, apart from berthd, over its own root.
 */

const DEFAULT_ROOT = '/var/lib/berth-registry';

const SERVE_OPTIONS = {
  addr: { type: 'string', default: '127.0.0.1:5000' },
  root: { type: 'string', default: DEFAULT_ROOT },
  htpasswd: { type: 'string' },
  'token-auth': { type: 'boolean', default: false },
  'token-realm': { type: 'string' },
  'token-service': { type: 'string', default: 'berth-registry' },
  'token-ttl': { type: 'string', default: '15m' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'read-only': { type: 'boolean', default: false },
  'max-manifest-size': { type: 'string', default: '4MiB' },
  'max-upload-size': { type: 'string' },
  'max-concurrent-uploads': { type: 'string', default: '64' },
  'max-upload-sessions': { type: 'string', default: '1024' },
  'idle-timeout': { type: 'string', default: '60s' },
  'max-connections': { type: 'string', default: '1024' },
  'gc-interval': { type: 'string' },
  'gc-grace': { type: 'string', default: '1h' },
  'upload-max-age': { type: 'string', default: '168h' },
} as const;

function positiveInt(s: string, flag: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1) throw new Error(`--${flag}: want a positive integer`);
  return Number(s);
}

async function loadHtpasswd(file: string): Promise<HtpasswdVerifier> {
  return new HtpasswdVerifier(parseHtpasswd(await fs.readFile(file, 'utf8')));
}

/** The token signing key, kept under the root so that tokens outlive a restart. */
async function tokenKey(root: string): Promise<Buffer> {
  const file = path.join(root, 'auth', 'token.key');
  try {
    const hex = (await fs.readFile(file, 'utf8')).trim();
    if (/^[a-f0-9]{64}$/.test(hex)) return Buffer.from(hex, 'hex');
  } catch (err: unknown) {
    if (!isNotFound(err)) throw err;
  }
  const key = randomBytes(32);
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, key.toString('hex'), { mode: 0o600 });
  return key;
}

/**
 * One server per root, and no offline GC under a running one: `serve.pid` holds the serving
 * process's pid. A pid file left by a crash names a process that is gone and is taken over.
 */
async function rootOwner(root: string): Promise<number | undefined> {
  let pid: number;
  try {
    pid = Number((await fs.readFile(path.join(root, 'serve.pid'), 'utf8')).trim());
  } catch (err: unknown) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err: unknown) {
    // EPERM: alive, under another user; ESRCH: gone.
    return errnoCode(err) === 'EPERM' ? pid : undefined;
  }
}

async function claimRoot(root: string): Promise<void> {
  const owner = await rootOwner(root);
  if (owner !== undefined) throw new Error(`a registry (pid ${owner}) is already serving ${root}`);
  await fs.mkdir(root, { recursive: true });
  await writeFileAtomic(path.join(root, 'serve.pid'), `${process.pid}\n`);
}

async function releaseRoot(root: string): Promise<void> {
  if ((await rootOwner(root)) === undefined) {
    await fs.rm(path.join(root, 'serve.pid'), { force: true });
  }
}

export interface RunningRegistry {
  /** The address actually bound (port 0 resolved). */
  address: AddressInfo;
  store: RegistryStore;
  close(): Promise<void>;
}

/** Starts a registry from `serve` arguments; resolves once it listens. */
export async function startRegistry(argv: string[]): Promise<RunningRegistry> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: SERVE_OPTIONS,
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0]}`);
  // Every flag is checked before anything is created, so a bad one changes nothing.
  const { host, port } = parseAddr(values.addr);
  const root = path.resolve(values.root);
  const maxUpload = values['max-upload-size'];
  const maxUploadSize = maxUpload === undefined ? Infinity : parseBytes(maxUpload);
  const maxUploadSessions = positiveInt(values['max-upload-sessions'], 'max-upload-sessions');
  const maxManifestSize = parseBytes(values['max-manifest-size']);
  const maxConcurrentUploads = positiveInt(
    values['max-concurrent-uploads'],
    'max-concurrent-uploads',
  );
  const idle = parseDuration(values['idle-timeout']);
  const maxConnections = positiveInt(values['max-connections'], 'max-connections');
  const ttlSeconds = Math.max(1, Math.floor(parseDuration(values['token-ttl']) / 1000));
  const gcEvery =
    values['gc-interval'] === undefined ? undefined : parseDuration(values['gc-interval']);
  const graceMs = parseDuration(values['gc-grace']);
  const uploadMaxAgeMs = parseDuration(values['upload-max-age']);
  if (values['token-auth'] && values.htpasswd === undefined) {
    throw new Error('--token-auth needs --htpasswd (its users)');
  }
  const tls = values['tls-cert'] !== undefined || values['tls-key'] !== undefined;
  if (tls && (values['tls-cert'] === undefined || values['tls-key'] === undefined)) {
    throw new Error('--tls-cert and --tls-key go together');
  }
  const tlsFiles = tls
    ? {
        cert: await fs.readFile(values['tls-cert'] as string),
        key: await fs.readFile(values['tls-key'] as string),
      }
    : undefined;
  const verifier = values.htpasswd === undefined ? undefined : await loadHtpasswd(values.htpasswd);

  await claimRoot(root);
  const store = await newFsRegistryStore(root, { maxUploadSize, maxUploadSessions });
  let auth: AuthConfig = { kind: 'none' };
  if (values['token-auth'] && verifier) {
    auth = {
      kind: 'token',
      verifier,
      key: await tokenKey(root),
      service: values['token-service'],
      realm: values['token-realm'],
      ttlSeconds,
    };
  } else if (verifier) {
    auth = { kind: 'htpasswd', verifier, realm: 'berth-registry' };
  }
  const handler = newRegistryHandler({
    store,
    auth,
    readOnly: values['read-only'],
    maxManifestSize,
    maxConcurrentUploads,
    tls,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const server = tlsFiles ? https.createServer(tlsFiles, handler) : http.createServer(handler);
  // Uploads may take long, so no whole-request deadline; but a socket that says nothing for the
  // idle timeout is closed, and headers must arrive promptly.
  server.requestTimeout = 0;
  server.headersTimeout = Math.min(idle, 30_000);
  server.keepAliveTimeout = Math.min(idle, 5_000);
  server.timeout = idle;
  // Connections past this are closed on arrival, so a flood cannot exhaust file descriptors.
  server.maxConnections = maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  let gcTimer: NodeJS.Timeout | undefined;
  if (gcEvery !== undefined) {
    let running = false;
    gcTimer = setInterval(() => {
      if (running) return;
      running = true;
      store
        .gc({ graceMs, uploadMaxAgeMs })
        .then((r) => {
          if (r.blobsRemoved.length > 0 || r.uploadsRemoved.length > 0) {
            process.stderr.write(
              `registry gc: removed ${r.blobsRemoved.length} blobs (${r.bytesFreed} bytes), ${r.uploadsRemoved.length} stale uploads\n`,
            );
          }
        })
        .catch((err: unknown) =>
          process.stderr.write(
            `registry gc: ${err instanceof Error ? err.message : String(err)}\n`,
          ),
        )
        .finally(() => {
          running = false;
        });
    }, gcEvery);
  }
  return {
    address: server.address() as AddressInfo,
    store,
    close: () =>
      new Promise<void>((resolve) => {
        if (gcTimer) clearInterval(gcTimer);
        server.close(() => {
          releaseRoot(root).then(resolve, resolve);
        });
        server.closeAllConnections();
      }),
  };
}

/** `berth registry serve`: serves in the foreground until SIGTERM or SIGINT. */
export async function runRegistryServe(argv: string[]): Promise<void> {
  const reg = await startRegistry(argv);
  const a = reg.address;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  const tls = argv.some((x) => x.startsWith('--tls-cert'));
  process.stdout.write(`registry: listening on ${tls ? 'https' : 'http'}://${host}:${a.port}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      reg.close().then(resolve, resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

const GC_OPTIONS = {
  root: { type: 'string', default: DEFAULT_ROOT },
  'dry-run': { type: 'boolean', default: false },
  grace: { type: 'string', default: '0s' },
  'upload-max-age': { type: 'string', default: '168h' },
} as const;

/** `berth registry gc`: offline mark and sweep of a registry root no server is using. */
export async function runRegistryGc(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: GC_OPTIONS,
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length > 0) throw new Error(`unexpected argument ${positionals[0]}`);
  const graceMs = parseDuration(values.grace);
  const uploadMaxAgeMs = parseDuration(values['upload-max-age']);
  const root = path.resolve(values.root);
  try {
    await fs.stat(path.join(root, 'blobs'));
  } catch (err: unknown) {
    if (isNotFound(err)) throw new Error(`no registry storage at ${root}`);
    throw err;
  }
  const owner = await rootOwner(root);
  if (owner !== undefined) {
    throw new Error(
      `a registry (pid ${owner}) is serving ${root}: stop it first, or collect online with serve --gc-interval`,
    );
  }
  const store = await newFsRegistryStore(root);
  const report = await store.gc({ graceMs, uploadMaxAgeMs, dryRun: values['dry-run'] });
  const verb = values['dry-run'] ? 'would remove' : 'removed';
  for (const d of report.blobsRemoved) process.stdout.write(`${verb} blob ${d}\n`);
  for (const u of report.uploadsRemoved) process.stdout.write(`${verb} upload ${u}\n`);
  process.stdout.write(
    `${report.blobsRemoved.length} blobs ${verb} (${report.bytesFreed} bytes), ${report.uploadsRemoved.length} stale uploads\n`,
  );
}
