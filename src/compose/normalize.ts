import path from 'node:path';
import { ComposeError } from './errors.js';
import { isDict, listToMap } from './merge.js';
import { formatDuration, parseBytes, parseDuration } from './units.js';
import type {
  BuildConfig,
  DependsOn,
  FileObjectConfig,
  NetworkConfig,
  PortConfig,
  Service,
  ServiceFileRef,
  ServiceNetwork,
  ServiceVolume,
  VolumeConfig,
} from './model.js';

type Dict = Record<string, unknown>;

/** Splits a command string as a POSIX shell would split words (quotes, backslashes). */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i] as string;
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) throw new ComposeError(`invalid command line string: ${s}`);
      cur += s.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < s.length && '"\\$`'.includes(s[i + 1] as string)) i++;
        cur += s[i];
        i++;
      }
      if (i >= s.length) throw new ComposeError(`invalid command line string: ${s}`);
      inWord = true;
      i++;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[i + 1];
      inWord = true;
      i += 2;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      i++;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

function range(spec: string): [number, number] {
  const [a, b] = spec.split('-');
  const lo = Number(a);
  const hi = b === undefined ? lo : Number(b);
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo > hi || lo < 0 || hi > 65535)
    throw new ComposeError(`Invalid port range: ${spec}`);
  return [lo, hi];
}

/**
 * Expands the short port syntax (`"80"`, `"8080:80"`, `"127.0.0.1:8080:80/udp"`,
 * `"9000-9001:80-81"`, `"[::1]:80:80"`) into long entries, one per container port, as
 * compose-go does.
 */
export function parsePortSpec(spec: string | number): PortConfig[] {
  let s = String(spec);
  let protocol = 'tcp';
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    protocol = s.slice(slash + 1);
    s = s.slice(0, slash);
  }
  let hostIp: string | undefined;
  let published: string | undefined;
  let target: string;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(s);
  if (v6) {
    hostIp = v6[1];
    s = v6[2] as string;
    const parts = s.split(':');
    if (parts.length === 1) target = parts[0] as string;
    else [published, target] = parts as [string, string];
  } else {
    const parts = s.split(':');
    if (parts.length === 1) target = parts[0] as string;
    else if (parts.length === 2) [published, target] = parts as [string, string];
    else if (parts.length === 3) [hostIp, published, target] = parts as [string, string, string];
    else throw new ComposeError(`Invalid port specification: "${String(spec)}"`);
  }
  if (published === '') published = undefined;
  if (hostIp === '') hostIp = undefined;
  const [tlo, thi] = range(target);
  let plo: number | undefined;
  let phi: number | undefined;
  if (published !== undefined) [plo, phi] = range(published);
  const count = thi - tlo + 1;
  if (plo !== undefined && phi !== undefined && phi - plo + 1 !== count && phi !== plo) {
    if (count !== 1)
      throw new ComposeError(
        `Invalid ranges specified for container and host Ports: ${target} and ${published}`,
      );
  }
  const out: PortConfig[] = [];
  for (let i = 0; i < count; i++) {
    const p: PortConfig = { mode: 'ingress', target: tlo + i, protocol };
    if (hostIp !== undefined) p.host_ip = hostIp;
    if (plo !== undefined && phi !== undefined) {
      if (count === 1) p.published = published as string;
      else p.published = String(plo === phi ? plo : plo + i);
    }
    out.push(p);
  }
  return out;
}

function normalizePorts(v: unknown): PortConfig[] {
  const out: PortConfig[] = [];
  for (const item of Array.isArray(v) ? v : []) {
    if (isDict(item)) {
      const p: PortConfig = {
        mode: String(item.mode ?? 'ingress'),
        target: Number(item.target),
        protocol: String(item.protocol ?? 'tcp'),
      };
      if (item.host_ip !== undefined) p.host_ip = String(item.host_ip);
      if (item.published !== undefined && item.published !== null)
        p.published = String(item.published);
      if (item.name !== undefined) p.name = String(item.name);
      if (item.app_protocol !== undefined) p.app_protocol = String(item.app_protocol);
      out.push(p);
    } else out.push(...parsePortSpec(item as string | number));
  }
  return out;
}

const PROPAGATIONS = new Set(['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate']);

