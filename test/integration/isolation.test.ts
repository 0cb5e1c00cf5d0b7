import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import { after, before, describe, test } from 'node:test';
import { runCommand, startEngine, type CommandResult, type Engine } from './harness.js';

// Issue #4's differential suite: each isolation flag given to `run` on the anchor dockerd and
// on berthd yields the same HostConfig fields and the same observations from inside the
// container (cgroup files, /proc/self/status, namespaces, mounts). The docker CLI drives both
// engines, so both get the same request; the berth CLI is then checked to send the same
// HostConfig as the docker CLI for the same flags. Observations read the cgroup v1 file and
// fall back to the v2 one, so the suite runs on either layout.

const anchorHost = process.env.ANCHOR_DOCKER_HOST ?? 'unix:///run/berth-anchors/docker.sock';
const anchorTar = '/var/lib/berth-anchors/busybox-rootfs.tar';
const sfx = randomBytes(3).toString('hex');
const p = `iso-${sfx}`;
const image = `${p}-img:latest`;
const cgroupParent = `/${p}-parent`;
/** A running container on each engine whose namespaces `container:` modes join. */
const target = `${p}-target`;

let engine: Engine;

function anchor(args: string[]): Promise<CommandResult> {
  return runCommand('docker', args, { DOCKER_HOST: anchorHost });
}

/** `cat` of a cgroup file: the v1 path, else the v2 one. */
const cg = (v1: string, v2: string): string =>
  `cat /sys/fs/cgroup/${v1} 2>/dev/null || cat /sys/fs/cgroup/${v2}`;

// The host's own namespaces, so that "shares the host's" shows as HOST on both engines.
const hostNs = Object.fromEntries(
  ['pid', 'ipc', 'net', 'uts', 'cgroup', 'user', 'mnt'].map((k) => [
    readlinkSync(`/proc/self/ns/${k}`),
    `HOST-${k}`,
  ]),
);

function normalizeOut(text: string): string {
  let out = text;
  for (const [link, name] of Object.entries(hostNs)) out = out.split(link).join(name);
  // A namespace of the container's own: its inode differs per container.
  out = out.replace(/\b(pid|ipc|net|uts|cgroup|user|mnt):\[\d+\]/g, '$1:[OWN]');
  return out.split(os.hostname()).join('HOSTNAME');
}

interface Case {
  name: string;
  flags: string[];
  /**
   * A field the docker CLI 28 no longer sends at API 1.47 (berth's) though it does at 1.41
   * (the anchor's): the docker CLI's stderr against berthd is then not compared.
   */
  dockerCliDrops?: boolean;
  /** What dockerd has changed since the anchor's 20.10: the anchor's outcome made current. */
  current?: (r: Run) => Run;
  /** Shell run inside the container; its output must match. */
  observe: string;
  /** HostConfig fields that must be equal. */
  fields: string[];
}

