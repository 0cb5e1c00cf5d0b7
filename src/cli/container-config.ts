import { readFileSync } from 'node:fs';
import path from 'node:path';
import type {
  CreateContainerRequest,
  HealthConfig,
  HostConfig,
  RestartPolicy,
} from '../spec/engine.js';
import { UsageError, type Flags, type FlagSpec } from './args.js';
import { ramInBytes } from './human.js';
import {
  applyResourceFlags,
  checkModes,
  parseSysctl,
  parseUlimit,
  RESOURCE_FLAGS,
} from './resource-flags.js';
import { parseMountFlag } from './mount-flag.js';

/** `-v ./dir:/p` as the docker CLI sends it: a relative host path made absolute. */
export function absoluteBindSource(spec: string, cwd = process.cwd()): string {
  const colon = spec.indexOf(':');
  const source = spec.slice(0, colon);
  if (source === '.' || source === '..' || source.startsWith('./') || source.startsWith('../')) {
    return `${path.resolve(cwd, source)}${spec.slice(colon)}`;
  }
  return spec;
}

/** The flags `run` and `create` share (docker's container create options). */
export const CREATE_FLAGS: FlagSpec[] = [
  { long: 'attach', short: 'a', kind: 'list', description: 'Attach to STDIN, STDOUT or STDERR' },
  {
    long: 'interactive',
    short: 'i',
    kind: 'bool',
    description: 'Keep STDIN open even if not attached',
  },
  { long: 'tty', short: 't', kind: 'bool', description: 'Allocate a pseudo-TTY' },
  { long: 'name', kind: 'string', description: 'Assign a name to the container' },
  { long: 'env', short: 'e', kind: 'list', description: 'Set environment variables' },
  { long: 'env-file', kind: 'list', description: 'Read in a file of environment variables' },
  {
    long: 'workdir',
    short: 'w',
    kind: 'string',
    description: 'Working directory inside the container',
  },
  {
    long: 'user',
    short: 'u',
    kind: 'string',
    description: 'Username or UID (format: <name|uid>[:<group|gid>])',
  },
  { long: 'hostname', short: 'h', kind: 'string', description: 'Container host name' },
  { long: 'domainname', kind: 'string', description: 'Container NIS domain name' },
  {
    long: 'entrypoint',
    kind: 'string',
    description: 'Overwrite the default ENTRYPOINT of the image',
  },
  { long: 'label', short: 'l', kind: 'list', description: 'Set meta data on a container' },
  { long: 'label-file', kind: 'list', description: 'Read in a line delimited file of labels' },
  { long: 'init', kind: 'bool', description: 'Run an init inside the container' },
  {
    long: 'restart',
    kind: 'string',
    description: 'Restart policy to apply when a container exits',
  },
  { long: 'stop-signal', kind: 'string', description: 'Signal to stop the container' },
  { long: 'stop-timeout', kind: 'number', description: 'Timeout (in seconds) to stop a container' },
  { long: 'cidfile', kind: 'string', description: 'Write the container ID to the file' },
  { long: 'health-cmd', kind: 'string', description: 'Command to run to check health' },
  {
    long: 'health-interval',
    kind: 'string',
    description: 'Time between running the check (ms|s|m|h) (default 0s)',
  },
  {
    long: 'health-retries',
    kind: 'number',
    description: 'Consecutive failures needed to report unhealthy',
  },
  {
    long: 'health-timeout',
    kind: 'string',
    description: 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)',
  },
  {
    long: 'health-start-period',
    kind: 'string',
    description:
      'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)',
  },
  {
    long: 'health-start-interval',
    kind: 'string',
    description: 'Time between running the check during the start period (ms|s|m|h) (default 0s)',
  },
  {
    long: 'no-healthcheck',
    kind: 'bool',
    description: 'Disable any container-specified HEALTHCHECK',
  },
  { long: 'privileged', kind: 'bool', description: 'Give extended privileges to this container' },
  { long: 'pull', kind: 'string', description: 'Pull image before running ("missing", "never")' },
  {
    long: 'publish',
    short: 'p',
    kind: 'list',
    description: "Publish a container's port(s) to the host",
  },
  {
    long: 'publish-all',
    short: 'P',
    kind: 'bool',
    description: 'Publish all exposed ports to random ports',
  },
  { long: 'expose', kind: 'list', description: 'Expose a port or a range of ports' },
  { long: 'volume', short: 'v', kind: 'list', description: 'Bind mount a volume' },
  { long: 'tmpfs', kind: 'list', description: 'Mount a tmpfs directory' },
  { long: 'mount', kind: 'list', description: 'Attach a filesystem mount to the container' },
  {
    long: 'volumes-from',
    kind: 'list',
    description: 'Mount volumes from the specified container(s)',
  },
  {
    long: 'volume-driver',
    kind: 'string',
    description: 'Optional volume driver for the container',
  },
  { long: 'network', kind: 'string', description: 'Connect a container to a network' },
  { long: 'net', kind: 'string', hidden: true },
  { long: 'ip', kind: 'string', description: 'IPv4 address (e.g., 172.30.100.104)' },
  { long: 'ip6', kind: 'string', description: 'IPv6 address (e.g., 2001:db8::33)' },
  {
    long: 'network-alias',
    kind: 'list',
    description: 'Add network-scoped alias for the container',
  },
  { long: 'net-alias', kind: 'list', hidden: true },
  { long: 'link', kind: 'list', description: 'Add link to another container' },
  { long: 'memory', short: 'm', kind: 'string', description: 'Memory limit' },
  { long: 'memory-swap', kind: 'string', description: 'Swap limit equal to memory plus swap' },
  { long: 'memory-reservation', kind: 'string', description: 'Memory soft limit' },
  { long: 'cpus', kind: 'string', description: 'Number of CPUs' },
  { long: 'cpu-shares', short: 'c', kind: 'number', description: 'CPU shares (relative weight)' },
  { long: 'cpuset-cpus', kind: 'string', description: 'CPUs in which to allow execution' },
  { long: 'pids-limit', kind: 'number', description: 'Tune container pids limit' },
  { long: 'shm-size', kind: 'string', description: 'Size of /dev/shm' },
  {
    long: 'read-only',
    kind: 'bool',
    description: "Mount the container's root filesystem as read only",
  },
  { long: 'cap-add', kind: 'list', description: 'Add Linux capabilities' },
  { long: 'cap-drop', kind: 'list', description: 'Drop Linux capabilities' },
  { long: 'security-opt', kind: 'list', description: 'Security Options' },
  { long: 'device', kind: 'list', description: 'Add a host device to the container' },
  { long: 'dns', kind: 'list', description: 'Set custom DNS servers' },
  { long: 'dns-search', kind: 'list', description: 'Set custom DNS search domains' },
  { long: 'dns-option', kind: 'list', description: 'Set DNS options' },
  { long: 'add-host', kind: 'list', description: 'Add a custom host-to-IP mapping (host:ip)' },
  { long: 'ulimit', kind: 'list', description: 'Ulimit options' },
  { long: 'sysctl', kind: 'list', description: 'Sysctl options' },
  { long: 'group-add', kind: 'list', description: 'Add additional groups to join' },
  { long: 'pid', kind: 'string', description: 'PID namespace to use' },
  { long: 'ipc', kind: 'string', description: 'IPC mode to use' },
  { long: 'uts', kind: 'string', description: 'UTS namespace to use' },
  { long: 'userns', kind: 'string', description: 'User namespace to use' },
  { long: 'log-driver', kind: 'string', description: 'Logging driver for the container' },
  { long: 'log-opt', kind: 'list', description: 'Log driver options' },
  {
    long: 'platform',
    kind: 'string',
    description: 'Set platform if server is multi-platform capable',
  },
  { long: 'mac-address', kind: 'string', hidden: true },
  { long: 'runtime', kind: 'string', description: 'Runtime to use for this container' },
  { long: 'rm', kind: 'bool', description: 'Automatically remove the container when it exits' },
  {
    long: 'detach-keys',
    kind: 'string',
    description: 'Override the key sequence for detaching a container',
  },
  ...RESOURCE_FLAGS,
];

function parseKeyValueFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err: unknown) {
    throw new UsageError(`open ${path}: no such file or directory`, { cause: err });
  }
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    out.push(line);
  }
  return out;
}

/** `-e KEY` takes KEY's value from the environment, as docker does. */
function envEntry(e: string, env: NodeJS.ProcessEnv): string | undefined {
  if (e.includes('=')) return e;
  const v = env[e];
  return v === undefined ? undefined : `${e}=${v}`;
}

export function parseRestart(spec: string): RestartPolicy {
  const [name = '', count] = spec.split(':');
  if (!['no', 'always', 'unless-stopped', 'on-failure', ''].includes(name)) {
    throw new UsageError(`invalid restart policy '${spec}'`);
  }
  if (count !== undefined && name !== 'on-failure') {
    throw new UsageError(
      `invalid restart policy: maximum retry count can only be used with 'on-failure'`,
    );
  }
  return {
    Name: name as RestartPolicy['Name'],
    ...(count !== undefined ? { MaximumRetryCount: Number(count) } : {}),
  };
}

/**
 * The endpoint settings of the network a container is created on, as the docker CLI sends
 * them: --ip, --ip6 and --network-alias under the network's name.
 */
function endpointsConfig(
  flags: { string(n: string): string | undefined; list(n: string): string[] },
  network: string,
): Record<string, unknown> {
  const ip = flags.string('ip');
  const ip6 = flags.string('ip6');
  const aliases = [...flags.list('network-alias'), ...flags.list('net-alias')];
  if (!ip && !ip6 && aliases.length === 0) return {};
  return {
    [network]: {
      ...(ip || ip6
        ? {
            IPAMConfig: {
              ...(ip ? { IPv4Address: ip } : {}),
              ...(ip6 ? { IPv6Address: ip6 } : {}),
            },
          }
        : {}),
      ...(aliases.length > 0 ? { Aliases: aliases } : {}),
    },
  };
}

