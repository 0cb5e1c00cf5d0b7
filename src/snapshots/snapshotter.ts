import type { Mount } from '../mount/mount.js';

/**
 * Snapshotters keep filesystem trees as layers, in the manner of containerd's
 * core/snapshots.Snapshotter. They return mounts and never mount them for the caller.
 *
 * - A committed snapshot is a read-only layer, named by the caller (berth uses chain IDs).
 * - An active snapshot is a writable tree over an optional committed parent; `commit` turns it
 *   into a committed one.
 * - A view is a read-only tree over a committed parent.
 *
 * Keys are caller-chosen strings, unique across all kinds. Every change is recorded atomically:
 * after a crash at any instant, `walk` lists each snapshot either fully made or not at all.
 */
export type SnapshotKind = 'view' | 'active' | 'committed';

export interface SnapshotInfo {
  key: string;
  kind: SnapshotKind;
  /** Key of the committed parent, if any. */
  parent?: string;
  labels: Record<string, string>;
  /** ISO time of creation. */
  created: string;
}

export interface Usage {
  /** Bytes used by this snapshot's own layer (not its parents). */
  size: number;
  inodes: number;
}

export interface SnapshotOptions {
  labels?: Record<string, string>;
}

export interface Snapshotter {
  /** Information about one snapshot; NotFoundError when the key is unknown. */
  stat(key: string): Promise<SnapshotInfo>;
  /**
   * Creates an active snapshot over `parent` (a committed key) and returns the mounts of its
   * tree. ConflictError when the key exists; NotFoundError when the parent does not.
   */
  prepare(key: string, parent?: string, options?: SnapshotOptions): Promise<Mount[]>;
  /** Like prepare, but read-only. */
  view(key: string, parent?: string, options?: SnapshotOptions): Promise<Mount[]>;
  /** The mounts of an active snapshot or view. */
  mounts(key: string): Promise<Mount[]>;
  /**
   * Commits active snapshot `key` as committed snapshot `name`; `key` is gone afterwards.
   * ConflictError when `name` exists.
   */
  commit(name: string, key: string, options?: SnapshotOptions): Promise<void>;
  /**
   * Removes a snapshot. ConflictError when other snapshots have it as parent. The caller must
   * have unmounted it.
   */
  remove(key: string): Promise<void>;
  /** Every snapshot. */
  walk(): Promise<SnapshotInfo[]>;
  /** Disk usage of a snapshot's own layer. */
  usage(key: string): Promise<Usage>;
  /**
   * For an active snapshot whose upper layer is a plain directory (overlay's upperdir, or the
   * native tree), that directory, so that a diff can walk only what changed; else undefined.
   */
  upperDir(key: string): Promise<string | undefined>;
  /** Releases resources; the snapshotter is unusable afterwards. */
  close(): Promise<void>;
}