function isPathLike(s: string): boolean {
  return s.startsWith('.') || s.startsWith('/') || s.startsWith('~');
}

/** Parses the short volume syntax `[source:]target[:mode]` into the long form. */
export function parseVolumeSpec(spec: string, baseDir: string): ServiceVolume {
  const parts = spec.split(':');
  if (parts.length > 3 || parts.some((p) => p === ''))
    throw new ComposeError(`invalid spec: ${spec}: too many colons`);
  if (parts.length === 1) return { type: 'volume', target: parts[0] as string, volume: {} };
  const [source, target, mode] = parts as [string, string, string | undefined];
  const bind = isPathLike(source);
  const v: ServiceVolume = bind
    ? { type: 'bind', source: resolveHostPath(source, baseDir), target }
    : { type: 'volume', source, target };
  const opts = mode === undefined ? [] : mode.split(',');
  for (const o of opts) {
    if (o === 'ro') v.read_only = true;
    else if (o === 'rw') v.read_only = false;
    else if (o === 'z' || o === 'Z') v.bind = { ...v.bind, selinux: o };
    else if (o === 'nocopy') v.volume = { ...v.volume, nocopy: true };
    else if (PROPAGATIONS.has(o)) v.bind = { ...v.bind, propagation: o };
    else if (o === 'cached' || o === 'delegated' || o === 'consistent') v.consistency = o;
    else throw new ComposeError(`invalid spec: ${spec}: unknown option ${o}`);
  }
  if (v.read_only === false) delete v.read_only;
  if (v.type === 'bind') v.bind = { ...v.bind, create_host_path: true };
  else v.volume ??= {};
  return v;
}

/** `./x`, `../x`, `~/x` and absolute paths as an absolute host path. */
export function resolveHostPath(p: string, baseDir: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(process.env.HOME ?? '/root', p.slice(1));
  return path.resolve(baseDir, p);
}

function normalizeVolumes(v: unknown, baseDir: string): ServiceVolume[] {
  const out: ServiceVolume[] = [];
  for (const item of Array.isArray(v) ? v : []) {
    if (typeof item === 'string') {
      out.push(parseVolumeSpec(item, baseDir));
      continue;
    }
    const d = item as Dict;
    const vol = { ...d } as unknown as ServiceVolume;
    if (vol.type === 'bind' && vol.source !== undefined)
      vol.source = resolveHostPath(vol.source, baseDir);
    if (vol.type === 'bind') vol.bind = { create_host_path: true, ...(vol.bind ?? {}) };
    if (vol.type === 'volume' && vol.volume === undefined) vol.volume = {};
    out.push(vol);
  }
  return out;
}

function strings(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(listToMap(v))) out[k] = val === null ? '' : String(val);
  return out;
}

function commandOf(v: unknown): string[] | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  return typeof v === 'string' ? shellSplit(v) : strings(v);
}

function normalizeBuild(v: unknown, baseDir: string): BuildConfig {
  const d: Dict = typeof v === 'string' ? { context: v } : { ...(v as Dict) };
  const context = String(d.context ?? '.');
  const isUrl = /^[a-z]+:\/\//.test(context) || context.startsWith('git@');
  const b: BuildConfig = {
    ...(d as object),
    context: isUrl ? context : path.resolve(baseDir, context),
  };
  if (b.dockerfile === undefined && b.dockerfile_inline === undefined) b.dockerfile = 'Dockerfile';
  if (d.args !== undefined) {
    const args: Record<string, string | null> = {};
    for (const [k, val] of Object.entries(listToMap(d.args)))
      args[k] = val === null ? null : String(val);
    b.args = args;
  }
  if (d.labels !== undefined) b.labels = stringMap(d.labels);
  if (d.extra_hosts !== undefined) b.extra_hosts = extraHosts(d.extra_hosts);
  return b;
}

/** extra_hosts as compose-go v2 prints them: `host=ip` (the `host:ip` form is read too). */
function extraHosts(v: unknown): string[] {
  if (isDict(v)) return Object.entries(v).flatMap(([h, ip]) => strings(ip).map((i) => `${h}=${i}`));
  return strings(v).map((s) => {
    if (s.includes('=')) return s;
    // `host:ip`, where an IPv6 address itself has colons: the host is before the first.
    const i = s.indexOf(':');
    return i >= 0 ? `${s.slice(0, i)}=${s.slice(i + 1).replace(/^\[(.*)\]$/, '$1')}` : s;
  });
}

