import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { berthBin, runCommand, startEngine, type Engine } from './harness.js';

// --userns-remap with a subordinate range from the test's own subuid/subgid files (the host's
// are not touched): container root is host uid 231072, image files are shifted, --userns host
// opts out.

const start = 231072;
const size = 65536;
let engine: Engine;
let work: string;

before(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-userns-it-'));
  const subuid = path.join(work, 'subuid');
  const subgid = path.join(work, 'subgid');
  await fs.writeFile(subuid, `# test range\nberthremap:${start}:${size}\n`);
  await fs.writeFile(subgid, `berthremap:${start}:${size}\n`);
  engine = await startEngine({
    daemonArgs: ['--userns-remap', 'default'],
    daemonEnv: { BERTH_SUBUID_FILE: subuid, BERTH_SUBGID_FILE: subgid },
  });
  // Bind-mount sources: the test's own directory, reachable by the mapped root.
  await fs.chmod(work, 0o755);
});

after(async () => {
  await engine?.stop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

async function run(args: string[], script: string): Promise<string> {
  const r = await engine.berth(['run', '--rm', ...args, 'busybox', 'sh', '-c', script]);
  assert.equal(r.code, 0, `${script}: ${r.stderr}\n${engine.logs().slice(-2000)}`);
  return r.stdout;
}

test('the container has its own user namespace with the subordinate range; root inside', async () => {
  const out = await run([], 'cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g');
  const lines = out.trim().split('\n');
  assert.deepEqual(lines[0]?.trim().split(/\s+/), ['0', String(start), String(size)]);
  assert.deepEqual(lines[1]?.trim().split(/\s+/), ['0', String(start), String(size)]);
  assert.equal(lines[2], '0');
  assert.equal(lines[3], '0');
});

test('a file container root makes on a bind mount belongs to the subordinate uid on the host', async () => {
  const dir = path.join(work, 'bind');
  await fs.mkdir(dir);
  await fs.chown(dir, start, start);
  await run(['-v', `${dir}:/data`], 'echo x > /data/made && ls -ln /data');
  const st = await fs.stat(path.join(dir, 'made'));
  assert.equal(st.uid, start);
  assert.equal(st.gid, start);
  // Host root's files are not root's inside: writing to a host-root-owned 0755 dir fails.
  const rootDir = path.join(work, 'rootdir');
  await fs.mkdir(rootDir, { mode: 0o755 });
  const r = await engine.berth(['run', '--rm', '-v', `${rootDir}:/r`, 'busybox', 'touch', '/r/f']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Permission denied/);
  const ls = await run(['-v', `${rootDir}:/r`], 'stat -c %u:%g /r');
  assert.equal(ls.trim(), '65534:65534', 'an unmapped owner shows as the overflow id');
});

test('image files are root-owned inside and owned by the mapped uid in the snapshot on the host', async () => {
  const inside = await run([], 'stat -c %u:%g /bin/busybox /etc/passwd; touch /newfile && echo ok');
  assert.deepEqual(inside.trim().split('\n'), ['0:0', '0:0', 'ok']);
  const root = path.join(engine.dataRoot, `${start}.${start}`);
  const st = await fs.stat(root);
  assert.equal(st.mode & 0o777, 0o710);
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > 8 || found.length > 0) return;
    for (const e of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.name === 'busybox' && path.basename(dir) === 'bin') found.push(p);
    }
  };
  await walk(path.join(root, 'snapshots'), 0);
  assert.ok(found.length > 0, 'busybox in a snapshot of the remapped root');
  const b = await fs.lstat(found[0] as string);
  assert.equal(b.uid, start);
  assert.equal(b.gid, start);
  // The unmapped data root has no snapshots of its own.
  await assert.rejects(fs.stat(path.join(engine.dataRoot, 'snapshots')));
});

