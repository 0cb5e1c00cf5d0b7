import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ConflictError, InvalidArgumentError, NotFoundError, isNotFound } from '../errors/index.js';
import type { HostConfigMount } from '../spec/engine.js';
import { resolveInRoot } from '../archive/root-path.js';
import { mountAll, unmount } from '../mount/mount-linux.js';
import { run } from '../util/exec.js';
import {
  inheritedMount,
  parseVolumesFrom,
  planMounts,
  type MountPointRecord,
  type MountRequest,
} from './mount-spec.js';
import { validateVolumeName } from './rules.js';
import { anonymousLabel, type VolumeService } from './volumes.js';
import type { UserMount } from '../runtime/oci/spec.js';

/** A mount as the runtime spec builder takes it. */
export type ResolvedMount = UserMount;

/** What a container asks for: the parts of its config that name mounts. */
export interface MountConfig {
  binds: readonly string[];
  mounts: readonly HostConfigMount[];
  /** Config.Volumes keys (image VOLUME and `-v /path`). */
  volumes: readonly string[];
  volumesFrom: readonly string[];
  /** HostConfig.VolumeDriver: the driver of volumes that -v and Config.Volumes create. */
  volumeDriver?: string;
}

/**
 * Between containers and volumes: turns a container's Binds, Mounts, Config.Volumes and
 * VolumesFrom into mount point records at create (creating the volumes they name), prepares
 * them for the runtime (device mounts, copy-up, bind sources), and lets go of them.
 */
export interface MountResolver {
  /**
   * Plans (pure checks first: a bad spec creates nothing), then creates missing volumes and
   * references them for `containerId`. On failure, what it created is removed again.
   * `mountsOf` gives another container's records (NotFoundError when there is none).
   */
  resolve(
    containerId: string,
    config: MountConfig,
    mountsOf: (ref: string) => Promise<MountPointRecord[]>,
  ): Promise<MountPointRecord[]>;
  /** References the volumes of a loaded record (start-up). */
  adopt(containerId: string, mounts: readonly MountPointRecord[]): void;
  /**
   * Mounts the container's volumes, fills empty ones from the image (`rootfs`) when asked,
   * makes missing `-v` bind sources, and returns the spec's mounts.
   */
  prepare(
    containerId: string,
    mounts: readonly MountPointRecord[],
    rootfs: string,
  ): Promise<ResolvedMount[]>;
  /** A task found running at start-up holds its volumes' device mounts again. */
  resume(containerId: string, mounts: readonly MountPointRecord[]): Promise<void>;
  /** The container's task is gone: its volume device mounts are let go. */
  finish(containerId: string, mounts: readonly MountPointRecord[]): Promise<void>;
  /**
   * Runs `fn` with the container's binds and volumes mounted over a host view of its tree
   * (`root`), as dockerd does for `cp` and the archive routes, and unmounts them after.
   */
  withMounts<T>(
    root: string,
    mounts: readonly MountPointRecord[],
    fn: (root: string) => Promise<T>,
  ): Promise<T>;
  /** The container is removed: releases its volumes, removing its anonymous ones when asked. */
  release(
    containerId: string,
    mounts: readonly MountPointRecord[],
    options: { removeAnonymous: boolean },
  ): Promise<void>;
}

/** For a look-up where a missing volume is an answer, not an error. */
function absent(err: unknown): undefined {
  if (err instanceof NotFoundError) return undefined;
  throw err;
}

