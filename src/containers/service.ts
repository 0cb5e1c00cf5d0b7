import os from 'node:os';
import path from 'node:path';
import { defaultMaskedPaths, defaultReadonlyPaths } from '../runtime/oci/spec.js';
import { PassThrough, Writable, type Readable } from 'node:stream';
import { constants as osConstants } from 'node:os';
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  SystemError,
  errnoCode,
} from '../errors/index.js';
import type { Events } from '../events/events.js';
import type { ImageRecord, ImageService } from '../images/images.js';
import type { AttachStream, ExitInfo, OutputChunk, Runtime } from '../runtime/runtime.js';
import type { Snapshotter } from '../snapshots/snapshotter.js';
import type { CreateContainerRequest, HostConfig } from '../spec/engine.js';
import type { ImageRuntimeConfig } from '../spec/oci-image.js';
import type { Process } from '../spec/oci-runtime.js';
import { newId } from '../util/digest.js';
import { humanDuration } from '../util/human.js';
import { KeyedMutex } from '../util/lock.js';
import { run } from '../util/exec.js';
import {
  commandOf,
  containerConfigOf,
  mergeImageConfig,
  validateCommand,
  commandLine,
  validateHostConfig,
} from './config.js';
import type {
  AttachOptions,
  Attachment,
  ContainerRecord,
  ContainerService,
  CreateOptions,
  CreateResult,
  ExecAttachment,
  ExecCreateRequest,
  ListOptions,
  LogChunk,
  LogsOptions,
  PathStat,
} from './containers.js';
import {
  canAttach,
  canExec,
  canKill,
  canPause,
  canRemove,
  canStart,
  canStop,
  canUnpause,
} from './guards.js';
import { readLogs } from './logs.js';
import { generateName, validateName } from './names.js';
import { newRecordStore, type RecordStore } from './store.js';
import { filterContainers } from './filters.js';
import { detachScanner, parseDetachKeys } from '../util/detach-keys.js';
import type { ContainerFs } from './fs.js';
import type { ContainerStats } from './cgroups.js';
import { containerStats, type StatsOptions } from './stats.js';
import { hostLimits, planUpdate, updateResources, type UpdateRequest } from './update.js';
import {
  healthSuffix,
  initialHealth,
  newHealthMonitors,
  probeCommand,
  validateHealthcheck,
  type HealthMonitors,
  type LimitedBuffer,
  type ProbeRun,
} from './health.js';
import type { HealthState } from '../spec/engine.js';
import type { ContainerNetworking } from '../network/network.js';
import type { MountResolver } from '../volumes/resolver.js';

export interface ContainerServiceOptions {
  /** `<data-root>/containers`. */
  root: string;
  images: ImageService;
  snapshotter: Snapshotter;
  runtime: Runtime;
  events: Events;
  /** Mounting, spec building and tar work on a container's filesystem. */
  fs: ContainerFs;
  /** Sandboxes and endpoints: called at create, task creation, start, exit, remove. */
  network?: ContainerNetworking;
  /** Volumes and binds of containers: resolved at create, released at remove. */
  mounts: MountResolver;
}

type Waiter = (event: 'exit' | 'removed', code: number) => void;

interface Live {
  record: ContainerRecord;
  /** The task being made ahead of start (conmon + runc create), if any. */
  task?: Promise<void>;
  waiters: Set<Waiter>;
  restartTimer?: NodeJS.Timeout;
  /** Delay of the next restart, doubling from 100 ms as dockerd's back-off does. */
  restartDelay: number;
  /** `create`'s `transientEnv`: in memory only, added to the process of each task made. */
  transientEnv?: readonly string[];
}

interface ExecRecord {
  id: string;
  containerId: string;
  request: ExecCreateRequest;
  running: boolean;
  exitCode: number | null;
  pid: number;
  resize?: (h: number, w: number) => Promise<void>;
  canRemove: boolean;
}

const signals = osConstants.signals as Record<string, number>;

/** Parses `SIGTERM`, `TERM`, `15`; InvalidArgumentError otherwise. */
export function parseSignal(s: string): number {
  const n = Number(s);
  if (/^\d+$/.test(s) && n > 0 && n < 65) return n;
  const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
  const num = signals[name];
  if (num === undefined) throw new InvalidArgumentError(`Invalid signal: ${s}`);
  return num;
}

const zeroTime = '0001-01-01T00:00:00Z';

class Service implements ContainerService {
  readonly #o: ContainerServiceOptions;
  readonly #store: RecordStore;
  readonly #byId = new Map<string, Live>();
  readonly #names = new Map<string, string>();
  readonly #lock = new KeyedMutex();
  readonly #execs = new Map<string, ExecRecord>();
  readonly #health: HealthMonitors;

