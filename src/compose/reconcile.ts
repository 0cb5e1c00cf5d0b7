import { randomBytes } from 'node:crypto';
import { pack } from 'tar-stream';
import type { Readable, Writable } from 'node:stream';
import type { ContainerSummary, EngineClient } from '../client/client.js';
import { buildImage, pullImage } from './build.js';
import {
  imageExists,
  isNotFound,
  nameOf,
  networkInspect,
  projectContainers,
  volumeInspect,
} from './engine.js';
import { ComposeError } from './errors.js';
import { serviceHash } from './hash.js';
import { COMPOSE_VERSION, LABEL } from './labels.js';
import { containerCreatePlan, imageName, type CreatePlan } from './mapping.js';
import type { Project, Service } from './model.js';
import type { Progress } from './progress.js';
import { dependenciesOf, dependencyOrder } from './validate.js';

export interface Session {
  client: EngineClient;
  progress: Progress;
  /** Warnings and build output. */
  stderr: Writable;
}

export type PullMode = 'always' | 'missing' | 'never' | 'build' | 'policy';

export interface UpOptions {
  /** Services named on the command line (with their dependencies unless noDeps). */
  services?: string[];
  noDeps?: boolean;
  build?: boolean;
  noBuild?: boolean;
  pull?: PullMode;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  noStart?: boolean;
  removeOrphans?: boolean;
  scale?: Record<string, number>;
  /** Seconds to wait for stop on recreate/scale-down. */
  timeout?: number;
  /** Wait for services to be running/healthy after start (`--wait`). */
  wait?: boolean;
  waitTimeout?: number;
}

/** The services to act on: those named plus what they depend on, in dependency order. */
export function targetServices(
  project: Project,
  names: string[] | undefined,
  noDeps = false,
): string[] {
  for (const n of names ?? [])
    if (!(n in project.services)) throw new ComposeError(`no such service: ${n}`);
  const order = dependencyOrder(project.services);
  if (!names || names.length === 0) return order;
  const want = new Set<string>();
  const add = (n: string): void => {
    if (want.has(n)) return;
    want.add(n);
    if (noDeps) return;
    for (const d of dependenciesOf(project.services[n] as Service))
      if (d in project.services) add(d);
  };
  for (const n of names) add(n);
  return order.filter((n) => want.has(n));
}

function scaleOf(project: Project, name: string, options: UpOptions): number {
  const s = options.scale?.[name] ?? (project.services[name] as Service).scale;
  return s === undefined ? 1 : Number(s);
}

/** Creates the project's networks that services use (external ones must exist). */
export async function ensureNetworks(
  s: Session,
  project: Project,
  services: string[],
): Promise<void> {
  const used = new Set<string>();
  for (const n of services)
    for (const k of Object.keys(project.services[n]?.networks ?? {})) used.add(k);
  for (const key of [...used].sort()) {
    const net = project.networks[key];
    if (!net) continue;
    const existing = await networkInspect(s.client, net.name);
    if (net.external) {
      if (!existing)
        throw new ComposeError(`network ${net.name} declared as external, but could not be found`);
      continue;
    }
    if (existing) {
      const labels = (existing.Labels ?? {}) as Record<string, string>;
      const owner = labels[LABEL.project];
      if (owner !== undefined && owner !== project.name)
        throw new ComposeError(
          `network ${net.name} was found but has incorrect label ${LABEL.project} set to "${owner}"`,
        );
      continue;
    }
    s.progress.event('Network', net.name, 'Creating');
    const ipam = net.ipam
      ? {
          Driver: net.ipam.driver ?? 'default',
          Config: (net.ipam.config ?? []).map((c) => {
            const o: Record<string, unknown> = {};
            if (c.subnet) o.Subnet = c.subnet;
            if (c.ip_range) o.IPRange = c.ip_range;
            if (c.gateway) o.Gateway = c.gateway;
            if (c.aux_addresses) o.AuxiliaryAddresses = c.aux_addresses;
            return o;
          }),
          Options: net.ipam.options ?? {},
        }
      : undefined;
    await s.client.json('POST', '/networks/create', {
      body: {
        Name: net.name,
        CheckDuplicate: true,
        Driver: net.driver ?? 'bridge',
        Options: net.driver_opts ?? {},
        ...(ipam ? { IPAM: ipam } : {}),
        Internal: net.internal === true,
        Attachable: net.attachable === true,
        EnableIPv6: net.enable_ipv6 === true,
        Labels: {
          ...(net.labels ?? {}),
          [LABEL.network]: key,
          [LABEL.project]: project.name,
          [LABEL.version]: COMPOSE_VERSION,
        },
      },
    });
    s.progress.event('Network', net.name, 'Created');
  }
}

