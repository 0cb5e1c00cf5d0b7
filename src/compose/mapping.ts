import { ComposeError } from './errors.js';
import { COMPOSE_VERSION, LABEL } from './labels.js';
import type { Project, Service, ServiceNetwork } from './model.js';
import { parseBytes, parseDuration } from './units.js';

type Dict = Record<string, unknown>;

/** `<project>-<service>-<n>`, or the service's container_name. */
export function containerName(project: string, service: string, svc: Service, n: number): string {
  return svc.container_name ?? `${project}-${service}-${n}`;
}

/** The image a service runs: its `image`, or `<project>-<service>` for a build without one. */
export function imageName(project: string, service: string, svc: Service): string {
  return svc.image ?? `${project}-${service}`;
}

export interface EndpointPlan {
  /** The engine's network name. */
  network: string;
  config: { Aliases?: string[]; IPAMConfig?: Dict; Links?: string[] };
}

export interface CreatePlan {
  name: string;
  /** The body of POST /containers/create. */
  body: Dict;
  platform?: string;
  /** Networks to connect after create (the primary one is in the body). */
  connect: EndpointPlan[];
}

export interface CreateOptions {
  number: number;
  /** The config hash label (serviceHash). */
  hash: string;
  oneoff?: boolean;
  /** The name to use instead of the numbered one (one-off runs). */
  name?: string;
  /** Image ID for the com.docker.compose.image label, when known. */
  imageId?: string;
  /** Container ID/name of the first container of a service (network_mode/volumes_from). */
  containerOf?: (service: string) => string | undefined;
}

/** Networks sorted as compose attaches them: priority (higher first), then name. */
export function sortedNetworks(svc: Service): [string, ServiceNetwork | null][] {
  return Object.entries(svc.networks ?? {}).sort(
    ([a, x], [b, y]) => (y?.priority ?? 0) - (x?.priority ?? 0) || (a < b ? -1 : a > b ? 1 : 0),
  );
}

function portKey(target: number | string, protocol: string): string {
  return `${target}/${protocol}`;
}

function restartPolicy(svc: Service): Dict | undefined {
  const deploy = (svc.deploy ?? {}) as Dict;
  const rp = deploy.restart_policy as Dict | undefined;
  if (typeof svc.restart === 'string') {
    const [name, count] = svc.restart.split(':');
    if (!['no', 'always', 'on-failure', 'unless-stopped'].includes(name as string))
      throw new ComposeError(`invalid restart policy: ${svc.restart}`);
    return { Name: name, MaximumRetryCount: count === undefined ? 0 : Number(count) };
  }
  if (rp) {
    const cond = String(rp.condition ?? 'any');
    const name = cond === 'none' ? 'no' : cond === 'on-failure' ? 'on-failure' : 'always';
    return { Name: name, MaximumRetryCount: Number(rp.max_attempts ?? 0) };
  }
  return undefined;
}

function set(o: Dict, k: string, v: unknown): void {
  if (v !== undefined && v !== null) o[k] = v;
}

function envList(env: Record<string, string | null> | undefined): string[] | undefined {
  if (!env) return undefined;
  return Object.entries(env)
    .filter(([, v]) => v !== null)
    .map(([k, v]) => `${k}=${v as string}`);
}

function bindSpec(v: {
  source?: string;
  target: string;
  read_only?: boolean;
  bind?: Dict;
}): string {
  const opts: string[] = [];
  if (v.read_only) opts.push('ro');
  if (v.bind?.selinux) opts.push(String(v.bind.selinux));
  if (v.bind?.propagation) opts.push(String(v.bind.propagation));
  return `${v.source ?? ''}:${v.target}${opts.length > 0 ? `:${opts.join(',')}` : ''}`;
}

/**
 * The Engine API create body for one container of a service: a pure function of the model, so
 * that what compose sends is tested without an engine. Bind mounts that may create their host
 * path go in Binds (the Mounts API refuses a missing source), everything else in Mounts.
 */
