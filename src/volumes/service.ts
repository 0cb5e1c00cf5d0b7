import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  ConflictError,
  NotFoundError,
  SystemError,
  isNotFound,
  systemErrorText,
} from '../errors/index.js';
import type { Events } from '../events/events.js';
import { isMountPoint, mountAll, unmount } from '../mount/mount-linux.js';
import { readJsonIfExists, removeTempFiles, syncDir, writeJsonAtomic } from '../util/atomic.js';
import { newId } from '../util/digest.js';
import { KeyedMutex } from '../util/lock.js';
import {
  deviceMount,
  filterVolumes,
  hasDevice,
  mountFailure,
  pruneSelection,
  validateLocalOptions,
  validateVolumeName,
} from './rules.js';
import {
  anonymousLabel,
  type Volume,
  type VolumeCreateRequest,
  type VolumeRecord,
  type VolumeService,
  type VolumeUse,
} from './volumes.js';

const recordFile = 'volume.json';

/** Bytes of the files under `dir`, each inode once (as Docker's directory size). */
export async function directorySize(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch (err: unknown) {
      if (isNotFound(err)) return;
      throw err;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        await walk(p);
        continue;
      }
      const st = await fs.lstat(p).catch(() => undefined);
      if (!st) continue;
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      total += st.size;
    }
  };
  await walk(dir);
  return total;
}

