import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand, startEngine, type CommandResult, type Engine } from './harness.js';

// Issue #4, stats and update: real containers' cgroups read through berthd, limits changed on
// running containers, and the stats JSON held against the anchor dockerd's.

const anchorHost = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';
const anchorSocket = anchorHost.replace(/^unix:\/\//, '');
const anchorTar = '/var/lib/berth-anchors/busybox-rootfs.tar';
const p = `stats-${randomBytes(3).toString('hex')}`;
const anchorImage = `${p}-img:latest`;
const anchorContainers: string[] = [];

let engine: Engine;

before(async () => {
  engine = await startEngine();
});

after(async () => {
  for (const name of anchorContainers) await anchor(['rm', '-f', name]);
  await anchor(['rmi', '-f', anchorImage]);
  await engine?.stop();
});

function anchor(args: string[]): Promise<CommandResult> {
  return runCommand('docker', args, { DOCKER_HOST: anchorHost });
}

async function ok(r: Promise<CommandResult>, what: string): Promise<string> {
  const out = await r;
  assert.equal(out.code, 0, `${what}: ${out.stderr}`);
  return out.stdout.trim();
}

async function berth(...args: string[]): Promise<string> {
  return ok(engine.berth(args), `berth ${args.join(' ')}`);
}

interface Stats {
  read: string;
  preread: string;
  name: string;
  id: string;
  pids_stats: { current?: number; limit?: number };
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> };
  cpu_stats: { cpu_usage: { total_usage: number }; online_cpus?: number };
  networks?: unknown;
}

async function stats(ref: string, query = 'stream=false'): Promise<Stats> {
  const r = await engine.api('GET', `/v1.47/containers/${ref}/stats?${query}`);
  assert.equal(r.status, 200, r.text);
  return r.body as Stats;
}

/** The first `count` objects of a streamed stats response, then the connection is dropped. */
function streamed(socket: string, urlPath: string, count: number): Promise<Stats[]> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: socket, path: urlPath }, (res) => {
      let buf = '';
      const out: Stats[] = [];
      res.on('data', (b: Buffer) => {
        buf += b.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0 && out.length < count) {
          out.push(JSON.parse(buf.slice(0, nl)) as Stats);
          buf = buf.slice(nl + 1);
        }
        if (out.length >= count) {
          req.destroy();
          resolve(out);
        }
      });
      res.on('end', () => resolve(out));
    });
    req.on('error', reject);
  });
}

function getJson(socket: string, urlPath: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: socket, path: urlPath }, (res) => {
        let text = '';
        res.on('data', (b: Buffer) => (text += b.toString()));
        res.on('end', () => resolve(JSON.parse(text)));
      })
      .on('error', reject);
  });
}

/** The container's cgroup directories, as runc recorded them. */
async function cgroupPaths(id: string): Promise<Record<string, string>> {
  const state = JSON.parse(
    await fs.readFile(path.join(engine.execRoot, 'runc', id, 'state.json'), 'utf8'),
  ) as { cgroup_paths: Record<string, string> };
  return state.cgroup_paths;
}

async function cgroupFile(id: string, controller: string, file: string): Promise<string> {
  const paths = await cgroupPaths(id);
  const dir = paths[controller] ?? paths[''];
  assert.ok(dir, `no cgroup for ${controller}`);
  return (await fs.readFile(path.join(dir, file), 'utf8')).trim();
}

/** Keys of a JSON value, recursively; arrays and leaves by their type. */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, shape(x)]),
    );
  }
  return typeof v;
}

