import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, existsSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadTls, send } from '../../src/registry/client/transport.js';
import { berthBin, runCommand, startEngine, type CommandResult, type Engine } from './harness.js';

/**
 * berth as a registry client, against Debian's reference registry (docker-registry) on
 * loopback, seeded by skopeo from the anchor dockerd's busybox: pull, run, push, pull back with
 * the same digests; the docker CLI through berthd; basic auth with login/logout and a
 * credential helper; bearer tokens; TLS with a custom CA and client certificate from the certs
 * dir; a proxy that cuts, corrupts or stalls a blob (resume, refusal, crash during a pull).
 */

const ANCHOR = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';
const suffix = randomBytes(3).toString('hex');
const work = `/tmp/berth-regc-${suffix}`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

interface Registry {
  port: number;
  host: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startRegistry(
  name: string,
  extra: { htpasswd?: string; tls?: { cert: string; key: string; clientCa?: string } } = {},
): Promise<Registry> {
  const port = await freePort();
  const dir = path.join(work, name);
  await fs.mkdir(dir, { recursive: true });
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dir}/data`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (extra.tls) {
    lines.push('  tls:', `    certificate: ${extra.tls.cert}`, `    key: ${extra.tls.key}`);
    if (extra.tls.clientCa) lines.push('    clientcas:', `      - ${extra.tls.clientCa}`);
  }
  if (extra.htpasswd) {
    lines.push('auth:', '  htpasswd:', '    realm: berth-test', `    path: ${extra.htpasswd}`);
  }
  await fs.writeFile(path.join(dir, 'config.yml'), lines.join('\n') + '\n');
  const log = await fs.open(path.join(dir, 'log'), 'a');
  const child = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], {
    stdio: ['ignore', log.fd, log.fd],
  });
  await log.close();
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.end();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    host: `127.0.0.1:${port}`,
    child,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    },
  };
}

async function sh(
  file: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CommandResult> {
  const r = await runCommand(file, args, env, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.code}\n${r.stdout}${r.stderr}`);
  return r;
}

/** Copies the anchor dockerd's busybox into a registry repository with skopeo. */
async function seed(dest: string, flags: string[] = []): Promise<void> {
  await sh('skopeo', [
    'copy',
    '--quiet',
    '--src-daemon-host',
    ANCHOR,
    ...flags,
    'docker-daemon:busybox:latest',
    `docker://${dest}`,
  ]);
}

/** A registry's manifest digest for a tag, asked directly (HEAD, the Docker-Content-Digest). */
async function remoteDigest(base: string, repo: string, tag: string): Promise<string> {
  const res = await fetch(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: {
      Accept: [
        'application/vnd.oci.image.index.v1+json',
        'application/vnd.docker.distribution.manifest.list.v2+json',
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.docker.distribution.manifest.v2+json',
      ].join(', '),
    },
  });
  assert.equal(res.status, 200, `${repo}:${tag} in the registry`);
  return res.headers.get('docker-content-digest') ?? '';
}

async function tags(base: string, repo: string): Promise<string[]> {
  const res = await fetch(`${base}/v2/${repo}/tags/list`);
  const body = (await res.json()) as { tags?: string[] };
  return (body.tags ?? []).sort();
}

