import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from '../../errors/index.js';
import type { ContainerConfig, HostConfig } from '../../spec/engine.js';
import type { ImageRuntimeConfig } from '../../spec/oci-image.js';
import { buildSpec, defaultCapabilities, resolveArgs, type SpecInput } from './spec.js';
import { resolveUser } from './user.js';

const id = 'abc123';

function input(
  config: ContainerConfig = {},
  hostConfig: HostConfig = {},
  image: ImageRuntimeConfig = { Cmd: ['sh'] },
  extra: Partial<SpecInput> = {},
): SpecInput {
  return {
    id,
    config,
    hostConfig,
    image,
    user: { uid: 0, gid: 0, additionalGids: [0] },
    hostname: 'abc123',
    mounts: [],
    ...extra,
  };
}

function mount(spec: ReturnType<typeof buildSpec>, dest: string): (typeof spec.mounts)[number] {
  const m = spec.mounts.find((x) => x.destination === dest);
  assert.ok(m, `mount ${dest}`);
  return m;
}

describe('buildSpec defaults', () => {
  const spec = buildSpec(input());

  test('capabilities are Docker defaults in bounding/effective/permitted', () => {
    assert.deepEqual(spec.process.capabilities?.bounding, defaultCapabilities);
    assert.deepEqual(spec.process.capabilities?.effective, defaultCapabilities);
    assert.deepEqual(spec.process.capabilities?.permitted, defaultCapabilities);
    assert.equal(spec.process.capabilities?.inheritable, undefined);
  });

  test('default mounts, shm 64m', () => {
    assert.deepEqual(
      spec.mounts.map((m) => m.destination),
      ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm'],
    );
    assert.deepEqual(mount(spec, '/dev/shm').options, [
      'nosuid',
      'noexec',
      'nodev',
      'mode=1777',
      'size=67108864',
    ]);
    assert.ok(mount(spec, '/sys').options?.includes('ro'));
    assert.equal(mount(spec, '/sys/fs/cgroup').type, 'cgroup');
  });

  test('namespaces, env, cwd, cgroups path, masked paths, device rules', () => {
    assert.deepEqual(
      spec.linux.namespaces.map((n) => n.type),
      ['mount', 'network', 'uts', 'pid', 'ipc'],
    );
    assert.deepEqual(spec.process.env, [
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=abc123',
    ]);
    assert.equal(spec.process.cwd, '/');
    assert.equal(spec.process.terminal, false);
    assert.equal(spec.process.noNewPrivileges, undefined);
    assert.equal(spec.process.rlimits, undefined);
    assert.equal(spec.linux.cgroupsPath, '/berth/abc123');
    assert.equal(spec.hostname, 'abc123');
    assert.ok(spec.linux.maskedPaths?.includes('/proc/kcore'));
    assert.ok(spec.linux.readonlyPaths?.includes('/proc/sys'));
    assert.deepEqual(spec.linux.resources?.devices?.[0], { allow: false, access: 'rwm' });
    assert.equal(spec.linux.sysctl?.['net.ipv4.ip_unprivileged_port_start'], '0');
    assert.deepEqual(spec.process.args, ['sh']);
    assert.equal(spec.process.oomScoreAdj, 0);
  });
});

describe('args', () => {
  const image: ImageRuntimeConfig = { Entrypoint: ['/ep'], Cmd: ['a', 'b'] };
  test('image entrypoint + cmd', () => {
    assert.deepEqual(resolveArgs({}, image), ['/ep', 'a', 'b']);
  });
  test('container cmd replaces image cmd, keeps entrypoint', () => {
    assert.deepEqual(resolveArgs({ Cmd: ['c'] }, image), ['/ep', 'c']);
  });
  test('container entrypoint drops image cmd', () => {
    assert.deepEqual(resolveArgs({ Entrypoint: ['/x'] }, image), ['/x']);
    assert.deepEqual(resolveArgs({ Entrypoint: ['/x'], Cmd: ['y'] }, image), ['/x', 'y']);
  });
  test('empty entrypoint uses image cmd only', () => {
    assert.deepEqual(resolveArgs({ Entrypoint: [] }, image), ['a', 'b']);
    // [""] is not empty for the merge, so the image Cmd does not apply; then it means none.
    assert.deepEqual(resolveArgs({ Entrypoint: [''], Cmd: ['z'] }, { Entrypoint: ['/ep'] }), ['z']);
    assert.throws(() => resolveArgs({ Entrypoint: [''] }, { Cmd: ['z'] }), InvalidArgumentError);
  });
  test('nothing to run', () => {
    assert.throws(() => resolveArgs({}, {}), { message: 'no command specified' });
  });
});