describe('stats', () => {
  test('a busy loop shows CPU well above 20% through berth and the docker CLI', async () => {
    await berth('run', '-d', '--name', `${p}-spin`, 'busybox', 'sh', '-c', 'while :; do :; done');
    const own = await berth(
      'stats',
      '--no-stream',
      '--format',
      '{{.Name}} {{.CPUPerc}}',
      `${p}-spin`,
    );
    const [name, pct] = own.split(' ');
    assert.equal(name, `${p}-spin`);
    assert.ok(Number.parseFloat(pct ?? '') > 20, own);
    const viaDocker = await ok(
      engine.docker(['stats', '--no-stream', '--format', '{{.CPUPerc}} {{.PIDs}}', `${p}-spin`]),
      'docker stats',
    );
    const [dpct, pids] = viaDocker.split(' ');
    assert.ok(Number.parseFloat(dpct ?? '') > 20, viaDocker);
    assert.equal(pids, '1');
    const s = await stats(`${p}-spin`);
    assert.ok(s.cpu_stats.cpu_usage.total_usage > 0);
    assert.equal(s.networks, undefined, 'loopback only: no networks');
    await berth('rm', '-f', `${p}-spin`);
  });

  test('the table: docker columns, a stopped container with -a in zeros', async () => {
    await berth('run', '-d', '--name', `${p}-idle`, 'busybox', 'sleep', '1000');
    await berth('create', '--name', `${p}-new`, 'busybox', 'true');
    const table = await berth('stats', '--no-stream', '-a');
    const lines = table.split('\n');
    assert.match(
      lines[0] ?? '',
      /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/,
    );
    const idle = lines.find((l) => l.includes(`${p}-idle`)) ?? '';
    assert.match(
      idle,
      /^[0-9a-f]{12}\s+\S+\s+\d+\.\d\d%\s+\S+ \/ \S+\s+\d+\.\d\d%\s+0B \/ 0B\s+\S+ \/ \S+\s+1$/,
    );
    const created = lines.find((l) => l.includes(`${p}-new`)) ?? '';
    assert.match(created, /0\.00%\s+0B \/ 0B\s+0\.00%\s+0B \/ 0B\s+0B \/ 0B\s+0$/);
    const zero = await stats(`${p}-new`);
    assert.equal(zero.read, '0001-01-01T00:00:00Z');
    assert.deepEqual(zero.memory_stats, {});
    assert.equal(zero.name, `/${p}-new`);
    const noTrunc = await berth(
      'stats',
      '--no-stream',
      '--no-trunc',
      '--format',
      '{{.ID}}',
      `${p}-idle`,
    );
    assert.match(noTrunc, /^[0-9a-f]{64}$/);
    const missing = await engine.berth(['stats', '--no-stream', `${p}-nothing`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such container: /);
    await berth('rm', '-f', `${p}-idle`, `${p}-new`);
  });

  test('streaming: one object a second, each with the one before as pre', async () => {
    await berth('run', '-d', '--name', `${p}-str`, 'busybox', 'sleep', '1000');
    const [first, second] = await streamed(engine.socket, `/v1.47/containers/${p}-str/stats`, 2);
    assert.ok(first && second);
    assert.equal(first.preread, '0001-01-01T00:00:00Z');
    assert.equal(second.preread, first.read);
    assert.ok(Date.parse(second.read) > Date.parse(first.read));
    const once = await stats(`${p}-str`, 'stream=false&one-shot=true');
    assert.equal(once.preread, '0001-01-01T00:00:00Z');
    const bad = await engine.api(
      'GET',
      `/v1.47/containers/${p}-str/stats?stream=true&one-shot=true`,
    );
    assert.equal(bad.status, 400);
    // Removing the container ends a stream, as dockerd's does.
    const pending = streamed(engine.socket, `/v1.47/containers/${p}-str/stats`, 1000);
    await new Promise((r) => setTimeout(r, 1500));
    await berth('rm', '-f', `${p}-str`);
    const got = await pending;
    assert.ok(got.length >= 1 && got.length < 1000);
  });

  test('memory usage grows when the container fills its /dev/shm', async () => {
    await berth('run', '-d', '--name', `${p}-mem`, 'busybox', 'sleep', '1000');
    const before = (await stats(`${p}-mem`, 'stream=false&one-shot=true')).memory_stats.usage ?? 0;
    await berth('exec', `${p}-mem`, 'sh', '-c', 'head -c 40m /dev/zero > /dev/shm/fill');
    const afterFill = (await stats(`${p}-mem`, 'stream=false&one-shot=true')).memory_stats;
    assert.ok(
      (afterFill.usage ?? 0) - before > 35 * 1024 * 1024,
      `${before} -> ${afterFill.usage}`,
    );
    assert.ok((afterFill.limit ?? 0) > 0);
    await berth('rm', '-f', `${p}-mem`);
  });
});

describe('update', () => {
  test('--memory with --memory-swap on a running container: 64 MiB in /dev/shm is OOM-killed', async () => {
    const script =
      'while [ ! -e /tmp/go ]; do sleep 0.1; done; exec dd if=/dev/zero of=/dev/shm/f bs=1M count=60';
    await berth('run', '-d', '--name', `${p}-oom`, 'busybox', 'sh', '-c', script);
    // Without a memory limit dockerd's swap limit in effect is none: memory alone is refused.
    const refused = await engine.berth(['update', '--memory', '32m', `${p}-oom`]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /Cannot update container [0-9a-f]{64}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time/,
    );
    assert.equal(
      await berth('update', '--memory', '32m', '--memory-swap', '32m', `${p}-oom`),
      `${p}-oom`,
    );
    const id = await berth('inspect', '-f', '{{.Id}}', `${p}-oom`);
    if ('memory' in (await cgroupPaths(id))) {
      assert.equal(
        await cgroupFile(id, 'memory', 'memory.limit_in_bytes'),
        String(32 * 1024 * 1024),
      );
    } else {
      assert.equal(await cgroupFile(id, '', 'memory.max'), String(32 * 1024 * 1024));
    }
    assert.equal(
      (await stats(`${p}-oom`, 'stream=false&one-shot=true')).memory_stats.limit,
      32 * 1024 * 1024,
    );
    await berth('exec', `${p}-oom`, 'touch', '/tmp/go');
    assert.equal(await berth('wait', `${p}-oom`), '137');
    assert.equal(
      await berth(
        'inspect',
        '-f',
        '{{.State.OOMKilled}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}',
        `${p}-oom`,
      ),
      `true ${32 * 1024 * 1024} ${32 * 1024 * 1024}`,
    );
    await berth('rm', '-f', `${p}-oom`);
  });

  test('--cpus 0.5 sets the CFS quota at once, and a restart keeps it', async () => {
    await berth('run', '-d', '--name', `${p}-cpu`, 'busybox', 'sleep', '1000');
    const id = await berth('inspect', '-f', '{{.Id}}', `${p}-cpu`);
    await berth('update', '--cpus', '0.5', `${p}-cpu`);
    const quota = async (): Promise<string> =>
      'cpu' in (await cgroupPaths(id))
        ? cgroupFile(id, 'cpu', 'cpu.cfs_quota_us')
        : ((await cgroupFile(id, '', 'cpu.max')).split(' ')[0] ?? '');
    assert.equal(await quota(), '50000');
    assert.equal(await berth('inspect', '-f', '{{.HostConfig.NanoCpus}}', `${p}-cpu`), '500000000');
    const conflict = await engine.api('POST', `/v1.47/containers/${p}-cpu/update`, {
      CpuQuota: 20000,
    });
    assert.equal(conflict.status, 409);
    assert.match(conflict.text, /CPU Quota cannot be updated as NanoCPUs has already been set/);
    await berth('restart', '-t', '0', `${p}-cpu`);
    assert.equal(await quota(), '50000');
    await berth('rm', '-f', `${p}-cpu`);
  });

  test('--pids-limit bounds a fork bomb; the limit shows in stats', async () => {
    await berth('run', '-d', '--name', `${p}-pids`, 'busybox', 'sleep', '1000');
    const id = await berth('inspect', '-f', '{{.Id}}', `${p}-pids`);
    await berth('update', '--pids-limit', '10', `${p}-pids`);
    assert.equal(await cgroupFile(id, 'pids', 'pids.max'), '10');
    const bomb = await engine.berth([
      'exec',
      `${p}-pids`,
      'sh',
      '-c',
      'i=0; while [ $i -lt 40 ]; do sleep 100 >/dev/null 2>&1 & i=$((i+1)); done 2>/dev/null; echo done',
    ]);
    // The shell cannot fork its eleventh process and gives up.
    assert.notEqual(bomb.code, 0);
    assert.doesNotMatch(bomb.stdout, /done/);
    const s = await stats(`${p}-pids`, 'stream=false&one-shot=true');
    assert.equal(s.pids_stats.limit, 10);
    const current = s.pids_stats.current ?? 0;
    assert.ok(current <= 10 && current >= 5, JSON.stringify(s.pids_stats));
    assert.equal(await berth('inspect', '-f', '{{.HostConfig.PidsLimit}}', `${p}-pids`), '10');
    await berth('rm', '-f', `${p}-pids`);
  });

  test('validation in dockerd words; restart policy; a created container keeps the update', async () => {
    await berth('create', '--name', `${p}-upd`, 'busybox', 'sleep', '1000');
    const small = await engine.api('POST', `/v1.47/containers/${p}-upd/update`, { Memory: 1000 });
    assert.equal(small.status, 400);
    assert.deepEqual(small.body, { message: 'Minimum memory limit allowed is 6MB' });
    const none = await engine.api('POST', `/v1.47/containers/${p}-nothing/update`, { Memory: 0 });
    assert.equal(none.status, 404);
    const good = await engine.api('POST', `/v1.47/containers/${p}-upd/update`, {
      Memory: 64 * 1024 * 1024,
      MemorySwap: -1,
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 2 },
    });
    assert.equal(good.status, 200, good.text);
    assert.deepEqual(good.body, { Warnings: [] });
    await berth('start', `${p}-upd`);
    const id = await berth('inspect', '-f', '{{.Id}}', `${p}-upd`);
    if ('memory' in (await cgroupPaths(id))) {
      assert.equal(
        await cgroupFile(id, 'memory', 'memory.limit_in_bytes'),
        String(64 * 1024 * 1024),
      );
    }
    assert.equal(
      await berth(
        'inspect',
        '-f',
        '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}',
        `${p}-upd`,
      ),
      'on-failure 2',
    );
    await berth('rm', '-f', `${p}-upd`);
  });
});