/** `[ip:][hostPort:]containerPort[/proto]`. */
export function parsePublish(spec: string): { key: string; hostIp: string; hostPort: string } {
  let rest = spec;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
  }
  let hostIp = '';
  let hostPort = '';
  let containerPort = rest;
  const bracket = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (bracket) {
    hostIp = bracket[1] as string;
    rest = bracket[2] as string;
  }
  const parts = rest.split(':');
  if (parts.length === 1) containerPort = parts[0] as string;
  else if (parts.length === 2) {
    hostPort = parts[0] as string;
    containerPort = parts[1] as string;
  } else if (parts.length === 3 && !bracket) {
    hostIp = parts[0] as string;
    hostPort = parts[1] as string;
    containerPort = parts[2] as string;
  } else throw new UsageError(`invalid port format for --publish: ${spec}`);
  if (!/^\d+(-\d+)?$/.test(containerPort))
    throw new UsageError(`invalid containerPort: ${containerPort}`);
  return { key: `${containerPort}/${proto}`, hostIp, hostPort };
}

const durationUnits: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration, in nanoseconds; the error text is Go's. */
export function parseGoDuration(text: string): number {
  const quoted = JSON.stringify(text);
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw new Error(`time: invalid duration ${quoted}`);
  let total = 0;
  while (rest !== '') {
    const num = /^(\d*)(\.\d*)?/.exec(rest);
    const digits = (num?.[1] ?? '') + (num?.[2] ?? '');
    if (digits === '' || digits === '.') throw new Error(`time: invalid duration ${quoted}`);
    rest = rest.slice(digits.length);
    const unit = /^[^\d.]*/.exec(rest)?.[0] ?? '';
    if (unit === '') throw new Error(`time: missing unit in duration ${quoted}`);
    const scale = durationUnits[unit];
    if (scale === undefined)
      throw new Error(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    rest = rest.slice(unit.length);
    total += Number(digits) * scale;
  }
  return sign * Math.round(total);
}

function durationFlag(flags: Flags, name: string): number {
  const v = flags.string(name);
  if (v === undefined) return 0;
  try {
    return parseGoDuration(v);
  } catch (err: unknown) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new UsageError(`invalid argument "${v}" for "--${name}" flag: ${reason}`, { cause: err });
  }
}

