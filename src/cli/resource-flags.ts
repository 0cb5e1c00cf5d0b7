import type { DeviceMapping, HostConfig, ThrottleDevice, WeightDevice } from '../spec/engine.js';
import { UsageError, type Flags, type FlagSpec } from './args.js';
import { ramInBytes } from './human.js';

/** The cgroup, device and block I/O flags of `run`/`create`, as the docker CLI has them. */
export const RESOURCE_FLAGS: FlagSpec[] = [
  {
    long: 'cpu-period',
    kind: 'number',
    description: 'Limit CPU CFS (Completely Fair Scheduler) period',
  },
  {
    long: 'cpu-quota',
    kind: 'number',
    description: 'Limit CPU CFS (Completely Fair Scheduler) quota',
  },
  {
    long: 'cpu-rt-period',
    kind: 'number',
    description: 'Limit CPU real-time period in microseconds',
  },
  {
    long: 'cpu-rt-runtime',
    kind: 'number',
    description: 'Limit CPU real-time runtime in microseconds',
  },
  {
    long: 'cpuset-mems',
    kind: 'string',
    description: 'MEMs in which to allow execution (0-3, 0,1)',
  },
  {
    long: 'memory-swappiness',
    kind: 'number',
    description: 'Tune container memory swappiness (0 to 100) (default -1)',
  },
  { long: 'oom-kill-disable', kind: 'bool', description: 'Disable OOM Killer' },
  {
    long: 'oom-score-adj',
    kind: 'number',
    description: "Tune host's OOM preferences (-1000 to 1000)",
  },
  { long: 'kernel-memory', kind: 'string', description: 'Kernel memory limit' },
  {
    long: 'blkio-weight',
    kind: 'number',
    description: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)',
  },
  {
    long: 'blkio-weight-device',
    kind: 'list',
    description: 'Block IO weight (relative device weight)',
  },
  {
    long: 'device-read-bps',
    kind: 'list',
    description: 'Limit read rate (bytes per second) from a device',
  },
  {
    long: 'device-write-bps',
    kind: 'list',
    description: 'Limit write rate (bytes per second) to a device',
  },
  {
    long: 'device-read-iops',
    kind: 'list',
    description: 'Limit read rate (IO per second) from a device',
  },
  {
    long: 'device-write-iops',
    kind: 'list',
    description: 'Limit write rate (IO per second) to a device',
  },
  {
    long: 'device-cgroup-rule',
    kind: 'list',
    description: 'Add a rule to the cgroup allowed devices list',
  },
  {
    long: 'cgroup-parent',
    kind: 'string',
    description: 'Optional parent cgroup for the container',
  },
  { long: 'cgroupns', kind: 'string', description: 'Cgroup namespace to use (host|private)' },
];

/** `DEVICE:WEIGHT`, the docker CLI's ValidateWeightDevice. */
export function parseWeightDevice(spec: string): WeightDevice {
  const parts = spec.split(':');
  const [path = '', weight = ''] = parts;
  if (parts.length !== 2)
    throw new UsageError(
      `invalid argument "${spec}" for "--blkio-weight-device" flag: bad format: ${spec}`,
    );
  if (!path.startsWith('/dev/')) {
    throw new UsageError(
      `invalid argument "${spec}" for "--blkio-weight-device" flag: bad format for device path: ${spec}`,
    );
  }
  const n = Number(weight);
  if (!/^\d+$/.test(weight) || n > 65535 || (n > 0 && (n < 10 || n > 1000))) {
    throw new UsageError(
      `invalid argument "${spec}" for "--blkio-weight-device" flag: invalid weight for device: ${spec}`,
    );
  }
  return { Path: path, Weight: n };
}