/** Creates the named volumes services mount (external ones must exist). */
export async function ensureVolumes(
  s: Session,
  project: Project,
  services: string[],
): Promise<void> {
  const used = new Set<string>();
  for (const n of services)
    for (const v of project.services[n]?.volumes ?? [])
      if (v.type === 'volume' && v.source) used.add(v.source);
  for (const key of [...used].sort()) {
    const vol = project.volumes[key];
    if (!vol) continue;
    const existing = await volumeInspect(s.client, vol.name);
    if (vol.external) {
      if (!existing) throw new ComposeError(`external volume "${vol.name}" not found`);
      continue;
    }
    if (existing) {
      const owner = ((existing.Labels ?? {}) as Record<string, string>)[LABEL.project];
      if (owner !== undefined && owner !== project.name)
        s.stderr.write(
          `volume "${vol.name}" already exists but was created for project "${owner}" (expected "${project.name}"). Use \`external: true\` to use an existing volume\n`,
        );
      continue;
    }
    s.progress.event('Volume', vol.name, 'Creating');
    await s.client.json('POST', '/volumes/create', {
      body: {
        Name: vol.name,
        Driver: vol.driver ?? 'local',
        DriverOpts: vol.driver_opts ?? {},
        Labels: {
          ...(vol.labels ?? {}),
          [LABEL.volume]: key,
          [LABEL.project]: project.name,
          [LABEL.version]: COMPOSE_VERSION,
        },
      },
    });
    s.progress.event('Volume', vol.name, 'Created');
  }
}

/** Pulls or builds the images services need, by pull_policy, --pull and --build/--no-build. */
export async function ensureImages(
  s: Session,
  project: Project,
  services: string[],
  options: { build?: boolean; noBuild?: boolean; pull?: PullMode; quietBuild?: boolean },
): Promise<void> {
  for (const name of services) {
    const svc = project.services[name] as Service;
    const image = imageName(project.name, name, svc);
    const policy =
      options.pull && options.pull !== 'policy' ? options.pull : (svc.pull_policy ?? 'missing');
    const present = await imageExists(s.client, image);
    if (svc.build && !options.noBuild && (options.build || policy === 'build' || !present)) {
      s.progress.event('Image', image, 'Building');
      await buildImage(s.client, svc.build, image, {
        labels: {
          [LABEL.project]: project.name,
          [LABEL.service]: name,
          [LABEL.version]: COMPOSE_VERSION,
        },
        onLine: options.quietBuild ? undefined : (line) => s.stderr.write(line),
      });
      s.progress.event('Image', image, 'Built');
      continue;
    }
    if (present && policy !== 'always') continue;
    if (policy === 'never' || (svc.build && !present && options.noBuild)) {
      if (!present) throw new ComposeError(`No such image: ${image}`);
      continue;
    }
    if (!svc.image) continue;
    s.progress.event('Image', image, 'Pulling');
    try {
      await pullImage(s.client, image, typeof svc.platform === 'string' ? svc.platform : undefined);
    } catch (err: unknown) {
      s.progress.event('Image', image, 'Error', 'error');
      throw err;
    }
    s.progress.event('Image', image, 'Pulled');
  }
}

interface Inspected {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; ExitCode: number; Health?: { Status: string } };
  Config: { Labels?: Record<string, string> };
  Mounts?: { Type: string; Name?: string; Destination: string }[];
}

async function inspect(client: EngineClient, id: string): Promise<Inspected> {
  return (await client.containerInspect(id)) as unknown as Inspected;
}

