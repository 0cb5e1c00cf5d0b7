import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  isNotFound,
} from '../errors/index.js';
import type { Mount } from '../mount/mount.js';
import { readJsonIfExists, removeTempFiles, syncDir, writeJsonAtomic } from '../util/atomic.js';
import { KeyedMutex } from '../util/lock.js';
import type {
  SnapshotInfo,
  SnapshotKind,
  SnapshotOptions,
  Snapshotter,
  Usage,
} from './snapshotter.js';

/**
 * What overlay and native snapshotters share: the records, the index and the crash rules.
 *
 * Persisted schema, under the snapshotter's root:
 *
 *   snapshots/<id>/fs     the snapshot's own tree (overlay: its upper dir; native: the whole tree)
 *   snapshots/<id>/work   overlay's work dir (active overlay snapshots only)
 *   records/<id>.json     {@link SnapshotRecord}, written atomically
 *
 * Ids are small decimal numbers, so that the lowerdir option of a deep chain stays short.
 * A snapshot exists exactly when its record does: prepare makes the directory first and writes
 * the record last; commit rewrites the record in one rename; remove deletes the record first.
 * So a crash leaves at worst a directory without a record, which open() removes.
 */
export interface SnapshotRecord {
  id: number;
  key: string;
  kind: SnapshotKind;
  parent?: string;
  labels: Record<string, string>;
  created: string;
}

/** How a snapshotter lays out and mounts its trees. */
export interface LayerDriver {
  /**
   * Fills `dir` (snapshots/<id>, already created) for a new snapshot; `chain` lists the fs dirs
   * of the parent chain, nearest first.
   */
  prepare(dir: string, kind: 'active' | 'view', chain: readonly string[]): Promise<void>;
  /** The mounts of an active snapshot or view. */
  mounts(dir: string, kind: 'active' | 'view', chain: readonly string[]): Mount[];
  /** Turns an active snapshot's directory into a committed layer. */
  commit(dir: string): Promise<void>;
}

export async function openLayered(root: string, driver: LayerDriver): Promise<Snapshotter> {
  const s = new LayeredSnapshotter(path.resolve(root), driver) satisfies Snapshotter;
  await s.open();
  return s;
}

const recordName = /^([0-9]+)\.json$/;

class LayeredSnapshotter {
  readonly #snapshots: string;
  readonly #records: string;
  readonly #index = new Map<string, SnapshotRecord>();
  readonly #lock = new KeyedMutex();
  #nextId = 1;
  #closed = false;

  constructor(
    root: string,
    readonly driver: LayerDriver,
  ) {
    this.#snapshots = path.join(root, 'snapshots');
    this.#records = path.join(root, 'records');
  }