/** `DEVICE:RATE[unit]` (bps) or `DEVICE:RATE` (iops), the docker CLI's ValidateThrottle*Device. */
export function parseThrottleDevice(
  flag: string,
  spec: string,
  unit: 'bps' | 'iops',
): ThrottleDevice {
  const parts = spec.split(':');
  const [path = '', rate = ''] = parts;
  const bad = (reason: string): never => {
    throw new UsageError(`invalid argument "${spec}" for "--${flag}" flag: ${reason}`);
  };
  if (parts.length !== 2) bad(`bad format: ${spec}`);
  if (!path.startsWith('/dev/')) bad(`bad format for device path: ${spec}`);
  if (unit === 'iops') {
    if (!/^\d+$/.test(rate)) {
      bad(
        `invalid rate for device: ${spec}. The correct format is <device-path>:<number>. Number must be a positive integer`,
      );
    }
    return { Path: path, Rate: Number(rate) };
  }
  let bytes = -1;
  try {
    bytes = ramInBytes(rate);
  } catch {
    bytes = -1;
  }
  if (bytes < 0) {
    bad(
      `invalid rate for device: ${spec}. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb`,
    );
  }
  return { Path: path, Rate: bytes };
}

function validDeviceMode(mode: string): boolean {
  if (mode === '' || mode.length > 3) return false;
  const seen = new Set<string>();
  for (const c of mode) {
    if (!'rwm'.includes(c) || seen.has(c)) return false;
    seen.add(c);
  }
  return true;
}

/** `--device HOST[:CONTAINER][:PERMS]` (or `HOST:PERMS`), the docker CLI's parseDevice. */
export function parseDevice(spec: string): DeviceMapping {
  const parts = spec.split(':');
  let src = parts[0] ?? '';
  let dst = '';
  let perms = 'rwm';
  if (parts.length === 3) {
    dst = parts[1] ?? '';
    perms = parts[2] ?? '';
    if (!validDeviceMode(perms)) throw new UsageError(`bad mode specified: ${perms}`);
  } else if (parts.length === 2) {
    const second = parts[1] ?? '';
    if (validDeviceMode(second)) perms = second;
    else dst = second;
  } else if (parts.length !== 1) {
    throw new UsageError(`invalid device specification: ${spec}`);
  }
  if (dst === '') dst = src;
  if (!dst.startsWith('/')) throw new UsageError(`${dst} is not an absolute path`);
  src = src || dst;
  return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms };
}

const cgroupRule = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/;