test('env: image merged under container, TERM with tty, PATH replaced', () => {
  const spec = buildSpec(
    input({ Env: ['A=1', 'PATH=/bin'], Tty: true }, {}, { Env: ['A=0', 'B=2'], Cmd: ['sh'] }),
  );
  assert.deepEqual(spec.process.env, ['PATH=/bin', 'HOSTNAME=abc123', 'TERM=xterm', 'A=1', 'B=2']);
  assert.equal(spec.process.terminal, true);
});

test('cwd from container, else image', () => {
  assert.equal(buildSpec(input({}, {}, { Cmd: ['sh'], WorkingDir: '/img' })).process.cwd, '/img');
  assert.equal(
    buildSpec(input({ WorkingDir: '/c' }, {}, { Cmd: ['sh'], WorkingDir: '/img' })).process.cwd,
    '/c',
  );
});

describe('capabilities', () => {
  const caps = (h: HostConfig): string[] =>
    buildSpec(input({}, h)).process.capabilities?.bounding ?? [];
  test('add and drop, CAP_ optional, case-insensitive', () => {
    const c = caps({ CapAdd: ['sys_admin'], CapDrop: ['CAP_CHOWN', 'net_raw'] });
    assert.ok(c.includes('CAP_SYS_ADMIN'));
    assert.ok(!c.includes('CAP_CHOWN'));
    assert.ok(!c.includes('CAP_NET_RAW'));
    assert.ok(c.includes('CAP_KILL'));
  });
  test('drop ALL keeps only added', () => {
    assert.deepEqual(caps({ CapDrop: ['ALL'], CapAdd: ['KILL'] }), ['CAP_KILL']);
  });
  test('add ALL minus dropped', () => {
    const c = caps({ CapAdd: ['ALL'], CapDrop: ['SYS_ADMIN'] });
    assert.ok(c.includes('CAP_SYS_PTRACE'));
    assert.ok(!c.includes('CAP_SYS_ADMIN'));
  });
  test('capability missing from this environment', () => {
    assert.throws(
      () =>
        buildSpec(
          input(
            {},
            { CapAdd: ['SYS_RESOURCE'] },
            { Cmd: ['sh'] },
            { allCapabilities: ['CAP_KILL'] },
          ),
        ),
      {
        message:
          'invalid CapAdd: capability not supported by your kernel or not available in the current environment: "CAP_SYS_RESOURCE"',
      },
    );
  });
  test('unknown capability', () => {
    assert.throws(() => caps({ CapAdd: ['FOO'] }), {
      name: 'InvalidArgumentError',
      message: 'invalid CapAdd: unknown capability: "CAP_FOO"',
    });
  });
});

test('privileged: all caps, all devices, no masked/readonly paths, rw /sys', () => {
  const spec = buildSpec(
    input(
      {},
      { Privileged: true },
      { Cmd: ['sh'] },
      {
        hostDevices: [{ path: '/dev/loop0', type: 'b', major: 7, minor: 0 }],
      },
    ),
  );
  assert.ok(spec.process.capabilities?.bounding.includes('CAP_SYS_ADMIN'));
  assert.equal(spec.process.capabilities?.bounding.length, 41);
  assert.deepEqual(spec.linux.resources?.devices, [{ allow: true, access: 'rwm' }]);
  assert.deepEqual(spec.linux.devices?.[0]?.path, '/dev/loop0');
  assert.equal(spec.linux.maskedPaths, undefined);
  assert.equal(spec.linux.readonlyPaths, undefined);
  assert.ok(!mount(spec, '/sys').options?.includes('ro'));
  assert.ok(!mount(spec, '/sys/fs/cgroup').options?.includes('ro'));
});

test('namespace modes: host drops, container: joins via resolver', () => {
  const spec = buildSpec(
    input(
      {},
      { NetworkMode: 'host', PidMode: 'container:other', IpcMode: 'host', UTSMode: 'host' },
      { Cmd: ['sh'] },
      {
        namespacePath: (c, kind) => `/proc/42/ns/${kind}#${c}`,
      },
    ),
  );
  assert.deepEqual(spec.linux.namespaces, [
    { type: 'mount' },
    { type: 'pid', path: '/proc/42/ns/pid#other' },
  ]);
  assert.equal(spec.hostname, '');
  assert.equal(spec.linux.sysctl?.['net.ipv4.ping_group_range'], undefined);
  const joined = buildSpec(
    input(
      {},
      { NetworkMode: 'container:x' },
      { Cmd: ['sh'] },
      {
        namespacePath: (_c, kind) => `/proc/7/ns/${kind}`,
      },
    ),
  );
  assert.deepEqual(joined.linux.namespaces[1], { type: 'network', path: '/proc/7/ns/net' });
  assert.throws(() => buildSpec(input({}, { PidMode: 'bogus' })), {
    message: 'invalid PID mode: bogus',
  });
  assert.throws(() => buildSpec(input({}, { IpcMode: 'bogus' })), {
    message: 'invalid IPC mode: bogus',
  });
});