const cases: Case[] = [
  {
    name: '-m',
    flags: ['-m', '32m'],
    observe: cg('memory/memory.limit_in_bytes', 'memory.max'),
    fields: ['Memory', 'MemorySwap'],
  },
  {
    name: '--memory-swap larger',
    flags: ['-m', '32m', '--memory-swap', '64m'],
    observe: `${cg('memory/memory.memsw.limit_in_bytes', 'memory.swap.max')}`,
    fields: ['Memory', 'MemorySwap'],
  },
  {
    name: '--memory-swap equal',
    flags: ['-m', '32m', '--memory-swap', '32m'],
    observe: `${cg('memory/memory.memsw.limit_in_bytes', 'memory.swap.max')}`,
    fields: ['Memory', 'MemorySwap'],
  },
  {
    name: '--memory-swap -1',
    flags: ['-m', '32m', '--memory-swap', '-1'],
    observe: `${cg('memory/memory.memsw.limit_in_bytes', 'memory.swap.max')}`,
    fields: ['Memory', 'MemorySwap'],
  },
  {
    name: '--memory-reservation',
    flags: ['--memory-reservation', '16m'],
    observe: cg('memory/memory.soft_limit_in_bytes', 'memory.low'),
    fields: ['MemoryReservation'],
  },
  {
    name: '--memory-swappiness',
    flags: ['--memory-swappiness', '10'],
    observe: cg('memory/memory.swappiness', 'memory.swap.max'),
    fields: ['MemorySwappiness'],
  },
  {
    name: '--oom-kill-disable',
    flags: ['-m', '32m', '--oom-kill-disable'],
    observe: 'head -1 /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null || echo v2',
    fields: ['OomKillDisable', 'Memory'],
  },
  {
    name: '--kernel-memory (accepted, ignored)',
    flags: ['--kernel-memory', '16m'],
    dockerCliDrops: true,
    observe: 'true',
    fields: ['Memory'],
  },
  {
    name: '--cpus',
    flags: ['--cpus', '0.5'],
    observe: `${cg('cpu/cpu.cfs_quota_us', 'cpu.max')}; ${cg('cpu/cpu.cfs_period_us', 'cpu.max')}`,
    fields: ['NanoCpus', 'CpuQuota', 'CpuPeriod'],
  },
  {
    name: '--cpu-shares',
    flags: ['--cpu-shares', '512'],
    observe: cg('cpu/cpu.shares', 'cpu.weight'),
    fields: ['CpuShares'],
  },
  {
    name: '--cpu-period and --cpu-quota',
    flags: ['--cpu-period', '50000', '--cpu-quota', '25000'],
    observe: `${cg('cpu/cpu.cfs_quota_us', 'cpu.max')}; ${cg('cpu/cpu.cfs_period_us', 'cpu.max')}`,
    fields: ['CpuQuota', 'CpuPeriod'],
  },
  {
    name: '--cpuset-cpus and --cpuset-mems',
    flags: ['--cpuset-cpus', '0', '--cpuset-mems', '0'],
    observe: `${cg('cpuset/cpuset.cpus', 'cpuset.cpus')}; ${cg('cpuset/cpuset.mems', 'cpuset.mems')}`,
    fields: ['CpusetCpus', 'CpusetMems'],
  },
  {
    name: '--pids-limit',
    flags: ['--pids-limit', '50'],
    observe: cg('pids/pids.max', 'pids.max'),
    fields: ['PidsLimit'],
  },
  {
    name: '--blkio-weight (discarded where the kernel lacks it, with the warning)',
    flags: ['--blkio-weight', '300'],
    observe: 'true',
    fields: ['BlkioWeight'],
  },
  {
    name: '--blkio-weight-device',
    flags: ['--blkio-weight-device', '/dev/loop0:100'],
    observe: 'true',
    fields: ['BlkioWeightDevice'],
  },
  {
    name: '--device-read-bps and --device-write-iops',
    flags: ['--device-read-bps', '/dev/loop0:1mb', '--device-write-iops', '/dev/loop0:100'],
    observe: `${cg('blkio/blkio.throttle.read_bps_device', 'io.max')}; ${cg('blkio/blkio.throttle.write_iops_device', 'io.max')}`,
    fields: ['BlkioDeviceReadBps', 'BlkioDeviceWriteIOps'],
  },
  {
    name: '--device-write-bps and --device-read-iops',
    flags: ['--device-write-bps', '/dev/loop0:2mb', '--device-read-iops', '/dev/loop0:50'],
    observe: `${cg('blkio/blkio.throttle.write_bps_device', 'io.max')}; ${cg('blkio/blkio.throttle.read_iops_device', 'io.max')}`,
    fields: ['BlkioDeviceWriteBps', 'BlkioDeviceReadIOps'],
  },
  {
    name: '--ulimit',
    flags: ['--ulimit', 'nofile=1024:2048', '--ulimit', 'nproc=100'],
    observe: 'ulimit -n; ulimit -Hn; ulimit -u',
    fields: ['Ulimits'],
  },
  {
    name: '--shm-size',
    flags: ['--shm-size', '16m'],
    observe: "grep ' /dev/shm ' /proc/mounts",
    fields: ['ShmSize'],
  },
  {
    name: 'default capabilities, seccomp and no-new-privileges',
    flags: [],
    observe: "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status",
    fields: ['CapAdd', 'CapDrop', 'SecurityOpt', 'Privileged'],
  },
  {
    name: '--cap-add',
    flags: ['--cap-add', 'NET_ADMIN', '--cap-add', 'sys_time'],
    observe: "grep -E '^Cap(Eff|Bnd)' /proc/self/status",
    fields: ['CapAdd'],
  },
  {
    name: '--cap-drop ALL --cap-add CHOWN',
    flags: ['--cap-drop', 'ALL', '--cap-add', 'CHOWN'],
    observe: "grep -E '^Cap(Eff|Bnd)' /proc/self/status",
    fields: ['CapAdd', 'CapDrop'],
  },
  {
    name: '--cap-drop one',
    flags: ['--cap-drop', 'CHOWN'],
    observe: "grep -E '^Cap(Eff|Bnd)' /proc/self/status; chown 1 /tmp 2>&1; echo $?",
    fields: ['CapDrop'],
  },
  {
    name: '--security-opt no-new-privileges',
    flags: ['--security-opt', 'no-new-privileges'],
    observe: 'grep NoNewPrivs /proc/self/status',
    fields: ['SecurityOpt'],
  },
  {
    name: '--security-opt seccomp=unconfined',
    flags: ['--security-opt', 'seccomp=unconfined'],
    observe: 'grep Seccomp: /proc/self/status',
    fields: ['SecurityOpt'],
  },
  {
    name: '--read-only',
    flags: ['--read-only'],
    observe: 'touch /x 2>&1; echo $?; touch /tmp/x 2>&1; echo $?; touch /dev/shm/x; echo $?',
    fields: ['ReadonlyRootfs'],
  },
  {
    name: '--tmpfs with options',
    flags: ['--tmpfs', '/run:size=1m,mode=1777', '--tmpfs', '/cache'],
    // dockerd mounts tmpfs in its map's (random) order: the lines are compared sorted.
    observe: "grep -E ' /(run|cache) ' /proc/mounts | sort; stat -c '%a' /run /cache",
    fields: ['Tmpfs'],
  },
  {
    name: '--device with permissions',
    flags: ['--device', '/dev/null:/dev/xnull:r', '--device', '/dev/zero'],
    observe:
      'ls -l /dev/xnull /dev/zero | cut -c1-10; cat /sys/fs/cgroup/devices/devices.list 2>/dev/null; head -c 4 /dev/zero | wc -c; echo x > /dev/xnull; echo $?',
    fields: ['Devices'],
  },
  {
    name: '--device of a directory',
    flags: ['--device', '/dev/net:/dev/xnet'],
    observe:
      'ls -l /dev/xnet | cut -c1-10,34-; cat /sys/fs/cgroup/devices/devices.list 2>/dev/null',
    fields: ['Devices'],
  },
  {
    name: '--device-cgroup-rule',
    flags: ['--device-cgroup-rule', 'c 42:* rmw', '--device-cgroup-rule', 'b 7:0 r'],
    observe: 'cat /sys/fs/cgroup/devices/devices.list 2>/dev/null || true',
    fields: ['DeviceCgroupRules'],
  },
  {
    name: '--group-add',
    flags: ['--group-add', '10', '--group-add', '1234'],
    observe: 'id -G',
    fields: ['GroupAdd'],
  },
  {
    name: '--sysctl (namespaced)',
    flags: ['--sysctl', 'kernel.shm_rmid_forced=1', '--sysctl', 'kernel.msgmax=65536'],
    observe: 'cat /proc/sys/kernel/shm_rmid_forced /proc/sys/kernel/msgmax',
    fields: ['Sysctls'],
  },
  {
    name: '--oom-score-adj',
    flags: ['--oom-score-adj', '200'],
    observe: 'cat /proc/self/oom_score_adj',
    fields: ['OomScoreAdj'],
  },
  {
    name: '--pid host',
    flags: ['--pid', 'host'],
    observe: '[ $$ -ne 1 ] && echo not-pid-1; readlink /proc/self/ns/pid',
    fields: ['PidMode'],
  },
  {
    name: 'own pid namespace',
    flags: [],
    observe: "echo $$; readlink /proc/self/ns/pid; tr '\\0' ' ' < /proc/1/cmdline",
    fields: ['PidMode'],
  },
  {
    name: '--ipc host',
    flags: ['--ipc', 'host'],
    observe: 'readlink /proc/self/ns/ipc',
    fields: ['IpcMode'],
  },
  {
    name: '--ipc shareable',
    flags: ['--ipc', 'shareable'],
    observe: "readlink /proc/self/ns/ipc; grep -c ' /dev/shm ' /proc/mounts",
    fields: ['IpcMode'],
  },
  {
    name: '--ipc none',
    flags: ['--ipc', 'none'],
    observe: "grep -c ' /dev/shm ' /proc/mounts; readlink /proc/self/ns/ipc",
    fields: ['IpcMode'],
  },
  {
    name: '--uts host',
    flags: ['--uts', 'host'],
    observe: 'hostname; readlink /proc/self/ns/uts',
    fields: ['UTSMode'],
  },
  {
    name: '--hostname and --domainname',
    flags: ['--hostname', 'box', '--domainname', 'example.test'],
    observe: 'hostname; cat /proc/sys/kernel/domainname; readlink /proc/self/ns/uts',
    fields: ['UTSMode'],
  },
  {
    name: '--network none',
    flags: ['--network', 'none'],
    observe: "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; readlink /proc/self/ns/net",
    fields: ['NetworkMode'],
  },
  {
    name: '--network host',
    flags: ['--network', 'host'],
    observe: 'readlink /proc/self/ns/net',
    fields: ['NetworkMode'],
  },
  {
    name: '--pid container:',
    flags: ['--pid', `container:${target}`],
    observe: 'readlink /proc/self/ns/pid; tr "\\0" " " < /proc/1/cmdline',
    fields: ['PidMode'],
  },
  {
    name: '--ipc container:',
    flags: ['--ipc', `container:${target}`],
    observe: 'readlink /proc/self/ns/ipc',
    fields: ['IpcMode'],
  },
  {
    name: '--network container:',
    flags: ['--network', `container:${target}`],
    observe: 'readlink /proc/self/ns/net',
    fields: ['NetworkMode'],
  },
  {
    name: '--cgroupns private',
    flags: ['--cgroupns', 'private'],
    observe: 'readlink /proc/self/ns/cgroup; grep -E "^[0-9]+:memory:" /proc/self/cgroup',
    fields: ['CgroupnsMode'],
  },
  {
    name: '--cgroupns host',
    flags: ['--cgroupns', 'host'],
    observe: 'readlink /proc/self/ns/cgroup',
    fields: ['CgroupnsMode'],
  },
  {
    name: '--cgroup-parent',
    flags: ['--cgroup-parent', cgroupParent],
    observe: 'grep -E "^[0-9]+:(memory|pids):" /proc/self/cgroup | cut -d: -f3 | cut -d/ -f2',
    fields: ['CgroupParent'],
  },
  {
    name: '--userns host',
    flags: ['--userns', 'host'],
    observe: 'cat /proc/self/uid_map /proc/self/gid_map; readlink /proc/self/ns/user',
    fields: ['UsernsMode'],
  },
  {
    name: 'masked and read-only /proc and /sys paths',
    flags: [],
    observe: [
      'wc -c < /proc/kcore',
      'ls /proc/acpi /sys/firmware 2>&1 | wc -l',
      'for d in /proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger; do grep " $d " /proc/mounts | cut -d" " -f2,3 ; done',
      "grep ' /sys ' /proc/mounts | cut -d' ' -f2-4",
      'echo 1 > /proc/sys/kernel/domainname 2>&1; echo $?',
    ].join('; '),
    fields: ['MaskedPaths', 'ReadonlyPaths'],
    // dockerd 25+ masks /proc/interrupts and /sys/devices/virtual/powercap too.
    current: (r) => {
      const masked = [...((r.host.MaskedPaths as string[] | null) ?? [])];
      masked.splice(masked.indexOf('/proc/acpi') + 1, 0, '/proc/interrupts');
      masked.push('/sys/devices/virtual/powercap');
      return { ...r, host: { ...r.host, MaskedPaths: masked } };
    },
  },
];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  host: Record<string, unknown>;
}