/** Applies the resource flags to the HostConfig the create request carries. */
export function applyResourceFlags(flags: Flags, host: HostConfig): void {
  for (const [flag, field] of [
    ['cpu-period', 'CpuPeriod'],
    ['cpu-quota', 'CpuQuota'],
    ['cpu-rt-period', 'CpuRealtimePeriod'],
    ['cpu-rt-runtime', 'CpuRealtimeRuntime'],
    ['blkio-weight', 'BlkioWeight'],
    ['oom-score-adj', 'OomScoreAdj'],
  ] as const) {
    const v = flags.number(flag);
    if (v !== undefined) host[field] = v;
  }
  const swappiness = flags.number('memory-swappiness');
  if (swappiness !== undefined && swappiness !== -1) {
    if (swappiness < 0 || swappiness > 100) {
      throw new UsageError(`invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);
    }
    host.MemorySwappiness = swappiness;
  }
  if (flags.has('oom-kill-disable')) host.OomKillDisable = flags.bool('oom-kill-disable');
  const kernel = flags.string('kernel-memory');
  if (kernel !== undefined) {
    try {
      host.KernelMemory = ramInBytes(kernel);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new UsageError(`invalid argument "${kernel}" for "--kernel-memory" flag: ${reason}`, {
        cause,
      });
    }
  }
  const mems = flags.string('cpuset-mems');
  if (mems !== undefined) host.CpusetMems = mems;
  const parent = flags.string('cgroup-parent');
  if (parent !== undefined) host.CgroupParent = parent;
  const cgroupns = flags.string('cgroupns');
  if (cgroupns !== undefined) {
    if (!['', 'host', 'private'].includes(cgroupns)) {
      throw new UsageError('--cgroupns: invalid CGROUP mode');
    }
    host.CgroupnsMode = cgroupns as 'host' | 'private';
  }
  const weights = flags.list('blkio-weight-device');
  if (weights.length > 0) host.BlkioWeightDevice = weights.map(parseWeightDevice);
  for (const [flag, field, unit] of [
    ['device-read-bps', 'BlkioDeviceReadBps', 'bps'],
    ['device-write-bps', 'BlkioDeviceWriteBps', 'bps'],
    ['device-read-iops', 'BlkioDeviceReadIOps', 'iops'],
    ['device-write-iops', 'BlkioDeviceWriteIOps', 'iops'],
  ] as const) {
    const list = flags.list(flag);
    if (list.length > 0) host[field] = list.map((d) => parseThrottleDevice(flag, d, unit));
  }
  const devices = flags.list('device');
  if (devices.length > 0) host.Devices = devices.map(parseDevice);
  const rules = flags.list('device-cgroup-rule');
  for (const r of rules) {
    if (!cgroupRule.test(r)) {
      throw new UsageError(
        `invalid argument "${r}" for "--device-cgroup-rule" flag: invalid device cgroup format '${r}'`,
      );
    }
  }
  if (rules.length > 0) host.DeviceCgroupRules = rules;
}

const namespacedSysctls = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** Whether a sysctl lives in a namespace a container has of its own (the docker CLI's list). */
export function namespacedSysctl(key: string): boolean {
  return namespacedSysctls.has(key) || key.startsWith('net.') || key.startsWith('fs.mqueue.');
}

/** `--sysctl key=value`, refused as the docker CLI refuses what is not namespaced. */
export function parseSysctl(spec: string): [string, string] {
  const eq = spec.indexOf('=');
  if (eq < 0 || !namespacedSysctl(spec.slice(0, eq))) {
    throw new UsageError(
      `invalid argument "${spec}" for "--sysctl" flag: sysctl '${spec}' is not allowed`,
    );
  }
  return [spec.slice(0, eq), spec.slice(eq + 1)];
}

const ulimitNames = new Set([
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
]);

/** `--ulimit name=soft[:hard]`, with go-units' checks and words. */
export function parseUlimit(spec: string): { Name: string; Soft: number; Hard: number } {
  const bad = (reason: string): never => {
    throw new UsageError(`invalid argument "${spec}" for "--ulimit" flag: ${reason}`);
  };
  const parts = spec.split('=');
  if (parts.length !== 2) bad(`invalid ulimit argument: ${spec}`);
  const [name = '', limits = ''] = parts;
  if (!ulimitNames.has(name)) bad(`invalid ulimit type: ${name}`);
  const nums = limits.split(':');
  if (nums.length > 2)
    bad(`too many limit value arguments - ${limits}, can only have up to two, \`soft[:hard]\``);
  const int = (t: string): number => {
    if (!/^-?\d+$/.test(t)) bad(`strconv.ParseInt: parsing ${JSON.stringify(t)}: invalid syntax`);
    return Number(t);
  };
  const soft = int(nums[0] ?? '');
  const hard = nums.length === 2 ? int(nums[1] ?? '') : soft;
  if (soft > hard)
    bad(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Soft: soft, Hard: hard };
}

/** The namespace-mode flags the docker CLI checks before it sends anything. */
export function checkModes(host: HostConfig): void {
  const pid = host.PidMode ?? '';
  if (!(pid === '' || pid === 'host' || (pid.startsWith('container:') && pid.length > 10))) {
    throw new UsageError('--pid: invalid PID mode');
  }
  if (!['', 'host'].includes(host.UTSMode ?? '')) throw new UsageError('--uts: invalid UTS mode');
  if (!['', 'host'].includes(host.UsernsMode ?? '')) {
    throw new UsageError('--userns: invalid USER mode');
  }
}