describe('against the anchor dockerd', () => {
  test('stats JSON has the same keys; docker stats prints the same names', async () => {
    await ok(anchor(['import', anchorTar, anchorImage]), 'anchor import');
    const name = `${p}-cmp`;
    anchorContainers.push(name);
    await ok(
      anchor(['run', '-d', '--network', 'none', '--name', name, anchorImage, 'sleep', '1000']),
      'anchor run',
    );
    await berth('run', '-d', '--network', 'none', '--name', name, 'busybox', 'sleep', '1000');
    const a = (await getJson(
      anchorSocket,
      `/v1.41/containers/${name}/stats?stream=false`,
    )) as Stats;
    const b = await stats(name);
    assert.deepEqual(shape(b), shape(a));
    assert.equal(b.networks, undefined);
    const fmt = ['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', name];
    assert.equal(
      await ok(engine.docker(fmt), 'docker stats on berthd'),
      await ok(anchor(fmt), 'anchor stats'),
    );
    // A container that is not running: the same all-zero object on both.
    await ok(anchor(['stop', '-t', '0', name]), 'anchor stop');
    await berth('stop', '-t', '0', name);
    const az = (await getJson(
      anchorSocket,
      `/v1.41/containers/${name}/stats?stream=false`,
    )) as Stats;
    const bz = await stats(name);
    assert.deepEqual({ ...bz, id: '' }, { ...az, id: '' });
    await berth('rm', '-f', name);
  });
});
