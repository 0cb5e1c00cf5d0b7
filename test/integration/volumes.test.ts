import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCommand, startEngine, type CommandResult, type Engine } from './harness.js';

// Volumes and mounts (issue #5) end to end: real containers on a real berthd, then the same
// observations against the anchor dockerd, compared after normalising names and paths.

const sfx = randomBytes(3).toString('hex');
const p = `vol-${sfx}`;
let engine: Engine;
let tmp: string;

async function ok(r: Promise<CommandResult>, what = ''): Promise<string> {
  const out = await r;
  assert.equal(out.code, 0, `${what}\nstdout: ${out.stdout}\nstderr: ${out.stderr}`);
  return out.stdout;
}

function berth(...args: string[]): Promise<string> {
  return ok(engine.berth(args), `berth ${args.join(' ')}`);
}

async function volumeNames(): Promise<string[]> {
  return (await berth('volume', 'ls', '-q')).split('\n').filter(Boolean);
}

interface MountJson {
  Type: string;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

async function mountsOf(container: string): Promise<MountJson[]> {
  return JSON.parse(await berth('inspect', '-f', '{{json .Mounts}}', container)) as MountJson[];
}

before(async () => {
  engine = await startEngine({ bootstrap: true });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-vol-'));
  // An image whose /data holds a file owned by 1000:1000, mode 0640, in a 0750 directory
  // owned by 1000:1000; VOLUME /data in its config.
  await berth(
    'run',
    '--name',
    `${p}-base`,
    'busybox',
    'sh',
    '-c',
    'mkdir -p /data/sub && echo secret > /data/f && chown -R 1000:1000 /data && chmod 0640 /data/f && chmod 0750 /data && ln -s f /data/link',
  );
  await berth('commit', `${p}-base`, `${p}-img:v1`);
  await berth('commit', '--change', 'VOLUME /data', `${p}-base`, `${p}-vimg:v1`);
  await berth('rm', `${p}-base`);
});

after(async () => {
  await engine?.stop();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

describe('volume commands', () => {
  test('create, ls, inspect, rm with labels, options and dockerd fields', async () => {
    const name = `${p}-a`;
    assert.equal(await berth('volume', 'create', '--label', 'k=v', name), `${name}\n`);
    // Creating an existing name gives it back unchanged, as dockerd does.
    assert.equal(await berth('volume', 'create', name), `${name}\n`);
    const [v] = JSON.parse(await berth('volume', 'inspect', name)) as Record<string, unknown>[];
    assert.ok(v);
    assert.equal(v.Name, name);
    assert.equal(v.Driver, 'local');
    assert.equal(v.Scope, 'local');
    assert.deepEqual(v.Labels, { k: 'v' });
    assert.equal(v.Options, null);
    assert.equal(v.Mountpoint, path.join(engine.dataRoot, 'volumes', name, '_data'));
    assert.match(String(v.CreatedAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok((await fs.stat(String(v.Mountpoint))).isDirectory());
    const table = await berth('volume', 'ls', '--filter', `name=${name}`);
    assert.match(table, new RegExp(`^DRIVER {4}VOLUME NAME\nlocal {5}${name}\n$`));
    assert.equal(
      await berth('volume', 'ls', '-f', 'label=k=v', '--format', '{{.Name}} {{.Labels}}'),
      `${name} k=v\n`,
    );
    assert.equal(await berth('volume', 'rm', name), `${name}\n`);
    const gone = await engine.berth(['volume', 'inspect', name]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, new RegExp(`get ${name}: no such volume`));
    await assert.rejects(fs.stat(path.join(engine.dataRoot, 'volumes', name)));
    // -f makes a missing volume no error.
    assert.equal((await engine.berth(['volume', 'rm', name])).code, 1);
    assert.equal((await engine.berth(['volume', 'rm', '-f', name])).code, 0);
  });

  test('bad input is refused with one line and creates nothing', async () => {
    const before = await volumeNames();
    const short = await engine.api('POST', '/volumes/create', { Name: 'a' });
    assert.equal(short.status, 400);
    const bad = await engine.berth(['volume', 'create', 'a#b']);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /create a#b: "a#b" includes invalid characters for a local volume name/,
    );
    const opt = await engine.berth(['volume', 'create', '-o', 'foo=bar', `${p}-badopt`]);
    assert.match(opt.stderr, /invalid option: "foo"/);
    const drv = await engine.api('POST', '/volumes/create', { Name: `${p}-drv`, Driver: 'nope' });
    assert.equal(drv.status, 404);
    // A container with a bad volume name, a bad -v spec or a bad --mount key: no container,
    // no volume.
    const runs: [string[], RegExp, number][] = [
      [['-v', 'a#b:/x'], /includes invalid characters for a local volume name/, 125],
      [['-v', '/x:/y:bogus'], /invalid mode: bogus/, 125],
      [['-v', `${p}-ok:/`], /destination can't be '\/'/, 125],
      [['--mount', `type=volume,src=${p}-ok,dst=/x,bogus=1`], /unexpected key 'bogus'/, 125],
      [
        ['--mount', 'type=bind,src=/nonexistent-berth,dst=/x'],
        /bind source path does not exist/,
        125,
      ],
      [['-v', `${p}-ok:/x`, '-v', `${p}-ok2:/x`], /Duplicate mount point: \/x/, 125],
    ];
    for (const [flags, message, code] of runs) {
      const r = await engine.berth([
        'run',
        '--rm',
        '--name',
        `${p}-bad`,
        ...flags,
        'busybox',
        'true',
      ]);
      assert.equal(r.code, code, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(
        r.stderr
          .trim()
          .split('\n')
          .filter((l) => !l.startsWith('See ')).length,
        1,
      );
    }
    assert.deepEqual(await volumeNames(), before);
    const ps = await berth('ps', '-a', '-q', '--filter', `name=${p}-bad`);
    assert.equal(ps, '');
  });
});

describe('containers with volumes', () => {
  test('data written to a named volume is read by a new container', async () => {
    const v = `${p}-data`;
    await berth('run', '--rm', '-v', `${v}:/data`, 'busybox', 'sh', '-c', 'echo hello > /data/msg');
    assert.ok((await volumeNames()).includes(v), 'created on first use');
    assert.equal(
      await berth('run', '--rm', '-v', `${v}:/in:ro`, 'busybox', 'cat', '/in/msg'),
      'hello\n',
    );
    const ro = await engine.berth([
      'run',
      '--rm',
      '-v',
      `${v}:/in:ro`,
      'busybox',
      'touch',
      '/in/x',
    ]);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
    await berth('volume', 'rm', v);
  });

  test('copy-up: a new volume gets the image content with owners and modes, once', async () => {
    const v = `${p}-copy`;
    const stat = "stat -c '%n %u:%g %a' /data /data/f /data/sub; readlink /data/link; cat /data/f";
    const want = '/data 1000:1000 750\n/data/f 1000:1000 640\n/data/sub 1000:1000 755\nf\nsecret\n';
    assert.equal(
      await berth('run', '--rm', '-v', `${v}:/data`, `${p}-img:v1`, 'sh', '-c', stat),
      want,
    );
    // The host side holds the same.
    const host = path.join(engine.dataRoot, 'volumes', v, '_data');
    const st = await fs.stat(path.join(host, 'f'));
    assert.equal(st.uid, 1000);
    assert.equal(st.mode & 0o777, 0o640);
    // Not again: a volume with content keeps it.
    await berth(
      'run',
      '--rm',
      '-v',
      `${v}:/data`,
      `${p}-img:v1`,
      'sh',
      '-c',
      'rm /data/f; echo mine > /data/g',
    );
    assert.equal(
      await berth('run', '--rm', '-v', `${v}:/data`, `${p}-img:v1`, 'ls', '/data'),
      'g\nlink\nsub\n',
    );
    // An exec is no new use: emptying the volume inside a running container leaves it empty.
    const e = `${p}-copy-exec`;
    const id = (await berth('run', '-d', '-v', `${e}:/data`, `${p}-img:v1`, 'sleep', '60')).trim();
    await berth('exec', id, 'sh', '-c', 'rm -rf /data/* /data/.[!.]* 2>/dev/null; true');
    assert.equal(await berth('exec', id, 'ls', '-A', '/data'), '');
    await berth('rm', '-f', id);
    await berth('volume', 'rm', e);
    // --mount type=volume copies too.
    const m = `${p}-copy2`;
    assert.equal(
      await berth('run', '--rm', '--mount', `src=${m},dst=/data`, `${p}-img:v1`, 'cat', '/data/f'),
      'secret\n',
    );
    await berth('volume', 'rm', v, m);
  });

  test('nocopy: -v name:/p:nocopy and volume-nocopy leave the volume empty', async () => {
    const a = `${p}-nc1`;
    const b = `${p}-nc2`;
    assert.equal(
      await berth('run', '--rm', '-v', `${a}:/data:nocopy`, `${p}-img:v1`, 'ls', '-A', '/data'),
      '',
    );
    assert.equal(
      await berth(
        'run',
        '--rm',
        '--mount',
        `type=volume,src=${b},dst=/data,volume-nocopy`,
        `${p}-img:v1`,
        'ls',
        '-A',
        '/data',
      ),
      '',
    );
    await berth('volume', 'rm', a, b);
  });

  test('image VOLUME makes an anonymous volume, filled from the image; run --rm removes it', async () => {
    const before = await volumeNames();
    const id = (
      await berth('create', '--name', `${p}-anon`, `${p}-vimg:v1`, 'cat', '/data/f')
    ).trim();
    const mounts = await mountsOf(id);
    assert.equal(mounts.length, 1);
    const [m] = mounts;
    assert.ok(m);
    assert.equal(m.Type, 'volume');
    assert.match(m.Name ?? '', /^[0-9a-f]{64}$/);
    assert.equal(m.Destination, '/data');
    assert.equal(m.Mode, '');
    assert.equal(m.RW, true);
    const [v] = JSON.parse(await berth('volume', 'inspect', m.Name ?? '')) as {
      Labels: Record<string, string>;
    }[];
    assert.deepEqual(v?.Labels, { 'com.docker.volume.anonymous': '' });
    await berth('start', '-a', id);
    // rm without -v keeps the anonymous volume; a dangling one is pruned by default.
    await berth('rm', id);
    assert.ok((await volumeNames()).includes(m.Name ?? ''));
    assert.match(
      await berth('volume', 'prune', '-f'),
      new RegExp(`Deleted Volumes:\n${m.Name ?? ''}\n`),
    );
    // run --rm removes its anonymous volumes, not the named ones.
    const named = `${p}-keep`;
    assert.equal(
      await berth(
        'run',
        '--rm',
        '-v',
        `${named}:/n`,
        '-v',
        '/anon',
        `${p}-vimg:v1`,
        'cat',
        '/data/f',
      ),
      'secret\n',
    );
    assert.deepEqual(await volumeNames(), [...before, named].sort());
    await berth('volume', 'rm', named);
  });

  test('rm -v removes anonymous volumes and keeps named ones', async () => {
    const before = await volumeNames();
    const named = `${p}-rmv`;
    await berth(
      'create',
      '--name',
      `${p}-rmv`,
      '-v',
      `${named}:/n`,
      '-v',
      '/a1',
      '--mount',
      'dst=/a2',
      'busybox',
      'true',
    );
    const mounts = await mountsOf(`${p}-rmv`);
    assert.deepEqual(
      mounts.map((m) => [m.Destination, m.Mode]),
      [
        ['/a1', ''],
        ['/a2', 'z'],
        ['/n', 'z'],
      ],
    );
    assert.equal((await volumeNames()).length, before.length + 3);
    await berth('rm', '-v', `${p}-rmv`);
    assert.deepEqual(await volumeNames(), [...before, named].sort());
    await berth('volume', 'rm', named);
  });

  test('volume events and system df -v as dockerd and the docker CLI show them', async () => {
    const v = `${p}-ev`;
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = (
      await berth(
        'run',
        '-d',
        '-v',
        `${v}:/e`,
        'busybox',
        'sh',
        '-c',
        'echo 12345 > /e/f; sleep 30',
      )
    ).trim();
    await waitFor(
      async () => (await engine.berth(['exec', id, 'cat', '/e/f'])).stdout === '12345\n',
    );
    const df = await berth('system', 'df', '-v');
    assert.match(
      df,
      /^Images space usage:\n\nREPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS\n/,
    );
    assert.match(
      df,
      /\nContainers space usage:\n\nCONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES\n/,
    );
    assert.match(
      df,
      new RegExp(
        `\\nLocal Volumes space usage:\\n\\nVOLUME NAME +LINKS +SIZE\\n(.*\\n)*${v} +1 +6B\\n`,
      ),
    );
    assert.match(df, /\nBuild cache usage: 0B\n/);
    await berth('rm', '-f', id);
    await berth('volume', 'rm', v);
    const until = Math.ceil(Date.now() / 1000) + 1;
    const filters = encodeURIComponent(JSON.stringify({ type: ['volume'], volume: [v] }));
    const r = await engine.api('GET', `/events?since=${since}&until=${until}&filters=${filters}`);
    const events = r.text
      .split('\n')
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as {
            Action: string;
            Actor: { ID: string; Attributes: Record<string, string> };
          },
      )
      .filter((e) => e.Actor.ID === v);
    assert.deepEqual(
      events.map((e) => e.Action),
      ['create', 'mount', 'unmount', 'destroy'],
    );
    assert.deepEqual(events[1]?.Actor.Attributes, {
      container: id,
      destination: '/e',
      driver: 'local',
      propagation: '',
      'read/write': 'true',
    });
  });

  test('ps --filter volume, system prune --volumes, --volume-driver', async () => {
    const v = `${p}-psf`;
    const id = (
      await berth('create', '-v', `${v}:/vv`, '-v', `${tmp}:/hostp`, 'busybox', 'true')
    ).trim();
    const short = id.slice(0, 12);
    assert.equal(await berth('ps', '-a', '-q', '--filter', `volume=${v}`), `${short}\n`);
    assert.equal(await berth('ps', '-a', '-q', '--filter', 'volume=/vv'), `${short}\n`);
    assert.equal(await berth('ps', '-a', '-q', '--filter', `volume=${tmp}`), `${short}\n`);
    assert.equal(await berth('ps', '-a', '-q', '--filter', `volume=${p}-none`), '');
    await berth('rm', id);
    // system prune --volumes takes the anonymous ones only (Docker 23+), with its own line.
    const anon = (await berth('create', '-v', '/anon-sp', 'busybox', 'true')).trim();
    const [m] = await mountsOf(anon);
    await berth('rm', anon);
    const out = await berth('system', 'prune', '-f', '--volumes');
    assert.match(out, new RegExp(`Deleted Volumes:\\n${m?.Name ?? '-'}\\n`));
    assert.ok((await volumeNames()).includes(v), 'named volume kept');
    await berth('volume', 'rm', v);
    const drv = await engine.berth([
      'run',
      '--rm',
      '--volume-driver',
      'nodriver',
      '-v',
      `${p}-drv:/x`,
      'busybox',
      'true',
    ]);
    assert.equal(drv.code, 125);
    assert.match(
      drv.stderr,
      /error looking up volume plugin nodriver: plugin "nodriver" not found/,
    );
    assert.ok(!(await volumeNames()).includes(`${p}-drv`));
  });

  test('cp reaches into volumes and binds, running or stopped, as dockerd', async () => {
    const v = `${p}-cp`;
    const local = path.join(tmp, 'cp-in.txt');
    await fs.writeFile(local, 'copied in\n');
    const id = (
      await berth(
        'run',
        '-d',
        '-v',
        `${v}:/vol`,
        '-v',
        `${tmp}:/hostdir:ro`,
        'busybox',
        'sleep',
        '60',
      )
    ).trim();
    await berth('cp', local, `${id}:/vol/in.txt`);
    assert.equal(await berth('exec', id, 'cat', '/vol/in.txt'), 'copied in\n');
    assert.equal(
      await fs.readFile(path.join(engine.dataRoot, 'volumes', v, '_data', 'in.txt'), 'utf8'),
      'copied in\n',
    );
    await berth('exec', id, 'sh', '-c', 'echo from ctr > /vol/out.txt');
    const out = path.join(tmp, 'cp-out.txt');
    await berth('cp', `${id}:/vol/out.txt`, out);
    assert.equal(await fs.readFile(out, 'utf8'), 'from ctr\n');
    assert.equal(
      await berth('cp', `${id}:/hostdir/cp-in.txt`, '-'),
      await berth('cp', `${id}:/hostdir/cp-in.txt`, '-'),
    );
    await berth('stop', '-t', '0', id);
    const out2 = path.join(tmp, 'cp-out2.txt');
    await berth('cp', `${id}:/vol/in.txt`, out2);
    assert.equal(await fs.readFile(out2, 'utf8'), 'copied in\n');
    // Nothing is left mounted on the container's tree, running or stopped.
    const left = (await fs.readFile('/proc/self/mountinfo', 'utf8'))
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(engine.dataRoot) || m.startsWith(engine.execRoot))
      .filter((m) => m.endsWith('/vol') || m.endsWith('/hostdir'));
    assert.deepEqual(left, []);
    await berth('rm', id);
    await berth('volume', 'rm', v);
  });

  test('a volume in use cannot be removed, even with force: 409 with dockerd words', async () => {
    const v = `${p}-busy`;
    const id = (await berth('create', '-v', `${v}:/d`, 'busybox', 'true')).trim();
    const r = await engine.api('DELETE', `/volumes/${v}?force=1`);
    assert.equal(r.status, 409);
    assert.deepEqual(r.body, { message: `remove ${v}: volume is in use - [${id}]` });
    const cli = await engine.berth(['volume', 'rm', v]);
    assert.equal(cli.code, 1);
    assert.equal(
      cli.stderr,
      `Error response from daemon: remove ${v}: volume is in use - [${id}]\n`,
    );
    // Not dangling, not pruned even with -a; df counts the user.
    assert.equal(
      await berth('volume', 'ls', '-q', '-f', 'dangling=false', '-f', `name=${v}`),
      `${v}\n`,
    );
    assert.doesNotMatch(await berth('volume', 'prune', '-a', '-f'), new RegExp(v));
    const df = (await engine.api('GET', '/system/df')).body as {
      Volumes: { Name: string; UsageData: { RefCount: number; Size: number } }[];
    };
    assert.equal(df.Volumes.find((x) => x.Name === v)?.UsageData.RefCount, 1);
    await berth('rm', id);
    assert.equal(await berth('volume', 'rm', v), `${v}\n`);
  });

  test('local driver tmpfs volume: mounted while in use, gone with the last user', async () => {
    const v = `${p}-tmpfs`;
    await berth(
      'volume',
      'create',
      '-o',
      'type=tmpfs',
      '-o',
      'device=tmpfs',
      '-o',
      'o=size=2m,mode=0711',
      v,
    );
    const info = await berth(
      'run',
      '--rm',
      '-v',
      `${v}:/t`,
      'busybox',
      'sh',
      '-c',
      "echo x > /t/x; stat -c %a /t; grep ' /t ' /proc/self/mountinfo",
    );
    assert.match(info, /^711\n/);
    assert.match(info, / \/t rw,.* - tmpfs tmpfs rw,.*size=2048k/);
    // The last user gone, the tmpfs was unmounted: a new one starts empty.
    assert.equal(await berth('run', '--rm', '-v', `${v}:/t`, 'busybox', 'ls', '-A', '/t'), '');
    // Two users share one mount.
    const a = (
      await berth(
        'run',
        '-d',
        '-v',
        `${v}:/t`,
        'busybox',
        'sh',
        '-c',
        'echo shared > /t/s; sleep 60',
      )
    ).trim();
    await waitFor(
      async () => (await engine.berth(['exec', a, 'cat', '/t/s'])).stdout === 'shared\n',
    );
    assert.equal(await berth('run', '--rm', '-v', `${v}:/t`, 'busybox', 'cat', '/t/s'), 'shared\n');
    await berth('rm', '-f', a);
    await berth('volume', 'rm', v);
  });

  test('local driver bind volume: -o type=none -o o=bind -o device=/path', async () => {
    const dir = path.join(tmp, 'bindvol');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'pre'), 'from host\n');
    const v = `${p}-bindvol`;
    await berth('volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', `device=${dir}`, v);
    const [info] = JSON.parse(await berth('volume', 'inspect', v)) as { Options: unknown }[];
    assert.deepEqual(info?.Options, { device: dir, o: 'bind', type: 'none' });
    assert.equal(
      await berth(
        'run',
        '--rm',
        '-v',
        `${v}:/b`,
        'busybox',
        'sh',
        '-c',
        'cat /b/pre; echo from ctr > /b/new',
      ),
      'from host\n',
    );
    assert.equal(await fs.readFile(path.join(dir, 'new'), 'utf8'), 'from ctr\n');
    // Removing the volume leaves the host directory alone.
    await berth('volume', 'rm', v);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['new', 'pre']);
    // A device that does not exist fails at start, with the mount named.
    const bad = `${p}-badbind`;
    await berth(
      'volume',
      'create',
      '-o',
      'type=none',
      '-o',
      'o=bind',
      '-o',
      `device=${tmp}/nope`,
      bad,
    );
    const r = await engine.berth(['run', '--rm', '-v', `${bad}:/b`, 'busybox', 'true']);
    assert.notEqual(r.code, 0);
    // dockerd ends the message with the errno's words: ENOENT here.
    assert.match(
      r.stderr,
      /failed to mount local volume: mount \S+nope:\S+, flags: 0x1000: no such file or directory/,
    );
    await berth('volume', 'rm', bad);
  });

  test('host binds: -v with mode and created source, --mount bind readonly and propagation', async () => {
    const src = path.join(tmp, 'made-by-v');
    await berth('run', '--rm', '-v', `${src}:/h:rw,z`, 'busybox', 'sh', '-c', 'echo hi > /h/f');
    assert.equal(await fs.readFile(path.join(src, 'f'), 'utf8'), 'hi\n');
    const id = (
      await berth(
        'create',
        '-v',
        `${src}:/h:ro`,
        '--mount',
        `type=bind,source=${src},target=/m,readonly,bind-propagation=rslave`,
        '--mount',
        'type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1777',
        'busybox',
        'sh',
        '-c',
        "grep -E ' /(h|m|t) ' /proc/self/mountinfo; stat -c %a /t",
      )
    ).trim();
    assert.deepEqual(await mountsOf(id), [
      {
        Type: 'bind',
        Source: src,
        Destination: '/h',
        Mode: 'ro',
        RW: false,
        Propagation: 'rprivate',
      },
      { Type: 'bind', Source: src, Destination: '/m', Mode: '', RW: false, Propagation: 'rslave' },
      { Type: 'tmpfs', Source: '', Destination: '/t', Mode: '', RW: true, Propagation: '' },
    ]);
    const out = await berth('start', '-a', id);
    assert.match(out, / \/h ro,/);
    assert.match(out, / \/m ro,/);
    assert.match(out, / \/t rw,.* - tmpfs tmpfs rw,size=1024k/);
    assert.match(out, /1777\n$/);
    await berth('rm', id);
  });

  test('--volumes-from shares volumes and binds, :ro makes them read-only', async () => {
    const v = `${p}-from`;
    const src = (
      await berth(
        'create',
        '--name',
        `${p}-src`,
        '-v',
        `${v}:/shared`,
        '-v',
        '/anon',
        '-v',
        `${tmp}:/hostdir`,
        'busybox',
        'true',
      )
    ).trim();
    await berth(
      'run',
      '--rm',
      '--volumes-from',
      `${p}-src`,
      'busybox',
      'sh',
      '-c',
      'echo via > /shared/x; echo a > /anon/y',
    );
    const id = (
      await berth(
        'create',
        '--volumes-from',
        `${p}-src:ro`,
        'busybox',
        'sh',
        '-c',
        'cat /shared/x /anon/y; touch /shared/z',
      )
    ).trim();
    const mounts = await mountsOf(id);
    assert.deepEqual(
      mounts.map((m) => [m.Type, m.Destination, m.Mode, m.RW]),
      [
        ['volume', '/anon', '', false],
        ['bind', '/hostdir', '', false],
        ['volume', '/shared', '', false],
      ],
    );
    const r = await engine.berth(['start', '-a', id]);
    assert.equal(r.stdout, 'via\na\n');
    assert.match(r.stderr, /Read-only file system/);
    // The anonymous volume is the source's: rm -v of the borrower leaves it.
    const anon = mounts.find((m) => m.Destination === '/anon')?.Name ?? '';
    await berth('rm', '-v', id);
    assert.ok((await volumeNames()).includes(anon));
    const missing = await engine.berth([
      'create',
      '--volumes-from',
      `${p}-nosuch`,
      'busybox',
      'true',
    ]);
    assert.match(missing.stderr, /No such container: vol-.*-nosuch/);
    await berth('rm', '-v', src);
    assert.ok(!(await volumeNames()).includes(anon));
    await berth('volume', 'rm', v);
  });

  test('volumes and their users survive a restart and a crash of berthd', async () => {
    const v = `${p}-keep-restart`;
    const t = `${p}-tmpfs-restart`;
    await berth('volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', t);
    const id = (
      await berth(
        'run',
        '-d',
        '-v',
        `${v}:/d`,
        '-v',
        `${t}:/t`,
        'busybox',
        'sh',
        '-c',
        'echo kept > /d/f; echo live > /t/f; sleep 300',
      )
    ).trim();
    await waitFor(
      async () => (await engine.berth(['exec', id, 'cat', '/t/f'])).stdout === 'live\n',
    );
    await engine.stopDaemon();
    await engine.restart();
    let r = await engine.api('DELETE', `/volumes/${v}`);
    assert.equal(r.status, 409, 'still in use after a restart');
    await engine.crash();
    await engine.restart();
    r = await engine.api('DELETE', `/volumes/${t}?force=1`);
    assert.equal(r.status, 409, 'still in use after a crash');
    // The running container still has its tmpfs content; a second user shares it.
    assert.equal(await berth('run', '--rm', '-v', `${t}:/t`, 'busybox', 'cat', '/t/f'), 'live\n');
    await berth('rm', '-f', id);
    assert.equal(await berth('run', '--rm', '-v', `${v}:/d`, 'busybox', 'cat', '/d/f'), 'kept\n');
    await berth('volume', 'rm', v, t);
  });
});

async function waitFor(cond: () => Promise<boolean>, what = 'condition'): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// ---- the same observations against the anchor dockerd -----------------------------------------

const anchorHost = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';
const anchorTar = '/var/lib/berth-anchors/busybox-rootfs.tar';

describe('against the anchor dockerd', () => {
  const d = `${p}-diff`;
  const image = `${d}-img:latest`;
  const anchorContainers: string[] = [];
  const anchorVolumes: string[] = [];
  const anchorImages: string[] = [];
  let anchorDataRoot = '';

  const anchor = (args: string[]): Promise<CommandResult> =>
    runCommand('docker', args, { DOCKER_HOST: anchorHost });
  const both = async (args: string[]): Promise<{ a: CommandResult; b: CommandResult }> => ({
    a: await anchor(args),
    b: await engine.docker(args),
  });
  /** Volume names and paths under each engine's data root made alike. */
  const norm = (text: string, dataRoot: string): string =>
    text
      .replaceAll(`${dataRoot}/volumes/`, '<root>/volumes/')
      .replace(/\b[0-9a-f]{64}\b/g, '<ID>')
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, '<time>');
  const same = async (
    args: string[],
    shape: (s: string) => string = (s) => s,
    /** An expected difference: dockerd's words since 20.10, applied to the anchor's output. */
    current: (s: string) => string = (s) => s,
  ): Promise<{ stdout: string; stderr: string; code: number }> => {
    const { a, b } = await both(args);
    const view = (
      r: CommandResult,
      root: string,
    ): { stdout: string; stderr: string; code: number } => ({
      stdout: shape(norm(r.stdout, root)),
      stderr: shape(norm(r.stderr.split('\n')[0] ?? '', root)),
      code: r.code,
    });
    const got = view(b, engine.dataRoot);
    assert.deepEqual(
      got,
      (({ stdout, stderr, code }) => ({ stdout, stderr: current(stderr), code }))(
        view(a, anchorDataRoot),
      ),
      `docker ${args.join(' ')}\nanchor: ${JSON.stringify(a)}\nberth: ${JSON.stringify(b)}`,
    );
    return got;
  };
  const setup = async (args: string[]): Promise<void> => {
    const { a, b } = await both(args);
    assert.equal(a.code, 0, `anchor: docker ${args.join(' ')}: ${a.stderr}`);
    assert.equal(b.code, 0, `berth: docker ${args.join(' ')}: ${b.stderr}`);
  };

  before(async () => {
    const info = await anchor(['info', '--format', '{{.DockerRootDir}}']);
    if (info.code !== 0) {
      throw new Error(`the anchor dockerd at ${anchorHost} is unreachable: ${info.stderr.trim()}`);
    }
    anchorDataRoot = info.stdout.trim();
    await setup(['import', anchorTar, image]);
  });

  after(async () => {
    for (const c of anchorContainers) await anchor(['rm', '-f', '-v', c]);
    // dockerd lets go of an auto-removed container's volumes a moment after the removal.
    for (const v of anchorVolumes) {
      for (let i = 0; i < 50; i++) {
        if ((await anchor(['volume', 'rm', '-f', v])).code === 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    for (const img of anchorImages) await anchor(['rmi', '-f', img]);
    await anchor(['rmi', '-f', image]);
  });

  test('volume create, inspect, ls and their errors', async () => {
    const v = `${d}-t`;
    anchorVolumes.push(v, `${d}-n`);
    await same([
      'volume',
      'create',
      '--label',
      'a=b',
      '-o',
      'type=tmpfs',
      '-o',
      'device=tmpfs',
      '-o',
      'o=size=1m',
      v,
    ]);
    await same(['volume', 'create', `${d}-n`]);
    await same(['volume', 'inspect', v, `${d}-n`]);
    await same(['volume', 'ls', '--filter', `name=${d}`]);
    await same(['volume', 'ls', '-q', '--filter', `name=${d}`, '--filter', 'label=a=b']);
    await same([
      'volume',
      'inspect',
      '--format',
      '{{.Name}} {{.Driver}} {{.Scope}} {{.Options}}',
      v,
    ]);
    await same(['volume', 'create', 'a#b']);
    await same(['volume', 'create', 'x']);
    await same(['volume', 'create', '-o', 'foo=bar', `${d}-bad`]);
    await same(['volume', 'create', '-o', 'type=none', `${d}-bad`]);
    await same(['volume', 'inspect', `${d}-none`]);
    await same(['volume', 'rm', `${d}-none`]);
    await same(['volume', 'rm', '-f', `${d}-none`]);
    // dockerd 23 lowered "Invalid filter" to "invalid filter".
    const lower = (s: string): string => s.replace(': Invalid filter', ': invalid filter');
    await same(['volume', 'ls', '--filter', 'bogus=1'], undefined, lower);
    await same(['volume', 'ls', '--filter', 'dangling=maybe'], undefined, lower);
  });

  test('run -v: what the container sees in mountinfo, and copy-up of the image', async () => {
    const t = `${d}-t`;
    const v = `${d}-run`;
    anchorVolumes.push(v, `${d}-etc`);
    // Mount point, per-mount options and filesystem type of the volume mounts.
    const fields =
      'awk \'$5 ~ /^\\/(data|ro|tv)$/ {for (i = 7; $i != "-"; i++); print $5, $6, $(i+1), $(i+3)}\' /proc/self/mountinfo | sort';
    await same(
      [
        'run',
        '--rm',
        '-v',
        `${t}:/tv`,
        '-v',
        `${v}:/data`,
        '-v',
        `${v}:/ro:ro`,
        image,
        'sh',
        '-c',
        fields,
      ],
      (s) =>
        // The filesystem under each engine's data root is the host's business; tmpfs is not.
        s.replace(/^(\/(?:data|ro) \S+) \S+ \S+$/gm, '$1 <fs>'),
    );
    // An image with a directory of files owned by 1000:1000 in odd modes, made by commit on
    // each engine; a new volume mounted over it is filled with the same owners and modes.
    anchorContainers.push(`${d}-base`);
    await setup([
      'run',
      '--name',
      `${d}-base`,
      image,
      'sh',
      '-c',
      'mkdir -p /data/sub && echo s > /data/f && chown -R 1000:1000 /data && chmod 0640 /data/f && chmod 0750 /data && chmod 0701 /data/sub && ln -s f /data/l',
    ]);
    await setup(['commit', `${d}-base`, `${d}-img2:v1`]);
    anchorImages.push(`${d}-img2:v1`);
    await same([
      'run',
      '--rm',
      '-v',
      `${d}-etc:/data`,
      `${d}-img2:v1`,
      'sh',
      '-c',
      "stat -c '%n %u:%g %a %F' /data /data/f /data/sub /data/l; cat /data/f",
    ]);
    await same(['run', '--rm', '-v', `${v}:/data`, image, 'sh', '-c', 'echo kept > /data/f']);
    await same([
      'run',
      '--rm',
      '-v',
      `${v}:/data:ro`,
      image,
      'sh',
      '-c',
      'cat /data/f; touch /data/g',
    ]);
    await same(['run', '--rm', '-v', '/x:/y:bogus', image, 'true']);
    await same(['run', '--rm', '-v', `${v}:rel`, image, 'true']);
    await same([
      'run',
      '--rm',
      '--mount',
      'type=bind,src=/nonexistent-berth,dst=/x',
      image,
      'true',
    ]);
  });

  test('inspect Mounts of volumes, binds, tmpfs and --volumes-from', async () => {
    const c1 = `${d}-c1`;
    const c2 = `${d}-c2`;
    anchorContainers.push(c1, c2);
    anchorVolumes.push(`${d}-m1`, `${d}-m2`);
    await setup([
      'create',
      '--name',
      c1,
      '-v',
      `${d}-m1:/data`,
      '-v',
      `${d}-m2:/ro:ro`,
      '-v',
      '/anon',
      '-v',
      '/tmp:/h:ro,Z',
      '--mount',
      'type=volume,dst=/anon2',
      '--mount',
      'type=bind,src=/tmp,dst=/b,readonly,bind-propagation=rslave',
      '--mount',
      'type=tmpfs,dst=/t,tmpfs-size=1m',
      image,
      'true',
    ]);
    const sortJson = (s: string): string => {
      if (!s.startsWith('[')) return s;
      const list = JSON.parse(s) as MountJson[];
      return JSON.stringify(list.sort((x, y) => x.Destination.localeCompare(y.Destination)));
    };
    await same(['inspect', '-f', '{{json .Mounts}}', c1], sortJson);
    await same(['inspect', '-f', '{{json .HostConfig.Mounts}} {{json .Config.Volumes}}', c1]);
    // The docker CLI sends -v binds in its own (map) order: compare them as a set.
    await same(['inspect', '-f', '{{json .HostConfig.Binds}}', c1], (s) =>
      s.startsWith('[') ? JSON.stringify((JSON.parse(s) as string[]).sort()) : s,
    );
    await same(['volume', 'rm', `${d}-m1`], (s) => s.replace(/\[[0-9a-f]{64}\]/, '[<ID>]'));
    // dockerd 20.10 cannot take --volumes-from a container with a tmpfs mount; the second
    // container has none.
    const c3 = `${d}-c3`;
    anchorContainers.push(c3);
    await setup([
      'create',
      '--name',
      c3,
      '-v',
      `${d}-m1:/data`,
      '-v',
      '/anon',
      '-v',
      '/tmp:/h:ro',
      image,
      'true',
    ]);
    await setup([
      'create',
      '--name',
      c2,
      '--volumes-from',
      `${c3}:ro`,
      '-v',
      `${d}-m2:/data`,
      image,
      'true',
    ]);
    await same(['inspect', '-f', '{{json .Mounts}}', c2], sortJson);
    await same(['create', '--volumes-from', `${d}-nosuch`, image, 'true']);
  });
});