test('ipc none drops /dev/shm; ShmSize sets its size', () => {
  const none = buildSpec(input({}, { IpcMode: 'none' }));
  assert.ok(!none.mounts.some((m) => m.destination === '/dev/shm'));
  const sized = buildSpec(input({}, { ShmSize: 1048576 }));
  assert.ok(mount(sized, '/dev/shm').options?.includes('size=1048576'));
});

test('resources', () => {
  const spec = buildSpec(
    input(
      {},
      {
        Memory: 64 * 1024 * 1024,
        MemoryReservation: 32 * 1024 * 1024,
        CpuShares: 512,
        NanoCpus: 1500000000,
        CpusetCpus: '0',
        CpusetMems: '0',
        PidsLimit: 100,
        BlkioWeight: 300,
        OomKillDisable: true,
        OomScoreAdj: 500,
      },
    ),
  );
  const r = spec.linux.resources;
  assert.deepEqual(r?.memory, {
    limit: 67108864,
    reservation: 33554432,
    swap: 134217728,
    disableOOMKiller: true,
  });
  assert.deepEqual(r?.cpu, { shares: 512, cpus: '0', mems: '0', period: 100000, quota: 150000 });
  assert.deepEqual(r?.pids, { limit: 100 });
  assert.deepEqual(r?.blockIO, { weight: 300 });
  assert.equal(spec.process.oomScoreAdj, 500);
  const q = buildSpec(
    input({}, { CpuQuota: 50000, CpuPeriod: 200000, MemorySwap: -1, Memory: 8e6 }),
  );
  assert.deepEqual(q.linux.resources?.cpu, { quota: 50000, period: 200000 });
  assert.deepEqual(q.linux.resources?.memory, { limit: 8e6 });
  assert.deepEqual(buildSpec(input({}, { PidsLimit: 0 })).linux.resources?.pids, { limit: -1 });
});

test('validation with dockerd messages', () => {
  const cases: [HostConfig, string][] = [
    [{ Memory: 1024 }, 'Minimum memory limit allowed is 6MB'],
    [
      { Memory: 8e6, MemorySwap: 7e6 },
      'Minimum memoryswap limit should be larger than memory limit, see usage',
    ],
    [
      { MemorySwap: 8e6 },
      'You should always set the Memory limit when using Memoryswap limit, see usage',
    ],
    [{ MemoryReservation: 1000 }, 'Minimum memory reservation allowed is 6MB'],
    [
      { NanoCpus: 1e9, CpuQuota: 10000 },
      'Conflicting options: Nano CPUs and CPU Quota cannot both be set',
    ],
    [
      { CpuPeriod: 10 },
      'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)',
    ],
    [{ BlkioWeight: 5 }, 'Range of blkio weight is from 10 to 1000'],
    [{ OomScoreAdj: 2000 }, 'Invalid value 2000, range for oom score adj is [-1000, 1000]'],
    [
      { RestartPolicy: { Name: 'sometimes' as 'no' } },
      "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'",
    ],
    [
      { RestartPolicy: { Name: 'always', MaximumRetryCount: 2 } },
      "invalid restart policy: maximum retry count can only be used with 'on-failure'",
    ],
    [
      { AutoRemove: true, RestartPolicy: { Name: 'always' } },
      "can't create 'AutoRemove' container with restart policy",
    ],
    [{ Tmpfs: { '/x': 'size=1m' } }, 'Duplicate mount point: /x'],
    [{ Tmpfs: { relative: '' } }, "invalid mount path: 'relative' mount path must be absolute"],
    [{ SecurityOpt: ['bogus'] }, 'invalid --security-opt 1: "bogus"'],
  ];
  // The resolved mounts meet HostConfig.Tmpfs here (the volume layer parsed Binds and Mounts).
  const bound = { mounts: [{ destination: '/x', kind: 'bind', source: '/b', writable: true }] };
  for (const [h, message] of cases) {
    assert.throws(
      () => buildSpec(input({}, h, { Cmd: ['sh'] }, bound as Partial<SpecInput>)),
      (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, `${message}: ${String(err)}`);
        assert.equal(err.message, message);
        return true;
      },
    );
  }
  assert.throws(() => buildSpec(input({ Hostname: 'x'.repeat(65) })), /is too long/);
});