/** The --health-* and --no-healthcheck flags as the docker CLI maps them to Config.Healthcheck. */
export function healthcheckFlags(flags: Flags): HealthConfig | undefined {
  const cmd = flags.string('health-cmd') ?? '';
  const interval = durationFlag(flags, 'health-interval');
  const timeout = durationFlag(flags, 'health-timeout');
  const startPeriod = durationFlag(flags, 'health-start-period');
  const startInterval = durationFlag(flags, 'health-start-interval');
  const retries = flags.number('health-retries') ?? 0;
  const any =
    cmd !== '' ||
    interval !== 0 ||
    timeout !== 0 ||
    startPeriod !== 0 ||
    retries !== 0 ||
    startInterval !== 0;
  if (flags.bool('no-healthcheck')) {
    if (any) throw new UsageError('--no-healthcheck conflicts with --health-* options');
    return { Test: ['NONE'] };
  }
  if (!any) return undefined;
  if (interval < 0) throw new UsageError('--health-interval cannot be negative');
  if (timeout < 0) throw new UsageError('--health-timeout cannot be negative');
  if (retries < 0) throw new UsageError('--health-retries cannot be negative');
  if (startPeriod < 0) throw new UsageError('--health-start-period cannot be negative');
  if (startInterval < 0) throw new UsageError('--health-start-interval cannot be negative');
  // The docker CLI leaves zero fields out of the JSON (omitempty).
  const hc: HealthConfig = {};
  if (cmd !== '') hc.Test = ['CMD-SHELL', cmd];
  if (interval) hc.Interval = interval;
  if (timeout) hc.Timeout = timeout;
  if (startPeriod) hc.StartPeriod = startPeriod;
  if (startInterval) hc.StartInterval = startInterval;
  if (retries) hc.Retries = retries;
  return hc;
}

/** `-m, --memory` for a flag with a short form, as pflag names it in errors. */
export function flagDisplay(name: string): string {
  const short = CREATE_FLAGS.find((f) => f.long === name)?.short;
  return short ? `-${short}, --${name}` : `--${name}`;
}

function sizeFlag(flags: Flags, name: string): number | undefined {
  const v = flags.string(name);
  if (v === undefined) return undefined;
  if (v === '-1') return -1;
  try {
    return ramInBytes(v);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new UsageError(`invalid argument "${v}" for "${flagDisplay(name)}" flag: ${reason}`, {
      cause,
    });
  }
}

export interface CreatePlan {
  request: CreateContainerRequest;
  name?: string;
  image: string;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
}

