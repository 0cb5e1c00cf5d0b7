import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { changes as listChanges } from '../archive/changes.js';
import { copyIn, copyOut, statPath } from '../archive/copy.js';
import { diffTar, tarTree } from '../archive/tar-tree.js';
import { InvalidArgumentError, SystemError } from '../errors/index.js';
import { rootPair, toContainerIds, toHostIds, type IdMap } from '../idmap/idmap.js';
import type { ImageService } from '../images/images.js';
import { mountAll, unmount } from '../mount/mount-linux.js';
import { findInitBinary } from '../runtime/oci/host.js';
import { buildSpec, validateContainerConfig } from '../runtime/oci/spec.js';
import { loadSeccompProfile } from '../runtime/oci/seccomp.js';
import { resolveUser } from '../runtime/oci/user.js';
import { usernsPrivate, validateUserns } from '../runtime/oci/userns.js';
import type { Runtime } from '../runtime/runtime.js';
import type { Snapshotter } from '../snapshots/snapshotter.js';
import type {
  ContainerConfig,
  CreateContainerRequest,
  HostConfig,
  MountPoint,
} from '../spec/engine.js';
import type { Process, RuntimeSpec } from '../spec/oci-runtime.js';
import { writeFileAtomic } from '../util/atomic.js';
import { newId } from '../util/digest.js';
import type { ContainerRecord, ExecCreateRequest, PathStat } from './containers.js';

/**
 * What the container service needs done on a container's filesystem and spec: the files under
 * /etc it provides, the runtime spec, and tar work on the tree (export, cp, diff, commit).
 */
export interface ContainerFs {
  /** Create-time checks of config and HostConfig (InvalidArgumentError with dockerd's words). */
  validate(config: ContainerConfig, host: HostConfig): void;
  /** Writes hostname, hosts and resolv.conf into the container's directory. */
  writeEtcFiles(
    dir: string,
    config: CreateContainerRequest,
  ): Promise<{ hostnamePath: string; hostsPath: string; resolvConfPath: string }>;
  /** The runtime spec, with the user resolved in the mounted rootfs. */
  spec(record: ContainerRecord, rootfs: string): Promise<RuntimeSpec>;
  /** The process of an exec, derived from the container's own. */
  execProcess(
    record: ContainerRecord,
    request: ExecCreateRequest,
    rootfs: string,
    tty: boolean,
  ): Promise<Process>;
  mountPoints(record: ContainerRecord): MountPoint[];
  graphDriverData(record: ContainerRecord): Promise<Record<string, string>>;
  /** Mounts a container snapshot at a temporary path for the duration of fn. */
  withMountedSnapshot<T>(key: string, fn: (root: string) => Promise<T>): Promise<T>;
  changes(record: ContainerRecord): Promise<{ Path: string; Kind: number }[]>;
  /** The tar of the whole tree; `withRootfs` gives access to it while the stream lasts. */
  exportTree(record: ContainerRecord, withRootfs: WithRootfs): Promise<Readable>;
  stat(root: string, p: string): Promise<PathStat>;
  getArchive(
    record: ContainerRecord,
    p: string,
    withRootfs: WithRootfs,
  ): Promise<{ stat: PathStat; tar: Readable }>;
  putArchive(
    root: string,
    p: string,
    tar: Readable,
    options: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean },
  ): Promise<void>;
  /** Tar of the container's changes with OCI whiteouts, for commit. */
  diff(record: ContainerRecord): Promise<Readable>;
}

export type WithRootfs = <T>(fn: (root: string) => Promise<T>) => Promise<T>;

/** Runs fn(root) and keeps the root available until the stream fn returns has ended. */
async function streamWithin(
  withRootfs: WithRootfs,
  make: (root: string) => Promise<Readable>,
): Promise<Readable> {
  const out = new PassThrough();
  let started!: () => void;
  let failed!: (err: unknown) => void;
  const ready = new Promise<void>((resolve, reject) => {
    started = resolve;
    failed = reject;
  });
  void withRootfs(async (root) => {
    let tar: Readable;
    try {
      tar = await make(root);
    } catch (err: unknown) {
      failed(err);
      return;
    }
    started();
    await new Promise<void>((resolve) => {
      tar.on('error', (err) => {
        out.destroy(err);
        resolve();
      });
      out.on('close', resolve);
      tar.pipe(out);
    });
  }).catch((err: unknown) => failed(err));
  await ready;
  return out;
}