function fileRefs(v: unknown): ServiceFileRef[] {
  return (Array.isArray(v) ? v : []).map((item) =>
    typeof item === 'string' ? { source: item } : ({ ...(item as object) } as ServiceFileRef),
  );
}

/**
 * Normalises one service: long syntaxes, resolved environment (env_file under environment, bare
 * names from `lookup`), default network, depends_on defaults, scale from deploy.replicas.
 */
export function normalizeService(
  raw: Dict,
  options: {
    baseDir: string;
    lookup: (name: string) => string | undefined;
    envFiles?: Record<string, string>;
  },
): Service {
  const s: Service = { ...(raw as object) };
  delete s.env_file;
  delete s.extends;
  if (raw.build !== undefined) s.build = normalizeBuild(raw.build, options.baseDir);
  const command = commandOf(raw.command);
  if (command !== undefined) s.command = command;
  const entrypoint = commandOf(raw.entrypoint);
  if (entrypoint !== undefined) s.entrypoint = entrypoint;
  if (raw.environment !== undefined || options.envFiles !== undefined) {
    const env: Record<string, string | null> = { ...(options.envFiles ?? {}) };
    for (const [k, val] of Object.entries(listToMap(raw.environment))) {
      if (val === null || val === undefined) env[k] = options.lookup(k) ?? null;
      else env[k] = String(val);
    }
    s.environment = env;
  }
  if (raw.labels !== undefined) s.labels = stringMap(raw.labels);
  if (raw.annotations !== undefined) s.annotations = stringMap(raw.annotations);
  if (raw.sysctls !== undefined) s.sysctls = stringMap(raw.sysctls);
  if (raw.ports !== undefined) s.ports = normalizePorts(raw.ports);
  if (raw.expose !== undefined) s.expose = strings(raw.expose);
  if (raw.volumes !== undefined) s.volumes = normalizeVolumes(raw.volumes, options.baseDir);
  if (raw.tmpfs !== undefined) s.tmpfs = strings(raw.tmpfs);
  if (raw.dns !== undefined) s.dns = strings(raw.dns);
  if (raw.dns_search !== undefined) s.dns_search = strings(raw.dns_search);
  if (raw.extra_hosts !== undefined) s.extra_hosts = extraHosts(raw.extra_hosts);
  if (raw.secrets !== undefined) s.secrets = fileRefs(raw.secrets);
  if (raw.configs !== undefined) s.configs = fileRefs(raw.configs);
  if (raw.network_mode === undefined) {
    const nets: Record<string, ServiceNetwork | null> = {};
    if (raw.networks === undefined) nets.default = null;
    else if (Array.isArray(raw.networks)) for (const n of raw.networks) nets[String(n)] = null;
    else
      for (const [k, val] of Object.entries(raw.networks as Dict))
        nets[k] = val === null ? null : ({ ...(val as object) } as ServiceNetwork);
    s.networks = nets;
  }
  if (raw.depends_on !== undefined) {
    const deps: Record<string, DependsOn> = {};
    const entries: [string, unknown][] = Array.isArray(raw.depends_on)
      ? raw.depends_on.map((n) => [String(n), {}])
      : Object.entries(raw.depends_on as Dict);
    for (const [k, val] of entries) {
      const d = (val ?? {}) as Dict;
      const dep: DependsOn = {
        condition: (d.condition as DependsOn['condition'] | undefined) ?? 'service_started',
        required: d.required === undefined ? true : Boolean(d.required),
      };
      if (d.restart === true) dep.restart = true;
      deps[k] = dep;
    }
    s.depends_on = deps;
  }
  if (isDict(raw.healthcheck)) {
    const h = { ...raw.healthcheck } as Dict;
    if (typeof h.test === 'string') h.test = ['CMD-SHELL', h.test];
    s.healthcheck = h;
  }
  for (const k of ['mem_limit', 'mem_reservation', 'shm_size'])
    if (s[k] !== undefined) s[k] = bytes(s[k]);
  if (s.memswap_limit !== undefined && s.memswap_limit !== -1)
    s.memswap_limit = bytes(s.memswap_limit);
  if (s.stop_grace_period !== undefined) s.stop_grace_period = duration(s.stop_grace_period);
  if (s.healthcheck) {
    const h = s.healthcheck as Dict;
    for (const k of ['interval', 'timeout', 'start_period', 'start_interval'])
      if (h[k] !== undefined) h[k] = duration(h[k]);
  }
  for (const v of s.volumes ?? [])
    if (v.tmpfs?.size !== undefined) v.tmpfs = { ...v.tmpfs, size: Number(bytes(v.tmpfs.size)) };
  if (isDict(raw.deploy)) s.deploy = normalizeDeploy(raw.deploy);
  const replicas = isDict(raw.deploy) ? raw.deploy.replicas : undefined;
  if (raw.scale === undefined && typeof replicas === 'number') s.scale = replicas;
  return s;
}

