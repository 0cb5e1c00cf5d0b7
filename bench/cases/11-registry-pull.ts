import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pool } from '../lib/stats.js';
import type { BenchCase, Metric } from '../lib/types.js';

// Registry throughput on loopback (issue #7): berth's `registry serve` beside Debian's
// docker-registry (distribution 2.8, the reference), in the Docker column. Both get the same
// image (a config and LAYERS random layers), pushed over HTTP; then CLIENTS pull it at once
// (manifest, then every blob), ROUNDS times; and manifest GETs one after another.

const LAYERS = 4;
const LAYER_BYTES = 8 * 1024 * 1024;
const CLIENTS = 8;
const ROUNDS = 5;
const MANIFEST_GETS = 200;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface Target {
  port: number;
  stop(): Promise<void>;
}

function sha(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS * 2 });

function request(
  port: number,
  method: string,
  path: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; bytes: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent,
        headers: { ...headers, ...(body ? { 'Content-Length': String(body.length) } : {}) },
      },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function waitUp(port: number, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`registry exited with ${proc.exitCode}`);
    try {
      if ((await request(port, 'GET', '/v2/')).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('registry did not answer');
}

function stopper(proc: ChildProcess, dir: string): () => Promise<void> {
  return async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

async function startBerth(root: string): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-reg-'));
  const port = await freePort();
  const proc = spawn(
    join(root, 'bin', 'berth'),
    ['registry', 'serve', '--addr', `127.0.0.1:${port}`, '--root', join(dir, 'data')],
    { stdio: 'ignore' },
  );
  await waitUp(port, proc);
  return { port, stop: stopper(proc, dir) };
}

async function startReference(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-bench-dreg-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const proc = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  await waitUp(port, proc);
  return { port, stop: stopper(proc, dir) };
}

async function pushImage(port: number, blobs: Buffer[], manifest: Buffer): Promise<void> {
  for (const b of blobs) {
    const r = await request(port, 'POST', `/v2/bench/img/blobs/uploads/?digest=${sha(b)}`, b, {
      'Content-Type': 'application/octet-stream',
    });
    if (r.status !== 201) {
      // distribution 2.8 answers a monolithic POST with an upload session: finish it with PUT.
      const loc = new URL(r.headers.location as string, `http://127.0.0.1:${port}`);
      loc.searchParams.set('digest', sha(b));
      const put = await request(port, 'PUT', `${loc.pathname}${loc.search}`, b, {
        'Content-Type': 'application/octet-stream',
      });
      if (put.status !== 201) throw new Error(`blob push: ${put.status}`);
    }
  }
  const m = await request(port, 'PUT', '/v2/bench/img/manifests/latest', manifest, {
    'Content-Type': OCI_MANIFEST,
  });
  if (m.status !== 201) throw new Error(`manifest push: ${m.status}`);
}

/** One client's pull: the manifest, then every blob; returns the bytes received. */
async function pull(port: number, digests: string[]): Promise<number> {
  let bytes = (
    await request(port, 'GET', '/v2/bench/img/manifests/latest', undefined, {
      Accept: OCI_MANIFEST,
    })
  ).bytes;
  for (const d of digests) {
    const r = await request(port, 'GET', `/v2/bench/img/blobs/${d}`);
    if (r.status !== 200) throw new Error(`blob GET ${d}: ${r.status}`);
    bytes += r.bytes;
  }
  return bytes;
}

export const benchCase: BenchCase = {
  name: 'registry-pull',
  description: `Registry throughput on loopback: berth's \`registry serve\` vs Debian's docker-registry (distribution 2.8, in the Docker column). ${CLIENTS} clients pull one image (${LAYERS} × ${LAYER_BYTES / 1024 / 1024} MiB layers) at once, ${ROUNDS} rounds; and ${MANIFEST_GETS} manifest GETs one after another.`,
  async run(ctx) {
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [] },
      }),
    );
    const layers = Array.from({ length: LAYERS }, () => randomBytes(LAYER_BYTES));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: sha(config),
          size: config.length,
        },
        layers: layers.map((l) => ({
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: sha(l),
          size: l.length,
        })),
      }),
    );
    const digests = [sha(config), ...layers.map(sha)];
    const throughput: Metric = {
      label: `${CLIENTS} concurrent pulls`,
      unit: 'MB/s',
      values: {},
      note: 'Docker column: docker-registry (distribution 2.8)',
    };
    const latency: Metric = { label: 'manifest GET', unit: 'ms', values: {} };
    for (const [id, start] of [
      ['berth', () => startBerth(ctx.root)],
      ['docker', startReference],
    ] as const) {
      ctx.log(`registry-pull on ${id === 'berth' ? 'berth registry' : 'docker-registry'}`);
      const t = await start();
      try {
        await pushImage(t.port, [config, ...layers], manifest);
        await pull(t.port, digests);
        const mbs: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const t0 = performance.now();
          const got = await pool(
            CLIENTS,
            Array.from({ length: CLIENTS }, () => () => pull(t.port, digests)),
          );
          const s = (performance.now() - t0) / 1000;
          mbs.push(got.reduce((a, b) => a + b, 0) / 1e6 / s);
        }
        throughput.values[id] = mbs;
        const ms: number[] = [];
        for (let i = 0; i < MANIFEST_GETS; i++) {
          const t0 = performance.now();
          await request(t.port, 'GET', '/v2/bench/img/manifests/latest', undefined, {
            Accept: OCI_MANIFEST,
          });
          ms.push(performance.now() - t0);
        }
        latency.values[id] = ms;
      } finally {
        await t.stop();
      }
    }
    return [throughput, latency];
  },
};
