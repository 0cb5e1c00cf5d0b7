import path from 'node:path/posix';
import { InvalidArgumentError } from '../../errors/index.js';
import type { ContainerConfig, HostConfig, ThrottleDevice } from '../../spec/engine.js';
import type { ImageRuntimeConfig } from '../../spec/oci-image.js';
import type {
  LinuxDevice,
  LinuxDeviceCgroup,
  LinuxNamespace,
  LinuxResources,
  LinuxThrottleDevice,
  RuntimeSpec,
  SpecMount,
} from '../../spec/oci-runtime.js';
import { defaultSeccompProfile, parseSeccompProfile, seccompOption } from './seccomp.js';
import { applyUserns, sysfsForJoinedNetns, validateUserns } from './userns.js';
import type { IdMap } from '../../idmap/idmap.js';

/** The user a container's process runs as, resolved against its /etc/passwd and /etc/group. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

export interface SpecInput {
  id: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** The image's container defaults (`config` of the image config); `{}` for none. */
  image: ImageRuntimeConfig;
  user: ResolvedUser;
  hostname: string;
  /** Host paths of the files bind-mounted at /etc/hosts, /etc/hostname, /etc/resolv.conf. */
  files?: { hosts?: string; hostname?: string; resolvConf?: string };
  /**
   * Gives the path of another container's namespace for `container:<id>` modes
   * (`/proc/<pid>/ns/<kind>`); throws (NotFoundError, ConflictError) when it cannot.
   */
  namespacePath?: (container: string, kind: 'net' | 'ipc' | 'pid') => string;
  /** A persistent network namespace (the network service's sandbox) for a private network. */
  netnsPath?: string;
  /** Host path of the init binary bind-mounted at /sbin/docker-init when Init is on. */
  initPath?: string;
  /** The host's devices, given to privileged containers. */
  hostDevices?: LinuxDevice[];
  /** The devices HostConfig.Devices names, gathered by the caller (`resolveDeviceMappings`). */
  devices?: MappedDevice[];
  /** Device numbers of the paths the blkio device settings name (`blockDeviceNumbers`). */
  blockDevices?: ReadonlyMap<string, DeviceNumbers>;
  /** Every capability the host kernel knows (privileged, --cap-add ALL); defaults to 0..40. */
  allCapabilities?: string[];
  /** CPUs on the host, for NanoCpus validation; defaults to no upper bound. */
  cpuCount?: number;
  /** Whether the memory cgroup can limit swap; when not, MemorySwap is dropped as Docker does. */
  swapLimit?: boolean;
  /**
   * The profile `--security-opt seccomp=<path>` names, read by the caller
   * (`loadSeccompProfile`); required when SecurityOpt names a file.
   */
  seccompProfile?: unknown;
  /**
   * The container's mounts as the volume layer resolved them from HostConfig.Binds,
   * HostConfig.Mounts, VOLUME and VolumesFrom (src/volumes/mount-spec.ts parses those;
   * HostConfig.Tmpfs is this file's). Empty for a process that makes no mounts (an exec).
   */
  mounts: readonly UserMount[];
  /** The daemon's --userns-remap mapping; the container gets a user namespace unless UsernsMode is host. */
  idMap?: IdMap;
}

export interface DeviceNumbers {
  major: number;
  minor: number;
}

/** A device given to the container and the cgroup access it gets (`rwm` letters). */
export interface MappedDevice {
  device: LinuxDevice;
  access: string;
}

export const defaultPathEnv = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const inContainerInitPath = '/sbin/docker-init';
export const defaultShmSize = 64 * 1024 * 1024;
const linuxMinMemory = 6 * 1024 * 1024;
const maxHostnameLen = 64;

export const defaultCapabilities: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** Linux capabilities by number (linux/capability.h), 0 to CAP_LAST_CAP of kernel 5.9+. */
export const knownCapabilities: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** dockerd's list, in its order (dockerd stores it in HostConfig at create). */
export const defaultMaskedPaths: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

export const defaultReadonlyPaths: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

function defaultMounts(): SpecMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/sys',
      type: 'sysfs',
      source: 'sysfs',
      options: ['nosuid', 'noexec', 'nodev', 'ro'],
    },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['ro', 'nosuid', 'noexec', 'nodev'],
    },
    {
      destination: '/dev/mqueue',
      type: 'mqueue',
      source: 'mqueue',
      options: ['nosuid', 'noexec', 'nodev'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777'],
    },
  ];
}