async function runOn(
  cli: (args: string[]) => Promise<CommandResult>,
  name: string,
  c: Case,
): Promise<Run> {
  const r = await cli(['run', '--name', name, ...c.flags, image, 'sh', '-c', c.observe]);
  const inspect = await cli(['inspect', '--format', '{{json .HostConfig}}', name]);
  await cli(['rm', '-f', name]);
  assert.equal(inspect.code, 0, `inspect ${name}: ${inspect.stderr}\nrun: ${r.stderr}`);
  // The namespaces of the `container:` target, as that engine's target has them.
  const links = await cli([
    'exec',
    target,
    'sh',
    '-c',
    'for k in pid ipc net; do readlink /proc/self/ns/$k; done',
  ]);
  const asTarget = (text: string): string =>
    links.stdout
      .split('\n')
      .filter((l) => l !== '')
      .reduce((t, link) => t.split(link).join(`TARGET-${link.split(':')[0] ?? ''}`), text);
  return {
    code: r.code,
    stdout: normalizeOut(asTarget(r.stdout)),
    // Warnings the CLI prints from create, in order; the rest of stderr is the command's own.
    stderr: normalizeOut(r.stderr),
    host: JSON.parse(inspect.stdout.split(await targetId(cli)).join('TARGET')) as Record<
      string,
      unknown
    >,
  };
}