test("--userns host opts out: the host map, and Docker's incompatible options are refused", async () => {
  const out = await run(['--userns', 'host'], 'cat /proc/self/uid_map');
  assert.deepEqual(out.trim().split(/\s+/), ['0', '0', '4294967295']);
  const priv = await engine.berth(['create', '--privileged', 'busybox']);
  assert.notEqual(priv.code, 0);
  assert.match(priv.stderr, /privileged mode is incompatible with user namespaces/);
  const pid = await engine.berth(['create', '--pid', 'host', 'busybox']);
  assert.notEqual(pid.code, 0);
  assert.match(pid.stderr, /cannot share the host PID namespace/);
  const net = await engine.berth(['create', '--network', 'host', 'busybox']);
  assert.notEqual(net.code, 0);
  assert.match(net.stderr, /cannot share the host's network namespace/);
  const ok = await engine.berth(['create', '--userns', 'host', '--privileged', 'busybox']);
  assert.equal(ok.code, 0, ok.stderr);
  await engine.berth(['rm', ok.stdout.trim()]);
});

test('exec, /etc files, cp and commit work in the mapped ids', async () => {
  const name = `berth-userns-${process.pid}`;
  const c = await engine.berth(['run', '-d', '--name', name, 'busybox', 'sleep', '300']);
  assert.equal(c.code, 0, c.stderr);
  try {
    // exec joins the container's user namespace.
    const e = await engine.docker(['exec', name, 'sh', '-c', 'cat /proc/self/uid_map; id -u']);
    assert.equal(e.code, 0, `${e.stderr}\n${engine.logs().slice(-2000)}`);
    assert.deepEqual(e.stdout.trim().split(/\s+/), ['0', String(start), String(size), '0']);
    // The container's root may rewrite its own /etc files and make files as another user.
    const w = await engine.docker([
      'exec',
      name,
      'sh',
      '-c',
      'echo "10.9.9.9 extra" >> /etc/hosts && mkdir -p /made && touch /made/f && chown 1000:1000 /made/f && stat -c %u:%g /made/f',
    ]);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(w.stdout.trim(), '1000:1000');
    // cp out shows container ids; cp in is shifted into the mapping.
    const out = await engine.api('GET', `/containers/${name}/archive?path=/made/f`);
    assert.equal(out.status, 200);
    const header = Buffer.from(out.text, 'latin1');
    assert.equal(parseInt(header.subarray(108, 116).toString().trim(), 8), 1000, 'tar uid');
    const src = path.join(work, 'cp-src');
    await fs.writeFile(src, 'copied\n');
    const cp = await engine.docker(['cp', src, `${name}:/made/`]);
    assert.equal(cp.code, 0, cp.stderr);
    const seen = await engine.docker(['exec', name, 'stat', '-c', '%u', '/made/cp-src']);
    assert.equal(seen.stdout.trim(), '0', 'the copied file belongs to root inside');
    // commit makes a layer of container ids, which a new container sees unshifted.
    const commit = await engine.docker(['commit', name, `${name}-img`]);
    assert.equal(commit.code, 0, commit.stderr);
    try {
      const r = await engine.docker([
        'run',
        '--rm',
        `${name}-img`,
        'stat',
        '-c',
        '%u:%g %n',
        '/made/f',
        '/made/cp-src',
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), ['1000:1000 /made/f', '0:0 /made/cp-src']);
    } finally {
      await engine.docker(['rmi', `${name}-img`]);
    }
  } finally {
    await engine.berth(['rm', '-f', name]);
  }
});

test('a restarted daemon finds its remapped state', async () => {
  const c = await engine.berth([
    'create',
    '--name',
    `berth-userns-keep-${process.pid}`,
    'busybox',
    'true',
  ]);
  assert.equal(c.code, 0, c.stderr);
  await engine.stopDaemon();
  await engine.restart();
  const ps = await engine.berth(['ps', '-a', '--format', '{{.Names}}']);
  assert.match(ps.stdout, new RegExp(`berth-userns-keep-${process.pid}`));
  const r = await engine.berth(['start', '-a', `berth-userns-keep-${process.pid}`]);
  assert.equal(r.code, 0, r.stderr);
  await engine.berth(['rm', `berth-userns-keep-${process.pid}`]);
});

test('a remap user without subordinate ids stops the daemon at start with a clear error', async () => {
  const root = path.join(work, 'refused');
  const empty = path.join(work, 'empty-subuid');
  await fs.writeFile(empty, '');
  const r = await runCommand(
    process.execPath,
    [berthBin, 'daemon', '--data-root', path.join(root, 'data')]
      .concat(['--exec-root', path.join(root, 'exec'), '-H', `unix://${root}/s.sock`])
      .concat(['--userns-remap', 'default']),
    { BERTH_SUBUID_FILE: empty, BERTH_SUBGID_FILE: empty },
    { timeoutMs: 60_000 },
  );
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /no subordinate ids for berthremap in .*empty-subuid/);
  await assert.rejects(fs.stat(path.join(root, 'data')), 'nothing was created');
});

test('docker info shows name=userns and the remapped root', async () => {
  const r = await engine.docker([
    'info',
    '--format',
    '{{json .SecurityOptions}} {{.DockerRootDir}}',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /"name=userns"/);
  assert.ok(r.stdout.trim().endsWith(`/${start}.${start}`), r.stdout);
  // Both CLIs print it in the Security Options block.
  for (const cli of [engine.docker, engine.berth]) {
    const plain = await cli(['info']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /\n Security Options:\n( {2,3}.*\n)* {2}userns\n/);
  }
});