function ok(r: CommandResult, what: string): CommandResult {
  assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`);
  return r;
}

type ProxyMode = 'pass' | 'cut' | 'corrupt' | 'stall' | 'manifest';

interface Proxy {
  port: number;
  host: string;
  mode: ProxyMode;
  /** When set, only the blob of this digest is tampered with; others pass. */
  only?: string;
  /** Range headers seen on blob requests. */
  ranges: string[];
  /** Resolves when a blob response has been half sent in 'stall' mode. */
  stalled: Promise<void>;
  close(): Promise<void>;
}

/**
 * A loopback HTTP proxy in front of a registry. For a blob GET of `size` > 64 KiB it can cut
 * the connection after half the bytes (once), flip a byte, or send half and hang.
 */
async function startProxy(target: number): Promise<Proxy> {
  let cutDone = false;
  let stalledResolve: () => void = () => undefined;
  const sockets = new Set<net.Socket>();
  const proxy: Proxy = {
    port: 0,
    host: '',
    mode: 'pass',
    ranges: [],
    stalled: new Promise((r) => (stalledResolve = r)),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer((req, res) => {
    const isBlob = req.method === 'GET' && /\/blobs\/sha256:/.test(req.url ?? '');
    if (isBlob && req.headers.range) proxy.ranges.push(req.headers.range);
    const up = http.request(
      {
        host: '127.0.0.1',
        port: target,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (upRes) => {
        if (
          proxy.mode === 'manifest' &&
          req.method === 'GET' &&
          /\/manifests\//.test(req.url ?? '')
        ) {
          // Same JSON, one byte more: the digest no longer matches Docker-Content-Digest.
          const chunks: Buffer[] = [];
          upRes.on('data', (c: Buffer) => chunks.push(c));
          upRes.on('end', () => {
            const body = Buffer.concat([...chunks, Buffer.from(' ')]);
            res.writeHead(upRes.statusCode ?? 502, {
              ...upRes.headers,
              'content-length': String(body.length),
            });
            res.end(body);
          });
          return;
        }
        const size = Number(upRes.headers['content-length'] ?? 0);
        const tamper =
          isBlob &&
          upRes.statusCode === 200 &&
          size > 65536 &&
          proxy.mode !== 'pass' &&
          (proxy.only === undefined || (req.url ?? '').includes(proxy.only));
        if (!tamper) {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          return;
        }
        const mode = proxy.mode;
        if (mode === 'cut' && cutDone) {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          return;
        }
        res.writeHead(200, upRes.headers);
        let sent = 0;
        const half = Math.floor(size / 2);
        upRes.on('data', (chunk: Buffer) => {
          if (mode === 'corrupt') {
            const c = Buffer.from(chunk);
            if (sent <= half && half < sent + c.length)
              c[half - sent] = (c[half - sent] ?? 0) ^ 0xff;
            sent += c.length;
            res.write(c);
            return;
          }
          if (sent >= half) return;
          const part = chunk.subarray(0, Math.max(0, half - sent));
          sent += part.length;
          res.write(part);
          if (sent >= half) {
            upRes.destroy();
            if (mode === 'cut') {
              cutDone = true;
              setTimeout(() => res.socket?.destroy(), 50);
            } else stalledResolve();
          }
        });
        upRes.on('end', () => {
          if (mode === 'corrupt') res.end();
        });
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  proxy.port = typeof a === 'object' && a ? a.port : 0;
  proxy.host = `127.0.0.1:${proxy.port}`;
  return proxy;
}

async function ingestEmpty(engine: Engine): Promise<boolean> {
  const dir = path.join(engine.dataRoot, 'content', 'ingest');
  return (await fs.readdir(dir)).length === 0;
}

/** The blob files and snapshot records of an engine, to compare before and after. */
async function storedState(engine: Engine): Promise<{ blobs: string[]; snapshots: string[] }> {
  const list = async (dir: string): Promise<string[]> => (await fs.readdir(dir)).sort();
  return {
    blobs: await list(path.join(engine.dataRoot, 'content', 'blobs', 'sha256')),
    snapshots: await list(path.join(engine.dataRoot, 'snapshots', 'overlay', 'records')),
  };
}

function blobPath(engine: Engine, digest: string): string {
  return path.join(engine.dataRoot, 'content', 'blobs', 'sha256', digest.replace('sha256:', ''));
}

describe('registry client against docker-registry', { timeout: 600_000 }, () => {
  let engine: Engine;
  let registry: Registry;
  let base: string;
  let home: string;
  let cliEnv: Record<string, string>;
  const berth = (args: string[], input?: string): Promise<CommandResult> =>
    runCommand(process.execPath, [berthBin, ...args], cliEnv, {
      timeoutMs: 120_000,
      ...(input !== undefined ? { input } : {}),
    });

  before(async () => {
    await fs.mkdir(work, { recursive: true });
    home = path.join(work, 'home');
    await fs.mkdir(home, { recursive: true });
    registry = await startRegistry('plain');
    base = `http://${registry.host}`;
    await seed(`${registry.host}/it/busybox:latest`, ['--dest-tls-verify=false']);
    // The same registry serves as the docker.io mirror: library/busybox is there.
    await seed(`${registry.host}/library/busybox:latest`, ['--dest-tls-verify=false']);
    engine = await startEngine({
      bootstrap: false,
      daemonArgs: [
        '--certs-dir',
        path.join(work, 'certs.d'),
        '--max-concurrent-downloads',
        '2',
        '--registry-mirror',
        `http://${registry.host}`,
      ],
    });
    cliEnv = {
      BERTH_HOST: engine.host,
      DOCKER_HOST: engine.host,
      HOME: home,
      BERTH_CONFIG: path.join(home, '.berth'),
      DOCKER_CONFIG: path.join(home, '.docker'),
    };
  });

  after(async () => {
    await engine?.stop();
    await registry?.stop();
    await fs.rm(work, { recursive: true, force: true });
  });

  test('pull, run, push (mounted), pull back: the same digests as the registry', async () => {
    const ref = `${registry.host}/it/busybox`;
    const pulled = ok(await berth(['pull', ref]), 'pull');
    const want = await remoteDigest(base, 'it/busybox', 'latest');
    assert.match(pulled.stdout, /^Using default tag: latest\nlatest: Pulling from it\/busybox\n/);
    assert.match(pulled.stdout, /: Pull complete\n/);
    assert.ok(pulled.stdout.includes(`Digest: ${want}\n`), pulled.stdout);
    assert.ok(
      pulled.stdout.endsWith(`Status: Downloaded newer image for ${ref}:latest\n${ref}:latest\n`),
      pulled.stdout,
    );
    const inspect = JSON.parse(ok(await berth(['image', 'inspect', ref]), 'inspect').stdout) as {
      Id: string;
      RepoDigests: string[];
    }[];
    assert.deepEqual(inspect[0]?.RepoDigests, [`${ref}@${want}`]);
    const id = inspect[0]?.Id ?? '';

    const again = ok(await berth(['pull', ref]), 'pull again');
    assert.match(again.stdout, /Status: Image is up to date for /);
    assert.match(again.stdout, /: Already exists\n/);

    const run = ok(await berth(['run', '--rm', ref, 'echo', 'pulled-and-ran']), 'run');
    assert.equal(run.stdout, 'pulled-and-ran\n');

    const copy = `${registry.host}/it/copy`;
    ok(await berth(['tag', ref, `${copy}:v1`]), 'tag');
    ok(await berth(['tag', ref, `${copy}:v2`]), 'tag');
    const pushed = ok(await berth(['push', `${copy}:v1`]), 'push');
    assert.match(pushed.stdout, new RegExp(`^The push refers to repository \\[${copy}\\]\n`));
    assert.match(pushed.stdout, /: Mounted from it\/busybox\n/);
    assert.ok(pushed.stdout.includes(`v1: digest: ${want} size: `), pushed.stdout);
    assert.equal(await remoteDigest(base, 'it/copy', 'v1'), want);

    const all = ok(await berth(['push', '--all-tags', copy]), 'push -a');
    assert.match(all.stdout, /Layer already exists/);
    assert.deepEqual(await tags(base, 'it/copy'), ['v1', 'v2']);

    ok(await berth(['rmi', ref, `${copy}:v1`, `${copy}:v2`]), 'rmi');
    const back = ok(await berth(['pull', '-q', `${copy}:v2`]), 'pull back');
    assert.equal(back.stdout, `${copy}:v2\n`);
    const backInspect = JSON.parse(
      ok(await berth(['image', 'inspect', `${copy}:v2`]), 'inspect').stdout,
    ) as {
      Id: string;
      RepoDigests: string[];
    }[];
    assert.equal(backInspect[0]?.Id, id);
    assert.deepEqual(backInspect[0]?.RepoDigests, [`${copy}@${want}`]);
    ok(await berth(['rmi', `${copy}:v2`]), 'rmi');
  });

  test('a two-layer image made by commit pushes and pulls back by the same digest', async () => {
    const ref = `${registry.host}/it/busybox:latest`;
    const two = `${registry.host}/it/two:1`;
    ok(await berth(['pull', '-q', ref]), 'pull');
    const name = `regc-${suffix}`;
    ok(await berth(['run', '--name', name, ref, 'sh', '-c', 'echo layer-two > /hello']), 'run');
    ok(await berth(['commit', name, two]), 'commit');
    ok(await berth(['rm', name]), 'rm');
    const pushed = ok(await berth(['push', two]), 'push');
    const digest = /1: digest: (sha256:[a-f0-9]{64}) size:/.exec(pushed.stdout)?.[1] ?? '';
    assert.equal(await remoteDigest(base, 'it/two', '1'), digest);
    const m = (await (
      await fetch(`${base}/v2/it/two/manifests/1`, {
        headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
      })
    ).json()) as { layers: { mediaType: string }[] };
    // The pulled base layer stays gzip; the committed one is an uncompressed tar.
    assert.deepEqual(
      m.layers.map((l) => l.mediaType),
      ['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar'],
    );
    ok(await berth(['rmi', two, ref]), 'rmi');
    const back = ok(await berth(['pull', two]), 'pull back');
    assert.ok(back.stdout.includes(`Digest: ${digest}`), back.stdout);
    assert.equal((back.stdout.match(/: Pull complete/g) ?? []).length, 2);
    const run = ok(await berth(['run', '--rm', two, 'cat', '/hello']), 'run');
    assert.equal(run.stdout, 'layer-two\n');
    ok(await berth(['rmi', two]), 'rmi');
  });

  test('docker.io names are normalised and pulled through --registry-mirror', async () => {
    const r = ok(await berth(['pull', 'busybox']), 'pull busybox via the mirror');
    assert.match(r.stdout, /^Using default tag: latest\nlatest: Pulling from library\/busybox\n/);
    assert.ok(
      r.stdout.endsWith(
        'Status: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n',
      ),
      r.stdout,
    );
    const want = await remoteDigest(base, 'library/busybox', 'latest');
    const inspect = JSON.parse(
      ok(await berth(['image', 'inspect', 'docker.io/library/busybox']), 'inspect').stdout,
    ) as {
      RepoTags: string[];
      RepoDigests: string[];
    }[];
    assert.deepEqual(inspect[0]?.RepoTags, ['busybox:latest']);
    assert.deepEqual(inspect[0]?.RepoDigests, [`busybox@${want}`]);
    ok(await berth(['rmi', 'busybox']), 'rmi');
  });

  test('run pulls a missing image as docker run does', async () => {
    const ref = `${registry.host}/it/busybox:latest`;
    const r = ok(await berth(['run', '--rm', ref, 'echo', 'auto']), 'run');
    assert.equal(r.stdout, 'auto\n');
    assert.match(
      r.stderr,
      new RegExp(`^Unable to find image '${ref}' locally\nlatest: Pulling from it/busybox\n`),
    );
    const missing = await berth(['run', '--rm', `${registry.host}/it/nothing:1`, 'true']);
    assert.equal(missing.code, 125);
    assert.match(missing.stderr, /manifest for .*it\/nothing:1 not found: manifest unknown/);
    ok(await berth(['rmi', ref]), 'rmi');
  });

  test('the docker CLI pulls and pushes through berthd; a docker-pushed image pulls', async () => {
    const ref = `${registry.host}/it/busybox:latest`;
    const d = await runCommand('docker', ['pull', ref], cliEnv, { timeoutMs: 120_000 });
    ok(d, 'docker pull');
    assert.match(d.stdout, /Status: Downloaded newer image for /);
    assert.ok(d.stdout.trim().endsWith(ref), d.stdout);
    const out = ok(
      await runCommand(
        'docker',
        ['images', '--digests', '--format', '{{.Repository}}:{{.Tag}} {{.Digest}}'],
        cliEnv,
      ),
      'docker images',
    );
    assert.ok(
      out.stdout.includes(`${ref} ${await remoteDigest(base, 'it/busybox', 'latest')}`),
      out.stdout,
    );
    ok(await runCommand('docker', ['tag', ref, `${registry.host}/it/bydocker:1`], cliEnv), 'tag');
    const p = ok(
      await runCommand('docker', ['push', `${registry.host}/it/bydocker:1`], cliEnv, {
        timeoutMs: 120_000,
      }),
      'docker push',
    );
    assert.match(p.stdout, /1: digest: sha256:[a-f0-9]{64} size: \d+/);
    ok(await berth(['rmi', ref, `${registry.host}/it/bydocker:1`]), 'rmi');

    // The anchor dockerd pushes its own (gzip-compressed) layers; berth pulls them.
    const anchorEnv = { DOCKER_HOST: ANCHOR };
    const anchorRef = `${registry.host}/it/anchor-${suffix}:1`;
    ok(await runCommand('docker', ['tag', 'busybox:latest', anchorRef], anchorEnv), 'anchor tag');
    try {
      ok(
        await runCommand('docker', ['push', anchorRef], anchorEnv, { timeoutMs: 120_000 }),
        'anchor push',
      );
    } finally {
      await runCommand('docker', ['rmi', anchorRef], anchorEnv);
    }
    ok(await berth(['pull', anchorRef]), 'pull of a docker-pushed image');
    ok(await berth(['run', '--rm', anchorRef, 'true']), 'run it');
    ok(await berth(['rmi', anchorRef]), 'rmi');
  });

  test('an image index: the host platform is chosen, another one refused', async () => {
    const manifestRes = await fetch(`${base}/v2/it/busybox/manifests/latest`, {
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    const manifestBody = Buffer.from(await manifestRes.arrayBuffer());
    const digest = manifestRes.headers.get('docker-content-digest') ?? '';
    const arch = process.arch === 'x64' ? 'amd64' : process.arch;
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
      manifests: [
        {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          digest,
          size: manifestBody.length,
          platform: { os: 'linux', architecture: arch },
        },
      ],
    };
    const put = await fetch(`${base}/v2/it/busybox/manifests/multi`, {
      method: 'PUT',
      headers: { 'Content-Type': index.mediaType },
      body: JSON.stringify(index),
    });
    assert.equal(put.status, 201, await put.text());
    const indexDigest = put.headers.get('docker-content-digest') ?? '';
    const r = ok(await berth(['pull', `${registry.host}/it/busybox:multi`]), 'pull index');
    assert.ok(r.stdout.includes(`Digest: ${indexDigest}`), r.stdout);
    const other = await berth([
      'pull',
      '--platform',
      'linux/s390x',
      `${registry.host}/it/busybox:multi`,
    ]);
    assert.equal(other.code, 1);
    assert.match(
      other.stderr,
      /no matching manifest for linux\/s390x in the manifest list entries/,
    );
    ok(await berth(['rmi', `${registry.host}/it/busybox:multi`]), 'rmi');
  });

  test('search asks the registry /v1/search (a fake index on loopback)', async () => {
    const queries: string[] = [];
    const server = http.createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      if (u.pathname === '/v2/') {
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
        return;
      }
      if (u.pathname === '/v1/search') {
        queries.push(`${u.searchParams.get('q')} ${u.searchParams.get('n')}`);
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(
          JSON.stringify({
            num_results: 2,
            query: u.searchParams.get('q'),
            results: [
              {
                name: 'busybox',
                description: 'Busybox base image.',
                star_count: 3000,
                is_official: true,
                is_automated: false,
              },
              {
                name: 'someone/busybox-extra',
                description: 'more',
                star_count: 2,
                is_official: false,
                is_automated: true,
              },
            ],
          }),
        );
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    try {
      const r = ok(await berth(['search', '--limit', '5', `127.0.0.1:${port}/busy`]), 'search');
      assert.deepEqual(queries, ['busy 5']);
      assert.equal(
        r.stdout,
        'NAME                    DESCRIPTION           STARS     OFFICIAL\n' +
          'busybox                 Busybox base image.   3000      [OK]\n' +
          'someone/busybox-extra   more                  2         \n',
      );
      const official = ok(
        await berth([
          'search',
          '--filter',
          'is-official=true',
          '--format',
          '{{.Name}}',
          `127.0.0.1:${port}/busy`,
        ]),
        'search filtered',
      );
      assert.equal(official.stdout, 'busybox\n');
      // The docker CLI through berthd prints the same table.
      const docker = ok(
        await runCommand('docker', ['search', '--limit', '5', `127.0.0.1:${port}/busy`], cliEnv),
        'docker search',
      );
      assert.equal(docker.stdout, r.stdout);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  test('a blob cut mid-way is resumed with a Range request and verified', async () => {
    const proxy = await startProxy(registry.port);
    try {
      proxy.mode = 'cut';
      const ref = `${proxy.host}/it/busybox:latest`;
      const r = ok(await berth(['pull', ref]), 'pull through a cutting proxy');
      assert.match(r.stdout, /Pull complete/);
      assert.equal(proxy.ranges.length >= 1, true, 'a Range request was made');
      assert.match(proxy.ranges[0] ?? '', /^bytes=\d+-$/);
      ok(await berth(['run', '--rm', ref, 'true']), 'run the resumed image');
      ok(await berth(['rmi', ref]), 'rmi');
    } finally {
      await proxy.close();
    }
  });

  test('a corrupted blob is refused and nothing of it is kept', async () => {
    const proxy = await startProxy(registry.port);
    try {
      proxy.mode = 'corrupt';
      const ref = `${proxy.host}/it/busybox:latest`;
      const mres = await fetch(`${base}/v2/it/busybox/manifests/latest`, {
        headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
      });
      const m = (await mres.json()) as { layers: { digest: string }[] };
      const layer = m.layers[0]?.digest ?? '';
      const r = await berth(['pull', ref]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`filesystem layer verification failed for digest ${layer}`),
      );
      assert.equal(existsSync(blobPath(engine, layer)), false, 'the corrupt layer is not stored');
      assert.equal(await ingestEmpty(engine), true, 'no partial ingest left');
      const images = ok(await berth(['images', '-q', ref]), 'images');
      assert.equal(images.stdout, '');

      // A manifest whose bytes do not match the digest the registry gives is refused too.
      proxy.mode = 'manifest';
      const tampered = await berth(['pull', ref]);
      assert.equal(tampered.code, 1);
      assert.match(tampered.stderr, /the registry says sha256:[a-f0-9]{64}, its bytes are sha256:/);
      assert.equal(ok(await berth(['images', '-q', ref]), 'images').stdout, '');
    } finally {
      await proxy.close();
    }
  });

  test('a corrupted upper layer fails the pull; no blob or layer of the image stays', async () => {
    // Layers unpack while later ones download: the lower one may be unpacked by the time the
    // upper one fails its digest, and must go all the same.
    const ref = `${registry.host}/it/busybox:latest`;
    const img = `${registry.host}/it/bad-upper:1`;
    ok(await berth(['pull', '-q', ref]), 'pull');
    const name = `regc-upper-${suffix}`;
    ok(
      await berth(['run', '--name', name, ref, 'sh', '-c', 'head -c 300000 /dev/urandom > /big']),
      'run',
    );
    ok(await berth(['commit', name, img]), 'commit');
    ok(await berth(['rm', name]), 'rm');
    ok(await berth(['push', img]), 'push');
    ok(await berth(['rmi', img, ref]), 'rmi');
    const before = await storedState(engine);
    const mres = await fetch(`${base}/v2/it/bad-upper/manifests/1`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    const m = (await mres.json()) as { layers: { digest: string }[] };
    assert.equal(m.layers.length, 2);
    const upper = m.layers[1]?.digest ?? '';
    const proxy = await startProxy(registry.port);
    try {
      proxy.mode = 'corrupt';
      proxy.only = upper;
      const r = await berth(['pull', `${proxy.host}/it/bad-upper:1`]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        new RegExp(`filesystem layer verification failed for digest ${upper}`),
      );
      assert.deepEqual(await storedState(engine), before);
      assert.equal(await ingestEmpty(engine), true, 'no partial ingest left');
      const listed = ok(await berth(['images', '-q', `${proxy.host}/it/bad-upper`]), 'images');
      assert.equal(listed.stdout, '');
      proxy.mode = 'pass';
      ok(await berth(['pull', `${proxy.host}/it/bad-upper:1`]), 'pull when the bytes are right');
      const seen = ok(
        await berth(['run', '--rm', `${proxy.host}/it/bad-upper:1`, 'wc', '-c', '/big']),
        'run',
      );
      assert.match(seen.stdout, /^\s*300000 \/big\n$/);
      ok(await berth(['rmi', `${proxy.host}/it/bad-upper:1`]), 'rmi');
    } finally {
      await proxy.close();
    }
  });

  test('berthd killed during a pull leaves no half image; a new pull succeeds', async () => {
    const proxy = await startProxy(registry.port);
    try {
      proxy.mode = 'stall';
      const ref = `${proxy.host}/it/busybox:latest`;
      const pulling = berth(['pull', ref]);
      await proxy.stalled;
      await engine.crash();
      const r = await pulling;
      assert.notEqual(r.code, 0);
      await engine.restart();
      assert.equal(await ingestEmpty(engine), true, 'partial ingests are cleaned at start-up');
      assert.equal(ok(await berth(['images', '-q', ref]), 'images').stdout, '');
      proxy.mode = 'pass';
      ok(await berth(['pull', ref]), 'pull after the crash');
      ok(await berth(['run', '--rm', ref, 'true']), 'run');
      ok(await berth(['rmi', ref]), 'rmi');
    } finally {
      await proxy.close();
    }
  });
});

describe(
  'registry client: basic auth, credential helpers, bearer tokens',
  { timeout: 600_000 },
  () => {
    let engine: Engine;
    let registry: Registry;
    let home: string;
    let cliEnv: Record<string, string>;
    const berth = (
      args: string[],
      input?: string,
      env: Record<string, string> = {},
    ): Promise<CommandResult> =>
      runCommand(
        process.execPath,
        [berthBin, ...args],
        { ...cliEnv, ...env },
        {
          timeoutMs: 120_000,
          ...(input !== undefined ? { input } : {}),
        },
      );

    before(async () => {
      const dir = path.join(work, 'auth');
      await fs.mkdir(dir, { recursive: true });
      const htpasswd = path.join(dir, 'htpasswd');
      const hp = await sh('htpasswd', ['-Bbn', 'tester', 's3cret']);
      await fs.writeFile(htpasswd, hp.stdout);
      registry = await startRegistry('authreg', { htpasswd });
      await seed(`${registry.host}/priv/busybox:latest`, [
        '--dest-tls-verify=false',
        '--dest-creds',
        'tester:s3cret',
      ]);
      engine = await startEngine({ bootstrap: false });
      home = path.join(work, 'authhome');
      await fs.mkdir(home, { recursive: true });
      cliEnv = {
        BERTH_HOST: engine.host,
        HOME: home,
        BERTH_CONFIG: path.join(home, '.berth'),
        DOCKER_CONFIG: path.join(home, '.docker'),
      };
    });

    after(async () => {
      await engine?.stop();
      await registry?.stop();
    });

    test('login, pull with the stored credentials, logout', async () => {
      const ref = `${registry.host}/priv/busybox:latest`;
      const anon = await berth(['pull', ref]);
      assert.equal(anon.code, 1);
      assert.match(anon.stderr, /pull access denied|unauthorized/);

      const bad = await berth(
        ['login', '-u', 'tester', '--password-stdin', registry.host],
        'wrong\n',
      );
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /401 Unauthorized/);
      assert.equal(existsSync(path.join(home, '.berth', 'config.json')), false);

      const login = ok(
        await berth(['login', '-u', 'tester', '--password-stdin', registry.host], 's3cret\n'),
        'login',
      );
      assert.match(login.stdout, /Login Succeeded\n$/);
      const config = JSON.parse(
        await fs.readFile(path.join(home, '.berth', 'config.json'), 'utf8'),
      ) as {
        auths: Record<string, { auth: string }>;
      };
      assert.equal(
        Buffer.from(config.auths[registry.host]?.auth ?? '', 'base64').toString(),
        'tester:s3cret',
      );
      ok(await berth(['pull', ref]), 'pull with credentials');
      ok(await berth(['rmi', ref]), 'rmi');

      const out = ok(await berth(['logout', registry.host]), 'logout');
      assert.equal(out.stdout, `Removing login credentials for ${registry.host}\n`);
      assert.equal(
        ok(await berth(['logout', registry.host]), 'logout again').stdout,
        `Not logged in to ${registry.host}\n`,
      );
      assert.equal((await berth(['pull', ref])).code, 1);

      // POST /auth straight: Docker's answer.
      const api = await engine.api('POST', '/auth', {
        username: 'tester',
        password: 's3cret',
        serveraddress: `http://${registry.host}/v2/`,
      });
      assert.equal(api.status, 200);
      assert.deepEqual(api.body, { Status: 'Login Succeeded', IdentityToken: '' });
    });

    test('credentials from ~/.docker/config.json: auths and a credential helper', async () => {
      const ref = `${registry.host}/priv/busybox:latest`;
      const dockerDir = path.join(home, '.docker');
      await fs.mkdir(dockerDir, { recursive: true });
      await fs.writeFile(
        path.join(dockerDir, 'config.json'),
        JSON.stringify({
          auths: {
            [`http://${registry.host}`]: { auth: Buffer.from('tester:s3cret').toString('base64') },
          },
        }),
      );
      ok(await berth(['pull', ref]), 'pull with docker config auths');
      ok(await berth(['rmi', ref]), 'rmi');

      const bin = path.join(work, 'helper-bin');
      await fs.mkdir(bin, { recursive: true });
      const calls = path.join(work, 'helper-calls');
      await fs.writeFile(
        path.join(bin, 'docker-credential-berthfake'),
        `#!/bin/sh\nread server\necho "$1 $server" >> ${calls}\n` +
          `if [ "$1" = get ] && [ "$server" = "${registry.host}" ]; then\n` +
          `  echo '{"ServerURL":"${registry.host}","Username":"tester","Secret":"s3cret"}'\n  exit 0\nfi\n` +
          `echo "credentials not found in native keychain"; exit 1\n`,
        { mode: 0o755 },
      );
      await fs.writeFile(
        path.join(dockerDir, 'config.json'),
        JSON.stringify({ credsStore: 'berthfake' }),
      );
      ok(
        await berth(['pull', ref], undefined, { PATH: `${bin}:${process.env.PATH ?? ''}` }),
        'pull via helper',
      );
      assert.match(await fs.readFile(calls, 'utf8'), new RegExp(`^get ${registry.host}$`, 'm'));
      ok(await berth(['rmi', ref]), 'rmi');
      await fs.rm(path.join(dockerDir, 'config.json'));
    });

    test('bearer tokens: a token server named by the challenge is asked with the credentials', async () => {
      // A front that speaks the token flow and forwards to the registry with basic auth.
      const tokenRequests: string[] = [];
      const front = http.createServer((req, res) => {
        const u = new URL(req.url ?? '/', 'http://x');
        if (u.pathname === '/token' && req.method === 'POST') {
          let form = '';
          req.on('data', (b: Buffer) => (form += b.toString()));
          req.on('end', () => {
            const f = new URLSearchParams(form);
            tokenRequests.push(
              `refresh ${f.get('grant_type')} ${f.get('refresh_token')} ${f.get('scope')}`,
            );
            if (f.get('refresh_token') !== 'refresh-abc') {
              res
                .writeHead(401, { 'Content-Type': 'application/json' })
                .end('{"errors":[{"code":"UNAUTHORIZED","message":"bad token"}]}');
              return;
            }
            res
              .writeHead(200, { 'Content-Type': 'application/json' })
              .end('{"access_token":"tok-123"}');
          });
          return;
        }
        if (u.pathname === '/token') {
          tokenRequests.push(
            `${u.searchParams.get('service')} ${u.searchParams.getAll('scope').join(',')}`,
          );
          const basic = Buffer.from('tester:s3cret').toString('base64');
          if (req.headers.authorization !== `Basic ${basic}`) {
            res
              .writeHead(401, { 'Content-Type': 'application/json' })
              .end('{"errors":[{"code":"UNAUTHORIZED","message":"bad creds"}]}');
            return;
          }
          res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"token":"tok-123"}');
          return;
        }
        if (req.headers.authorization !== 'Bearer tok-123') {
          const a = front.address();
          const port = typeof a === 'object' && a ? a.port : 0;
          res
            .writeHead(401, {
              'WWW-Authenticate': `Bearer realm="http://127.0.0.1:${port}/token",service="berth-test",scope="repository:priv/busybox:pull"`,
              'Content-Type': 'application/json',
            })
            .end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
          return;
        }
        const headers = {
          ...req.headers,
          authorization: `Basic ${Buffer.from('tester:s3cret').toString('base64')}`,
        };
        const up = http.request(
          { host: '127.0.0.1', port: registry.port, method: req.method, path: req.url, headers },
          (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
          },
        );
        up.on('error', () => res.destroy());
        req.pipe(up);
      });
      await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
      const a = front.address();
      const host = `127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
      try {
        const ref = `${host}/priv/busybox:latest`;
        const denied = await berth(['pull', ref]);
        assert.equal(denied.code, 1);
        ok(
          await berth(['login', '-u', 'tester', '-p', 's3cret', host]),
          'login through the token server',
        );
        ok(await berth(['pull', ref]), 'pull with a bearer token');
        assert.ok(
          tokenRequests.includes('berth-test repository:priv/busybox:pull'),
          tokenRequests.join('\n'),
        );
        ok(await berth(['rmi', ref]), 'rmi');
        ok(await berth(['logout', host]), 'logout');

        // An identity token (OAuth2 refresh token) in the config is exchanged by a form POST.
        await fs.mkdir(path.join(home, '.berth'), { recursive: true });
        await fs.writeFile(
          path.join(home, '.berth', 'config.json'),
          JSON.stringify({ auths: { [host]: { identitytoken: 'refresh-abc' } } }),
        );
        ok(await berth(['pull', ref]), 'pull with an identity token');
        assert.ok(
          tokenRequests.includes('refresh refresh_token refresh-abc repository:priv/busybox:pull'),
          tokenRequests.join('\n'),
        );
        ok(await berth(['rmi', ref]), 'rmi');
        ok(await berth(['logout', host]), 'logout');
      } finally {
        await new Promise((r) => front.close(r));
      }
    });
  },
);

describe(
  'registry client: TLS with a custom CA and client certificate (certs dir)',
  { timeout: 600_000 },
  () => {
    let engine: Engine;
    let registry: Registry;
    let certs: string;
    let tlsDir: string;

    before(async () => {
      tlsDir = path.join(work, 'tls');
      await fs.mkdir(tlsDir, { recursive: true });
      const o = (args: string[]): Promise<CommandResult> => sh('openssl', args);
      const f = (n: string): string => path.join(tlsDir, n);
      await o([
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=berth test CA',
        '-keyout',
        f('ca.key'),
        '-out',
        f('ca.pem'),
      ]);
      await fs.writeFile(f('ext'), 'subjectAltName=IP:127.0.0.1\n');
      await o([
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-keyout',
        f('server.key'),
        '-out',
        f('server.csr'),
      ]);
      await o([
        'x509',
        '-req',
        '-in',
        f('server.csr'),
        '-CA',
        f('ca.pem'),
        '-CAkey',
        f('ca.key'),
        '-CAcreateserial',
        '-days',
        '2',
        '-extfile',
        f('ext'),
        '-out',
        f('server.pem'),
      ]);
      await o([
        'req',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=berth client',
        '-keyout',
        f('client.key'),
        '-out',
        f('client.csr'),
      ]);
      await o([
        'x509',
        '-req',
        '-in',
        f('client.csr'),
        '-CA',
        f('ca.pem'),
        '-CAkey',
        f('ca.key'),
        '-CAcreateserial',
        '-days',
        '2',
        '-out',
        f('client.pem'),
      ]);
      registry = await startRegistry('tlsreg', {
        tls: { cert: f('server.pem'), key: f('server.key'), clientCa: f('ca.pem') },
      });
      const skopeoCerts = path.join(work, 'skopeo-certs');
      await fs.mkdir(skopeoCerts, { recursive: true });
      await fs.copyFile(f('ca.pem'), path.join(skopeoCerts, 'ca.crt'));
      await fs.copyFile(f('client.pem'), path.join(skopeoCerts, 'client.cert'));
      await fs.copyFile(f('client.key'), path.join(skopeoCerts, 'client.key'));
      await seed(`${registry.host}/sec/busybox:latest`, ['--dest-cert-dir', skopeoCerts]);
      certs = path.join(work, 'certs.d-tls');
      engine = await startEngine({ bootstrap: false, daemonArgs: ['--certs-dir', certs] });
    });

    after(async () => {
      await engine?.stop();
      await registry?.stop();
    });

    test('the CA from certs.d is trusted and the client certificate presented', async () => {
      const ref = `${registry.host}/sec/busybox:latest`;
      const env = {
        BERTH_HOST: engine.host,
        HOME: os.tmpdir(),
        BERTH_CONFIG: path.join(work, 'tls-cfg'),
        DOCKER_CONFIG: path.join(work, 'tls-cfg'),
      };
      const without = await runCommand(process.execPath, [berthBin, 'pull', ref], env, {
        timeoutMs: 120_000,
      });
      assert.equal(without.code, 1, 'no client certificate: the registry refuses the handshake');

      const dir = path.join(certs, registry.host);
      await fs.mkdir(dir, { recursive: true });
      await fs.copyFile(path.join(tlsDir, 'ca.pem'), path.join(dir, 'ca.crt'));
      await fs.copyFile(path.join(tlsDir, 'client.pem'), path.join(dir, 'client.cert'));
      await fs.copyFile(path.join(tlsDir, 'client.key'), path.join(dir, 'client.key'));
      ok(
        await runCommand(process.execPath, [berthBin, 'pull', ref], env, { timeoutMs: 120_000 }),
        'pull over TLS',
      );
      ok(
        await runCommand(process.execPath, [berthBin, 'run', '--rm', ref, 'true'], env, {
          timeoutMs: 120_000,
        }),
        'run',
      );

      // Verification proper (loopback registries are insecure by default in dockerd, so the
      // daemon skips it): the same TLS material verifies the server, and without the CA the
      // same request fails verification.
      const material = await loadTls(certs, registry.host);
      const res = await send({ method: 'GET', url: `https://${registry.host}/v2/`, tls: material });
      res.body.resume();
      assert.equal(res.status, 200);
      await assert.rejects(
        send({
          method: 'GET',
          url: `https://${registry.host}/v2/`,
          tls: {
            ...(material.cert ? { cert: material.cert } : {}),
            ...(material.key ? { key: material.key } : {}),
          },
        }),
        /self[- ]signed|unable to verify|certificate/i,
      );
    });
  },
);

// The later suites make their files under the same directory after the first one removed it.
after(async () => {
  await fs.rm(work, { recursive: true, force: true });
});