function nowSeconds(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

class LocalVolumes implements VolumeService {
  readonly #root: string;
  readonly #records = new Map<string, VolumeRecord>();
  readonly #users = new Map<string, Set<string>>();
  readonly #mounted = new Map<string, Set<string>>();
  readonly #lock = new KeyedMutex();
  readonly #events: Events | undefined;
  #pruning = false;

  constructor(root: string, events?: Events) {
    this.#root = root;
    this.#events = events;
  }

  #publish(name: string, action: string, attributes: Record<string, string> = {}): void {
    this.#events?.publish({
      Type: 'volume',
      Action: action,
      id: name,
      attributes: { driver: 'local', ...attributes },
    });
  }

  async open(): Promise<void> {
    await fs.mkdir(this.#root, { recursive: true, mode: 0o701 });
    for (const name of await fs.readdir(this.#root)) {
      const dir = path.join(this.#root, name);
      await removeTempFiles(dir);
      const record = await readJsonIfExists<VolumeRecord>(path.join(dir, recordFile));
      if (record) {
        this.#records.set(record.name, record);
        continue;
      }
      // A create that crashed before its commit point, or a remove after it: finish it. A
      // device still mounted on _data (a crash while in use) is detached first.
      await unmount(path.join(dir, '_data'), { detach: true }).catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  #dataPath(name: string): string {
    return path.join(this.#root, name, '_data');
  }

  #show(r: VolumeRecord): Volume {
    return {
      CreatedAt: r.createdAt,
      Driver: r.driver,
      Labels: Object.keys(r.labels).length > 0 ? { ...r.labels } : null,
      Mountpoint: this.#dataPath(r.name),
      Name: r.name,
      Options: Object.keys(r.options).length > 0 ? { ...r.options } : null,
      Scope: 'local',
    };
  }

  #find(name: string, verb: string): VolumeRecord {
    const r = this.#records.get(name);
    if (!r) throw new NotFoundError(`${verb} ${name}: no such volume`);
    return r;
  }

  async create(
    request: VolumeCreateRequest,
    options: { anonymous?: boolean } = {},
  ): Promise<Volume> {
    const anonymous = options.anonymous === true || !request.Name;
    const name = request.Name || newId();
    if (!anonymous || request.Name) validateVolumeName(name);
    const driver = request.Driver || 'local';
    if (driver !== 'local') {
      throw new NotFoundError(
        `create ${name}: error looking up volume plugin ${driver}: plugin "${driver}" not found`,
      );
    }
    const opts = { ...(request.DriverOpts ?? {}) };
    validateLocalOptions(name, opts);
    const labels = { ...(request.Labels ?? {}) };
    if (anonymous) labels[anonymousLabel] = '';
    return this.#lock.withLock(name, async () => {
      const existing = this.#records.get(name);
      if (existing) return this.#show(existing);
      const record: VolumeRecord = {
        name,
        driver: 'local',
        labels,
        options: opts,
        createdAt: nowSeconds(),
      };
      const dir = path.join(this.#root, name);
      try {
        await fs.mkdir(path.join(dir, '_data'), { recursive: true, mode: 0o755 });
        await writeJsonAtomic(path.join(dir, recordFile), record);
      } catch (err: unknown) {
        await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
        throw err;
      }
      this.#records.set(name, record);
      this.#publish(name, 'create');
      return this.#show(record);
    });
  }

  async get(name: string): Promise<Volume> {
    return this.#show(this.#find(name, 'get'));
  }

  async list(filters: Record<string, string[]>): Promise<Volume[]> {
    const records = [...this.#records.values()].sort((a, b) => a.name.localeCompare(b.name));
    return filterVolumes(records, filters, (n) => this.users(n).length > 0).map((r) =>
      this.#show(r),
    );
  }

  async remove(name: string, options: { force: boolean }): Promise<void> {
    await this.#lock.withLock(name, async () => {
      const r = this.#records.get(name);
      if (!r) {
        if (options.force) return;
        throw new NotFoundError(`get ${name}: no such volume`);
      }
      const users = this.users(name);
      if (users.length > 0) {
        throw new ConflictError(`remove ${name}: volume is in use - [${users.join(', ')}]`);
      }
      await this.#destroy(r);
    });
  }

  async #destroy(r: VolumeRecord): Promise<void> {
    const dir = path.join(this.#root, r.name);
    if (hasDevice(r.options)) {
      const data = path.join(dir, '_data');
      await unmount(data, { detach: true });
      // Never delete through a mount: a bind-backed volume's _data is someone's directory.
      if (await isMountPoint(data)) {
        throw new SystemError(`remove ${r.name}: ${data} is still mounted`);
      }
    }
    // The commit point of a remove: without its record the directory is garbage.
    await fs.rm(path.join(dir, recordFile));
    await syncDir(dir).catch(() => undefined);
    this.#records.delete(r.name);
    this.#users.delete(r.name);
    this.#mounted.delete(r.name);
    await fs.rm(dir, { recursive: true, force: true });
    this.#publish(r.name, 'destroy');
  }

  async prune(
    filters: Record<string, string[]>,
  ): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const chosen = pruneSelection(
      [...this.#records.values()],
      filters,
      (n) => this.users(n).length > 0,
    );
    if (this.#pruning) throw new ConflictError('a prune operation is already running');
    this.#pruning = true;
    try {
      return await this.#prune(chosen);
    } finally {
      this.#pruning = false;
    }
  }

  async #prune(
    chosen: readonly VolumeRecord[],
  ): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let space = 0;
    for (const r of chosen) {
      await this.#lock.withLock(r.name, async () => {
        if (!this.#records.has(r.name) || this.users(r.name).length > 0) return;
        const size = hasDevice(r.options) ? 0 : await directorySize(this.#dataPath(r.name));
        await this.#destroy(r);
        deleted.push(r.name);
        space += size;
      });
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: space };
  }

  async usage(): Promise<Volume[]> {
    const out: Volume[] = [];
    for (const r of this.#records.values()) {
      if (Object.keys(r.options).length > 0) continue;
      out.push({
        ...this.#show(r),
        UsageData: {
          Size: await directorySize(this.#dataPath(r.name)),
          RefCount: this.users(r.name).length,
        },
      });
    }
    return out;
  }

  reference(name: string, containerId: string): void {
    this.#find(name, 'get');
    let set = this.#users.get(name);
    if (!set) this.#users.set(name, (set = new Set()));
    set.add(containerId);
  }

  release(name: string, containerId: string): void {
    this.#users.get(name)?.delete(containerId);
  }

  users(name: string): string[] {
    return [...(this.#users.get(name) ?? [])];
  }

  async mount(name: string, containerId: string, use?: VolumeUse): Promise<string> {
    return this.#lock.withLock(name, async () => {
      const r = this.#find(name, 'get');
      const data = this.#dataPath(name);
      let set = this.#mounted.get(name);
      if (!set) this.#mounted.set(name, (set = new Set()));
      if (hasDevice(r.options) && !(await isMountPoint(data))) {
        const m = deviceMount(r.options);
        try {
          await mountAll([m], data);
        } catch (err: unknown) {
          const reason = systemErrorText(err) ?? (err instanceof Error ? err.message : String(err));
          throw new SystemError(mountFailure(r.options, data, reason), { cause: err });
        }
      }
      if (!set.has(containerId) && use) {
        this.#publish(name, 'mount', {
          container: containerId,
          destination: use.destination,
          propagation: use.propagation,
          'read/write': String(use.readWrite),
        });
      }
      set.add(containerId);
      return data;
    });
  }

  async unmount(name: string, containerId: string): Promise<void> {
    await this.#lock.withLock(name, async () => {
      const set = this.#mounted.get(name);
      if (set?.delete(containerId)) this.#publish(name, 'unmount', { container: containerId });
      const r = this.#records.get(name);
      if (!r || !hasDevice(r.options) || (set && set.size > 0)) return;
      await unmount(this.#dataPath(name), { detach: true });
    });
  }
}

/** The local volume store under `root` (`<data-root>/volumes`). */
export async function newVolumeService(options: {
  root: string;
  /** Where volume create, destroy, mount and unmount events go. */
  events?: Events;
}): Promise<VolumeService> {
  const service = new LocalVolumes(options.root, options.events);
  await service.open();
  return service satisfies VolumeService;
}