async function targetId(cli: (args: string[]) => Promise<CommandResult>): Promise<string> {
  return (await cli(['inspect', '--format', '{{.Id}}', target])).stdout.trim();
}

function pick(host: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  return Object.fromEntries(fields.map((f) => [f, host[f] ?? null]));
}

before(async () => {
  const ping = await anchor(['version', '--format', '{{.Server.Version}}']);
  if (ping.code !== 0) {
    throw new Error(`the anchor dockerd at ${anchorHost} is unreachable: ${ping.stderr.trim()}`);
  }
  engine = await startEngine();
  for (const cli of [anchor, (a: string[]) => engine.docker(a)]) {
    const r = await cli(['import', anchorTar, image]);
    assert.equal(r.code, 0, r.stderr);
    const t = await cli([
      'run',
      '-d',
      '--name',
      target,
      '--ipc',
      'shareable',
      image,
      'sleep',
      '600',
    ]);
    assert.equal(t.code, 0, t.stderr);
  }
});

after(async () => {
  await anchor(['rm', '-f', target]);
  await anchor(['rmi', '-f', image]);
  await engine?.stop();
  // Both engines leave a custom cgroup parent behind (dockerd does too): remove ours.
  for (const controller of cgroupControllers()) {
    await fs.rmdir(`/sys/fs/cgroup/${controller}${cgroupParent}`).catch(() => undefined);
  }
  await fs.rmdir(`/sys/fs/cgroup${cgroupParent}`).catch(() => undefined);
});