/** Sizes as compose-go's UnitBytes prints them: a decimal string of bytes. */
function bytes(v: unknown): string {
  return String(parseBytes(v as string | number));
}

/** Durations as compose-go prints them (Go's Duration.String). */
function duration(v: unknown): string {
  return formatDuration(parseDuration(v as string | number));
}

function normalizeDeploy(d: Dict): Dict {
  const out = structuredClone(d);
  const res = out.resources as Dict | undefined;
  for (const part of ['limits', 'reservations']) {
    const r = res?.[part] as Dict | undefined;
    if (r?.memory !== undefined) r.memory = bytes(r.memory);
    if (r?.cpus !== undefined) r.cpus = Number(r.cpus);
  }
  const rp = out.restart_policy as Dict | undefined;
  for (const k of ['delay', 'window']) if (rp?.[k] !== undefined) rp[k] = duration(rp[k]);
  for (const cfg of ['update_config', 'rollback_config']) {
    const u = out[cfg] as Dict | undefined;
    for (const k of ['delay', 'monitor']) if (u?.[k] !== undefined) u[k] = duration(u[k]);
  }
  return out;
}

/** Top-level networks: engine names filled, `default` added when a service uses it. */
export function normalizeNetworks(
  raw: Dict | undefined,
  project: string,
  used: Set<string>,
): Record<string, NetworkConfig> {
  const out: Record<string, NetworkConfig> = {};
  const entries: [string, unknown][] = Object.entries(raw ?? {});
  if (used.has('default') && !entries.some(([k]) => k === 'default'))
    entries.push(['default', null]);
  for (const [k, v] of entries) {
    const d = (v ?? {}) as Dict;
    const ext = d.external;
    const external = ext === true || isDict(ext);
    const explicit = d.name ?? (isDict(ext) ? ext.name : undefined);
    const n = { ...(d as object) } as NetworkConfig;
    n.name = explicit !== undefined ? String(explicit) : external ? k : `${project}_${k}`;
    if (external) n.external = true;
    if (d.labels !== undefined) n.labels = stringMap(d.labels);
    out[k] = n;
  }
  return out;
}

export function normalizeVolumesTop(
  raw: Dict | undefined,
  project: string,
): Record<string, VolumeConfig> {
  const out: Record<string, VolumeConfig> = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    const d = (v ?? {}) as Dict;
    const ext = d.external;
    const external = ext === true || isDict(ext);
    const explicit = d.name ?? (isDict(ext) ? ext.name : undefined);
    const vol = { ...(d as object) } as VolumeConfig;
    vol.name = explicit !== undefined ? String(explicit) : external ? k : `${project}_${k}`;
    if (external) vol.external = true;
    if (d.labels !== undefined) vol.labels = stringMap(d.labels);
    out[k] = vol;
  }
  return out;
}

export function normalizeFileObjects(
  raw: Dict | undefined,
  project: string,
  baseDir: string,
): Record<string, FileObjectConfig> {
  const out: Record<string, FileObjectConfig> = {};
  for (const [k, v] of Object.entries(raw ?? {})) {
    const d = (v ?? {}) as Dict;
    const external = d.external === true || isDict(d.external);
    const o = { ...(d as object) } as FileObjectConfig;
    o.name = d.name !== undefined ? String(d.name) : external ? k : `${project}_${k}`;
    if (external) o.external = true;
    if (typeof d.file === 'string') o.file = resolveHostPath(d.file, baseDir);
    out[k] = o;
  }
  return out;
}