test('binds, tmpfs, network files, readonly rootfs, sorted by depth', () => {
  const spec = buildSpec(
    input(
      {},
      {
        Tmpfs: { '/run': 'size=1m,exec' },
        ReadonlyRootfs: true,
      },
      { Cmd: ['sh'] },
      {
        files: { hosts: '/h/hosts', hostname: '/h/hostname', resolvConf: '/h/resolv.conf' },
        mounts: [
          {
            destination: '/a/b',
            kind: 'bind',
            source: '/host/a',
            writable: false,
            propagation: 'rprivate',
          },
          {
            destination: '/c',
            kind: 'bind',
            source: '/host/c',
            writable: true,
            propagation: 'rprivate',
          },
        ],
      },
    ),
  );
  const user = spec.mounts.slice(7);
  assert.deepEqual(
    user.map((m) => m.destination),
    ['/c', '/run', '/a/b', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts'],
  );
  assert.deepEqual(mount(spec, '/a/b'), {
    destination: '/a/b',
    type: 'bind',
    source: '/host/a',
    options: ['rbind', 'ro', 'rprivate'],
  });
  assert.deepEqual(mount(spec, '/c').options, ['rbind', 'rprivate']);
  assert.deepEqual(mount(spec, '/run').options, ['nosuid', 'nodev', 'rprivate', 'size=1m', 'exec']);
  assert.deepEqual(mount(spec, '/etc/hosts').options, ['rbind', 'ro', 'rprivate']);
  assert.equal(spec.root.readonly, true);
  assert.ok(!mount(spec, '/dev/shm').options?.includes('ro'));
});

test('init, no-new-privileges, ulimits, sysctls, cgroup parent', () => {
  const spec = buildSpec(
    input(
      { Cmd: ['echo', 'hi'] },
      {
        Init: true,
        SecurityOpt: ['no-new-privileges:true'],
        Ulimits: [{ Name: 'nofile', Soft: 100, Hard: 200 }],
        Sysctls: { 'net.ipv4.ip_forward': '1' },
        CgroupParent: '/mine',
        DeviceCgroupRules: ['c 42:* rmw'],
      },
      { Cmd: ['sh'] },
      { initPath: '/usr/bin/tini-static' },
    ),
  );
  assert.deepEqual(spec.process.args, ['/sbin/docker-init', '--', 'echo', 'hi']);
  assert.deepEqual(mount(spec, '/sbin/docker-init'), {
    destination: '/sbin/docker-init',
    type: 'bind',
    source: '/usr/bin/tini-static',
    options: ['bind', 'ro'],
  });
  assert.equal(spec.process.noNewPrivileges, true);
  assert.deepEqual(spec.process.rlimits, [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }]);
  assert.equal(spec.linux.sysctl?.['net.ipv4.ip_forward'], '1');
  assert.equal(spec.linux.cgroupsPath, '/mine/abc123');
  assert.deepEqual(spec.linux.resources?.devices?.at(-1), {
    allow: true,
    type: 'c',
    major: 42,
    access: 'rmw',
  });
});

describe('resolveUser', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'berth-user-'));
  await mkdir(path.join(root, 'etc'));
  await writeFile(
    path.join(root, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\n',
  );
  await writeFile(
    path.join(root, 'etc/group'),
    'root:x:0:\nwww:x:33:\nwheel:x:10:root,www\naudio:x:29:\n',
  );

  test('default root with supplementary groups', async () => {
    assert.deepEqual(await resolveUser(root, ''), { uid: 0, gid: 0, additionalGids: [0, 10] });
  });
  test('by name and by uid', async () => {
    assert.deepEqual(await resolveUser(root, 'www'), {
      uid: 33,
      gid: 33,
      additionalGids: [33, 10],
    });
    assert.deepEqual(await resolveUser(root, '33'), { uid: 33, gid: 33, additionalGids: [33, 10] });
  });
  test('numeric without entry', async () => {
    assert.deepEqual(await resolveUser(root, '1000:1000'), {
      uid: 1000,
      gid: 1000,
      additionalGids: [1000],
    });
    assert.deepEqual(await resolveUser(root, '1000'), { uid: 1000, gid: 0, additionalGids: [0] });
  });
  test('explicit group and group-add', async () => {
    assert.deepEqual(await resolveUser(root, 'www:audio', ['wheel']), {
      uid: 33,
      gid: 29,
      additionalGids: [29, 10],
    });
  });
  test('unknown names', async () => {
    await assert.rejects(resolveUser(root, 'nobody'), {
      name: 'InvalidArgumentError',
      message: 'unable to find user nobody: no matching entries in passwd file',
    });
    await assert.rejects(resolveUser(root, 'root:nogroup'), {
      message: 'unable to find group nogroup: no matching entries in group file',
    });
  });
  test('cleanup', async () => {
    await rm(root, { recursive: true });
  });
});