function absentFile(err: unknown): undefined {
  if (isNotFound(err)) return undefined;
  throw err;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (err: unknown) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/**
 * Copies the image's directory at a volume's destination into the empty volume, keeping
 * owners, modes, links and times (`cp -a`), and gives the volume's root the directory's owner
 * and mode, as dockerd's copy-up does. Nothing when the volume is not empty or the image has no
 * directory there.
 */
async function copyUp(rootfs: string, destination: string, volumeDir: string): Promise<void> {
  const entries = await fs.readdir(volumeDir);
  if (entries.length > 0) return;
  const src = path.join(rootfs, destination);
  let st: import('node:fs').Stats;
  try {
    st = await fs.stat(src);
  } catch (err: unknown) {
    if (isNotFound(err)) return;
    throw err;
  }
  if (!st.isDirectory()) return;
  // The source must stay inside the rootfs: a symlink in the image could point anywhere.
  const real = await fs.realpath(src);
  const realRoot = await fs.realpath(rootfs);
  if (real !== realRoot && !real.startsWith(`${realRoot}/`)) return;
  if ((await fs.readdir(real)).length > 0) {
    await run('cp', ['-a', '--', `${real}/.`, `${volumeDir}/`]);
  }
  await fs.chown(volumeDir, st.uid, st.gid);
  await fs.chmod(volumeDir, st.mode & 0o7777);
}

class Resolver implements MountResolver {
  readonly #volumes: VolumeService;

  constructor(volumes: VolumeService) {
    this.#volumes = volumes;
  }

  async resolve(
    containerId: string,
    config: MountConfig,
    mountsOf: (ref: string) => Promise<MountPointRecord[]>,
  ): Promise<MountPointRecord[]> {
    const inherited: MountPointRecord[] = [];
    for (const raw of config.volumesFrom) {
      const { container, readOnly } = parseVolumesFrom(raw);
      let theirs: MountPointRecord[];
      try {
        theirs = await mountsOf(container);
      } catch (err: unknown) {
        // dockerd answers 400 here: the request names a container that is not there.
        if (err instanceof NotFoundError)
          throw new InvalidArgumentError(err.message, { cause: err });
        throw err;
      }
      for (const m of theirs) inherited.push(inheritedMount(m, readOnly));
    }
    const plan = planMounts({
      binds: config.binds,
      mounts: config.mounts,
      volumes: config.volumes,
      inherited,
    });
    const fromMounts = new Set(config.mounts.map((m) => m.Target && path.normalize(m.Target)));
    for (const m of plan) {
      if (m.Type === 'volume' && config.volumeDriver && !fromMounts.has(m.Destination)) {
        m.Driver = config.volumeDriver;
      }
      if (m.Type === 'bind' && !m.CreateSource && !(await exists(m.Source))) {
        throw new InvalidArgumentError(
          `invalid mount config for type "bind": bind source path does not exist: ${m.Source}`,
        );
      }
      if (m.Type === 'volume' && m.Name !== '') {
        // The name is checked before anything is made, so a bad one leaves nothing behind.
        validateVolumeName(m.Name);
      }
    }
    const created: string[] = [];
    const out: MountPointRecord[] = [];
    try {
      for (const m of plan) out.push(await this.#resolveOne(containerId, m, created));
    } catch (err: unknown) {
      await this.release(containerId, out, { removeAnonymous: false });
      // Best effort: a volume another container took meanwhile stays, and the error that
      // matters is the one that stopped this create.
      for (const name of created) {
        await this.#volumes.remove(name, { force: true }).catch(() => undefined);
      }
      throw err;
    }
    return out.sort((a, b) => a.Destination.localeCompare(b.Destination));
  }

  async #resolveOne(
    containerId: string,
    m: MountRequest,
    created: string[],
  ): Promise<MountPointRecord> {
    const { DriverOpts, Labels, ...record } = m;
    if (record.Type !== 'volume') return record;
    let name = record.Name;
    const existing = name === '' ? undefined : await this.#volumes.get(name).catch(absent);
    if (!existing) {
      const v = await this.#volumes.create(
        {
          ...(name !== '' ? { Name: name } : {}),
          Driver: record.Driver || 'local',
          DriverOpts: DriverOpts ?? null,
          Labels: Labels ?? null,
        },
        { anonymous: name === '' },
      );
      name = v.Name;
      created.push(name);
    }
    this.#volumes.reference(name, containerId);
    const v = await this.#volumes.get(name);
    return { ...record, Name: name, Source: v.Mountpoint, Driver: v.Driver };
  }

  adopt(containerId: string, mounts: readonly MountPointRecord[]): void {
    for (const m of mounts) {
      if (m.Type !== 'volume') continue;
      try {
        this.#volumes.reference(m.Name, containerId);
      } catch (err: unknown) {
        // A volume removed behind berth's back: the container keeps its record, and its
        // start fails with "no such volume".
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
  }

  async prepare(
    containerId: string,
    mounts: readonly MountPointRecord[],
    rootfs: string,
  ): Promise<ResolvedMount[]> {
    const out: ResolvedMount[] = [];
    for (const m of mounts) {
      if (m.Type === 'tmpfs') {
        const data = [m.RW ? '' : 'ro', m.TmpfsData ?? ''].filter((x) => x !== '').join(',');
        out.push({
          destination: m.Destination,
          kind: 'tmpfs',
          source: 'tmpfs',
          writable: m.RW,
          ...(data !== '' ? { data } : {}),
        });
        continue;
      }
      let source = m.Source;
      if (m.Type === 'volume') {
        source = await this.#volumes.mount(m.Name, containerId, {
          destination: m.Destination,
          readWrite: m.RW,
          propagation: m.Propagation,
        });
        if (m.CopyData) await copyUp(rootfs, m.Destination, source);
      } else if (m.CreateSource && !(await exists(source))) {
        await fs.mkdir(source, { recursive: true, mode: 0o755 });
      }
      out.push({
        destination: m.Destination,
        kind: 'bind',
        source,
        writable: m.RW,
        propagation: m.Propagation || 'rprivate',
        ...(m.NonRecursive ? { nonRecursive: true } : {}),
      });
    }
    return out;
  }

  async withMounts<T>(
    root: string,
    mounts: readonly MountPointRecord[],
    fn: (root: string) => Promise<T>,
  ): Promise<T> {
    const done: string[] = [];
    const depth = (m: MountPointRecord): number => m.Destination.split('/').length;
    try {
      for (const m of [...mounts].sort((a, b) => depth(a) - depth(b))) {
        if (m.Type === 'tmpfs' || m.Source === '') continue;
        const st = await fs.stat(m.Source).catch(absentFile);
        if (!st) continue;
        // Inside the root whatever its symlinks say: a link in the image cannot aim a mount
        // at the host.
        const target = await resolveInRoot(root, m.Destination);
        if (st.isDirectory()) await fs.mkdir(target, { recursive: true });
        else if (!(await exists(target))) {
          await fs.mkdir(path.dirname(target), { recursive: true });
          await fs.writeFile(target, '');
        }
        await mountAll(
          [{ type: 'bind', source: m.Source, options: ['rbind', ...(m.RW ? [] : ['ro'])] }],
          target,
        );
        done.push(target);
      }
      return await fn(root);
    } finally {
      for (const target of done.reverse()) await unmount(target, { detach: true });
    }
  }

  async resume(containerId: string, mounts: readonly MountPointRecord[]): Promise<void> {
    for (const m of mounts) {
      if (m.Type !== 'volume') continue;
      // The container runs on whatever it has; a volume that cannot be held again is said.
      await this.#volumes.mount(m.Name, containerId).catch((err: unknown) => {
        console.error(`berthd: volume ${m.Name} of container ${containerId}:`, err);
      });
    }
  }

  async finish(containerId: string, mounts: readonly MountPointRecord[]): Promise<void> {
    for (const m of mounts) {
      if (m.Type === 'volume') await this.#volumes.unmount(m.Name, containerId);
    }
  }

  async release(
    containerId: string,
    mounts: readonly MountPointRecord[],
    options: { removeAnonymous: boolean },
  ): Promise<void> {
    for (const m of mounts) {
      if (m.Type !== 'volume') continue;
      await this.#volumes.unmount(m.Name, containerId);
      this.#volumes.release(m.Name, containerId);
      if (!options.removeAnonymous || this.#volumes.users(m.Name).length > 0) continue;
      const v = await this.#volumes.get(m.Name).catch(absent);
      if (v && v.Labels && Object.hasOwn(v.Labels, anonymousLabel)) {
        await this.#volumes.remove(m.Name, { force: true }).catch((err: unknown) => {
          // Taken by a container created meanwhile: it stays, as dockerd leaves it.
          if (!(err instanceof ConflictError)) throw err;
        });
      }
    }
  }
}

export function newMountResolver(volumes: VolumeService): MountResolver {
  return new Resolver(volumes) satisfies MountResolver;
}