/** Writes environment/content secrets and configs into a created container (PUT archive). */
async function injectFiles(s: Session, project: Project, name: string, id: string): Promise<void> {
  const svc = project.services[name] as Service;
  const files: { path: string; data: string; mode: number }[] = [];
  for (const [kind, refs] of [
    ['secrets', svc.secrets],
    ['configs', svc.configs],
  ] as const) {
    for (const ref of refs ?? []) {
      const top = (kind === 'secrets' ? project.secrets : project.configs)[ref.source];
      if (!top || top.file) continue;
      const data =
        top.environment !== undefined
          ? (project.environment[top.environment] ?? '')
          : (top.content ?? '');
      const base = kind === 'secrets' ? '/run/secrets/' : '/';
      const target = ref.target
        ? ref.target.startsWith('/')
          ? ref.target
          : `${base}${ref.target}`
        : `${base}${ref.source}`;
      files.push({ path: target, data, mode: ref.mode ?? 0o444 });
    }
  }
  if (files.length === 0) return;
  const p = pack();
  for (const f of files) p.entry({ name: f.path.replace(/^\//, ''), mode: f.mode }, f.data);
  p.finalize();
  await s.client.json('PUT', `/containers/${id}/archive`, {
    query: { path: '/' },
    body: p as unknown as Readable,
    rawBody: true,
    headers: { 'Content-Type': 'application/x-tar' },
  });
}

/** Creates a container from a plan (then connects its other networks). */
export async function createFromPlan(
  s: Session,
  project: Project,
  service: string,
  plan: CreatePlan,
): Promise<string> {
  const res = await s.client.json<{ Id: string; Warnings?: string[] | null }>(
    'POST',
    '/containers/create',
    {
      query: { name: plan.name, platform: plan.platform },
      body: plan.body,
    },
  );
  for (const w of res.Warnings ?? []) s.stderr.write(`WARNING: ${w}\n`);
  for (const c of plan.connect) {
    await s.client.json('POST', `/networks/${encodeURIComponent(c.network)}/connect`, {
      body: { Container: res.Id, EndpointConfig: c.config },
    });
  }
  await injectFiles(s, project, service, res.Id);
  return res.Id;
}

function firstContainerOf(
  existing: Map<string, ContainerSummary[]>,
): (svc: string) => string | undefined {
  return (svc) => existing.get(svc)?.[0]?.Id;
}

/** Waits for the conditions `name` has on its dependencies (healthy, completed, started). */
export async function waitDependencies(
  s: Session,
  project: Project,
  name: string,
  containers: Map<string, ContainerSummary[]>,
  only?: Set<string>,
): Promise<void> {
  const svc = project.services[name] as Service;
  for (const [dep, cond] of Object.entries(svc.depends_on ?? {})) {
    if (only && !only.has(dep)) continue;
    const list = containers.get(dep) ?? [];
    if (list.length === 0) {
      if (!cond.required) continue;
      if (!(dep in project.services)) continue;
      continue;
    }
    for (const c of list) {
      const cname = nameOf(c);
      if (cond.condition === 'service_healthy') {
        s.progress.event('Container', cname, 'Waiting');
        while (true) {
          const info = await inspect(s.client, c.Id);
          const h = info.State.Health?.Status;
          if (h === undefined) {
            if (!cond.required) break;
            throw new ComposeError(`container ${cname} has no healthcheck configured`);
          }
          if (h === 'healthy') break;
          if (h === 'unhealthy' || !info.State.Running) {
            s.progress.event('Container', cname, 'Error', 'error');
            if (!cond.required) break;
            throw new ComposeError(`dependency failed to start: container ${cname} is unhealthy`);
          }
          await sleep(500);
        }
        s.progress.event('Container', cname, 'Healthy');
      } else if (cond.condition === 'service_completed_successfully') {
        s.progress.event('Container', cname, 'Waiting');
        const { result } = await s.client.containerWait(c.Id, 'not-running');
        const r = await result;
        if (r.StatusCode !== 0) {
          s.progress.event('Container', cname, 'Error', 'error');
          if (cond.required)
            throw new ComposeError(
              `service "${dep}" didn't complete successfully: exit ${r.StatusCode}`,
            );
        } else s.progress.event('Container', cname, 'Exited');
      }
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function stopAndRemove(
  s: Session,
  c: ContainerSummary,
  timeout: number | undefined,
  volumes = false,
): Promise<void> {
  const name = nameOf(c);
  if (c.State === 'running' || c.State === 'paused' || c.State === 'restarting') {
    s.progress.event('Container', name, 'Stopping');
    await s.client.containerStop(c.Id, timeout === undefined ? {} : { timeout });
    s.progress.event('Container', name, 'Stopped');
  }
  s.progress.event('Container', name, 'Removing');
  try {
    await s.client.containerRemove(c.Id, { force: true, volumes });
  } catch (err: unknown) {
    if (!isNotFound(err)) throw err;
  }
  s.progress.event('Container', name, 'Removed');
}

/** Orphans: containers of the project whose service is not in the model (one-offs aside). */
export async function orphans(s: Session, project: Project): Promise<ContainerSummary[]> {
  const all = await projectContainers(s.client, project.name, { oneoff: false });
  const known = new Set([
    ...Object.keys(project.services),
    ...Object.keys(project.disabledServices),
  ]);
  return all.filter((c) => !known.has(c.Labels?.[LABEL.service] ?? ''));
}

/**
 * Brings the services to the file's state: networks and volumes created, images pulled or
 * built, containers created or recreated when their config hash changed (kept otherwise),
 * scaled to the wanted count, then started in dependency order once each dependency's
 * condition holds. Returns the containers by service.
 */
export async function up(
  s: Session,
  project: Project,
  options: UpOptions = {},
): Promise<Map<string, ContainerSummary[]>> {
  const services = targetServices(project, options.services, options.noDeps);
  for (const k of Object.keys(options.scale ?? {}))
    if (!(k in project.services)) throw new ComposeError(`no such service: ${k}`);
  const orphaned = await orphans(s, project);
  if (orphaned.length > 0) {
    if (options.removeOrphans) for (const c of orphaned) await stopAndRemove(s, c, options.timeout);
    else
      s.stderr.write(
        `WARN[0000] Found orphan containers ([${orphaned.map(nameOf).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.\n`,
      );
  }
  await ensureNetworks(s, project, services);
  await ensureVolumes(s, project, services);
  await ensureImages(s, project, services, options);

  const byService = new Map<string, ContainerSummary[]>();
  for (const c of await projectContainers(s.client, project.name, { oneoff: false })) {
    const svc = c.Labels?.[LABEL.service] ?? '';
    byService.set(svc, [...(byService.get(svc) ?? []), c]);
  }
  const recreated = new Set<string>();
  for (const name of services) {
    const svc = project.services[name] as Service;
    const hash = serviceHash(svc);
    // depends_on.restart: a kept container restarts when a dependency was recreated.
    const restartForDeps = Object.entries(svc.depends_on ?? {}).some(
      ([d, c]) => c.restart === true && recreated.has(d),
    );
    const want = scaleOf(project, name, options);
    if (svc.container_name && want > 1)
      throw new ComposeError(
        `services.${name}: can't set container_name and ${name} as container name must be unique`,
      );
    if (!options.noStart)
      await waitDependencies(
        s,
        project,
        name,
        byService,
        options.noDeps ? new Set(services) : undefined,
      );
    const existing = byService.get(name) ?? [];
    const kept: ContainerSummary[] = [];
    for (const c of existing) {
      const n = Number(c.Labels?.[LABEL.number] ?? 0);
      if (n > want || n < 1) {
        await stopAndRemove(s, c, options.timeout);
        continue;
      }
      kept.push(c);
    }
    const image = await imageExists(s.client, imageName(project.name, name, svc));
    const result: ContainerSummary[] = [];
    for (let n = 1; n <= want; n++) {
      const current = kept.find((c) => Number(c.Labels?.[LABEL.number]) === n);
      const plan = containerCreatePlan(project, name, {
        number: n,
        hash,
        ...(typeof image?.Id === 'string' ? { imageId: image.Id } : {}),
        containerOf: firstContainerOf(byService),
      });
      if (current) {
        const changed = current.Labels?.[LABEL.configHash] !== hash;
        if (options.noRecreate || (!changed && !options.forceRecreate)) {
          if (restartForDeps && !options.noStart && current.State === 'running') {
            const cname = nameOf(current);
            s.progress.event('Container', cname, 'Restarting');
            await s.client.json('POST', `/containers/${current.Id}/restart`, {
              query: { t: options.timeout },
            });
            s.progress.event('Container', cname, 'Restarted');
          }
          result.push(current);
          continue;
        }
        recreated.add(name);
        const cname = nameOf(current);
        s.progress.event('Container', cname, 'Recreate');
        const old = await inspect(s.client, current.Id);
        keepAnonymousVolumes(plan, svc, old);
        if (old.State.Running)
          await s.client.containerStop(
            current.Id,
            options.timeout === undefined ? {} : { timeout: options.timeout },
          );
        await s.client.containerRemove(current.Id, { force: true });
        const id = await createFromPlan(s, project, name, plan);
        s.progress.event('Container', cname, 'Recreated');
        result.push(await summary(s.client, id));
        continue;
      }
      s.progress.event('Container', plan.name, 'Creating');
      recreated.add(name);
      const id = await createFromPlan(s, project, name, plan);
      s.progress.event('Container', plan.name, 'Created');
      result.push(await summary(s.client, id));
    }
    byService.set(name, result);
    if (!options.noStart) await startContainers(s, result);
  }
  if (options.wait && !options.noStart)
    await waitRunning(s, project, services, byService, options.waitTimeout);
  return byService;
}

/** The anonymous volumes of a recreated container go to its replacement (as compose keeps them). */
function keepAnonymousVolumes(plan: CreatePlan, svc: Service, old: Inspected): void {
  const host = (plan.body.HostConfig ?? {}) as { Mounts?: Record<string, unknown>[] };
  for (const v of svc.volumes ?? []) {
    if (v.type !== 'volume' || v.source !== undefined) continue;
    const prev = old.Mounts?.find((m) => m.Type === 'volume' && m.Destination === v.target);
    const m = host.Mounts?.find((x) => x.Target === v.target);
    if (prev?.Name && m) m.Source = prev.Name;
  }
}

async function summary(client: EngineClient, id: string): Promise<ContainerSummary> {
  const list = await client.containerList({ all: true, filters: { id: [id] } });
  const found = list.find((c) => c.Id === id);
  if (!found) throw new ComposeError(`container ${id} disappeared`);
  return found;
}

export async function startContainers(s: Session, list: ContainerSummary[]): Promise<void> {
  for (const c of list) {
    const name = nameOf(c);
    const info = await inspect(s.client, c.Id);
    if (info.State.Running) {
      s.progress.event('Container', name, 'Running');
      continue;
    }
    s.progress.event('Container', name, 'Starting');
    await s.client.containerStart(c.Id);
    s.progress.event('Container', name, 'Started');
  }
}

/** `--wait`: every container running, and healthy where it has a healthcheck. */
async function waitRunning(
  s: Session,
  project: Project,
  services: string[],
  containers: Map<string, ContainerSummary[]>,
  timeoutSeconds: number | undefined,
): Promise<void> {
  const deadline = timeoutSeconds ? Date.now() + timeoutSeconds * 1000 : Infinity;
  for (const name of services) {
    for (const c of containers.get(name) ?? []) {
      const cname = nameOf(c);
      s.progress.event('Container', cname, 'Waiting');
      while (true) {
        const info = await inspect(s.client, c.Id);
        const h = info.State.Health?.Status;
        if (!info.State.Running) {
          const completedOk = info.State.ExitCode === 0 && isDependedCompleted(project, name);
          if (completedOk) break;
          s.progress.event('Container', cname, 'Error', 'error');
          throw new ComposeError(`container ${cname} exited (${info.State.ExitCode})`);
        }
        if (h === undefined || h === 'healthy') break;
        if (h === 'unhealthy') {
          s.progress.event('Container', cname, 'Error', 'error');
          throw new ComposeError(`container ${cname} is unhealthy`);
        }
        if (Date.now() > deadline)
          throw new ComposeError(`timeout waiting for ${cname} to be healthy`);
        await sleep(500);
      }
      s.progress.event('Container', cname, 'Healthy');
    }
  }
}

function isDependedCompleted(project: Project, name: string): boolean {
  return Object.values(project.services).some(
    (svc) => svc.depends_on?.[name]?.condition === 'service_completed_successfully',
  );
}

export interface DownOptions {
  /** Only these services' containers (networks and volumes are then left in place). */
  services?: string[];
  volumes?: boolean;
  removeOrphans?: boolean;
  rmi?: 'local' | 'all';
  timeout?: number;
}

/**
 * Stops and removes the project's containers (dependents first), then its networks, and with
 * `volumes` its named and anonymous volumes; with `rmi` its images. Without a model (no file,
 * `-p` only) everything labelled with the project goes.
 */
export async function down(s: Session, project: Project, options: DownOptions = {}): Promise<void> {
  for (const n of options.services ?? [])
    if (!(n in project.services) && !(n in project.disabledServices))
      throw new ComposeError(`no such service: ${n}`);
  const only = options.services && options.services.length > 0 ? options.services : undefined;
  const all = await projectContainers(s.client, project.name, only ? { services: only } : {});
  const known = new Set([
    ...Object.keys(project.services),
    ...Object.keys(project.disabledServices),
  ]);
  const order = dependencyOrder(project.services).reverse();
  const rank = (c: ContainerSummary): number => {
    const i = order.indexOf(c.Labels?.[LABEL.service] ?? '');
    return i < 0 ? -1 : i;
  };
  const targets = all
    .filter(
      (c) =>
        options.removeOrphans || known.has(c.Labels?.[LABEL.service] ?? '') || known.size === 0,
    )
    .sort((a, b) => rank(a) - rank(b));
  const left = all.filter((c) => !targets.includes(c));
  if (left.length > 0 && !options.removeOrphans)
    s.stderr.write(
      `WARN[0000] Found orphan containers ([${left.map(nameOf).join(' ')}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.\n`,
    );
  // Dependents go first: one service at a time in reverse dependency order, its replicas
  // together.
  const groups: ContainerSummary[][] = [];
  for (const c of targets) {
    const last = groups[groups.length - 1];
    if (last && rank(last[0] as ContainerSummary) === rank(c)) last.push(c);
    else groups.push([c]);
  }
  for (const g of groups)
    await Promise.all(g.map((c) => stopAndRemove(s, c, options.timeout, options.volumes)));

  if (only) return;
  const nets = new Set<string>();
  for (const n of Object.values(project.networks)) if (!n.external) nets.add(n.name);
  if (Object.keys(project.services).length === 0) {
    const labelled = await s.client
      .json<{ Name: string }[]>('GET', '/networks', {
        query: { filters: { label: [`${LABEL.project}=${project.name}`] } },
      })
      .catch((err: unknown) => {
        if (isNotFound(err)) return [];
        throw err;
      });
    for (const n of labelled ?? []) nets.add(n.Name);
  }
  for (const name of [...nets].sort()) {
    const existing = await networkInspect(s.client, name);
    if (!existing) continue;
    const owner = ((existing.Labels ?? {}) as Record<string, string>)[LABEL.project];
    if (owner !== project.name) continue;
    s.progress.event('Network', name, 'Removing');
    await s.client.json('DELETE', `/networks/${encodeURIComponent(name)}`);
    s.progress.event('Network', name, 'Removed');
  }
  if (options.volumes) {
    for (const v of Object.values(project.volumes)) {
      if (v.external) continue;
      const existing = await volumeInspect(s.client, v.name);
      if (!existing) continue;
      s.progress.event('Volume', v.name, 'Removing');
      await s.client.json('DELETE', `/volumes/${encodeURIComponent(v.name)}`);
      s.progress.event('Volume', v.name, 'Removed');
    }
  }
  if (options.rmi) {
    const images = new Set<string>();
    for (const [name, svc] of Object.entries(project.services)) {
      if (options.rmi === 'all' || !svc.image) images.add(imageName(project.name, name, svc));
    }
    for (const img of [...images].sort()) {
      if (!(await imageExists(s.client, img))) continue;
      s.progress.event('Image', img, 'Removing');
      try {
        await s.client.json('DELETE', `/images/${encodeURIComponent(img)}`);
        s.progress.event('Image', img, 'Removed');
      } catch (err: unknown) {
        s.progress.event('Image', img, 'Error', 'error');
        s.stderr.write(`${(err as Error).message}\n`);
      }
    }
  }
}

/** The name of a one-off container: `<project>-<service>-run-<12 hex>`. */
export function oneoffName(project: string, service: string): string {
  return `${project}-${service}-run-${randomBytes(6).toString('hex')}`;
}