/** Turns `run`/`create` flags and `IMAGE [COMMAND] [ARG...]` into a create request. */
export function buildCreate(
  flags: Flags,
  args: string[],
  options: { detach: boolean; env?: NodeJS.ProcessEnv },
): CreatePlan {
  const env = options.env ?? process.env;
  const [image, ...cmd] = args;
  if (image === undefined) throw new UsageError('requires at least 1 argument');
  const attach = flags.list('attach').map((a) => a.toLowerCase());
  for (const a of attach) {
    if (!['stdin', 'stdout', 'stderr'].includes(a)) {
      throw new UsageError(
        `invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`,
      );
    }
  }
  if (options.detach && attach.length > 0) {
    throw new UsageError('Conflicting options: -a and -d');
  }
  const interactive = flags.bool('interactive');
  let attachStdin = false;
  let attachStdout = false;
  let attachStderr = false;
  if (!options.detach) {
    if (attach.length > 0) {
      attachStdin = attach.includes('stdin');
      attachStdout = attach.includes('stdout');
      attachStderr = attach.includes('stderr');
    } else {
      attachStdin = interactive;
      attachStdout = true;
      attachStderr = true;
    }
  }
  const tty = flags.bool('tty');
  const envList = [...flags.list('env-file').flatMap(parseKeyValueFile), ...flags.list('env')]
    .map((e) => envEntry(e, env))
    .filter((e): e is string => e !== undefined);
  const labels: Record<string, string> = {};
  for (const l of [
    ...flags.list('label-file').flatMap(parseKeyValueFile),
    ...flags.list('label'),
  ]) {
    const eq = l.indexOf('=');
    if (eq < 0) labels[l] = '';
    else labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const e of flags.list('expose')) {
    exposed[e.includes('/') ? e : `${e}/tcp`] = {};
  }
  for (const p of flags.list('publish')) {
    const { key, hostIp, hostPort } = parsePublish(p);
    exposed[key] = {};
    (bindings[key] ??= []).push({ HostIp: hostIp, HostPort: hostPort });
  }
  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const v of flags.list('volume')) {
    if (v.includes(':')) binds.push(absoluteBindSource(v));
    else volumes[v] = {};
  }
  const tmpfs: Record<string, string> = {};
  for (const t of flags.list('tmpfs')) {
    const colon = t.indexOf(':');
    if (colon < 0) tmpfs[t] = '';
    else tmpfs[t.slice(0, colon)] = t.slice(colon + 1);
  }
  const host: HostConfig = {
    Binds: binds.length > 0 ? binds : null,
    ContainerIDFile: flags.string('cidfile') ?? '',
    NetworkMode: flags.string('network') ?? flags.string('net') ?? 'default',
    PortBindings: bindings,
    RestartPolicy: parseRestart(flags.string('restart') ?? 'no'),
    AutoRemove: flags.bool('rm'),
    Privileged: flags.bool('privileged'),
    PublishAllPorts: flags.bool('publish-all'),
    ReadonlyRootfs: flags.bool('read-only'),
    CapAdd: flags.list('cap-add').length > 0 ? flags.list('cap-add') : null,
    CapDrop: flags.list('cap-drop').length > 0 ? flags.list('cap-drop') : null,
    SecurityOpt: flags.list('security-opt').length > 0 ? flags.list('security-opt') : null,
    Dns: flags.list('dns'),
    DnsSearch: flags.list('dns-search'),
    DnsOptions: flags.list('dns-option'),
    ExtraHosts: flags.list('add-host').length > 0 ? flags.list('add-host') : null,
    GroupAdd: flags.list('group-add').length > 0 ? flags.list('group-add') : null,
    Init: flags.has('init') ? flags.bool('init') : null,
    ConsoleSize: [0, 0],
  };
  if (host.RestartPolicy?.Name === 'no') host.RestartPolicy = { Name: 'no', MaximumRetryCount: 0 };
  if (host.AutoRemove && host.RestartPolicy?.Name !== 'no' && host.RestartPolicy?.Name !== '') {
    throw new UsageError('Conflicting options: --restart and --rm');
  }
  const memory = sizeFlag(flags, 'memory');
  if (memory !== undefined) host.Memory = memory;
  const swap = sizeFlag(flags, 'memory-swap');
  if (swap !== undefined) host.MemorySwap = swap;
  const reservation = sizeFlag(flags, 'memory-reservation');
  if (reservation !== undefined) host.MemoryReservation = reservation;
  const shm = sizeFlag(flags, 'shm-size');
  if (shm !== undefined) host.ShmSize = shm;
  const cpus = flags.string('cpus');
  if (cpus !== undefined) {
    const n = Number(cpus);
    if (!Number.isFinite(n) || n < 0)
      throw new UsageError(`invalid argument "${cpus}" for "--cpus" flag`);
    host.NanoCpus = Math.round(n * 1e9);
  }
  const shares = flags.number('cpu-shares');
  if (shares !== undefined) host.CpuShares = shares;
  const cpuset = flags.string('cpuset-cpus');
  if (cpuset !== undefined) host.CpusetCpus = cpuset;
  const pids = flags.number('pids-limit');
  if (pids !== undefined) host.PidsLimit = pids;
  for (const [flag, field] of [
    ['pid', 'PidMode'],
    ['ipc', 'IpcMode'],
    ['uts', 'UTSMode'],
    ['userns', 'UsernsMode'],
    ['runtime', 'Runtime'],
  ] as const) {
    const v = flags.string(flag);
    if (v !== undefined) host[field] = v;
  }
  // As the docker CLI: `host` or nothing (the daemon's default).
  if (host.UsernsMode !== undefined && !['', 'host'].includes(host.UsernsMode)) {
    throw new UsageError('--userns: invalid USER mode');
  }
  if (Object.keys(tmpfs).length > 0) host.Tmpfs = tmpfs;
  const mounts = flags.list('mount').map(parseMountFlag);
  if (mounts.length > 0) host.Mounts = mounts;
  const volumesFrom = flags.list('volumes-from');
  if (volumesFrom.length > 0) host.VolumesFrom = volumesFrom;
  const volumeDriver = flags.string('volume-driver');
  if (volumeDriver !== undefined) host.VolumeDriver = volumeDriver;
  const sysctls = flags.list('sysctl');
  if (sysctls.length > 0) host.Sysctls = Object.fromEntries(sysctls.map(parseSysctl));
  const ulimits = flags.list('ulimit');
  if (ulimits.length > 0) host.Ulimits = ulimits.map(parseUlimit);
  applyResourceFlags(flags, host);
  checkModes(host);
  const logDriver = flags.string('log-driver');
  const logOpts = flags.list('log-opt');
  host.LogConfig = {
    Type: logDriver ?? '',
    Config: Object.fromEntries(
      logOpts.map((o) => [o.slice(0, o.indexOf('=')), o.slice(o.indexOf('=') + 1)]),
    ),
  };
  const entrypoint = flags.string('entrypoint');
  const request: CreateContainerRequest = {
    Hostname: flags.string('hostname') ?? '',
    Domainname: flags.string('domainname') ?? '',
    User: flags.string('user') ?? '',
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ExposedPorts: Object.keys(exposed).length > 0 ? exposed : {},
    Tty: tty,
    OpenStdin: interactive,
    StdinOnce: interactive && attachStdin,
    Env: envList,
    Cmd: cmd.length > 0 ? cmd : null,
    Image: image,
    Volumes: Object.keys(volumes).length > 0 ? volumes : {},
    WorkingDir: flags.string('workdir') ?? '',
    Entrypoint: entrypoint === undefined ? null : entrypoint === '' ? [''] : [entrypoint],
    Labels: labels,
    HostConfig: host,
    NetworkingConfig: { EndpointsConfig: endpointsConfig(flags, host.NetworkMode ?? 'default') },
  };
  const links = flags.list('link');
  if (links.length > 0) host.Links = links.map((l) => (l.includes(':') ? l : `${l}:${l}`));
  const healthcheck = healthcheckFlags(flags);
  if (healthcheck) request.Healthcheck = healthcheck;
  const stopSignal = flags.string('stop-signal');
  if (stopSignal !== undefined) request.StopSignal = stopSignal;
  const stopTimeout = flags.number('stop-timeout');
  if (stopTimeout !== undefined) request.StopTimeout = stopTimeout;
  const mac = flags.string('mac-address');
  if (mac !== undefined) request.MacAddress = mac;
  const pull = flags.string('pull');
  if (pull !== undefined && pull !== 'never' && pull !== 'missing' && pull !== 'always') {
    throw new UsageError(
      `invalid pull option: '${pull}': must be one of "always", "missing" or "never"`,
    );
  }
  const name = flags.string('name');
  return {
    request,
    image,
    attachStdin,
    attachStdout,
    attachStderr,
    ...(name !== undefined ? { name } : {}),
  };
}