/** The cgroup v1 hierarchies this process is in (`memory`, `cpu,cpuacct`, `systemd`...). */
function cgroupControllers(): string[] {
  return readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .map((l) => (l.split(':')[1] ?? '').replace(/^name=/, ''))
    .filter((c) => c !== '');
}

describe('the same flags on dockerd and berthd', () => {
  let n = 0;
  for (const c of cases) {
    test(c.name, async () => {
      const name = `${p}-${n++}`;
      const anchored = await runOn(anchor, name, c);
      const want = c.current ? c.current(anchored) : anchored;
      const viaDocker = await runOn((a) => engine.docker(a), name, c);
      const viaBerth = await runOn((a) => engine.berth(a), name, c);
      const view = (r: Run): unknown => ({
        code: r.code,
        stdout: r.stdout,
        stderr: r.stderr,
        host: pick(r.host, c.fields),
      });
      const viewDocker = (r: Run): unknown =>
        c.dockerCliDrops ? { ...(view(r) as object), stderr: '' } : view(r);
      assert.deepEqual(
        viewDocker(viaDocker),
        viewDocker(want),
        `docker CLI: berthd vs dockerd (${c.name})`,
      );
      // The berth CLI words its own warnings and errors as the docker CLI does.
      assert.deepEqual(
        pick(viaBerth.host, c.fields),
        pick(want.host, c.fields),
        `berth CLI vs docker CLI: HostConfig (${c.name})`,
      );
      assert.equal(viaBerth.stdout, want.stdout, `berth CLI: output (${c.name})`);
      assert.equal(viaBerth.code, want.code, `berth CLI: exit code (${c.name})`);
      assert.equal(viaBerth.stderr, want.stderr, `berth CLI: warnings (${c.name})`);
    });
  }
});

