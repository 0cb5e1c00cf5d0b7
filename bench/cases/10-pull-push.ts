import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BenchCase, EngineId, Metric } from '../lib/types.js';
import { enginesOf, msOf } from './common.js';

const RUNS = 5;
const ANCHOR = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';
const SEED = 'berth-bench-layers:latest';

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

function exec(file: string, args: string[]): Promise<{ code: number; ms: number; stderr: string }> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    c.on('error', reject);
    c.on('close', (code) => resolve({ code: code ?? 1, ms: performance.now() - start, stderr }));
  });
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.end();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`registry on ${port} did not start`);
}

export const benchCase: BenchCase = {
  name: 'pull-push',
  description: `\`pull\` (image absent locally) and \`push\` (to a new repository, layers uploaded) of a four-layer image (a busybox root + 3 × 8 MiB, no layer held by any engine beforehand) against Debian's docker-registry on loopback, ${RUNS} runs each; skopeo's registry-to-directory copy as a reference in the note.`,
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'berth-bench-reg-'));
    const port = await freePort();
    writeFileSync(
      join(dir, 'config.yml'),
      `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:${port}\n`,
    );
    const registry: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
      stdio: 'ignore',
    });
    try {
      await waitPort(port);
      const host = `127.0.0.1:${port}`;
      // A four-layer image, none of whose layers any engine holds before its first pull: a
      // busybox root (as the anchors' busybox:latest, plus a file of random bytes that makes
      // this layer new) and three layers of 8 MiB of random bytes, built by the anchor dockerd.
      // A base of busybox:latest itself would be a layer Docker already has and berth not.
      const context = join(dir, 'context');
      const rootfs = join(context, 'rootfs');
      for (const d of ['bin', 'dev', 'etc', 'proc', 'sys', 'tmp', 'root'])
        mkdirSync(join(rootfs, d), { recursive: true });
      copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
      chmodSync(join(rootfs, 'bin/busybox'), 0o755);
      const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' });
      for (const a of applets.split('\n')) {
        if (a !== '' && a !== 'busybox') symlinkSync('busybox', join(rootfs, 'bin', a));
      }
      writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
      writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
      writeFileSync(join(rootfs, 'etc/bench-nonce'), randomBytes(16).toString('hex'));
      const packed = await exec('tar', ['-C', rootfs, '-cf', join(context, 'base.tar'), '.']);
      if (packed.code !== 0) throw new Error(`packing the base layer: ${packed.stderr}`);
      rmSync(rootfs, { recursive: true, force: true });
      writeFileSync(
        join(context, 'Dockerfile'),
        [
          'FROM scratch',
          'ADD base.tar /',
          ...['a', 'b', 'c'].map((n) => `RUN head -c 8388608 /dev/urandom > /${n}`),
        ].join('\n') + '\n',
      );
      const built = await exec('env', [
        `DOCKER_HOST=${ANCHOR}`,
        'DOCKER_BUILDKIT=0',
        'docker',
        'build',
        '-q',
        '-t',
        SEED,
        context,
      ]);
      if (built.code !== 0) throw new Error(`building the bench image: ${built.stderr}`);
      const seed = await exec('skopeo', [
        'copy',
        '--quiet',
        '--src-daemon-host',
        ANCHOR,
        '--dest-tls-verify=false',
        `docker-daemon:${SEED}`,
        `docker://${host}/bench/layers:latest`,
      ]);
      await exec('env', [`DOCKER_HOST=${ANCHOR}`, 'docker', 'rmi', SEED]);
      if (seed.code !== 0) throw new Error(`seeding the registry: ${seed.stderr}`);
      const ref = `${host}/bench/layers:latest`;
      const pulls: Partial<Record<EngineId, number[]>> = {};
      const pushes: Partial<Record<EngineId, number[]>> = {};
      for (const e of enginesOf(ctx, ['berth', 'berth-docker', 'docker'])) {
        ctx.log(`pull-push on ${e.id}`);
        const pr = [];
        const ps = [];
        for (let i = 0; i < RUNS; i++) {
          await e.cmd(['rmi', ref]);
          pr.push(await e.cmd(['pull', ref], { timeoutMs: 120_000 }));
          const target = `${host}/bench/${e.id}-${i}:latest`;
          await e.ok(['tag', ref, target]);
          ps.push(await e.cmd(['push', target], { timeoutMs: 120_000 }));
          await e.cmd(['rmi', target]);
        }
        await e.cmd(['rmi', ref]);
        pulls[e.id] = msOf(pr, `${e.id} pull`);
        pushes[e.id] = msOf(ps, `${e.id} push`);
      }
      const sk: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const out = join(dir, `skopeo-${i}`);
        const r = await exec('skopeo', [
          'copy',
          '--quiet',
          '--src-tls-verify=false',
          `docker://${ref}`,
          `dir:${out}`,
        ]);
        if (r.code !== 0) throw new Error(`skopeo copy: ${r.stderr}`);
        sk.push(r.ms);
        rmSync(out, { recursive: true, force: true });
      }
      const median = [...sk].sort((a, b) => a - b)[Math.floor(sk.length / 2)] ?? 0;
      const metrics: Metric[] = [
        {
          label: 'pull 4 layers, 25 MiB (loopback registry)',
          unit: 'ms',
          values: pulls,
          note: `every engine fetches and unpacks all four layers. skopeo copy docker:// → dir: median ${median.toFixed(0)} ms (no unpacking)`,
        },
        { label: 'push 4 layers (new repository)', unit: 'ms', values: pushes },
      ];
      return metrics;
    } finally {
      registry.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
