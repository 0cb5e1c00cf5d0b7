import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InvalidArgumentError } from '../../errors/index.js';
import type { HostConfig } from '../../spec/engine.js';
import type { LinuxDevice } from '../../spec/oci-runtime.js';
import { hostCapabilities, listHostDevices } from '../oci/host.js';
import { buildSpec } from '../oci/spec.js';
import type { AttachStream, ExitInfo, OutputChunk, Runtime } from '../runtime.js';
import { newConmonRuntime } from './runtime.js';

// Real containers (needs root, runc and conmon): a busybox rootfs bind-mounted into each task.

let tmp: string;
let rootfs: string;
let rt: Runtime;
const ids: string[] = [];
const exits = new Map<string, ExitInfo>();

function newId(): string {
  const id = `berth-rt-test-${randomBytes(6).toString('hex')}`;
  ids.push(id);
  return id;
}

async function makeBusyboxRootfs(dir: string): Promise<void> {
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root']) {
    await fs.mkdir(path.join(dir, d), { recursive: true });
  }
  await fs.copyFile('/bin/busybox', path.join(dir, 'bin/busybox'));
  await fs.chmod(path.join(dir, 'bin/busybox'), 0o755);
  const { spawnSync } = await import('node:child_process');
  const res = spawnSync(path.join(dir, 'bin/busybox'), ['--install', '-s', path.join(dir, 'bin')]);
  assert.equal(res.status, 0, String(res.stderr));
  for (const name of await fs.readdir(path.join(dir, 'bin'))) {
    const p = path.join(dir, 'bin', name);
    if ((await fs.lstat(p)).isSymbolicLink()) {
      await fs.rm(p);
      await fs.symlink('busybox', p);
    }
  }
  await fs.writeFile(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await fs.writeFile(path.join(dir, 'etc/group'), 'root:x:0:\n');
}

async function create(
  id: string,
  args: string[],
  opts: {
    stdin?: boolean;
    tty?: boolean;
    hostConfig?: HostConfig;
    hostDevices?: LinuxDevice[];
    allCapabilities?: string[];
    volatile?: boolean;
  } = {},
  runtime: Runtime = rt,
): Promise<void> {
  await runtime.create({
    id,
    ...(opts.volatile ? { volatile: true } : {}),
    rootfs: [{ type: 'bind', source: rootfs, options: ['rbind'] }],
    spec: async () =>
      buildSpec({
        id,
        config: { Cmd: args, Tty: opts.tty ?? false },
        hostConfig: opts.hostConfig ?? {},
        image: {},
        ...(opts.hostDevices ? { hostDevices: opts.hostDevices } : {}),
        ...(opts.allCapabilities ? { allCapabilities: opts.allCapabilities } : {}),
        user: { uid: 0, gid: 0, additionalGids: [0] },
        hostname: id.slice(0, 12),
        mounts: [],
      }),
    logPath: path.join(tmp, `${id}.log`),
    stdin: opts.stdin ?? false,
    tty: opts.tty ?? false,
  });
}

async function collect(stream: AttachStream): Promise<OutputChunk[]> {
  const chunks: OutputChunk[] = [];
  for await (const c of stream) chunks.push(c as OutputChunk);
  return chunks;
}

function text(chunks: OutputChunk[], stream?: 'stdout' | 'stderr'): string {
  return Buffer.concat(
    chunks.filter((c) => !stream || c.stream === stream).map((c) => c.data),
  ).toString('utf8');
}

async function waitExit(id: string, runtime: Runtime = rt): Promise<ExitInfo> {
  for (let i = 0; i < 1000; i++) {
    const info = await runtime.exitInfo(id);
    if (info) return info;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`task ${id} did not exit`);
}

async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not met');
}