  async open(): Promise<void> {
    await fs.mkdir(this.#snapshots, { recursive: true });
    await fs.mkdir(this.#records, { recursive: true });
    await removeTempFiles(this.#records);
    let maxId = 0;
    for (const name of await fs.readdir(this.#records)) {
      const m = recordName.exec(name);
      if (!m) continue;
      const rec = await readJsonIfExists<SnapshotRecord>(path.join(this.#records, name));
      if (!rec || rec.id !== Number(m[1])) continue;
      this.#index.set(rec.key, rec);
      maxId = Math.max(maxId, rec.id);
    }
    const live = new Set([...this.#index.values()].map((r) => String(r.id)));
    for (const name of await fs.readdir(this.#snapshots)) {
      if (live.has(name)) continue;
      // Left by a crash inside prepare or remove: the record was never written, or already gone.
      await fs.rm(path.join(this.#snapshots, name), { recursive: true, force: true });
    }
    this.#nextId = maxId + 1;
  }

  #check(): void {
    if (this.#closed) throw new UnavailableError('snapshotter is closed');
  }

  #get(key: string): SnapshotRecord {
    const rec = this.#index.get(key);
    if (!rec) throw new NotFoundError(`snapshot ${key}: not found`);
    return rec;
  }

  #dir(rec: SnapshotRecord): string {
    return path.join(this.#snapshots, String(rec.id));
  }

  #chain(parent: string | undefined): string[] {
    const chain: string[] = [];
    for (let p = parent; p !== undefined; p = this.#get(p).parent) {
      chain.push(path.join(this.#dir(this.#get(p)), 'fs'));
    }
    return chain;
  }

  #info(rec: SnapshotRecord): SnapshotInfo {
    const info: SnapshotInfo = {
      key: rec.key,
      kind: rec.kind,
      labels: { ...rec.labels },
      created: rec.created,
    };
    if (rec.parent !== undefined) info.parent = rec.parent;
    return info;
  }

  async stat(key: string): Promise<SnapshotInfo> {
    this.#check();
    return this.#info(this.#get(key));
  }

  prepare(key: string, parent?: string, options?: SnapshotOptions): Promise<Mount[]> {
    return this.#create('active', key, parent, options);
  }

  view(key: string, parent?: string, options?: SnapshotOptions): Promise<Mount[]> {
    return this.#create('view', key, parent, options);
  }

  async #create(
    kind: 'active' | 'view',
    key: string,
    parent: string | undefined,
    options: SnapshotOptions | undefined,
  ): Promise<Mount[]> {
    this.#check();
    if (key === '') throw new InvalidArgumentError('snapshot key must not be empty');
    return this.#lock.withLock('', async () => {
      if (this.#index.has(key)) throw new ConflictError(`snapshot ${key}: already exists`);
      if (parent !== undefined) {
        const p = this.#index.get(parent);
        if (!p) throw new NotFoundError(`snapshot ${parent}: parent not found`);
        if (p.kind !== 'committed') {
          throw new InvalidArgumentError(`snapshot ${parent}: parent is not committed`);
        }
      }
      const chain = this.#chain(parent);
      const rec: SnapshotRecord = {
        id: this.#nextId++,
        key,
        kind,
        labels: { ...(options?.labels ?? {}) },
        created: new Date().toISOString(),
      };
      if (parent !== undefined) rec.parent = parent;
      const dir = this.#dir(rec);
      await fs.rm(dir, { recursive: true, force: true });
      await fs.mkdir(dir);
      try {
        await this.driver.prepare(dir, kind, chain);
        await syncDir(this.#snapshots);
        await writeJsonAtomic(path.join(this.#records, `${rec.id}.json`), rec);
      } catch (err: unknown) {
        await fs.rm(dir, { recursive: true, force: true });
        throw err;
      }
      this.#index.set(key, rec);
      return this.driver.mounts(dir, kind, chain);
    });
  }

  async mounts(key: string): Promise<Mount[]> {
    this.#check();
    const rec = this.#get(key);
    if (rec.kind === 'committed') {
      throw new InvalidArgumentError(`snapshot ${key}: committed snapshots have no mounts`);
    }
    return this.driver.mounts(this.#dir(rec), rec.kind, this.#chain(rec.parent));
  }

  async commit(name: string, key: string, options?: SnapshotOptions): Promise<void> {
    this.#check();
    if (name === '') throw new InvalidArgumentError('snapshot name must not be empty');
    await this.#lock.withLock('', async () => {
      const rec = this.#get(key);
      if (rec.kind !== 'active') throw new InvalidArgumentError(`snapshot ${key}: not active`);
      if (this.#index.has(name)) throw new ConflictError(`snapshot ${name}: already exists`);
      await this.driver.commit(this.#dir(rec));
      const next: SnapshotRecord = {
        ...rec,
        key: name,
        kind: 'committed',
        labels: { ...(options?.labels ?? rec.labels) },
        created: new Date().toISOString(),
      };
      await writeJsonAtomic(path.join(this.#records, `${rec.id}.json`), next);
      this.#index.delete(key);
      this.#index.set(name, next);
    });
  }

  async remove(key: string): Promise<void> {
    this.#check();
    await this.#lock.withLock('', async () => {
      const rec = this.#get(key);
      const child = [...this.#index.values()].find((r) => r.parent === key);
      if (child)
        throw new ConflictError(`snapshot ${key}: cannot remove, ${child.key} is its child`);
      try {
        await fs.unlink(path.join(this.#records, `${rec.id}.json`));
      } catch (err: unknown) {
        if (!isNotFound(err)) throw err;
      }
      await syncDir(this.#records);
      this.#index.delete(key);
      // Anything this leaves behind (a crash, a busy mount) has no record and is swept at open.
      await fs.rm(this.#dir(rec), { recursive: true, force: true });
    });
  }

  async walk(): Promise<SnapshotInfo[]> {
    this.#check();
    return [...this.#index.values()].sort((a, b) => a.id - b.id).map((r) => this.#info(r));
  }

  async usage(key: string): Promise<Usage> {
    this.#check();
    return treeUsage(path.join(this.#dir(this.#get(key)), 'fs'));
  }

  async upperDir(key: string): Promise<string | undefined> {
    this.#check();
    const rec = this.#get(key);
    return rec.kind === 'active' ? path.join(this.#dir(rec), 'fs') : undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/** Bytes of regular files (each inode once) and inodes under `root`, itself included. */
export async function treeUsage(root: string): Promise<Usage> {
  const seen = new Set<string>();
  let size = 0;
  const visit = async (p: string): Promise<void> => {
    const st = await fs.lstat(p, { bigint: true });
    const id = `${st.dev}:${st.ino}`;
    if (!seen.has(id)) {
      seen.add(id);
      if (st.isFile()) size += Number(st.size);
    }
    if (st.isDirectory()) {
      for (const name of await fs.readdir(p)) await visit(path.join(p, name));
    }
  };
  try {
    await visit(root);
  } catch (err: unknown) {
    if (isNotFound(err)) return { size: 0, inodes: 0 };
    throw err;
  }
  return { size, inodes: seen.size };
}
