/**
 * The volume service: named storage that outlives containers, with Docker's `local` driver.
 *
 * Persisted schema (the only state; usage is derived, never persisted):
 *
 * - `<data-root>/volumes/<name>/volume.json`: the {@link VolumeRecord}, written atomically. It is
 *   the commit point of a create: a `<name>/` directory without it is a crash's leftover and is
 *   removed at start-up. A remove deletes the record first, then the directory.
 * - `<data-root>/volumes/<name>/_data`: the volume's content (the Mountpoint). For a volume with
 *   `type`/`device`/`o` options, the device is mounted here while at least one container uses
 *   it and unmounted when the last one goes, as Docker's local driver does.
 *
 * Who uses a volume is counted from container records: the container service references every
 * volume its records name when it loads them and when it creates a container, and releases them
 * when it removes one, so the count survives a restart of berthd without being stored.
 */

/** What is stored of a volume. */
export interface VolumeRecord {
  name: string;
  /** Always `local`: the only driver. */
  driver: 'local';
  labels: Record<string, string>;
  /** Driver options (`type`, `device`, `o`), as given. */
  options: Record<string, string>;
  /** RFC 3339, seconds precision, UTC (Docker's CreatedAt). */
  createdAt: string;
}

/** A volume as the Engine API shows it (`GET /volumes/{name}`). */
export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string> | null;
  Scope: 'local';
  Options: Record<string, string> | null;
  /** Only in `/system/df`: bytes in the volume (-1 when not computed) and its users. */
  UsageData?: { Size: number; RefCount: number };
}

/** `POST /volumes/create` body. */
export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
}

/** The label Docker 23+ gives anonymous volumes; prune without `all` removes only those. */
export const anonymousLabel = 'com.docker.volume.anonymous';

/** How a container mounts a volume, for its `mount` event. */
export interface VolumeUse {
  destination: string;
  readWrite: boolean;
  propagation: string;
}

export interface VolumeService {
  /**
   * Creates a volume, or returns the existing one of that name (as dockerd does). No name makes
   * an anonymous volume: a random 64-hex name and the {@link anonymousLabel}. InvalidArgument
   * for a bad name, driver or option (`create <name>: ...`), nothing created then.
   */
  create(request: VolumeCreateRequest, options?: { anonymous?: boolean }): Promise<Volume>;
  /** NotFoundError `get <name>: no such volume`. */
  get(name: string): Promise<Volume>;
  /** `GET /volumes`: filters dangling, name (substring), label, driver; InvalidArgument otherwise. */
  list(filters: Record<string, string[]>): Promise<Volume[]>;
  /**
   * Removes a volume. ConflictError `remove <name>: volume is in use - [<ids>]` while any
   * container uses it, even with `force`; `force` only turns a missing volume into success.
   */
  remove(name: string, options: { force: boolean }): Promise<void>;
  /**
   * `POST /volumes/prune`: removes unused volumes, anonymous ones only unless `all=true`;
   * `label`/`label!` narrow it. Returns the names removed and the bytes freed.
   */
  prune(
    filters: Record<string, string[]>,
  ): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }>;
  /** `/system/df` Volumes: local volumes without driver options, with UsageData. */
  usage(): Promise<Volume[]>;
  /** Records that `containerId` uses volume `name` (idempotent). NotFound when no such volume. */
  reference(name: string, containerId: string): void;
  /** Drops the use of `name` by `containerId` (idempotent). */
  release(name: string, containerId: string): void;
  /** IDs of the containers using `name`. */
  users(name: string): string[];
  /**
   * Makes the volume's content available for `containerId` and returns its host path: mounts
   * the device of a volume with options at first use (a failure is a SystemError saying so).
   * With `use`, a first mount for the container publishes a `mount` event.
   */
  mount(name: string, containerId: string, use?: VolumeUse): Promise<string>;
  /** Ends `containerId`'s mount; the device is unmounted once nobody has it mounted. */
  unmount(name: string, containerId: string): Promise<void>;
}