describe('conmon runtime', () => {
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-rt-'));
    rootfs = path.join(tmp, 'busybox');
    await makeBusyboxRootfs(rootfs);
    rt = await newConmonRuntime({
      execRoot: path.join(tmp, 'exec'),
      dataRoot: path.join(tmp, 'data'),
    });
    rt.onExit((id, info) => exits.set(id, info));
  });

  after(async () => {
    for (const id of ids) await rt.delete(id);
    await rt.close();
    await fs.rm(tmp, { recursive: true, force: true });
  });

  test('echo hi: create, attach, start, output, exit 0', async () => {
    const id = newId();
    await create(id, ['echo', 'hi']);
    assert.deepEqual(await rt.state(id), { status: 'created', pid: (await rt.state(id))?.pid });
    assert.ok(((await rt.state(id))?.pid ?? 0) > 0);
    assert.ok((await rt.list()).includes(id));
    const stream = await rt.attach(id);
    const out = collect(stream);
    await rt.start(id);
    const chunks = await out;
    assert.equal(text(chunks, 'stdout'), 'hi\n');
    const info = await waitExit(id);
    assert.equal(info.exitCode, 0);
    assert.equal(info.oomKilled, false);
    assert.ok(!Number.isNaN(Date.parse(info.finishedAt)));
    assert.deepEqual(await rt.state(id), { status: 'stopped', pid: 0 });
    await waitFor(async () => exits.has(id));
    assert.equal(exits.get(id)?.exitCode, 0);
    assert.match(await fs.readFile(path.join(tmp, `${id}.log`), 'utf8'), /stdout F hi/);
  });

  test('a volatile task: its bundle (config.json) on a tmpfs, gone with the task', async () => {
    const id = newId();
    await create(id, ['echo', 'v'], { volatile: true });
    const bundle = path.join(tmp, 'exec', 'tasks', id);
    assert.ok((await fs.readdir(bundle)).includes('config.json'));
    assert.equal(Number((await fs.statfs(bundle)).type), 0x01021994, 'tmpfs');
    const out = collect(await rt.attach(id));
    await rt.start(id);
    assert.equal(text(await out, 'stdout'), 'v\n');
    assert.equal((await waitExit(id)).exitCode, 0);
    await rt.delete(id);
    const mounts = await fs.readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(` ${bundle} `), 'unmounted');
    await assert.rejects(fs.stat(bundle), { code: 'ENOENT' });
  });

  test('stderr is its own stream; exit code 3', async () => {
    const id = newId();
    await create(id, ['sh', '-c', 'echo oops >&2; exit 3']);
    const out = collect(await rt.attach(id));
    await rt.start(id);
    const chunks = await out;
    assert.equal(text(chunks, 'stderr'), 'oops\n');
    assert.equal(text(chunks, 'stdout'), '');
    assert.equal((await waitExit(id)).exitCode, 3);
  });

  test('killed by SIGKILL is 137', async () => {
    const id = newId();
    await create(id, ['sleep', '1000']);
    await rt.start(id);
    assert.equal((await rt.state(id))?.status, 'running');
    await rt.kill(id, 9);
    assert.equal((await waitExit(id)).exitCode, 137);
    await assert.rejects(rt.kill(id, 9), { name: 'ConflictError' });
  });

  test('stdin through attach; closing it ends cat', async () => {
    const id = newId();
    await create(id, ['cat'], { stdin: true });
    const stream = await rt.attach(id);
    const out = collect(stream);
    await rt.start(id);
    stream.write('hello\n');
    stream.end();
    assert.equal(text(await out, 'stdout'), 'hello\n');
    assert.equal((await waitExit(id)).exitCode, 0);
  });

  test('tty mode', async () => {
    const id = newId();
    await create(id, ['sh', '-c', 'tty; stty size; echo done'], { stdin: true, tty: true });
    const stream = await rt.attach(id);
    const out = collect(stream);
    // Resized before start: the process may be gone by the time start returns.
    await rt.resize(id, 40, 100);
    await rt.start(id);
    const output = text(await out);
    assert.match(output, /\/dev\/pts\/\d+\r\n40 100\r\ndone\r\n/);
    assert.equal((await waitExit(id)).exitCode, 0);
  });

  describe('a running task', () => {
    let id: string;
    before(async () => {
      id = newId();
      await create(id, ['sleep', '1000']);
      await rt.start(id);
    });

    test('exec output and exit code', async () => {
      const h = await rt.exec(id, {
        execId: 'e1',
        process: {
          args: ['sh', '-c', 'echo out; echo err >&2; exit 5'],
          env: ['PATH=/bin'],
          cwd: '/',
          user: { uid: 0, gid: 0 },
        },
        stdin: false,
        tty: false,
        detach: false,
      });
      assert.ok(h.pid > 0);
      assert.ok(h.stream);
      const chunks = await collect(h.stream);
      assert.equal(text(chunks, 'stdout'), 'out\n');
      assert.equal(text(chunks, 'stderr'), 'err\n');
      assert.equal(await h.exited, 5);
    });

    test('exec with stdin and tty', async () => {
      const h = await rt.exec(id, {
        execId: 'e2',
        process: {
          args: ['sh', '-c', 'tty; read line; echo got-$line'],
          env: ['PATH=/bin', 'TERM=xterm'],
          cwd: '/',
          user: { uid: 0, gid: 0 },
        },
        stdin: true,
        tty: true,
        detach: false,
      });
      assert.ok(h.stream);
      const out = collect(h.stream);
      await h.resize(30, 90);
      h.stream.write('x\n');
      assert.equal(await h.exited, 0);
      assert.match(text(await out), /\/dev\/pts\/\d+\r\n[\s\S]*got-x\r\n/);
    });

    test('detached exec', async () => {
      const h = await rt.exec(id, {
        execId: 'e3',
        process: {
          args: ['sh', '-c', 'exit 7'],
          env: ['PATH=/bin'],
          cwd: '/',
          user: { uid: 0, gid: 0 },
        },
        stdin: false,
        tty: false,
        detach: true,
      });
      assert.equal(h.stream, undefined);
      assert.equal(await h.exited, 7);
    });

    test('exec of a missing binary keeps runc words', async () => {
      await assert.rejects(
        rt.exec(id, {
          execId: 'e4',
          process: { args: ['nosuch'], env: ['PATH=/bin'], cwd: '/', user: { uid: 0, gid: 0 } },
          stdin: false,
          tty: false,
          detach: false,
        }),
        (err: unknown) => {
          assert.ok(err instanceof InvalidArgumentError, String(err));
          assert.match(err.message, /exec: "nosuch": executable file not found in \$PATH/);
          return true;
        },
      );
    });

    test('pids, pause and resume', async () => {
      const state = await rt.state(id);
      assert.ok(state);
      assert.ok((await rt.pids(id)).includes(state.pid));
      await rt.pause(id);
      assert.equal((await rt.state(id))?.status, 'paused');
      await rt.resume(id);
      assert.equal((await rt.state(id))?.status, 'running');
    });

    test('survives a fresh runtime instance (live-restore)', async () => {
      const rt2 = await newConmonRuntime({
        execRoot: path.join(tmp, 'exec'),
        dataRoot: path.join(tmp, 'data'),
      });
      try {
        assert.ok((await rt2.list()).includes(id));
        assert.equal((await rt2.state(id))?.status, 'running');
        const seen: [string, ExitInfo][] = [];
        rt2.onExit((x, info) => seen.push([x, info]));
        // sleep as pid 1 has no SIGTERM handler, so the kernel ignores that one; SIGKILL it is.
        await rt2.kill(id, 9, { all: true });
        assert.equal((await waitExit(id, rt2)).exitCode, 137);
        await waitFor(async () => seen.some(([x]) => x === id));
        assert.equal(seen.find(([x]) => x === id)?.[1].exitCode, 137);
      } finally {
        await rt2.close();
      }
    });

    test('delete is idempotent', async () => {
      await rt.delete(id);
      await rt.delete(id);
      assert.equal(await rt.state(id), undefined);
      assert.equal(await rt.exitInfo(id), undefined);
      assert.ok(!(await rt.list()).includes(id));
    });
  });

  test('delete kills a running task and unmounts its rootfs', async () => {
    const id = newId();
    await create(id, ['sleep', '1000']);
    await rt.start(id);
    const rootfsPath = rt.rootfsPath(id);
    await rt.delete(id);
    assert.equal(await rt.state(id), undefined);
    await assert.rejects(fs.stat(rootfsPath), { code: 'ENOENT' });
    // the source is intact
    await fs.stat(path.join(rootfs, 'bin/busybox'));
  });

  test('memory limit: OOM kill is recorded', async () => {
    const id = newId();
    await create(id, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'], {
      hostConfig: { Memory: 16 * 1024 * 1024 },
    });
    await rt.start(id);
    const info = await waitExit(id);
    assert.equal(info.exitCode, 137);
    assert.equal(info.oomKilled, true);
  });

  test('privileged: every capability and the host devices', async () => {
    const id = newId();
    await create(id, ['sh', '-c', 'grep CapEff /proc/self/status; ls /dev/loop-control'], {
      hostConfig: { Privileged: true },
      hostDevices: await listHostDevices(),
      allCapabilities: await hostCapabilities(),
    });
    const out = collect(await rt.attach(id));
    await rt.start(id);
    const output = text(await out);
    const own = /CapBnd:\s+([0-9a-f]+)/.exec(await fs.readFile('/proc/self/status', 'utf8'))?.[1];
    assert.match(output, new RegExp(`CapEff:\\s+${own}`));
    assert.match(output, /\/dev\/loop-control/);
    assert.equal((await waitExit(id)).exitCode, 0);
  });

  test('entrypoint not found: InvalidArgumentError with runc words, nothing left', async () => {
    const id = newId();
    await assert.rejects(create(id, ['nosuch']), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.match(err.message, /exec: "nosuch": executable file not found in \$PATH/);
      return true;
    });
    assert.equal(await rt.state(id), undefined);
    await fs.writeFile(path.join(rootfs, 'notexec'), 'x', { mode: 0o644 });
    await assert.rejects(create(id, ['/notexec']), (err: unknown) => {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.match(err.message, /permission denied/);
      return true;
    });
    await fs.rm(path.join(rootfs, 'notexec'));
  });
});