describe('bad input: the same error from create, and nothing created', () => {
  interface Bad {
    flags: string[];
    /** Where dockerd changed since the anchor's 20.10: the first stderr line current dockerd gives. */
    current?: string;
  }
  const bad: Bad[] = [
    { flags: ['-m', '10q'] },
    { flags: ['-m', '4m'] },
    { flags: ['-m', '32m', '--memory-swap', '16m'] },
    { flags: ['-m', '32m', '--memory-reservation', '64m'] },
    { flags: ['--memory-swappiness', '200'] },
    {
      flags: ['--cpus', '100'],
      current: `Error response from daemon: range of CPUs is from 0.01 to ${os.cpus().length}.00, as there are only ${os.cpus().length} CPUs available`,
    },
    { flags: ['--cpuset-cpus', '7'] },
    { flags: ['--cpuset-mems', '5'] },
    { flags: ['--cpu-rt-period', '100000', '--cpu-rt-runtime', '200000'] },
    { flags: ['--oom-score-adj', '2000'] },
    { flags: ['--cap-add', 'NOPE'] },
    { flags: ['--cap-drop', 'NOPE'] },
    { flags: ['--sysctl', 'vm.swappiness=1'] },
    { flags: ['--sysctl', 'kernel.hostname=x'] },
    { flags: ['--ulimit', 'nofile=10:5'] },
    { flags: ['--ulimit', 'nofiles=10'] },
    { flags: ['--device-cgroup-rule', 'c 1:3 rx'] },
    { flags: ['--device', '/dev/null:/dev/x:rx'] },
    { flags: ['--blkio-weight-device', '/dev/loop0:5'] },
    { flags: ['--device-read-bps', '/dev/loop0:fast'] },
    { flags: ['--cgroupns', 'shared'] },
    { flags: ['--ipc', 'bogus'], current: 'Error response from daemon: invalid IPC mode: bogus' },
    { flags: ['--pid', 'bogus'] },
    { flags: ['--uts', 'bogus'] },
  ];
  const first = (s: string): string => s.split('\n')[0] ?? '';
  for (const c of bad) {
    test(c.flags.join(' '), async () => {
      const before = (await engine.docker(['ps', '-aq'])).stdout;
      const a = await anchor(['create', ...c.flags, image, 'true']);
      if (a.code === 0) await anchor(['rm', '-f', a.stdout.trim()]);
      const want = c.current
        ? { code: 1, stderr: c.current }
        : { code: a.code, stderr: first(a.stderr) };
      if (!c.current) assert.notEqual(a.code, 0, `dockerd accepted ${c.flags.join(' ')}`);
      const b = await engine.docker(['create', ...c.flags, image, 'true']);
      assert.deepEqual({ code: b.code, stderr: first(b.stderr) }, want);
      // The berth CLI's words are the docker CLI's with its own name in front.
      const viaBerth = await engine.berth(['create', ...c.flags, image, 'true']);
      assert.deepEqual(
        { code: viaBerth.code, stderr: first(viaBerth.stderr).replace(/^berth: /, '') },
        { code: want.code, stderr: want.stderr.replace(/^docker: /, '') },
      );
      assert.equal((await engine.docker(['ps', '-aq'])).stdout, before, 'a container was created');
    });
  }
});