async function hostResolvConf(): Promise<string> {
  let text = '';
  try {
    text = await fs.readFile('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
  // Loopback resolvers of the host are unreachable from the container's network namespace.
  return text
    .split('\n')
    .filter((l) => !/^\s*nameserver\s+(127\.|::1\b)/.test(l))
    .join('\n');
}

function remapRoot(idMap: IdMap | undefined): { uid: number; gid: number } {
  if (!idMap) throw new SystemError('no user namespace mapping');
  return rootPair(idMap);
}

async function chownIfNot(file: string, owner: { uid: number; gid: number }): Promise<void> {
  const st = await fs.lstat(file);
  if (st.uid !== owner.uid || st.gid !== owner.gid) await fs.lchown(file, owner.uid, owner.gid);
}

/** Chowns `dir` and its parents up to `first`, the directories one mkdir made. */
async function chownDown(
  first: string,
  dir: string,
  owner: { uid: number; gid: number },
): Promise<void> {
  for (let p = dir; p.length >= first.length; p = path.dirname(p)) {
    await fs.lchown(p, owner.uid, owner.gid);
    if (p === first) break;
  }
}

export async function newContainerFs(options: {
  snapshotter: Snapshotter;
  runtime: Runtime;
  images: ImageService;
  /** Where temporary mounts are made. */
  tmpRoot: string;
  /**
   * The daemon's --userns-remap mapping: containers not in UsernsMode host get a user
   * namespace, and their root directory and /etc files are owned by the mapped root.
   */
  idMap?: IdMap;
}): Promise<ContainerFs> {
  const { snapshotter, images } = options;
  await fs.mkdir(options.tmpRoot, { recursive: true });
  // Leftover temporary mount points of a crash: unmount and remove.
  for (const name of await fs.readdir(options.tmpRoot)) {
    const p = path.join(options.tmpRoot, name);
    await unmount(p, { detach: true }).catch(() => undefined);
    await fs.rm(p, { recursive: true, force: true }).catch(() => undefined);
  }
  // A remapped daemon's trees hold host ids: tars out carry container ids, tars in are shifted.
  const tarIds = options.idMap ? { ids: toContainerIds(options.idMap) } : {};
  const diskIds = options.idMap ? { ids: toHostIds(options.idMap) } : {};
  const initPath = await findInitBinary();
  const cpuCount = os.cpus().length;

  const withMountedSnapshot = async <T>(
    key: string,
    fn: (root: string) => Promise<T>,
  ): Promise<T> => {
    const target = path.join(options.tmpRoot, newId().slice(0, 16));
    await fs.mkdir(target);
    try {
      await mountAll(await snapshotter.mounts(key), target);
      try {
        return await fn(target);
      } finally {
        await unmount(target, { detach: true });
      }
    } finally {
      await fs.rm(target, { recursive: true, force: true });
    }
  };

  const specFor = async (record: ContainerRecord, rootfs: string): Promise<RuntimeSpec> => {
    const host = record.config.HostConfig ?? {};
    const user = await resolveUser(rootfs, record.config.User ?? '', host.GroupAdd ?? []);
    const workdir = record.config.WorkingDir;
    const mappedRoot = usernsPrivate(host, options.idMap) ? remapRoot(options.idMap) : undefined;
    if (mappedRoot) await chownIfNot(rootfs, mappedRoot);
    if (workdir) {
      // dockerd makes the working directory when the image lacks it.
      const dir = path.join(rootfs, path.resolve('/', workdir));
      const first = await fs.mkdir(dir, { recursive: true }).catch(() => undefined);
      if (first !== undefined && mappedRoot) await chownDown(first, dir, mappedRoot);
    }
    return buildSpec({
      id: record.id,
      config: record.config,
      hostConfig: host,
      image: {},
      user,
      hostname: record.config.Hostname ?? record.id.slice(0, 12),
      files: {
        hosts: record.hostsPath,
        hostname: record.hostnamePath,
        resolvConf: record.resolvConfPath,
      },
      initPath,
      cpuCount,
      seccompProfile: await loadSeccompProfile(host.SecurityOpt ?? []),
      ...(options.idMap ? { idMap: options.idMap } : {}),
    });
  };

  return {
    validate(config, host): void {
      validateContainerConfig(config, host, { cpuCount });
      validateUserns(host, options.idMap);
      if (host.Init && !initPath)
        throw new InvalidArgumentError('--init needs tini or catatonit installed on the host');
    },

    async writeEtcFiles(dir, config) {
      const hostname = config.Hostname ?? '';
      const hostnamePath = path.join(dir, 'hostname');
      const hostsPath = path.join(dir, 'hosts');
      const resolvConfPath = path.join(dir, 'resolv.conf');
      const hosts = [
        '127.0.0.1\tlocalhost',
        '::1\tlocalhost ip6-localhost ip6-loopback',
        'fe00::0\tip6-localnet',
        'ff00::0\tip6-mcastprefix',
        'ff02::1\tip6-allnodes',
        'ff02::2\tip6-allrouters',
        ...(hostname ? [`127.0.1.1\t${hostname}`] : []),
        ...(config.HostConfig?.ExtraHosts ?? []).map((e) => {
          const i = e.indexOf(':');
          return `${e.slice(i + 1)}\t${e.slice(0, i)}`;
        }),
        '',
      ].join('\n');
      await Promise.all([
        writeFileAtomic(hostnamePath, `${hostname}\n`, { sync: false }),
        writeFileAtomic(hostsPath, hosts, { sync: false }),
        writeFileAtomic(resolvConfPath, await hostResolvConf(), { sync: false }),
      ]);
      if (usernsPrivate(config.HostConfig ?? {}, options.idMap)) {
        // As dockerd: the container's root may rewrite its own /etc files.
        const root = remapRoot(options.idMap);
        for (const f of [hostnamePath, hostsPath, resolvConfPath]) {
          await fs.chown(f, root.uid, root.gid);
        }
      }
      return { hostnamePath, hostsPath, resolvConfPath };
    },

    spec: specFor,

    async execProcess(record, request, rootfs, tty): Promise<Process> {
      const base = (await specFor(record, rootfs)).process;
      const user = request.User ? await resolveUser(rootfs, request.User) : undefined;
      const env = new Map<string, string>();
      for (const e of [...base.env, ...(request.Env ?? [])]) env.set(e.split('=')[0] ?? e, e);
      if (tty && !env.has('TERM')) env.set('TERM', 'TERM=xterm');
      const process: Process = {
        ...base,
        terminal: tty,
        args: request.Cmd,
        env: [...env.values()],
        cwd: request.WorkingDir || base.cwd,
      };
      if (user)
        process.user = { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids };
      if (request.Privileged) {
        const privileged = buildSpec({
          id: record.id,
          config: record.config,
          hostConfig: { ...(record.config.HostConfig ?? {}), Privileged: true },
          image: {},
          user: { uid: 0, gid: 0, additionalGids: [] },
          hostname: 'x',
        });
        if (privileged.process.capabilities) process.capabilities = privileged.process.capabilities;
      }
      return process;
    },

    mountPoints(record): MountPoint[] {
      return (record.config.HostConfig?.Binds ?? []).map((b) => {
        const [source = '', destination = '', mode = ''] = b.split(':');
        return {
          Type: 'bind',
          Source: source,
          Destination: destination,
          Mode: mode,
          RW: !mode.split(',').includes('ro'),
          Propagation: 'rprivate',
        };
      });
    },

    async graphDriverData(record): Promise<Record<string, string>> {
      const mounts = await snapshotter.mounts(record.snapshotKey).catch(() => []);
      const opts = mounts[0]?.options ?? [];
      const get = (k: string): string =>
        opts.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1) ?? '';
      return {
        LowerDir: get('lowerdir'),
        MergedDir: options.runtime.rootfsPath(record.id),
        UpperDir: get('upperdir') || mounts[0]?.source || '',
        WorkDir: get('workdir'),
      };
    },

    withMountedSnapshot,

    async changes(record) {
      const upperDir = await snapshotter.upperDir(record.snapshotKey);
      if (!upperDir) return [];
      const image = await images.get(record.imageId);
      const parent = image.chainIDs[image.chainIDs.length - 1];
      if (!parent)
        return (await listChanges({ upperDir })).map((c) => ({ Path: c.Path, Kind: c.Kind }));
      const viewKey = `view-${newId().slice(0, 16)}`;
      await snapshotter.view(viewKey, parent);
      try {
        return await withMountedSnapshot(viewKey, async (lower) =>
          (await listChanges({ upperDir, lower })).map((c) => ({ Path: c.Path, Kind: c.Kind })),
        );
      } finally {
        await snapshotter.remove(viewKey);
      }
    },

    async exportTree(_record, withRootfs) {
      return streamWithin(withRootfs, async (root) => tarTree(root, tarIds));
    },

    stat: (root, p) => statPath(root, p),

    async getArchive(_record, p, withRootfs) {
      let stat: PathStat | undefined;
      const tar = await streamWithin(withRootfs, async (root) => {
        const out = await copyOut(root, p, tarIds);
        stat = out.stat;
        return out.tar;
      });
      if (!stat) throw new InvalidArgumentError(`Could not find the file ${p} in container`);
      return { stat, tar };
    },

    putArchive: (root, p, tar, opts) =>
      copyIn(root, p, tar, { noOverwriteDirNonDir: opts.noOverwriteDirNonDir, ...diskIds }),

    async diff(record) {
      const upperDir = await snapshotter.upperDir(record.snapshotKey);
      if (!upperDir)
        throw new InvalidArgumentError("this container's snapshot has no layer of changes");
      return diffTar({ upperDir, ...tarIds });
    },
  };
}