export function containerCreatePlan(
  project: Project,
  service: string,
  options: CreateOptions,
): CreatePlan {
  const svc = project.services[service] ?? project.disabledServices[service];
  if (!svc) throw new ComposeError(`no such service: ${service}`);
  const name = options.name ?? containerName(project.name, service, svc, options.number);
  const labels: Record<string, string> = {
    ...(svc.labels ?? {}),
    [LABEL.project]: project.name,
    [LABEL.service]: service,
    [LABEL.number]: String(options.number),
    [LABEL.configHash]: options.hash,
    [LABEL.oneoff]: options.oneoff ? 'True' : 'False',
    [LABEL.workingDir]: project.workingDir,
    [LABEL.configFiles]: project.configFiles.join(','),
    [LABEL.version]: COMPOSE_VERSION,
    [LABEL.dependsOn]: Object.entries(svc.depends_on ?? {})
      .map(([d, c]) => `${d}:${c.condition}:${c.restart === true}`)
      .join(','),
  };
  if (options.imageId) labels[LABEL.image] = options.imageId;

  const body: Dict = {};
  set(body, 'Image', imageName(project.name, service, svc));
  set(body, 'Cmd', svc.command);
  set(body, 'Entrypoint', svc.entrypoint);
  set(body, 'Env', envList(svc.environment));
  set(body, 'Hostname', svc.hostname);
  set(body, 'Domainname', svc.domainname);
  set(body, 'User', svc.user);
  set(body, 'WorkingDir', svc.working_dir);
  set(body, 'Tty', svc.tty);
  set(body, 'OpenStdin', svc.stdin_open);
  set(body, 'StopSignal', svc.stop_signal);
  set(body, 'MacAddress', svc.mac_address);
  if (svc.stop_grace_period !== undefined)
    body.StopTimeout = Math.round(parseDuration(svc.stop_grace_period as string) / 1e9);
  body.Labels = labels;

  const exposed: Dict = {};
  for (const p of svc.ports ?? []) exposed[portKey(p.target, p.protocol)] = {};
  for (const e of svc.expose ?? []) {
    const [port, proto = 'tcp'] = e.split('/');
    const [lo, hi = lo] = (port as string).split('-');
    for (let n = Number(lo); n <= Number(hi); n++) exposed[portKey(n, proto)] = {};
  }
  if (Object.keys(exposed).length > 0) body.ExposedPorts = exposed;

  const hc = svc.healthcheck;
  if (hc) {
    const h: Dict = {};
    if (hc.disable) h.Test = ['NONE'];
    else set(h, 'Test', hc.test);
    if (hc.interval) h.Interval = parseDuration(hc.interval);
    if (hc.timeout) h.Timeout = parseDuration(hc.timeout);
    if (hc.start_period) h.StartPeriod = parseDuration(hc.start_period);
    if (hc.start_interval) h.StartInterval = parseDuration(hc.start_interval);
    set(h, 'Retries', hc.retries);
    body.Healthcheck = h;
  }

  const host: Dict = {};
  const binds: string[] = [];
  const mounts: Dict[] = [];
  for (const v of svc.volumes ?? []) {
    if (v.type === 'bind' && v.bind?.create_host_path !== false) binds.push(bindSpec(v));
    else if (v.type === 'bind') {
      const m: Dict = {
        Type: 'bind',
        Source: v.source,
        Target: v.target,
        ReadOnly: v.read_only === true,
      };
      if (v.bind?.propagation) m.BindOptions = { Propagation: v.bind.propagation };
      mounts.push(m);
    } else if (v.type === 'volume') {
      const m: Dict = { Type: 'volume', Target: v.target, ReadOnly: v.read_only === true };
      if (v.source !== undefined) {
        const top = project.volumes[v.source];
        m.Source = top?.name ?? v.source;
      }
      const vo: Dict = {};
      if (v.volume?.nocopy) vo.NoCopy = true;
      if (v.volume?.subpath) vo.Subpath = v.volume.subpath;
      if (Object.keys(vo).length > 0) m.VolumeOptions = vo;
      mounts.push(m);
    } else if (v.type === 'tmpfs') {
      const m: Dict = { Type: 'tmpfs', Target: v.target, ReadOnly: v.read_only === true };
      const to: Dict = {};
      if (v.tmpfs?.size !== undefined) to.SizeBytes = parseBytes(v.tmpfs.size);
      if (v.tmpfs?.mode !== undefined) to.Mode = v.tmpfs.mode;
      if (Object.keys(to).length > 0) m.TmpfsOptions = to;
      mounts.push(m);
    } else throw new ComposeError(`service "${service}": volume type ${v.type} is not supported`);
  }
  for (const [kind, refs] of [
    ['secrets', svc.secrets],
    ['configs', svc.configs],
  ] as const) {
    for (const ref of refs ?? []) {
      const top = (kind === 'secrets' ? project.secrets : project.configs)[ref.source];
      if (!top?.file) continue;
      const target = ref.target
        ? ref.target.startsWith('/')
          ? ref.target
          : kind === 'secrets'
            ? `/run/secrets/${ref.target}`
            : `/${ref.target}`
        : kind === 'secrets'
          ? `/run/secrets/${ref.source}`
          : `/${ref.source}`;
      binds.push(`${top.file}:${target}:ro`);
    }
  }
  if (binds.length > 0) host.Binds = binds;
  if (mounts.length > 0) host.Mounts = mounts;

  const bindings: Record<string, Dict[]> = {};
  for (const p of svc.ports ?? []) {
    const key = portKey(p.target, p.protocol);
    const b: Dict = { HostIp: p.host_ip ?? '', HostPort: p.published ?? '' };
    (bindings[key] ??= []).push(b);
  }
  if (Object.keys(bindings).length > 0) host.PortBindings = bindings;

  const nets = sortedNetworks(svc);
  const connect: EndpointPlan[] = [];
  let networking: Dict | undefined;
  const mode = svc.network_mode;
  if (typeof mode === 'string') {
    if (mode.startsWith('service:')) {
      const target = mode.slice(8);
      const id = options.containerOf?.(target);
      if (!id)
        throw new ComposeError(
          `service "${service}" depends on service "${target}" which has no container`,
        );
      host.NetworkMode = `container:${id}`;
    } else host.NetworkMode = mode;
  } else if (nets.length > 0) {
    const endpoint = (key: string, cfg: ServiceNetwork | null): EndpointPlan => {
      const netName = project.networks[key]?.name ?? `${project.name}_${key}`;
      const config: EndpointPlan['config'] = { Aliases: [service, ...(cfg?.aliases ?? [])] };
      const ipam: Dict = {};
      set(ipam, 'IPv4Address', cfg?.ipv4_address);
      set(ipam, 'IPv6Address', cfg?.ipv6_address);
      set(ipam, 'LinkLocalIPs', cfg?.link_local_ips);
      if (Object.keys(ipam).length > 0) config.IPAMConfig = ipam;
      return { network: netName, config };
    };
    const [firstKey, firstCfg] = nets[0] as [string, ServiceNetwork | null];
    const primary = endpoint(firstKey, firstCfg);
    host.NetworkMode = primary.network;
    const links = linksOf(project, svc);
    if (links.length > 0) primary.config.Links = links;
    networking = { EndpointsConfig: { [primary.network]: primary.config } };
    for (const [k, c] of nets.slice(1)) connect.push(endpoint(k, c));
  }
  if (networking) body.NetworkingConfig = networking;

  const rp = restartPolicy(svc);
  if (rp) host.RestartPolicy = rp;
  set(host, 'Privileged', svc.privileged);
  set(host, 'ReadonlyRootfs', svc.read_only);
  set(host, 'Init', svc.init);
  set(host, 'CapAdd', svc.cap_add);
  set(host, 'CapDrop', svc.cap_drop);
  set(host, 'SecurityOpt', svc.security_opt);
  set(host, 'Dns', svc.dns);
  set(host, 'DnsSearch', svc.dns_search);
  set(host, 'DnsOptions', svc.dns_opt);
  if (svc.extra_hosts) host.ExtraHosts = svc.extra_hosts.map((h) => h.replace('=', ':'));
  set(host, 'Sysctls', svc.sysctls);
  set(host, 'GroupAdd', svc.group_add);
  set(host, 'IpcMode', svc.ipc);
  set(host, 'PidMode', svc.pid);
  set(host, 'UTSMode', svc.uts);
  set(host, 'UsernsMode', svc.userns_mode);
  set(host, 'CgroupParent', svc.cgroup_parent);
  set(host, 'CgroupnsMode', svc.cgroup);
  set(host, 'Runtime', svc.runtime);
  set(host, 'Isolation', svc.isolation);
  set(host, 'StorageOpt', svc.storage_opt);
  set(host, 'OomKillDisable', svc.oom_kill_disable);
  set(host, 'OomScoreAdj', svc.oom_score_adj);
  set(host, 'PidsLimit', svc.pids_limit);
  set(host, 'CpuShares', svc.cpu_shares);
  set(host, 'CpuQuota', svc.cpu_quota);
  set(host, 'CpuPeriod', svc.cpu_period);
  set(host, 'CpuRealtimePeriod', svc.cpu_rt_period);
  set(host, 'CpuRealtimeRuntime', svc.cpu_rt_runtime);
  set(host, 'CpusetCpus', svc.cpuset);
  set(host, 'CpuCount', svc.cpu_count);
  set(host, 'CpuPercent', svc.cpu_percent);
  set(host, 'DeviceCgroupRules', svc.device_cgroup_rules);
  if (svc.mem_swappiness !== undefined) host.MemorySwappiness = Number(svc.mem_swappiness);
  if (svc.shm_size !== undefined) host.ShmSize = parseBytes(svc.shm_size as string | number);
  if (svc.cpus !== undefined) host.NanoCpus = Math.round(Number(svc.cpus) * 1e9);
  if (svc.mem_limit !== undefined) host.Memory = parseBytes(svc.mem_limit as string | number);
  if (svc.mem_reservation !== undefined)
    host.MemoryReservation = parseBytes(svc.mem_reservation as string | number);
  if (svc.memswap_limit !== undefined)
    host.MemorySwap =
      svc.memswap_limit === -1 ? -1 : parseBytes(svc.memswap_limit as string | number);
  const resources = ((svc.deploy ?? {}) as Dict).resources as Dict | undefined;
  const limits = (resources?.limits ?? {}) as Dict;
  const reservations = (resources?.reservations ?? {}) as Dict;
  if (limits.cpus !== undefined) host.NanoCpus = Math.round(Number(limits.cpus) * 1e9);
  if (limits.memory !== undefined) host.Memory = parseBytes(limits.memory as string);
  if (limits.pids !== undefined) host.PidsLimit = Number(limits.pids);
  if (reservations.memory !== undefined)
    host.MemoryReservation = parseBytes(reservations.memory as string);
  if (svc.blkio_config !== undefined) {
    const b = svc.blkio_config as Dict;
    set(host, 'BlkioWeight', b.weight);
  }
  if (Array.isArray(svc.devices)) {
    host.Devices = (svc.devices as unknown[]).map((d) => {
      if (typeof d === 'object' && d !== null) {
        const o = d as Dict;
        return {
          PathOnHost: String(o.source),
          PathInContainer: String(o.target ?? o.source),
          CgroupPermissions: String(o.permissions ?? 'rwm'),
        };
      }
      const [src, dst = src, perms = 'rwm'] = String(d).split(':');
      return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms };
    });
  }
  if (svc.ulimits !== undefined) {
    host.Ulimits = Object.entries(svc.ulimits as Dict)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([n, v]) =>
        typeof v === 'object' && v !== null
          ? { Name: n, Soft: Number((v as Dict).soft), Hard: Number((v as Dict).hard) }
          : { Name: n, Soft: Number(v), Hard: Number(v) },
      );
  }
  if (svc.tmpfs !== undefined) {
    const t: Record<string, string> = {};
    for (const entry of svc.tmpfs) {
      const i = entry.indexOf(':');
      if (i < 0) t[entry] = '';
      else t[entry.slice(0, i)] = entry.slice(i + 1);
    }
    host.Tmpfs = t;
  }
  const logging = svc.logging as Dict | undefined;
  if (logging) {
    const lc: Dict = {};
    set(lc, 'Type', logging.driver);
    if (logging.options) lc.Config = logging.options;
    host.LogConfig = lc;
  }
  if (Array.isArray(svc.external_links))
    host.Links = [
      ...((host.Links as string[]) ?? []),
      ...svc.external_links.map((l) => {
        const [c, alias = c] = String(l).split(':');
        return `${c}:${alias}`;
      }),
    ];
  if (Array.isArray(svc.volumes_from)) {
    host.VolumesFrom = (svc.volumes_from as string[]).map((vf) => {
      const [src, mode] = vf.split(':');
      if (src === 'container' && mode !== undefined) {
        const rest = vf.split(':');
        return rest.slice(1).join(':');
      }
      const id = options.containerOf?.(src as string) ?? src;
      return mode ? `${id}:${mode}` : (id as string);
    });
  }
  body.HostConfig = host;
  const plan: CreatePlan = { name, body, connect };
  if (typeof svc.platform === 'string') plan.platform = svc.platform;
  return plan;
}

/** `links: [db, db:database]` → container links `<project>-db-1:db`, as compose makes them. */
function linksOf(project: Project, svc: Service): string[] {
  const out: string[] = [];
  for (const l of (svc.links as string[] | undefined) ?? []) {
    const [target, alias = target] = String(l).split(':') as [string, string | undefined];
    const t = project.services[target];
    if (!t) continue;
    const c = containerName(project.name, target, t, 1);
    out.push(`${c}:${alias as string}`);
  }
  return out;
}