describe('limits hold under load', () => {
  test('a process over -m is OOM-killed: exit 137, OOMKilled, an oom event', async () => {
    const name = `${p}-oom`;
    const since = Math.floor(Date.now() / 1000) - 1;
    const args = ['run', '--name', name, '-m', '16m', '--memory-swap', '16m', image];
    const hog = ['sh', '-c', 'tail /dev/zero'];
    const a = await anchor([...args, ...hog]);
    const aState = await anchor([
      'inspect',
      '-f',
      '{{.State.OOMKilled}} {{.State.ExitCode}}',
      name,
    ]);
    await anchor(['rm', '-f', name]);
    const b = await engine.docker([...args, ...hog]);
    const bState = await engine.docker([
      'inspect',
      '-f',
      '{{.State.OOMKilled}} {{.State.ExitCode}}',
      name,
    ]);
    assert.equal(b.code, a.code);
    assert.equal(b.code, 137);
    assert.equal(bState.stdout, aState.stdout);
    assert.equal(bState.stdout.trim(), 'true 137');
    const events = await engine.docker([
      'events',
      '--since',
      String(since),
      '--until',
      String(Math.floor(Date.now() / 1000) + 1),
      '--filter',
      `container=${name}`,
      '--format',
      '{{.Action}}',
    ]);
    assert.ok(events.stdout.split('\n').includes('oom'), `events: ${events.stdout}`);
    await engine.docker(['rm', '-f', name]);
  });

  test('--cpus 0.5 holds two busy loops to half a CPU, throttling them', async (t) => {
    // Two loops for two seconds of the container's own clock; the CPU time the cgroup counted
    // over that wall time is the share it got. The quota is a ceiling whatever the machine's
    // load, so only the limited run is asserted; the unlimited one is reported beside it.
    const probe = [
      'start=$(cut -d" " -f1 /proc/uptime)',
      'for i in 1 2; do (end=$(($(date +%s)+2)); while [ $(date +%s) -lt $end ]; do :; done) & done',
      'wait',
      'stop=$(cut -d" " -f1 /proc/uptime)',
      'usage=$(cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null || echo $(( $(grep usage_usec /sys/fs/cgroup/cpu.stat | cut -d" " -f2) * 1000 )))',
      'throttled=$(grep -E "^nr_throttled" /sys/fs/cgroup/cpu/cpu.stat 2>/dev/null || grep -E "^nr_throttled" /sys/fs/cgroup/cpu.stat)',
      'echo $usage $start $stop $throttled',
    ].join('; ');
    const share = async (flags: string[]): Promise<{ ratio: number; throttled: number }> => {
      const r = await engine.berth(['run', '--rm', ...flags, image, 'sh', '-c', probe]);
      assert.equal(r.code, 0, r.stderr);
      const [usage = '0', start = '0', stop = '1', , throttled = '0'] = r.stdout
        .trim()
        .split(/\s+/);
      const wallNs = (Number(stop) - Number(start)) * 1e9;
      return { ratio: Number(usage) / wallNs, throttled: Number(throttled) };
    };
    const limited = await share(['--cpus', '0.5']);
    const free = await share([]);
    t.diagnostic(
      `CPU share: limited ${limited.ratio.toFixed(2)}, unlimited ${free.ratio.toFixed(2)} (ratio ${(limited.ratio / free.ratio).toFixed(2)})`,
    );
    assert.ok(limited.ratio <= 0.6, `--cpus 0.5 used ${limited.ratio.toFixed(2)} CPUs`);
    assert.ok(limited.throttled > 0, 'the limited run was never throttled');
  });
});

describe('real-time CPU scheduling', () => {
  test("with the daemon's --cpu-rt-runtime, --cpu-rt-runtime applies inside the container", async () => {
    const rt = await startEngine({ daemonArgs: ['--cpu-rt-runtime', '95000'] });
    try {
      const r = await rt.berth([
        'run',
        '--rm',
        '--cpu-rt-period',
        '100000',
        '--cpu-rt-runtime',
        '2000',
        'busybox',
        'sh',
        '-c',
        `${cg('cpu/cpu.rt_runtime_us', 'cpu.rt_runtime_us')}; ${cg('cpu/cpu.rt_period_us', 'cpu.rt_period_us')}`,
      ]);
      if (readFileSync('/proc/self/cgroup', 'utf8').startsWith('0::')) {
        // cgroup v2 has no real-time group scheduling: create refuses as dockerd does.
        assert.match(r.stderr, /does not support CPU real-time scheduler/);
      } else {
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, '2000\n100000\n');
      }
    } finally {
      await rt.stop();
    }
  });
});