function defaultDeviceRules(): LinuxDeviceCgroup[] {
  const allow = (major: number, minor: number): LinuxDeviceCgroup => ({
    allow: true,
    type: 'c',
    major,
    minor,
    access: 'rwm',
  });
  return [
    { allow: false, access: 'rwm' },
    allow(1, 5),
    allow(1, 3),
    allow(1, 9),
    allow(1, 8),
    allow(5, 0),
    allow(5, 1),
    { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
  ];
}

// ---------------------------------------------------------------------------------------------
// Validation, in the order and words of dockerd's create-time checks.

/** Checks a container's configuration as dockerd does at create; throws InvalidArgumentError. */
export function validateContainerConfig(
  config: ContainerConfig,
  hostConfig: HostConfig,
  options: { cpuCount?: number } = {},
): void {
  if (config.Hostname !== undefined && Buffer.byteLength(config.Hostname) > maxHostnameLen) {
    throw new InvalidArgumentError(
      `hostname ${JSON.stringify(config.Hostname)} is too long (maximum ${maxHostnameLen} bytes)`,
    );
  }
  validateRestartPolicy(hostConfig);
  validateCapabilityList(hostConfig.CapAdd, 'CapAdd');
  validateCapabilityList(hostConfig.CapDrop, 'CapDrop');
  validateResources(hostConfig, options.cpuCount);
  validateSysctls(hostConfig);
  if (!validIpcMode(hostConfig.IpcMode ?? '')) {
    throw new InvalidArgumentError(`invalid IPC mode: ${hostConfig.IpcMode ?? ''}`);
  }
  if (!validPidMode(hostConfig.PidMode ?? '')) {
    throw new InvalidArgumentError(`invalid PID mode: ${hostConfig.PidMode ?? ''}`);
  }
  if ((hostConfig.ShmSize ?? 0) < 0) {
    throw new InvalidArgumentError('SHM size can not be less than 0');
  }
  if (!['', 'host'].includes(hostConfig.UTSMode ?? '')) {
    throw new InvalidArgumentError(`invalid UTS mode: ${hostConfig.UTSMode ?? ''}`);
  }
  const oom = hostConfig.OomScoreAdj ?? 0;
  if (oom < -1000 || oom > 1000) {
    throw new InvalidArgumentError(
      `Invalid value ${oom}, range for oom score adj is [-1000, 1000]`,
    );
  }
  if (!['', 'host', 'private'].includes(hostConfig.CgroupnsMode ?? '')) {
    throw new InvalidArgumentError(
      `invalid cgroup namespace mode: ${hostConfig.CgroupnsMode ?? ''}`,
    );
  }
  for (const dest of Object.keys(hostConfig.Tmpfs ?? {})) validateMountTarget(dest);
  for (const key of Object.keys(hostConfig.Annotations ?? {})) {
    if (key === '') {
      throw new InvalidArgumentError(
        'invalid Annotations: the empty string is not permitted as an annotation key',
      );
    }
  }
}

export function validateRestartPolicy(hostConfig: HostConfig): void {
  const policy = hostConfig.RestartPolicy ?? {};
  const name = policy.Name ?? '';
  const retries = policy.MaximumRetryCount ?? 0;
  switch (name) {
    case 'always':
    case 'unless-stopped':
    case 'no':
      if (retries !== 0) {
        let msg = "invalid restart policy: maximum retry count can only be used with 'on-failure'";
        if (retries < 0) msg += ' and cannot be negative';
        throw new InvalidArgumentError(msg);
      }
      break;
    case 'on-failure':
      if (retries < 0) {
        throw new InvalidArgumentError(
          'invalid restart policy: maximum retry count cannot be negative',
        );
      }
      break;
    case '':
      break;
    default:
      throw new InvalidArgumentError(
        `invalid restart policy: unknown policy '${String(name)}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
      );
  }
  if (hostConfig.AutoRemove && name !== '' && name !== 'no') {
    throw new InvalidArgumentError("can't create 'AutoRemove' container with restart policy");
  }
}

function validateCapabilityList(list: string[] | null | undefined, field: string): void {
  try {
    normalizeCapabilities(list ?? []);
  } catch (err: unknown) {
    if (err instanceof InvalidArgumentError) {
      throw new InvalidArgumentError(`invalid ${field}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

function validateResources(h: HostConfig, cpuCount: number | undefined): void {
  const memory = h.Memory ?? 0;
  const swap = h.MemorySwap ?? 0;
  const reservation = h.MemoryReservation ?? 0;
  if (memory !== 0 && memory < linuxMinMemory) {
    throw new InvalidArgumentError('Minimum memory limit allowed is 6MB');
  }
  if (memory > 0 && swap > 0 && swap < memory) {
    throw new InvalidArgumentError(
      'Minimum memoryswap limit should be larger than memory limit, see usage',
    );
  }
  if (memory === 0 && swap > 0) {
    throw new InvalidArgumentError(
      'You should always set the Memory limit when using Memoryswap limit, see usage',
    );
  }
  const swappiness = h.MemorySwappiness;
  if (swappiness !== undefined && swappiness !== null && swappiness !== -1) {
    if (swappiness < 0 || swappiness > 100) {
      throw new InvalidArgumentError(
        `Invalid value: ${swappiness}, valid memory swappiness range is 0-100`,
      );
    }
  }
  if (reservation > 0 && reservation < linuxMinMemory) {
    throw new InvalidArgumentError('Minimum memory reservation allowed is 6MB');
  }
  if (memory > 0 && reservation > 0 && memory < reservation) {
    throw new InvalidArgumentError(
      'Minimum memory limit can not be less than memory reservation limit, see usage',
    );
  }
  const nano = h.NanoCpus ?? 0;
  const period = h.CpuPeriod ?? 0;
  const quota = h.CpuQuota ?? 0;
  if (nano > 0 && period > 0) {
    throw new InvalidArgumentError(
      'Conflicting options: Nano CPUs and CPU Period cannot both be set',
    );
  }
  if (nano > 0 && quota > 0) {
    throw new InvalidArgumentError(
      'Conflicting options: Nano CPUs and CPU Quota cannot both be set',
    );
  }
  if (nano !== 0 && cpuCount !== undefined && (nano < 0 || nano > cpuCount * 1e9)) {
    throw new InvalidArgumentError(
      `range of CPUs is from 0.01 to ${cpuCount}.00, as there are only ${cpuCount} CPUs available`,
    );
  }
  if (period !== 0 && (period < 1000 || period > 1000000)) {
    throw new InvalidArgumentError(
      'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)',
    );
  }
  if (quota > 0 && quota < 1000) {
    throw new InvalidArgumentError('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  }
  if ((h.CpuShares ?? 0) < 0) {
    throw new InvalidArgumentError(
      `invalid CPU shares (${h.CpuShares ?? 0}): value must be a positive integer`,
    );
  }
  const weight = h.BlkioWeight ?? 0;
  if (weight > 0 && (weight < 10 || weight > 1000)) {
    throw new InvalidArgumentError('Range of blkio weight is from 10 to 1000');
  }
}

function validIpcMode(mode: string): boolean {
  return (
    ['', 'private', 'shareable', 'none', 'host'].includes(mode) ||
    (mode.startsWith('container:') && mode.length > 'container:'.length)
  );
}

function validPidMode(mode: string): boolean {
  return (
    mode === '' ||
    mode === 'host' ||
    (mode.startsWith('container:') && mode.length > 'container:'.length)
  );
}

// ---------------------------------------------------------------------------------------------
// Capabilities

/** Upper-cases, adds the CAP_ prefix, and checks each name (ALL passes through). */
export function normalizeCapabilities(caps: readonly string[]): string[] {
  return caps.map((c) => {
    let name = c.toUpperCase();
    if (name === 'ALL') return name;
    if (!name.startsWith('CAP_')) name = `CAP_${name}`;
    if (!knownCapabilities.includes(name)) {
      throw new InvalidArgumentError(`unknown capability: ${JSON.stringify(name)}`);
    }
    return name;
  });
}

/** Docker's rules: privileged gets all; `--cap-add ALL` all but the dropped; `--cap-drop ALL` only the added. */
export function effectiveCapabilities(
  hostConfig: HostConfig,
  all: readonly string[] = knownCapabilities,
): string[] {
  if (hostConfig.Privileged) return [...all];
  const adds = normalizeCapabilities(hostConfig.CapAdd ?? []);
  const drops = normalizeCapabilities(hostConfig.CapDrop ?? []);
  for (const [field, list] of [
    ['CapAdd', adds],
    ['CapDrop', drops],
  ] as const) {
    const missing = list.find((c) => c !== 'ALL' && !all.includes(c));
    if (missing) {
      throw new InvalidArgumentError(
        `invalid ${field}: capability not supported by your kernel or not available in the current environment: ${JSON.stringify(missing)}`,
      );
    }
  }
  if (adds.length === 0 && drops.length === 0) return [...defaultCapabilities];
  if (adds.includes('ALL')) return all.filter((c) => !drops.includes(c));
  if (drops.includes('ALL')) return adds;
  const caps = defaultCapabilities.filter((c) => !drops.includes(c));
  for (const c of adds) if (!caps.includes(c)) caps.push(c);
  return caps;
}

// ---------------------------------------------------------------------------------------------
// Process: args, env

/**
 * The merged Entrypoint and Cmd as dockerd computes them: a container Entrypoint replaces the
 * image's (and the image Cmd then applies only when the container gives no Cmd either);
 * `[""]` means none.
 */
export function resolveArgs(config: ContainerConfig, image: ImageRuntimeConfig): string[] {
  let entrypoint = config.Entrypoint;
  let cmd = config.Cmd;
  if (!entrypoint || entrypoint.length === 0) {
    if (!cmd || cmd.length === 0) cmd = image.Cmd;
    if (entrypoint === undefined || entrypoint === null) entrypoint = image.Entrypoint;
  }
  if (entrypoint && entrypoint.length === 1 && entrypoint[0] === '') entrypoint = null;
  const args = [...(entrypoint ?? []), ...(cmd ?? [])];
  if (args.length === 0) throw new InvalidArgumentError('no command specified');
  return args;
}

/** The container's Env with the image's for keys it does not set (as dockerd's merge). */
export function mergeEnv(
  containerEnv: readonly string[] | null | undefined,
  imageEnv: readonly string[] | null | undefined,
): string[] {
  const user = [...(containerEnv ?? [])];
  if (user.length === 0) return [...(imageEnv ?? [])];
  const keys = new Set(user.map(envKey));
  for (const e of imageEnv ?? []) if (!keys.has(envKey(e))) user.push(e);
  return user;
}

function envKey(e: string): string {
  const i = e.indexOf('=');
  return i < 0 ? e : e.slice(0, i);
}

/** Replaces defaults' values by key, appends the rest; a bare `KEY` unsets a default. */
function replaceOrAppendEnv(defaults: string[], overrides: readonly string[]): string[] {
  const out: (string | undefined)[] = [...defaults];
  const index = new Map(defaults.map((e, i) => [envKey(e), i]));
  for (const value of overrides) {
    const eq = value.indexOf('=');
    const at = index.get(eq < 0 ? value : value.slice(0, eq));
    if (eq < 0) {
      if (at !== undefined) out[at] = undefined;
      continue;
    }
    if (at !== undefined) out[at] = value;
    else out.push(value);
  }
  return out.filter((e): e is string => e !== undefined);
}

// ---------------------------------------------------------------------------------------------
// Mounts

/** A user mount before it becomes a spec mount (Docker's container.Mount). */
export interface UserMount {
  destination: string;
  kind: 'bind' | 'tmpfs';
  source: string;
  writable: boolean;
  propagation?: string;
  nonRecursive?: boolean;
  /** tmpfs data options. */
  data?: string;
}

function validateMountTarget(target: string): void {
  const p = target.replaceAll('\\', '/');
  if (path.normalize(p) === '/') {
    throw new InvalidArgumentError("invalid specification: destination can't be '/'");
  }
  if (!path.isAbsolute(p)) {
    throw new InvalidArgumentError(`invalid mount path: '${p}' mount path must be absolute`);
  }
}

const tmpfsFlagGroups: Record<string, string> = {
  ro: 'rdonly',
  rw: 'rdonly',
  suid: 'nosuid',
  nosuid: 'nosuid',
  dev: 'nodev',
  nodev: 'nodev',
  exec: 'noexec',
  noexec: 'noexec',
  sync: 'sync',
  async: 'sync',
  dirsync: 'dirsync',
  remount: 'remount',
  mand: 'mand',
  nomand: 'mand',
  atime: 'noatime',
  noatime: 'noatime',
  diratime: 'nodiratime',
  nodiratime: 'nodiratime',
  relatime: 'relatime',
  norelatime: 'relatime',
  strictatime: 'strictatime',
  nostrictatime: 'strictatime',
  bind: 'propagation',
  rbind: 'propagation',
  unbindable: 'propagation',
  runbindable: 'propagation',
  private: 'propagation',
  rprivate: 'propagation',
  shared: 'propagation',
  rshared: 'propagation',
  slave: 'propagation',
  rslave: 'propagation',
};
const tmpfsDataKeys = ['', 'size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol'];

/** Later options win over earlier ones of the same flag or key, as moby's MergeTmpfsOptions. */
function mergeTmpfsOptions(options: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const option = options[i] ?? '';
    if (option === 'defaults') continue;
    const group = tmpfsFlagGroups[option];
    let key: string;
    if (group !== undefined) {
      key = `flag:${group}`;
    } else {
      const eq = option.indexOf('=');
      const name = eq < 0 ? option : option.slice(0, eq);
      if (eq < 0 || !tmpfsDataKeys.includes(name)) {
        throw new InvalidArgumentError(`invalid tmpfs option ${JSON.stringify(name)}`);
      }
      key = `data:${name}`;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    out.unshift(option);
  }
  return out;
}

function userMounts(input: SpecInput): UserMount[] {
  const h = input.hostConfig;
  const writableFiles = !h.ReadonlyRootfs;
  const mounts: UserMount[] = [];
  const add = (m: UserMount): void => {
    if (mounts.some((o) => o.destination === m.destination)) {
      throw new InvalidArgumentError(`Duplicate mount point: ${m.destination}`);
    }
    mounts.push(m);
  };
  for (const m of input.mounts) add({ ...m });
  for (const [dest, data] of Object.entries(h.Tmpfs ?? {})) {
    validateMountTarget(dest);
    add({
      destination: path.normalize(dest),
      kind: 'tmpfs',
      source: 'tmpfs',
      writable: true,
      data,
    });
  }
  const files: [string | undefined, string][] = [
    [input.files?.resolvConf, '/etc/resolv.conf'],
    [input.files?.hostname, '/etc/hostname'],
    [input.files?.hosts, '/etc/hosts'],
  ];
  for (const [source, destination] of files) {
    if (!source || mounts.some((m) => m.destination === destination)) continue;
    mounts.push({
      destination,
      kind: 'bind',
      source,
      writable: writableFiles,
      propagation: 'rprivate',
    });
  }
  // Parents before children: by the number of path elements, stable otherwise.
  return mounts
    .map((m, i) => ({ m, i, depth: m.destination.split('/').filter(Boolean).length }))
    .sort((a, b) => a.depth - b.depth || a.i - b.i)
    .map((e) => e.m);
}

function toSpecMount(m: UserMount): SpecMount {
  if (m.kind === 'tmpfs') {
    const options = ['noexec', 'nosuid', 'nodev', 'rprivate'];
    if (m.data) options.push(...m.data.split(','));
    return {
      destination: m.destination,
      type: 'tmpfs',
      source: 'tmpfs',
      options: mergeTmpfsOptions(options),
    };
  }
  const options = [m.nonRecursive ? 'bind' : 'rbind'];
  if (!m.writable) options.push('ro');
  if (m.propagation) options.push(m.propagation);
  return { destination: m.destination, type: 'bind', source: m.source, options };
}

// ---------------------------------------------------------------------------------------------
// Security options

interface SecurityOptions {
  noNewPrivileges: boolean;
  seccompUnconfined: boolean;
  unmaskSystemPaths: boolean;
  writableCgroups?: boolean;
}

function parseSecurityOpt(opts: readonly string[]): SecurityOptions {
  const result: SecurityOptions = {
    noNewPrivileges: false,
    seccompUnconfined: false,
    unmaskSystemPaths: false,
  };
  for (const opt of opts) {
    if (opt === 'no-new-privileges') {
      result.noNewPrivileges = true;
      continue;
    }
    if (opt === 'disable') continue;
    const m = /^([^=:]+)[=:](.*)$/.exec(opt);
    if (!m) throw new InvalidArgumentError(`invalid --security-opt 1: ${JSON.stringify(opt)}`);
    const [, key = '', value = ''] = m;
    switch (key) {
      case 'label':
      case 'apparmor':
        break;
      case 'seccomp':
        result.seccompUnconfined = value === 'unconfined';
        break;
      case 'no-new-privileges':
        result.noNewPrivileges = parseBool(value, opt);
        break;
      case 'writable-cgroups':
        result.writableCgroups = parseBool(value, opt);
        break;
      case 'systempaths':
        if (value !== 'unconfined') {
          throw new InvalidArgumentError(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
        }
        result.unmaskSystemPaths = true;
        break;
      default:
        throw new InvalidArgumentError(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
    }
  }
  return result;
}

function parseBool(value: string, opt: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw new InvalidArgumentError(`invalid --security-opt 2: ${JSON.stringify(opt)}`);
}

/** `c 1:3 rwm` style rules (Docker's --device-cgroup-rule). */
export function parseDeviceCgroupRule(rule: string): LinuxDeviceCgroup {
  const m = /^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$/.exec(rule);
  if (!m) throw new InvalidArgumentError(`invalid device cgroup rule format: '${rule}'`);
  const [, type = 'a', major = '*', minor = '*', access = ''] = m;
  const out: LinuxDeviceCgroup = { allow: true, type, access };
  if (major !== '*') out.major = Number(major);
  if (minor !== '*') out.minor = Number(minor);
  return out;
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

/**
 * Only sysctls of a namespace the container has of its own: IPC ones unless it shares the
 * host's IPC namespace, net.* unless it shares the host's network namespace.
 */
function validateSysctls(h: HostConfig): void {
  for (const [key, value] of Object.entries(h.Sysctls ?? {})) {
    const ipc = namespacedSysctls.has(key) || key.startsWith('fs.mqueue.');
    const net = key.startsWith('net.');
    if (!ipc && !net) {
      throw new InvalidArgumentError(`sysctl '${key}=${value}' is not allowed`);
    }
    if (ipc && h.IpcMode === 'host') {
      throw new InvalidArgumentError(`sysctl '${key}' is not allowed in the host's IPC namespace`);
    }
    if (net && h.NetworkMode === 'host') {
      throw new InvalidArgumentError(
        `sysctl '${key}' is not allowed in the host's network namespace`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * The OCI runtime spec dockerd would give this container: Docker's default spec, then the
 * image and container configuration applied in dockerd's order. `root.path` is left for the
 * runtime to set. Throws InvalidArgumentError with dockerd's messages for invalid settings.
 */
export function buildSpec(input: SpecInput): RuntimeSpec {
  const { config, hostConfig: h, image } = input;
  validateContainerConfig(config, h, { cpuCount: input.cpuCount });
  validateUserns(h, input.idMap);
  const security = parseSecurityOpt(h.SecurityOpt ?? []);
  if ((h.Devices?.length ?? 0) > 0 && !h.Privileged && !input.devices) {
    throw new InvalidArgumentError('device mappings were not gathered');
  }

  const pidMode = h.PidMode ?? '';
  const ipcMode = h.IpcMode ?? '';
  const netMode = h.NetworkMode ?? '';
  const tty = config.Tty ?? false;

  // Process
  let args = resolveArgs(config, image);
  const mounts = defaultMounts();
  const wantInit = h.Init === true && pidMode === '';
  if (wantInit) {
    if (!input.initPath) {
      throw new InvalidArgumentError(
        'docker-init binary not found on the host (tini or catatonit)',
      );
    }
    args = [inContainerInitPath, '--', ...args];
  }
  const envDefaults = [`PATH=${defaultPathEnv}`, `HOSTNAME=${input.hostname}`];
  if (tty) envDefaults.push('TERM=xterm');
  const env = replaceOrAppendEnv(envDefaults, mergeEnv(config.Env, image.Env));
  const caps = effectiveCapabilities(h, input.allCapabilities);

  const spec: RuntimeSpec = {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: tty,
      user: {
        uid: input.user.uid,
        gid: input.user.gid,
        ...(input.user.additionalGids.length > 0
          ? { additionalGids: input.user.additionalGids }
          : {}),
      },
      args,
      env,
      cwd: config.WorkingDir || image.WorkingDir || '/',
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps] },
      oomScoreAdj: h.OomScoreAdj ?? 0,
    },
    root: { path: 'rootfs', readonly: h.ReadonlyRootfs ?? false },
    hostname: h.UTSMode === 'host' ? '' : input.hostname,
    mounts,
    linux: {
      sysctl: {},
      resources: { devices: defaultDeviceRules() },
      cgroupsPath: path.join(h.CgroupParent || '/berth', input.id),
      namespaces: [],
      maskedPaths: [...defaultMaskedPaths],
      readonlyPaths: [...defaultReadonlyPaths],
    },
  };
  if (tty && h.ConsoleSize && (h.ConsoleSize[0] || h.ConsoleSize[1])) {
    spec.process.consoleSize = { height: h.ConsoleSize[0], width: h.ConsoleSize[1] };
  }
  // As dockerd: the NIS domain name through the sysctl, which every runc version applies.
  if (config.Domainname && h.UTSMode !== 'host') {
    (spec.linux.sysctl ??= {})['kernel.domainname'] = config.Domainname;
  }
  if (security.noNewPrivileges) spec.process.noNewPrivileges = true;
  if (h.Ulimits && h.Ulimits.length > 0) {
    spec.process.rlimits = h.Ulimits.map((u) => ({
      type: `RLIMIT_${u.Name.toUpperCase()}`,
      soft: u.Soft,
      hard: u.Hard,
    }));
  }
  if (h.Annotations && Object.keys(h.Annotations).length > 0) {
    spec.annotations = { ...h.Annotations };
  }
  if (wantInit && input.initPath) {
    mounts.push({
      destination: inContainerInitPath,
      type: 'bind',
      source: input.initPath,
      options: ['bind', 'ro'],
    });
  }

  // Network sysctls Docker sets in a container's own network namespace.
  const linux = spec.linux;
  const sysctl = (linux.sysctl ??= {});
  const privateNet = netMode !== 'host' && !netMode.startsWith('container:');
  if (privateNet) {
    sysctl['net.ipv4.ping_group_range'] = '0 2147483647';
    sysctl['net.ipv4.ip_unprivileged_port_start'] = '0';
  }
  Object.assign(sysctl, h.Sysctls ?? {});

  linux.resources = {
    ...linux.resources,
    ...resources(h, input.swapLimit ?? true, input.blockDevices),
  };

  // Devices
  const rules = linux.resources.devices ?? [];
  if (h.Privileged) {
    linux.devices = [...(input.hostDevices ?? [])];
    linux.resources.devices = [{ allow: true, access: 'rwm' }];
  } else {
    const mapped = input.devices ?? [];
    linux.devices = mapped.map((m) => m.device);
    linux.resources.devices = [
      ...rules,
      ...mapped.map((m) => ({
        allow: true,
        type: m.device.type,
        major: m.device.major,
        minor: m.device.minor,
        access: m.access,
      })),
      ...(h.DeviceCgroupRules ?? []).map(parseDeviceCgroupRule),
    ];
  }

  linux.namespaces = namespaces(input);
  applyUserns(spec, h, input.idMap);

  // Mounts: defaults not overridden, then the user's, as dockerd's withMounts.
  const user = userMounts(input);
  const userDests = new Set(user.map((m) => m.destination));
  const mountDev = userDests.has('/dev');
  const kept = mounts.filter((m) => {
    if (userDests.has(m.destination)) return false;
    if (mountDev && m.destination.startsWith('/dev/')) return false;
    if (m.destination === '/dev/shm' && ipcMode === 'none') return false;
    return true;
  });
  for (const m of kept) {
    if (m.destination === '/dev/shm') {
      m.options = [...(m.options ?? []), `size=${h.ShmSize || defaultShmSize}`];
    }
  }
  spec.mounts = [...kept, ...user.map(toSpecMount)];
  sysfsForJoinedNetns(spec, h);
  if (h.ReadonlyRootfs) {
    for (const m of spec.mounts) {
      if (['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev'].includes(m.destination))
        continue;
      if (userDests.has(m.destination)) continue;
      if (!m.options?.includes('ro')) m.options = [...(m.options ?? []), 'ro'];
    }
  }
  if (h.Privileged) {
    for (const m of spec.mounts) {
      if (m.destination === '/sys') m.options = (m.options ?? []).filter((o) => o !== 'ro');
    }
    delete linux.maskedPaths;
    delete linux.readonlyPaths;
  }
  if (security.writableCgroups ?? h.Privileged) {
    for (const m of spec.mounts) {
      if (m.type === 'cgroup') m.options = (m.options ?? []).filter((o) => o !== 'ro');
    }
  }
  if (security.unmaskSystemPaths) {
    delete linux.maskedPaths;
    delete linux.readonlyPaths;
  }
  if (h.MaskedPaths) linux.maskedPaths = [...h.MaskedPaths];
  if (h.ReadonlyPaths) linux.readonlyPaths = [...h.ReadonlyPaths];
  const seccomp = seccompFor(h, caps, input.seccompProfile);
  if (seccomp !== undefined) linux.seccomp = seccomp;
  return spec;
}

/**
 * As dockerd: none for a privileged container or `seccomp=unconfined`; the profile given
 * inline (`seccomp={...}`, what the docker CLI sends after reading the file) or by path (read
 * by the caller); otherwise berth's default for the container's capabilities.
 */
function seccompFor(h: HostConfig, caps: readonly string[], loaded: unknown): unknown {
  if (h.Privileged) return undefined;
  const opt = seccompOption(h.SecurityOpt ?? []);
  if (opt === 'unconfined') return undefined;
  if (opt === undefined || opt === '' || opt === 'builtin') return defaultSeccompProfile(caps);
  if (opt.trimStart().startsWith('{')) return parseSeccompProfile(opt, 'inline');
  if (loaded === undefined) {
    throw new InvalidArgumentError(`seccomp profile ${opt} was not read`);
  }
  return loaded;
}

function resources(
  h: HostConfig,
  swapLimit: boolean,
  blockDevices: ReadonlyMap<string, DeviceNumbers> = new Map(),
): LinuxResources {
  const out: LinuxResources = {};
  const memory: NonNullable<LinuxResources['memory']> = {};
  const limit = h.Memory ?? 0;
  // dockerd's create-time default: swap twice the memory limit; -1 is unlimited.
  let swap = h.MemorySwap ?? 0;
  if (limit > 0 && swap === 0) swap = limit * 2;
  if (!swapLimit) swap = -1;
  if (limit > 0) memory.limit = limit;
  if ((h.MemoryReservation ?? 0) > 0) memory.reservation = h.MemoryReservation;
  if (limit > 0 && swap > 0) memory.swap = swap;
  if (h.MemorySwappiness !== undefined && h.MemorySwappiness !== null && h.MemorySwappiness >= 0) {
    memory.swappiness = h.MemorySwappiness;
  }
  if (h.OomKillDisable !== undefined && h.OomKillDisable !== null) {
    memory.disableOOMKiller = h.OomKillDisable;
  }
  if (Object.keys(memory).length > 0) out.memory = memory;

  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if (h.CpuShares) cpu.shares = h.CpuShares;
  if (h.CpusetCpus) cpu.cpus = h.CpusetCpus;
  if (h.CpusetMems) cpu.mems = h.CpusetMems;
  if ((h.NanoCpus ?? 0) > 0) {
    cpu.period = 100000;
    cpu.quota = Math.trunc(((h.NanoCpus ?? 0) * 100000) / 1e9);
  }
  if (h.CpuPeriod) cpu.period = h.CpuPeriod;
  if (h.CpuQuota) cpu.quota = h.CpuQuota;
  if (h.CpuRealtimePeriod) cpu.realtimePeriod = h.CpuRealtimePeriod;
  if (h.CpuRealtimeRuntime) cpu.realtimeRuntime = h.CpuRealtimeRuntime;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;

  const numbers = (p: string): DeviceNumbers => {
    const n = blockDevices.get(p);
    if (!n) throw new InvalidArgumentError(`stat ${p}: device numbers were not gathered`);
    return n;
  };
  const throttle = (list: readonly ThrottleDevice[] | null | undefined): LinuxThrottleDevice[] =>
    (list ?? []).map((d) => ({ ...numbers(d.Path), rate: d.Rate }));
  const blockIO: NonNullable<LinuxResources['blockIO']> = {};
  if (h.BlkioWeight) blockIO.weight = h.BlkioWeight;
  const weightDevice = (h.BlkioWeightDevice ?? []).map((d) => ({
    ...numbers(d.Path),
    weight: d.Weight,
  }));
  if (weightDevice.length > 0) blockIO.weightDevice = weightDevice;
  for (const [key, list] of [
    ['throttleReadBpsDevice', h.BlkioDeviceReadBps],
    ['throttleWriteBpsDevice', h.BlkioDeviceWriteBps],
    ['throttleReadIOPSDevice', h.BlkioDeviceReadIOps],
    ['throttleWriteIOPSDevice', h.BlkioDeviceWriteIOps],
  ] as const) {
    const devices = throttle(list);
    if (devices.length > 0) blockIO[key] = devices;
  }
  if (Object.keys(blockIO).length > 0) out.blockIO = blockIO;
  if (h.PidsLimit !== undefined && h.PidsLimit !== null) {
    out.pids = { limit: h.PidsLimit <= 0 ? -1 : h.PidsLimit };
  }
  return out;
}

function namespaces(input: SpecInput): LinuxNamespace[] {
  const h = input.hostConfig;
  const join = (mode: string, kind: 'net' | 'ipc' | 'pid'): string => {
    const target = mode.slice('container:'.length);
    if (!input.namespacePath) {
      throw new InvalidArgumentError(`cannot join the namespace of container ${target}`);
    }
    return input.namespacePath(target, kind);
  };
  const out: LinuxNamespace[] = [{ type: 'mount' }];
  const net = h.NetworkMode ?? '';
  if (input.config.NetworkDisabled || (net !== 'host' && !net.startsWith('container:'))) {
    out.push(
      input.netnsPath && !input.config.NetworkDisabled
        ? { type: 'network', path: input.netnsPath }
        : { type: 'network' },
    );
  } else if (net.startsWith('container:')) {
    out.push({ type: 'network', path: join(net, 'net') });
  }
  if (h.UTSMode !== 'host') out.push({ type: 'uts' });
  const pid = h.PidMode ?? '';
  if (pid.startsWith('container:')) out.push({ type: 'pid', path: join(pid, 'pid') });
  else if (pid !== 'host') out.push({ type: 'pid' });
  const ipc = h.IpcMode ?? '';
  if (ipc.startsWith('container:')) out.push({ type: 'ipc', path: join(ipc, 'ipc') });
  else if (ipc !== 'host') out.push({ type: 'ipc' });
  if (h.CgroupnsMode === 'private') out.push({ type: 'cgroup' });
  return out;
}