  constructor(options: ContainerServiceOptions) {
    this.#o = options;
    this.#store = newRecordStore(options.root);
    this.#health = newHealthMonitors({
      exec: (id, cmd, output) => this.#probeExec(id, cmd, output),
      current: (id) => {
        const r = this.#byId.get(id)?.record;
        if (!r) return undefined;
        return { config: r.config, startedAt: r.state.startedAt, health: r.state.health };
      },
      update: (id, health, changed, live) => this.#healthUpdate(id, health, changed, live),
    });
  }

  // ---- loading and reconciling -------------------------------------------------------------

  async open(): Promise<void> {
    const records = await this.#store.loadAll();
    for (const record of records) {
      this.#byId.set(record.id, { record, waiters: new Set(), restartDelay: 100 });
      this.#names.set(record.name, record.id);
      this.#o.mounts.adopt(record.id, record.mounts);
    }
    this.#o.runtime.onExit((id, exit) => void this.#onExit(id, exit));
    await this.#sweepOrphans();
    if (this.#o.network) {
      // Before any restart policy starts a task again: what runs now is what keeps its network.
      const states = await Promise.all(records.map((r) => this.#o.runtime.state(r.id)));
      await this.#o.network.reconcile(
        records.map((r, i) => ({
          ...r,
          running: states[i]?.status === 'running' || states[i]?.status === 'paused',
        })),
      );
    }
    for (const live of this.#byId.values()) await this.#reconcile(live);
  }

  /** Runtime tasks and snapshots that belong to no container: leftovers of crashed creates/removes. */
  async #sweepOrphans(): Promise<void> {
    for (const id of await this.#o.runtime.list()) {
      if (!this.#byId.has(id)) await this.#o.runtime.delete(id);
    }
    for (const info of await this.#o.snapshotter.walk()) {
      const owner = info.labels['berth.container'];
      if (owner !== undefined && !this.#byId.has(owner)) await this.#o.snapshotter.remove(info.key);
    }
  }

  /** Brings one record in line with what the runtime says, after berthd was down. */
  async #reconcile(live: Live): Promise<void> {
    const r = live.record;
    if (r.state.status === 'removing') {
      await this.#finishRemove(live, r.state.exitCode);
      return;
    }
    const state = await this.#o.runtime.state(r.id);
    if (
      r.state.status === 'running' ||
      r.state.status === 'paused' ||
      r.state.status === 'restarting'
    ) {
      if (state && (state.status === 'running' || state.status === 'paused')) {
        r.state.status = state.status;
        r.state.pid = state.pid;
        await this.#o.mounts.resume(r.id, r.mounts);
        this.#resetHealth(r);
        await this.#store.save(r);
        if (state.status === 'running') this.#health.start(r.id);
        return;
      }
      const exit = (await this.#o.runtime.exitInfo(r.id)) ?? {
        exitCode: 255,
        oomKilled: false,
        finishedAt: new Date().toISOString(),
      };
      await this.#onExit(r.id, exit);
      return;
    }
    // A created container's task made ahead of start does not survive as such: drop it.
    if (state && r.state.status === 'created') await this.#o.runtime.delete(r.id);
    const policy = r.config.HostConfig?.RestartPolicy?.Name ?? 'no';
    if (
      r.state.status === 'exited' &&
      (policy === 'always' || (policy === 'unless-stopped' && !r.state.stoppedByUser))
    ) {
      // dockerd starts such containers when it starts.
      if (r.state.startedAt !== zeroTime) this.#scheduleRestart(live, 0);
    }
  }

  // ---- lookups ------------------------------------------------------------------------------

  #has(ref: string): boolean {
    try {
      this.#find(ref);
      return true;
    } catch (err: unknown) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  #find(ref: string): Live {
    const name = ref.replace(/^\//, '');
    const exact = this.#byId.get(ref);
    if (exact) return exact;
    const byName = this.#names.get(name);
    if (byName) {
      const live = this.#byId.get(byName);
      if (live) return live;
    }
    if (/^[a-f0-9]+$/.test(ref) && ref.length > 0) {
      const matches = [...this.#byId.keys()].filter((id) => id.startsWith(ref));
      if (matches.length > 1)
        throw new InvalidArgumentError(`multiple IDs found with provided prefix: ${ref}`);
      const only = matches[0];
      if (only) return this.#byId.get(only) as Live;
    }
    throw new NotFoundError(`No such container: ${ref}`);
  }

  async get(ref: string): Promise<ContainerRecord> {
    return this.#find(ref).record;
  }

  #attributes(r: ContainerRecord, extra: Record<string, string> = {}): Record<string, string> {
    return { ...(r.config.Labels ?? {}), image: r.imageRef, name: r.name, ...extra };
  }

  #publish(r: ContainerRecord, action: string, extra?: Record<string, string>): void {
    this.#o.events.publish({
      Type: 'container',
      Action: action,
      id: r.id,
      attributes: this.#attributes(r, extra),
    });
  }

  // ---- create -------------------------------------------------------------------------------

  async create(
    request: CreateContainerRequest,
    name?: string,
    options: CreateOptions = {},
  ): Promise<CreateResult> {
    const hostConfig: HostConfig = request.HostConfig ?? {};
    validateHostConfig(hostConfig);
    validateHealthcheck(request.Healthcheck);
    if (!request.Image)
      throw new InvalidArgumentError('config cannot be empty in order to create a container');
    const image = await this.#o.images.get(request.Image);
    const merged = mergeImageConfig(containerConfigOf(request), image.config.config);
    validateCommand(merged);
    // dockerd's order: what the host cannot enforce is dropped first, then the rest checked.
    const adjusted = this.#o.fs.adjustToHost(hostConfig);
    // `container:<name>` modes are recorded with the donor's full ID, as dockerd does.
    for (const key of ['PidMode', 'IpcMode', 'NetworkMode'] as const) {
      const mode = adjusted.hostConfig[key] ?? '';
      if (!mode.startsWith('container:')) continue;
      // An absent network donor is left to fail at start, as dockerd lets it.
      const donor = mode.slice('container:'.length);
      if (key === 'NetworkMode' && !this.#has(donor)) continue;
      adjusted.hostConfig[key] = `container:${this.#find(donor).record.id}`;
    }
    this.#o.fs.validate(merged, adjusted.hostConfig);
    const id = newId();
    const chosen = name ? validateName(name) : this.#freeName();
    const taken = this.#names.get(chosen);
    if (taken) {
      throw new ConflictError(
        `Conflict. The container name "/${chosen}" is already in use by container "${taken}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    // Reserve the name at once: creates run concurrently.
    this.#names.set(chosen, id);
    try {
      const record = await this.#make(id, chosen, request.Image, image, {
        ...merged,
        HostConfig: normaliseHostConfig(adjusted.hostConfig),
        ...(request.NetworkingConfig ? { NetworkingConfig: request.NetworkingConfig } : {}),
      });
      const live: Live = { record, waiters: new Set(), restartDelay: 100 };
      if (options.transientEnv && options.transientEnv.length > 0)
        live.transientEnv = [...options.transientEnv];
      this.#byId.set(id, live);
      this.#publish(record, 'create');
      // Make the task now, so that start finds it ready: attach and start usually follow.
      live.task = this.#createTask(live).catch(() => undefined);
      return { Id: id, Warnings: adjusted.warnings };
    } catch (err: unknown) {
      if (this.#names.get(chosen) === id) this.#names.delete(chosen);
      throw err;
    }
  }

  #freeName(): string {
    for (let attempt = 0; ; attempt++) {
      const n = generateName(attempt);
      if (!this.#names.has(n)) return n;
    }
  }

  async #make(
    id: string,
    name: string,
    imageRef: string,
    image: ImageRecord,
    config: CreateContainerRequest,
  ): Promise<ContainerRecord> {
    const dir = await this.#store.ensureDir(id);
    const snapshotKey = `container-${id}`;
    let mounts: ContainerRecord['mounts'] | undefined;
    try {
      const parent = await this.#o.images.unpack(image);
      await this.#o.snapshotter.prepare(snapshotKey, parent, { labels: { 'berth.container': id } });
      const h = config.HostConfig ?? {};
      mounts = await this.#o.mounts.resolve(
        id,
        {
          binds: h.Binds ?? [],
          mounts: h.Mounts ?? [],
          volumes: Object.keys(config.Volumes ?? {}),
          volumesFrom: h.VolumesFrom ?? [],
          ...(h.VolumeDriver ? { volumeDriver: h.VolumeDriver } : {}),
        },
        async (ref) => this.#find(ref).record.mounts,
      );
      // dockerd names a container on the host's network after the host.
      if (!config.Hostname) {
        config.Hostname =
          config.HostConfig?.NetworkMode === 'host' ? os.hostname() : id.slice(0, 12);
      }
      const files = await this.#o.fs.writeEtcFiles(dir, config);
      const record: ContainerRecord = {
        id,
        name,
        created: new Date().toISOString(),
        imageRef,
        imageId: image.id,
        config,
        state: {
          status: 'created',
          pid: 0,
          exitCode: 0,
          error: '',
          oomKilled: false,
          startedAt: zeroTime,
          finishedAt: zeroTime,
          stoppedByUser: false,
        },
        restartCount: 0,
        snapshotKey,
        logPath: path.join(dir, 'container.log'),
        ...files,
        mounts,
      };
      await this.#o.network?.create(record);
      // The commit point: with the record written, the container exists.
      await this.#store.save(record);
      return record;
    } catch (err: unknown) {
      // What was recorded for the container is undone; a crash here is swept at start-up.
      await this.#o.network?.remove(id).catch(() => undefined);
      if (mounts !== undefined) await this.#o.mounts.release(id, mounts, { removeAnonymous: true });
      await this.#o.snapshotter.remove(snapshotKey).catch(() => undefined);
      await this.#store.remove(id);
      throw err;
    }
  }

  /**
   * The namespace of a running container that `container:<id>` modes join, with dockerd's
   * refusals: the donor must be running, and share its IPC namespace on purpose.
   */
  #joinable(target: string, kind: 'net' | 'ipc' | 'pid'): string {
    const donor = this.#find(target).record;
    const running = donor.state.status === 'running' || donor.state.status === 'paused';
    if (kind === 'ipc') {
      const why = !running
        ? `container ${donor.id} is not running`
        : donor.config.HostConfig?.IpcMode !== 'shareable'
          ? 'non-shareable IPC (hint: use IpcMode:shareable for the donor container)'
          : '';
      if (why) throw new ConflictError(`can't join IPC of container ${donor.id}: ${why}`);
    } else if (!running) {
      throw new ConflictError(
        kind === 'net'
          ? `cannot join network of a non running container: ${donor.id}`
          : `container ${donor.id} is not running`,
      );
    }
    return `/proc/${donor.state.pid}/ns/${kind}`;
  }

  /** conmon + runc create: the task exists, stopped before its entrypoint. */
  async #createTask(live: Live): Promise<void> {
    const r = live.record;
    const mounts = await this.#o.snapshotter.mounts(r.snapshotKey);
    // A network namespace joined by a task with a user namespace of its own must be owned by
    // that user namespace (or runc exec cannot enter it): such a task makes its own netns,
    // which becomes the sandbox once the task exists.
    const ownUserns = this.#o.fs.ownsUserNamespace(r);
    const netns = ownUserns ? undefined : await this.#o.network?.sandbox(r);
    await this.#o.runtime.create({
      id: r.id,
      rootfs: mounts,
      logPath: r.logPath,
      stdin: r.config.OpenStdin === true,
      tty: r.config.Tty === true,
      leaveStdinOpen: r.config.Tty === true || r.config.StdinOnce !== true,
      ...(live.transientEnv ? { volatile: true } : {}),
      spec: async (rootfs) => {
        const spec = await this.#o.fs.spec(r, rootfs, {
          ...(netns ? { netnsPath: netns } : {}),
          namespacePath: (target, kind) => this.#joinable(target, kind),
        });
        if (live.transientEnv) spec.process.env = [...spec.process.env, ...live.transientEnv];
        return spec;
      },
    });
    if (ownUserns && this.#o.network) {
      const pid = (await this.#o.runtime.state(r.id))?.pid ?? 0;
      if (pid > 0) await this.#o.network.adopt(r, pid);
    }
  }

  /** The task, made now unless a create ahead of time already made it. */
  async #ensureTask(live: Live): Promise<void> {
    const pending = live.task;
    live.task = undefined;
    if (pending) await pending;
    const state = await this.#o.runtime.state(live.record.id);
    if (state?.status === 'created') return;
    if (state) await this.#o.runtime.delete(live.record.id);
    await this.#createTask(live);
  }

  // ---- start, stop, exit --------------------------------------------------------------------

  async start(ref: string): Promise<void> {
    const live = this.#find(ref);
    await this.#lock.withLock(live.record.id, async () => {
      canStart(live.record.state.status, live.record.id);
      clearTimeout(live.restartTimer);
      await this.#startLocked(live);
    });
  }

  async #startLocked(live: Live): Promise<void> {
    const r = live.record;
    try {
      await this.#ensureTask(live);
      await this.#o.network?.up(r);
      await this.#o.runtime.start(r.id);
    } catch (err: unknown) {
      await this.#o.runtime.delete(r.id).catch(() => undefined);
      await this.#o.network?.down(r.id).catch(() => undefined);
      const message = err instanceof Error ? err.message : String(err);
      r.state = {
        ...r.state,
        status:
          r.state.status === 'restarting'
            ? 'exited'
            : r.state.status === 'created'
              ? 'created'
              : 'exited',
        error: message,
        exitCode: /not found|no such file/i.test(message)
          ? 127
          : /permission denied|not executable/i.test(message)
            ? 126
            : 128,
      };
      await this.#store.save(r);
      this.#publish(r, 'die', { exitCode: String(r.state.exitCode) });
      // dockerd removes an AutoRemove container whose start failed.
      if (r.config.HostConfig?.AutoRemove) await this.#removeLocked(live, r.state.exitCode, true);
      throw err;
    }
    const state = await this.#o.runtime.state(r.id);
    r.state = {
      ...r.state,
      status: 'running',
      pid: state?.pid ?? 0,
      error: '',
      exitCode: 0,
      oomKilled: false,
      startedAt: new Date().toISOString(),
      stoppedByUser: false,
    };
    this.#resetHealth(r);
    await this.#store.save(r);
    this.#publish(r, 'start');
    this.#health.start(r.id);
  }

  async #onExit(id: string, exit: ExitInfo): Promise<void> {
    const live = this.#byId.get(id);
    if (!live) return;
    await this.#lock.withLock(id, async () => {
      const r = live.record;
      if (
        r.state.status !== 'running' &&
        r.state.status !== 'paused' &&
        r.state.status !== 'restarting'
      )
        return;
      await this.#o.runtime
        .delete(id)
        .catch((err: unknown) => console.error(`berthd: cleaning up task ${id}:`, err));
      await this.#o.network
        ?.down(id)
        .catch((err: unknown) => console.error(`berthd: network of ${id}:`, err));
      await this.#o.mounts.finish(id, r.mounts);
      const ranMs = Date.now() - Date.parse(r.state.startedAt);
      r.state = {
        ...r.state,
        status: 'exited',
        pid: 0,
        exitCode: exit.exitCode,
        oomKilled: exit.oomKilled,
        finishedAt: exit.finishedAt,
      };
      this.#stopHealth(r);
      if (exit.oomKilled) this.#publish(r, 'oom');
      this.#publish(r, 'die', {
        exitCode: String(exit.exitCode),
        execDuration: String(Math.max(0, Math.round(ranMs / 1000))),
      });
      for (const exec of this.#execs.values()) if (exec.containerId === id) exec.running = false;
      if (r.config.HostConfig?.AutoRemove) {
        await this.#removeLocked(live, exit.exitCode, true);
        return;
      }
      const restart = this.#shouldRestart(r, exit.exitCode);
      if (restart) {
        live.restartDelay = ranMs >= 10_000 ? 100 : live.restartDelay;
        r.state.status = 'restarting';
      }
      await this.#store.save(r);
      for (const w of live.waiters) w('exit', exit.exitCode);
      if (restart) this.#scheduleRestart(live, live.restartDelay);
    });
  }

  #shouldRestart(r: ContainerRecord, exitCode: number): boolean {
    if (r.state.stoppedByUser) return false;
    const policy = r.config.HostConfig?.RestartPolicy;
    switch (policy?.Name) {
      case 'always':
      case 'unless-stopped':
        return true;
      case 'on-failure': {
        const max = policy.MaximumRetryCount ?? 0;
        return exitCode !== 0 && (max === 0 || r.restartCount < max);
      }
      default:
        return false;
    }
  }

  #scheduleRestart(live: Live, delay: number): void {
    clearTimeout(live.restartTimer);
    live.restartTimer = setTimeout(() => {
      void this.#lock
        .withLock(live.record.id, async () => {
          const r = live.record;
          if (
            !this.#byId.has(r.id) ||
            (r.state.status !== 'restarting' && r.state.status !== 'exited')
          )
            return;
          if (r.state.stoppedByUser) return;
          r.restartCount++;
          live.restartDelay = Math.min(live.restartDelay * 2, 60_000);
          await this.#startLocked(live);
          this.#publish(r, 'restart');
        })
        .catch((err: unknown) =>
          console.error(
            `berthd: restarting ${live.record.id}:`,
            err instanceof Error ? err.message : err,
          ),
        );
    }, delay);
    live.restartTimer.unref();
  }

  /** Resolves with the next exit of the container's process. */
  #nextExit(live: Live, event: 'exit' | 'removed' = 'exit'): Promise<number> {
    return new Promise((resolve) => {
      const w: Waiter = (e, code) => {
        if (e !== event && !(event === 'exit' && e === 'removed')) return;
        live.waiters.delete(w);
        resolve(code);
      };
      live.waiters.add(w);
    });
  }

  async stop(ref: string, options: { signal?: string; timeout?: number }): Promise<void> {
    const live = this.#find(ref);
    const r = live.record;
    if (r.state.status === 'restarting') {
      clearTimeout(live.restartTimer);
      await this.#lock.withLock(r.id, async () => {
        r.state.status = 'exited';
        r.state.stoppedByUser = true;
        await this.#store.save(r);
      });
      this.#publish(r, 'stop');
      return;
    }
    canStop(r.state.status, r.id);
    const signal = parseSignal(options.signal || r.config.StopSignal || 'SIGTERM');
    const timeout = options.timeout ?? r.config.StopTimeout ?? 10;
    const exited = this.#nextExit(live);
    await this.#lock.withLock(r.id, async () => {
      r.state.stoppedByUser = true;
      await this.#store.save(r);
      if (r.state.status === 'paused') {
        await this.#o.runtime.kill(r.id, signal);
        await this.#o.runtime.resume(r.id);
      } else {
        await this.#o.runtime.kill(r.id, signal).catch(ignoreGone);
      }
    });
    this.#publish(r, 'kill', { signal: String(signal) });
    if (timeout < 0 || !(await withTimeout(exited, timeout * 1000))) {
      await this.#o.runtime.kill(r.id, 9, { all: true }).catch(ignoreGone);
      this.#publish(r, 'kill', { signal: '9' });
      await exited;
    }
    this.#publish(r, 'stop');
  }

  async restart(ref: string, options: { signal?: string; timeout?: number }): Promise<void> {
    const live = this.#find(ref);
    const status = live.record.state.status;
    if (status === 'running' || status === 'paused' || status === 'restarting')
      await this.stop(ref, options);
    await this.#lock.withLock(live.record.id, () => this.#startLocked(live));
    this.#publish(live.record, 'restart');
  }

  async kill(ref: string, signal?: string): Promise<void> {
    const live = this.#find(ref);
    const r = live.record;
    const num = parseSignal(signal || 'SIGKILL');
    await this.#lock.withLock(r.id, async () => {
      canKill(r.state.status, r.id, ref);
      await this.#o.runtime.kill(r.id, num).catch(ignoreGone);
    });
    this.#publish(r, 'kill', { signal: String(num) });
  }

  async pause(ref: string): Promise<void> {
    const r = this.#find(ref).record;
    await this.#lock.withLock(r.id, async () => {
      canPause(r.state.status, r.id);
      await this.#o.runtime.pause(r.id);
      r.state.status = 'paused';
      this.#stopHealth(r);
      await this.#store.save(r);
    });
    this.#publish(r, 'pause');
  }

  async unpause(ref: string): Promise<void> {
    const r = this.#find(ref).record;
    await this.#lock.withLock(r.id, async () => {
      canUnpause(r.state.status, r.id);
      await this.#o.runtime.resume(r.id);
      r.state.status = 'running';
      await this.#store.save(r);
      // dockerd's updateHealthMonitor: the loop resumes, the status as the pause left it.
      this.#health.start(r.id);
    });
    this.#publish(r, 'unpause');
  }

  // ---- remove -------------------------------------------------------------------------------

  async remove(
    ref: string,
    options: { force: boolean; volumes: boolean; link: boolean },
  ): Promise<void> {
    const live = this.#find(ref);
    const r = live.record;
    if (options.link) throw new InvalidArgumentError('links are not supported');
    canRemove(r.state.status, r.name, options.force);
    clearTimeout(live.restartTimer);
    if (r.state.status === 'running' || r.state.status === 'paused') {
      const exited = this.#nextExit(live);
      await this.#lock.withLock(r.id, async () => {
        r.state.stoppedByUser = true;
        await this.#o.runtime.kill(r.id, 9, { all: true }).catch(ignoreGone);
        if (r.state.status === 'paused') await this.#o.runtime.resume(r.id).catch(ignoreGone);
      });
      this.#publish(r, 'kill', { signal: '9' });
      await exited;
      if (!this.#byId.has(r.id)) return; // AutoRemove removed it on exit.
    }
    await this.#lock.withLock(r.id, async () => {
      canRemove(r.state.status, r.name, options.force);
      await this.#removeLocked(live, r.state.exitCode, options.volumes);
    });
  }

  async #removeLocked(live: Live, exitCode: number, removeVolumes = false): Promise<void> {
    const r = live.record;
    // Persist the intent first: a crash from here on is finished by the next start.
    r.state.status = 'removing';
    await this.#store.save(r);
    await this.#finishRemove(live, exitCode, removeVolumes);
  }

  async #finishRemove(live: Live, exitCode: number, removeVolumes = false): Promise<void> {
    const r = live.record;
    this.#health.stop(r.id);
    const pending = live.task;
    live.task = undefined;
    await pending;
    await this.#o.runtime.delete(r.id);
    await this.#o.network?.remove(r.id);
    await this.#o.mounts.release(r.id, r.mounts, { removeAnonymous: removeVolumes });
    await this.#o.snapshotter.remove(r.snapshotKey).catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
    await this.#store.remove(r.id);
    this.#byId.delete(r.id);
    if (this.#names.get(r.name) === r.id) this.#names.delete(r.name);
    for (const [execId, exec] of this.#execs)
      if (exec.containerId === r.id) this.#execs.delete(execId);
    this.#publish(r, 'destroy');
    for (const w of live.waiters) w('removed', exitCode);
  }

  async rename(ref: string, newName: string): Promise<void> {
    const live = this.#find(ref);
    const r = live.record;
    const name = validateName(newName);
    await this.#lock.withLock(r.id, async () => {
      if (name === r.name)
        throw new InvalidArgumentError(
          `Renaming a container with the same name as its current name`,
        );
      const taken = this.#names.get(name);
      if (taken) {
        throw new ConflictError(
          `Error when allocating new name: Conflict. The container name "/${name}" is already in use by container "${taken}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
      const old = r.name;
      this.#names.set(name, r.id);
      r.name = name;
      try {
        await this.#store.save(r);
      } catch (err: unknown) {
        r.name = old;
        this.#names.delete(name);
        throw err;
      }
      this.#names.delete(old);
      this.#publish(r, 'rename', { oldName: `/${old}` });
    });
  }

  async prune(
    filters: Record<string, string[]>,
  ): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let reclaimed = 0;
    const candidates = filterContainers(
      [...this.#byId.values()].map((l) => l.record),
      filters,
      { pruning: true },
    ).filter(
      (r) =>
        r.state.status === 'exited' || r.state.status === 'created' || r.state.status === 'dead',
    );
    for (const r of candidates) {
      const live = this.#byId.get(r.id);
      if (!live) continue;
      reclaimed += await this.#o.snapshotter.usage(r.snapshotKey).then(
        (u) => u.size,
        () => 0,
      );
      await this.#lock.withLock(r.id, () => this.#removeLocked(live, r.state.exitCode));
      deleted.push(r.id);
    }
    this.#o.events.publish({
      Type: 'container',
      Action: 'prune',
      id: '',
      attributes: { reclaimed: String(reclaimed) },
    });
    return { ContainersDeleted: deleted, SpaceReclaimed: reclaimed };
  }

  // ---- queries -------------------------------------------------------------------------------

  async list(options: ListOptions): Promise<Record<string, unknown>[]> {
    let records = [...this.#byId.values()].map((l) => l.record);
    if (!options.all && options.limit === undefined) {
      records = records.filter(
        (r) =>
          r.state.status === 'running' ||
          r.state.status === 'paused' ||
          r.state.status === 'restarting',
      );
    }
    records = filterContainers(records, options.filters, {
      pruning: false,
      all: [...this.#byId.values()].map((l) => l.record),
    });
    records.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
    if (options.limit !== undefined && options.limit > 0) records = records.slice(0, options.limit);
    return Promise.all(records.map((r) => this.#summary(r, options.size)));
  }

  async #summary(r: ContainerRecord, size: boolean): Promise<Record<string, unknown>> {
    const summary: Record<string, unknown> = {
      Id: r.id,
      Names: [`/${r.name}`],
      Image: r.imageRef,
      ImageID: r.imageId,
      Command: commandLine(r.config),
      Created: Math.floor(Date.parse(r.created) / 1000),
      Ports: [],
      Labels: r.config.Labels ?? {},
      State: r.state.status,
      Status: statusText(r),
      HostConfig: { NetworkMode: r.config.HostConfig?.NetworkMode || 'bridge' },
      NetworkSettings: { Networks: {} },
      ...this.#o.network?.summary(r),
      Mounts: this.#o.fs.mountPoints(r),
    };
    if (size) {
      summary['SizeRw'] = await this.#o.snapshotter.usage(r.snapshotKey).then(
        (u) => u.size,
        () => 0,
      );
      const image = await this.#o.images.get(r.imageId).catch(() => undefined);
      summary['SizeRootFs'] = (summary['SizeRw'] as number) + (image?.size ?? 0);
    }
    return summary;
  }

  async inspect(ref: string, options: { size: boolean }): Promise<Record<string, unknown>> {
    const r = this.#find(ref).record;
    const cmd = commandOf(r.config);
    const { HostConfig: host, NetworkingConfig: _n, ...config } = r.config;
    const s = r.state;
    const out: Record<string, unknown> = {
      Id: r.id,
      Created: r.created,
      Path: cmd[0] ?? '',
      Args: cmd.slice(1),
      State: {
        Status: s.status,
        Running: s.status === 'running' || s.status === 'paused',
        Paused: s.status === 'paused',
        Restarting: s.status === 'restarting',
        OOMKilled: s.oomKilled,
        Dead: s.status === 'dead',
        Pid: s.pid,
        ExitCode: s.exitCode,
        Error: s.error,
        StartedAt: s.startedAt,
        FinishedAt: s.finishedAt,
        ...(s.health ? { Health: s.health } : {}),
      },
      Image: r.imageId,
      ResolvConfPath: r.resolvConfPath,
      HostnamePath: r.hostnamePath,
      HostsPath: r.hostsPath,
      LogPath: r.logPath,
      Name: `/${r.name}`,
      RestartCount: r.restartCount,
      Driver: 'overlay2',
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: [...this.#execs.values()].filter((e) => e.containerId === r.id).map((e) => e.id),
      HostConfig: host,
      GraphDriver: { Name: 'overlay2', Data: await this.#o.fs.graphDriverData(r) },
      Mounts: this.#o.fs.mountPoints(r),
      Config: { ...config, Image: r.imageRef },
      NetworkSettings: {
        Bridge: '',
        SandboxID: '',
        SandboxKey: '',
        Ports: {},
        HairpinMode: false,
        LinkLocalIPv6Address: '',
        LinkLocalIPv6PrefixLen: 0,
        SecondaryIPAddresses: null,
        SecondaryIPv6Addresses: null,
        EndpointID: '',
        Gateway: '',
        GlobalIPv6Address: '',
        GlobalIPv6PrefixLen: 0,
        IPAddress: '',
        IPPrefixLen: 0,
        IPv6Gateway: '',
        MacAddress: '',
        Networks: {},
        ...this.#o.network?.settings(r),
      },
    };
    if (options.size) {
      const rw = await this.#o.snapshotter.usage(r.snapshotKey).then(
        (u) => u.size,
        () => 0,
      );
      const image = await this.#o.images.get(r.imageId).catch(() => undefined);
      out['SizeRw'] = rw;
      out['SizeRootFs'] = rw + (image?.size ?? 0);
    }
    return out;
  }

  async wait(
    ref: string,
    condition: 'not-running' | 'next-exit' | 'removed',
    signal?: AbortSignal,
  ): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    const live = this.#find(ref);
    const r = live.record;
    const running =
      r.state.status === 'running' ||
      r.state.status === 'paused' ||
      r.state.status === 'restarting';
    if (condition === 'not-running' && !running)
      return { StatusCode: r.state.exitCode, Error: null };
    const done = this.#nextExit(live, condition === 'removed' ? 'removed' : 'exit');
    const code = await (signal ? abortable(done, signal) : done);
    return { StatusCode: code, Error: null };
  }

  counts(): { running: number; paused: number; stopped: number } {
    let running = 0;
    let paused = 0;
    let stopped = 0;
    for (const { record } of this.#byId.values()) {
      if (record.state.status === 'running' || record.state.status === 'restarting') running++;
      else if (record.state.status === 'paused') paused++;
      else stopped++;
    }
    return { running, paused, stopped };
  }

  imageUsers(): Map<string, number> {
    const m = new Map<string, number>();
    for (const { record } of this.#byId.values())
      m.set(record.imageId, (m.get(record.imageId) ?? 0) + 1);
    return m;
  }

  // ---- I/O ------------------------------------------------------------------------------------

  async logs(
    ref: string,
    options: LogsOptions,
  ): Promise<{ tty: boolean; chunks: AsyncIterable<LogChunk> }> {
    const live = this.#find(ref);
    const r = live.record;
    const running = (): boolean => {
      const s = live.record.state.status;
      return (
        s === 'running' ||
        s === 'paused' ||
        s === 'restarting' ||
        (s === 'created' && live.task !== undefined)
      );
    };
    const done = running() ? this.#nextExit(live).then(() => undefined) : Promise.resolve();
    const chunks = readLogs(r.logPath, {
      since: options.since,
      until: options.until,
      tail: options.tail,
      follow: options.follow && running(),
      done,
      signal: options.signal,
    });
    const wanted = async function* (): AsyncGenerator<LogChunk> {
      for await (const c of chunks) {
        if ((c.stream === 'stdout' && options.stdout) || (c.stream === 'stderr' && options.stderr))
          yield c;
      }
    };
    return { tty: r.config.Tty === true, chunks: wanted() };
  }

  async attach(ref: string, options: AttachOptions): Promise<Attachment> {
    const live = this.#find(ref);
    const r = live.record;
    canAttach(r.state.status);
    // Refused before anything streams, with stdin attached or not, as dockerd.
    const keys = parseDetachKeys(options.detachKeys);
    const output = new PassThrough({ objectMode: true });
    const wantStream = (s: OutputChunk['stream']): boolean =>
      s === 'stdout' ? options.stdout : options.stderr;
    if (options.logs) {
      for await (const c of readLogs(r.logPath, { tail: 'all', follow: false })) {
        if (wantStream(c.stream))
          output.write({ stream: c.stream, data: c.data } satisfies OutputChunk);
      }
    }
    if (!options.stream) {
      output.end();
      return { output, tty: r.config.Tty === true, close: () => output.destroy() };
    }
    if (r.state.status === 'created') {
      try {
        await this.#lock.withLock(r.id, () => this.#ensureTask(live));
      } catch (err: unknown) {
        // A task that cannot be made (command not found) is start's error to report, as in
        // dockerd, where attach precedes the task: this attachment just ends.
        if (!(err instanceof InvalidArgumentError || err instanceof SystemError)) throw err;
        output.end();
        return { output, tty: r.config.Tty === true, close: () => output.destroy() };
      }
    }
    const stream = await this.#o.runtime.attach(r.id);
    stream.on('data', (c: OutputChunk) => {
      if (wantStream(c.stream)) output.write(c);
    });
    stream.on('end', () => output.end());
    stream.on('error', () => output.end());
    const close = (): void => {
      stream.destroy();
      output.end();
    };
    this.#publish(r, 'attach');
    const attachment: Attachment = { output, tty: r.config.Tty === true, close };
    if (options.stdin && r.config.OpenStdin) {
      attachment.input = stdinWriter(stream, r.config.Tty === true ? keys : undefined, close);
    }
    return attachment;
  }

  async resize(ref: string, height: number, width: number): Promise<void> {
    const r = this.#find(ref).record;
    if (r.state.status !== 'running' && r.state.status !== 'created') {
      throw new ConflictError(`container ${r.id} is not running`);
    }
    await this.#o.runtime.resize(r.id, height, width);
    this.#publish(r, 'resize', { height: String(height), width: String(width) });
  }

  async top(ref: string, psArgs?: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    const r = this.#find(ref).record;
    if (r.state.status !== 'running' && r.state.status !== 'paused') {
      throw new ConflictError(`container ${r.id} is not running`);
    }
    const pids = new Set((await this.#o.runtime.pids(r.id)).map(String));
    const args = (psArgs || '-ef').split(/\s+/).filter(Boolean);
    const { stdout } = await run('ps', args).catch((cause: unknown) => {
      throw new SystemError(`ps ${args.join(' ')} failed`, { cause });
    });
    const lines = stdout.split('\n').filter(Boolean);
    const header = lines[0] ?? '';
    const titles = header.trim().split(/\s+/);
    const pidIndex = titles.indexOf('PID');
    if (pidIndex < 0) throw new InvalidArgumentError(`Couldn't find PID field in ps output`);
    const processes: string[][] = [];
    for (const line of lines.slice(1)) {
      const fields = line.trim().split(/\s+/);
      // The last column (the command) may contain spaces.
      const row = [
        ...fields.slice(0, titles.length - 1),
        fields.slice(titles.length - 1).join(' '),
      ];
      if (pids.has(row[pidIndex] ?? '')) processes.push(row);
    }
    this.#publish(r, 'top');
    return { Titles: titles, Processes: processes };
  }

  // ---- stats and update (cgroups.ts, stats.ts, update.ts) --------------------------------

  async stats(ref: string, options: StatsOptions): Promise<AsyncIterable<ContainerStats>> {
    const r = this.#find(ref).record;
    return containerStats(
      {
        id: r.id,
        name: `/${r.name}`,
        exists: () => this.#byId.has(r.id),
        cgroupPaths: async () => {
          if (r.state.status !== 'running' && r.state.status !== 'paused') return undefined;
          const paths = await this.#o.runtime.cgroupPaths(r.id);
          return Object.keys(paths).length > 0 ? paths : undefined;
        },
      },
      options,
    );
  }

  async update(ref: string, request: UpdateRequest): Promise<{ Warnings: string[] }> {
    const live = this.#find(ref);
    const host = await hostLimits();
    return this.#lock.withLock(live.record.id, async () => {
      const r = live.record;
      const { hostConfig, warnings } = planUpdate(r.id, r.config.HostConfig ?? {}, request, host);
      // A task being made ahead of start has its spec from the old limits: update it too.
      if (live.task) await live.task;
      const state = await this.#o.runtime.state(r.id);
      if (state && state.status !== 'stopped') {
        try {
          await this.#o.runtime.update(r.id, updateResources(hostConfig));
        } catch (err: unknown) {
          if (!(err instanceof SystemError)) throw err;
          throw new SystemError(`Cannot update container ${r.id}: ${err.message}`, { cause: err });
        }
      }
      r.config = { ...r.config, HostConfig: hostConfig };
      await this.#store.save(r);
      this.#publish(r, 'update');
      return { Warnings: warnings };
    });
  }

  // ---- filesystem ---------------------------------------------------------------------------

  /** {@link #withRootfs} with the container's binds and volumes over it, for the archive routes. */
  async #withRootfsMounts<T>(r: ContainerRecord, fn: (root: string) => Promise<T>): Promise<T> {
    const resolver = this.#o.mounts;
    if (!resolver || !r.mounts || r.mounts.length === 0) return this.#withRootfs(r, fn);
    const mounts = r.mounts;
    return this.#withRootfs(r, (root) => resolver.withMounts(root, mounts, fn));
  }

  /** Runs `fn` with the container's tree visible at a path: the task's rootfs, or a temporary mount. */
  async #withRootfs<T>(r: ContainerRecord, fn: (root: string) => Promise<T>): Promise<T> {
    const state = await this.#o.runtime.state(r.id);
    if (state) return fn(this.#o.runtime.rootfsPath(r.id));
    return this.#o.fs.withMountedSnapshot(r.snapshotKey, fn);
  }

  async changes(ref: string): Promise<{ Path: string; Kind: number }[]> {
    const r = this.#find(ref).record;
    return withoutEngineFiles(await this.#o.fs.changes(r));
  }

  async export(ref: string): Promise<Readable> {
    const r = this.#find(ref).record;
    const out = await this.#o.fs.exportTree(r, (fn) => this.#withRootfs(r, fn));
    this.#publish(r, 'export');
    return out;
  }

  async statPath(ref: string, p: string): Promise<PathStat> {
    const r = this.#find(ref).record;
    return this.#withRootfsMounts(r, (root) => this.#o.fs.stat(root, p));
  }

  async getArchive(ref: string, p: string): Promise<{ stat: PathStat; tar: Readable }> {
    const r = this.#find(ref).record;
    const result = await this.#o.fs
      .getArchive(r, p, (fn) => this.#withRootfsMounts(r, fn))
      .catch((err: unknown) => namingContainer(err, ref));
    this.#publish(r, 'archive-path', { path: p });
    return result;
  }

  async putArchive(
    ref: string,
    p: string,
    tar: Readable,
    options: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean },
  ): Promise<void> {
    const r = this.#find(ref).record;
    if (r.config.HostConfig?.ReadonlyRootfs) {
      throw new InvalidArgumentError('container rootfs is marked read-only');
    }
    await this.#withRootfsMounts(r, (root) => this.#o.fs.putArchive(root, p, tar, options));
    this.#publish(r, 'extract-to-dir', { path: p });
  }

  async prepare(ref: string): Promise<void> {
    const live = this.#find(ref);
    if (live.record.state.status !== 'created') return;
    await this.#lock.withLock(live.record.id, () => this.#ensureTask(live));
  }

  async diff(ref: string): Promise<Readable> {
    return this.#o.fs.diff(this.#find(ref).record);
  }

  async commit(
    ref: string,
    options: {
      reference?: string;
      comment?: string;
      author?: string;
      changes?: string[];
      pause: boolean;
      config?: Record<string, unknown>;
    },
  ): Promise<string> {
    const live = this.#find(ref);
    const r = live.record;
    const pause = options.pause && r.state.status === 'running';
    if (pause) await this.#o.runtime.pause(r.id);
    try {
      const image = await this.#o.images.get(r.imageId);
      const {
        HostConfig: _h,
        NetworkingConfig: _n,
        Hostname: _hn,
        Domainname: _d,
        ...config
      } = r.config;
      const diff = await this.#o.fs.diff(r);
      const committed = await this.#o.images.commit({
        parent: image,
        diff,
        config: withoutNulls({ ...config, ...(options.config ?? {}) }),
        reference: options.reference,
        comment: options.comment,
        author: options.author,
        changes: options.changes,
        container: r.id,
        createdBy: commandOf(r.config).join(' '),
      });
      this.#publish(r, 'commit', {
        comment: options.comment ?? '',
        imageID: committed.id,
        imageRef: options.reference ?? '',
      });
      return committed.id;
    } finally {
      if (pause) await this.#o.runtime.resume(r.id).catch(ignoreGone);
    }
  }

  // ---- exec -----------------------------------------------------------------------------------

  async execCreate(ref: string, request: ExecCreateRequest): Promise<{ Id: string }> {
    const r = this.#find(ref).record;
    canExec(r.state.status, r.id);
    if (!Array.isArray(request.Cmd) || request.Cmd.length === 0) {
      throw new InvalidArgumentError('No exec command specified');
    }
    const id = newId();
    this.#execs.set(id, {
      id,
      containerId: r.id,
      request,
      running: false,
      exitCode: null,
      pid: 0,
      canRemove: false,
    });
    this.#publish(r, `exec_create: ${execLine(request.Cmd)}`, { execID: id });
    return { Id: id };
  }

  #findExec(execId: string): ExecRecord {
    const e = this.#execs.get(execId);
    if (!e) throw new NotFoundError(`No such exec instance: ${execId}`);
    return e;
  }

  async execStart(
    execId: string,
    options: { detach: boolean; tty?: boolean; consoleSize?: [number, number] | null },
  ): Promise<ExecAttachment | undefined> {
    const exec = this.#findExec(execId);
    const live = this.#byId.get(exec.containerId);
    if (!live) throw new NotFoundError(`No such container: ${exec.containerId}`);
    const r = live.record;
    if (exec.running || exec.exitCode !== null)
      throw new ConflictError(`Error: Exec command ${execId} has already run`);
    canExec(r.state.status, r.id);
    const req = exec.request;
    const tty = options.tty ?? req.Tty === true;
    const process: Process = await this.#o.fs.execProcess(
      r,
      req,
      this.#o.runtime.rootfsPath(r.id),
      tty,
    );
    if (options.consoleSize)
      process.consoleSize = { height: options.consoleSize[0], width: options.consoleSize[1] };
    const attached =
      !options.detach &&
      (req.AttachStdout !== false || req.AttachStderr !== false || req.AttachStdin === true);
    // dockerd tells of the start before trying it: a command that is not found has one too.
    this.#publish(r, `exec_start: ${execLine(req.Cmd)}`, { execID: execId });
    const handle = await this.#o.runtime
      .exec(r.id, {
        execId,
        process,
        stdin: req.AttachStdin === true && !options.detach,
        tty,
        detach: !attached,
      })
      .catch((err: unknown) => {
        // dockerd's exit code for an exec that could not start.
        exec.exitCode = 126;
        throw err;
      });
    exec.running = true;
    exec.pid = handle.pid;
    exec.resize = (h, w) => handle.resize(h, w);
    const exited = handle.exited.then(
      (code) => {
        exec.running = false;
        exec.exitCode = code;
        this.#publish(r, 'exec_die', { execID: execId, exitCode: String(code) });
        return code;
      },
      (err: unknown) => {
        exec.running = false;
        exec.exitCode = 126;
        console.error(`berthd: exec ${execId}:`, err instanceof Error ? err.message : err);
        return 126;
      },
    );
    if (!attached || !handle.stream) return undefined;
    const stream = handle.stream;
    const output = new PassThrough({ objectMode: true });
    const wantStream = (s: OutputChunk['stream']): boolean =>
      s === 'stdout' ? req.AttachStdout !== false : req.AttachStderr !== false;
    stream.on('data', (c: OutputChunk) => {
      if (wantStream(c.stream)) output.write(c);
    });
    // The exec's output is complete once the process has exited and its stream drained.
    const ended = new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });
    void Promise.all([ended, exited]).then(() => output.end());
    const close = (): void => {
      stream.destroy();
      output.end();
    };
    const attachment: ExecAttachment = { output, tty, close, exited };
    if (req.AttachStdin) {
      attachment.input = stdinWriter(
        stream,
        tty ? parseDetachKeys(req.DetachKeys) : undefined,
        close,
      );
    }
    return attachment;
  }

  async execResize(execId: string, height: number, width: number): Promise<void> {
    const exec = this.#findExec(execId);
    if (!exec.resize) throw new ConflictError(`Exec ${execId} is not running`);
    await exec.resize(height, width);
  }

  async execInspect(execId: string): Promise<Record<string, unknown>> {
    const e = this.#findExec(execId);
    const req = e.request;
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: {
        tty: req.Tty === true,
        entrypoint: req.Cmd[0] ?? '',
        arguments: req.Cmd.slice(1),
        privileged: req.Privileged === true,
        ...(req.User ? { user: req.User } : {}),
      },
      OpenStdin: req.AttachStdin === true,
      OpenStderr: req.AttachStderr !== false,
      OpenStdout: req.AttachStdout !== false,
      CanRemove: e.canRemove,
      ContainerID: e.containerId,
      DetachKeys: req.DetachKeys ?? '',
      Pid: e.pid,
    };
  }

  // ---- healthchecks ---------------------------------------------------------------------------

  /** dockerd's initHealthMonitor: a (re)started container with a probe is starting again. */
  #resetHealth(r: ContainerRecord): void {
    if (probeCommand(r.config)) r.state.health = initialHealth(r.state.health);
  }

  /** Stops the probe loop; dockerd then calls the container unhealthy (no event). */
  #stopHealth(r: ContainerRecord): void {
    if (this.#health.stop(r.id) && r.state.health) r.state.health.Status = 'unhealthy';
  }

  /** One probe: an exec as dockerd makes it, output collected, killable on timeout. */
  async #probeExec(id: string, cmd: string[], output: LimitedBuffer): Promise<ProbeRun> {
    const r = this.#byId.get(id)?.record;
    if (!r) throw new NotFoundError(`No such container: ${id}`);
    const { Id: execId } = await this.execCreate(r.id, {
      Cmd: cmd,
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
      Privileged: false,
      User: r.config.User ?? '',
      WorkingDir: r.config.WorkingDir ?? '',
    });
    const forget = (): void => void this.#execs.delete(execId);
    let attachment: ExecAttachment | undefined;
    try {
      attachment = await this.execStart(execId, { detach: false, tty: false });
    } catch (err: unknown) {
      forget();
      throw err;
    }
    if (!attachment) {
      forget();
      throw new SystemError(`healthcheck for container ${id} has no output stream`);
    }
    attachment.output.on('data', (c: OutputChunk) => output.write(c.data));
    const done = new Promise<void>((resolve) => attachment.output.on('end', resolve));
    const exited = attachment.exited.then(async (code) => {
      // The output is complete once the stream has drained; bounded, as a leftover child may hold it.
      await withTimeout(done, 1000);
      forget();
      return code;
    });
    const pid = this.#execs.get(execId)?.pid ?? 0;
    return {
      exited,
      kill: async () => {
        if (pid <= 0) return;
        try {
          process.kill(pid, 'SIGKILL');
        } catch (err: unknown) {
          if (errnoCode(err) !== 'ESRCH') throw err;
        }
      },
    };
  }

  async #healthUpdate(
    id: string,
    health: HealthState,
    changed: boolean,
    live: () => boolean,
  ): Promise<void> {
    const l = this.#byId.get(id);
    if (!l) return;
    await this.#lock.withLock(id, async () => {
      const r = l.record;
      if (!live() || r.state.status !== 'running') return;
      r.state.health = health;
      await this.#store.save(r);
      if (changed) this.#publish(r, `health_status: ${health.Status}`);
    });
  }

  async close(): Promise<void> {
    await this.#health.close();
    for (const live of this.#byId.values()) clearTimeout(live.restartTimer);
    await Promise.all([...this.#byId.values()].map((l) => l.task));
  }
}

/**
 * stdin for an attached process; end() half-closes it. The detach keys, given for a TTY only
 * (dockerd's attach copier looks for them only there: a non-TTY stdin may be binary), end
 * the attachment.
 */
function stdinWriter(
  stream: AttachStream,
  detachKeys: readonly number[] | undefined,
  detach: () => void,
): Writable {
  const scan = detachKeys
    ? detachScanner(detachKeys)
    : (data: Buffer) => ({ data, detached: false });
  return new Writable({
    write(chunk: Buffer, _enc, cb): void {
      const { data, detached } = scan(chunk);
      if (data.length > 0 && !stream.destroyed) stream.write(data);
      if (detached) detach();
      cb();
    },
    final(cb): void {
      if (!stream.destroyed) stream.end();
      cb();
    },
  });
}

function statusText(r: ContainerRecord): string {
  const s = r.state;
  const since = (t: string): string => humanDuration(Math.max(0, Date.now() - Date.parse(t)));
  switch (s.status) {
    case 'running':
      return `Up ${since(s.startedAt)}${healthSuffix(s.health)}`;
    case 'paused':
      return `Up ${since(s.startedAt)} (Paused)`;
    case 'restarting':
      return `Restarting (${s.exitCode}) ${since(s.finishedAt)} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'created':
      return 'Created';
    case 'exited':
      return s.startedAt === zeroTime
        ? 'Created'
        : `Exited (${s.exitCode}) ${since(s.finishedAt)} ago`;
  }
}

/** HostConfig as dockerd stores it: every field present with its default. */
function normaliseHostConfig(h: HostConfig): HostConfig {
  return {
    Binds: null,
    ContainerIDFile: '',
    LogConfig: { Type: 'json-file', Config: {} },
    NetworkMode: 'bridge',
    PortBindings: {},
    RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
    AutoRemove: false,
    VolumeDriver: '',
    VolumesFrom: null,
    ConsoleSize: [0, 0],
    CgroupnsMode: 'host',
    Dns: [],
    DnsOptions: [],
    DnsSearch: [],
    ExtraHosts: null,
    GroupAdd: null,
    IpcMode: 'private',
    Cgroup: '',
    Links: null,
    OomScoreAdj: 0,
    PidMode: '',
    Privileged: false,
    PublishAllPorts: false,
    ReadonlyRootfs: false,
    SecurityOpt: null,
    UTSMode: '',
    UsernsMode: '',
    ShmSize: 67108864,
    Runtime: 'runc',
    Isolation: '',
    CpuShares: 0,
    Memory: 0,
    NanoCpus: 0,
    CgroupParent: '',
    BlkioWeight: 0,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [],
    CpuPeriod: 0,
    CpuQuota: 0,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: '',
    CpusetMems: '',
    Devices: [],
    DeviceCgroupRules: null,
    MemoryReservation: 0,
    MemorySwap: 0,
    MemorySwappiness: null,
    OomKillDisable: null,
    PidsLimit: null,
    Ulimits: [],
    ...stripUndefined(h),
    // The docker CLI sends empty values where the daemon's defaults apply.
    ...(h.LogConfig?.Type
      ? {}
      : { LogConfig: { Type: 'json-file', Config: h.LogConfig?.Config ?? {} } }),
    ...(h.IpcMode ? {} : { IpcMode: 'private' }),
    ...(h.CgroupnsMode ? {} : { CgroupnsMode: 'host' }),
    ...(h.ShmSize ? {} : { ShmSize: 67108864 }),
    ...(h.PidsLimit !== undefined && h.PidsLimit !== null && h.PidsLimit <= 0
      ? { PidsLimit: null }
      : {}),
    ...(h.NetworkMode === 'default' || !h.NetworkMode ? { NetworkMode: 'bridge' } : {}),
    ...(h.RestartPolicy?.Name ? {} : { RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } }),
    CapAdd: canonicalCapabilities(h.CapAdd),
    CapDrop: canonicalCapabilities(h.CapDrop),
    // dockerd records the default masked and read-only paths of an unprivileged container.
    MaskedPaths: h.MaskedPaths ?? (h.Privileged ? null : [...defaultMaskedPaths]),
    ReadonlyPaths: h.ReadonlyPaths ?? (h.Privileged ? null : [...defaultReadonlyPaths]),
  };
}

/** `net_admin` → `CAP_NET_ADMIN`, as dockerd stores capability lists; `ALL` stays. */
function canonicalCapabilities(caps: string[] | null | undefined): string[] | null {
  if (!caps || caps.length === 0) return caps === undefined ? null : caps;
  return caps.map((c) => {
    const upper = c.toUpperCase();
    return upper === 'ALL' || upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** A container config as image config: dockerd drops the null fields. */
function withoutNulls(o: Record<string, unknown>): ImageRuntimeConfig {
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== null && v !== undefined),
  ) as ImageRuntimeConfig;
}

/** An exec's command as dockerd's events name it: the path, a space, the arguments. */
function execLine(cmd: readonly string[]): string {
  return `${cmd[0] ?? ''} ${cmd.slice(1).join(' ')}`;
}

/**
 * dockerd keeps /etc/hostname, /etc/hosts and /etc/resolv.conf in a layer under the
 * container's own, so `docker diff` never lists them (nor /etc, when nothing else there changed).
 */
function withoutEngineFiles(
  changes: { Path: string; Kind: number }[],
): { Path: string; Kind: number }[] {
  const engineFiles = new Set(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf']);
  const kept = changes.filter((c) => !engineFiles.has(c.Path));
  const etcTouched = kept.some((c) => c.Path.startsWith('/etc/'));
  return etcTouched || kept.length === changes.length
    ? kept
    : kept.filter((c) => !(c.Path === '/etc' && c.Kind === 0));
}

/** A path missing in a container: dockerd's message names the container. */
function namingContainer(err: unknown, ref: string): never {
  if (err instanceof NotFoundError)
    throw new NotFoundError(`${err.message} ${ref}`, { cause: err });
  throw err;
}

/** For signals to a task that may end meanwhile: its being gone or not running is no error. */
function ignoreGone(err: unknown): void {
  if (err instanceof NotFoundError || err instanceof ConflictError || errnoCode(err) === 'ESRCH')
    return;
  throw err;
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) throw new ConflictError('wait cancelled');
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new ConflictError('wait cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The container service, with records loaded and reconciled against the runtime. */
export async function newContainerService(
  options: ContainerServiceOptions,
): Promise<ContainerService & { close(): Promise<void> }> {
  const s = new Service(options);
  await s.open();
  return s;
}
