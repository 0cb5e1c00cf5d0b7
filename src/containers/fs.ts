import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { changes as listChanges } from '../archive/changes.js';
import { copyIn, copyOut, statPath } from '../archive/copy.js';
import { diffTar, tarTree } from '../archive/tar-tree.js';
import { errnoCode, InvalidArgumentError, SystemError } from '../errors/index.js';
import { rootPair, toContainerIds, toHostIds, type IdMap } from '../idmap/idmap.js';
import type { ImageService } from '../images/images.js';
import { mountAll, unmount } from '../mount/mount-linux.js';
import { buildHosts, buildResolvConf, resolveExtraHosts } from '../network/etc.js';
import {
  blockDeviceNumbers,
  findInitBinary,
  listHostDevices,
  resolveDeviceMappings,
} from '../runtime/oci/host.js';
import { adjustToHost, initRealtimeParent, probeHostSupport } from '../runtime/oci/host-support.js';
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
import type { MountPointRecord } from '../volumes/mount-spec.js';
import type { MountResolver } from '../volumes/resolver.js';
import type { ContainerRecord, ExecCreateRequest, PathStat } from './containers.js';

/** What networking tells the /etc writer about a container's sandbox. */
export interface EtcNetwork {
  /** The container's addresses, each given a hosts line with its names. */
  addresses: readonly string[];
  /** Legacy links: the names (alias, id, name) and address of each linked container. */
  links?: readonly { names: readonly string[]; ip: string }[];
  /** The embedded DNS server answers at 127.0.0.11 (user-defined networks). */
  embedded: boolean;
  /** The container's network has IPv6. */
  ipv6?: boolean;
}

/**
 * What the container service needs done on a container's filesystem and spec: the files under
 * /etc it provides, the runtime spec, and tar work on the tree (export, cp, diff, commit).
 */
export interface ContainerFs {
  /** Create-time checks of config and HostConfig (InvalidArgumentError with dockerd's words). */
  validate(config: ContainerConfig, host: HostConfig): void;
  /**
   * HostConfig adjusted to what this host enforces, with dockerd's create warnings for what
   * was dropped; throws InvalidArgumentError for settings the host cannot honour at all.
   */
  adjustToHost(host: HostConfig): { hostConfig: HostConfig; warnings: string[] };
  /**
   * Writes hostname, hosts and resolv.conf into the container's directory as dockerd does for
   * the container's network mode, --hostname/--domainname, --add-host, --dns, --dns-search and
   * --dns-option. `network` gives what only networking knows (the container's addresses, links,
   * whether the embedded DNS server answers); absent, the container has no address yet.
   * InvalidArgumentError for a bad --add-host, or host-gateway with no gateway known.
   */
  writeEtcFiles(
    dir: string,
    config: CreateContainerRequest,
    network?: EtcNetwork,
  ): Promise<{ hostnamePath: string; hostsPath: string; resolvConfPath: string }>;
  /** Whether the container gets a user namespace of its own (the daemon's --userns-remap). */
  ownsUserNamespace(record: ContainerRecord): boolean;
  /**
   * The runtime spec, with the user resolved in the mounted rootfs. `join.netnsPath` is the
   * network namespace to join (the network service's sandbox), if any; `join.namespacePath`
   * gives the namespaces `container:<id>` modes join.
   */
  spec(record: ContainerRecord, rootfs: string, join?: SpecJoin): Promise<RuntimeSpec>;
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

/** The namespaces a container's spec joins rather than makes. */
export interface SpecJoin {
  netnsPath?: string;
  namespacePath?: (container: string, kind: 'net' | 'ipc' | 'pid') => string;
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

async function readHostFile(p: string): Promise<string> {
  try {
    return await fs.readFile(p, 'utf8');
  } catch (err: unknown) {
    if (errnoCode(err) === 'ENOENT') return '';
    throw err;
  }
}

/** A mount point as dockerd's inspect shows it: binds and tmpfs have no Name and Driver. */
function inspectMount(m: MountPointRecord): MountPoint {
  return {
    Type: m.Type,
    ...(m.Type === 'volume' ? { Name: m.Name } : {}),
    Source: m.Source,
    Destination: m.Destination,
    ...(m.Type === 'volume' ? { Driver: m.Driver } : {}),
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  };
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
  /** The daemon's real-time budget (µs) for the parent cgroup of real-time containers. */
  cpuRealtime?: { period: number; runtime: number };
  /**
   * The address `--add-host name:host-gateway` stands for (dockerd: --host-gateway-ip, else
   * the default bridge's gateway); empty or absent when none is known, and such an entry is
   * then refused.
   */
  hostGateway?: () => string;
  /** Prepares a record's volumes and binds (its `mounts`) for the spec. */
  mounts: MountResolver;
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
  const support = await probeHostSupport();

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

  const specFor = async (
    record: ContainerRecord,
    rootfs: string,
    join: SpecJoin = {},
    prepareMounts = true,
  ): Promise<RuntimeSpec> => {
    const host = record.config.HostConfig ?? {};
    const user = await resolveUser(rootfs, record.config.User ?? '', host.GroupAdd ?? []);
    if (
      support.cgroupVersion === 1 &&
      options.cpuRealtime &&
      ((host.CpuRealtimeRuntime ?? 0) > 0 || (host.CpuRealtimePeriod ?? 0) > 0)
    ) {
      await initRealtimeParent(host.CgroupParent || '/berth', options.cpuRealtime);
    }
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
      swapLimit: support.swapLimit,
      seccompProfile: await loadSeccompProfile(host.SecurityOpt ?? []),
      ...(host.Privileged
        ? { hostDevices: await listHostDevices() }
        : { devices: await resolveDeviceMappings(host.Devices ?? []) }),
      blockDevices: await blockDeviceNumbers(host),
      ...(join.netnsPath ? { netnsPath: join.netnsPath } : {}),
      ...(join.namespacePath ? { namespacePath: join.namespacePath } : {}),
      // An exec needs only the process: its container's mounts are made already (and an
      // empty volume must not be filled again behind a running container's back).
      mounts: prepareMounts ? await options.mounts.prepare(record.id, record.mounts, rootfs) : [],
      ...(options.idMap ? { idMap: options.idMap } : {}),
    });
  };

  return {
    validate(config, host): void {
      validateContainerConfig(config, host, { cpuCount });
      // The form of --add-host is checked at create; the gateway is known only when writing.
      resolveExtraHosts(host.ExtraHosts ?? [], '0.0.0.0');
      validateUserns(host, options.idMap);
      if (host.Init && !initPath)
        throw new InvalidArgumentError('--init needs tini or catatonit installed on the host');
    },

    adjustToHost(host) {
      return adjustToHost(host, support);
    },

    async writeEtcFiles(dir, config, network) {
      const host = config.HostConfig ?? {};
      const hostNetwork = host.NetworkMode === 'host';
      const hostname = config.Hostname ?? '';
      const hostnamePath = path.join(dir, 'hostname');
      const hostsPath = path.join(dir, 'hosts');
      const resolvConfPath = path.join(dir, 'resolv.conf');
      const extraHosts = resolveExtraHosts(host.ExtraHosts ?? [], options.hostGateway?.() ?? '');
      // With the host's network and no --add-host, dockerd gives the host's own hosts file.
      const hosts =
        hostNetwork && extraHosts.length === 0
          ? await readHostFile('/etc/hosts')
          : buildHosts({
              hostname,
              domainname: config.Domainname ?? '',
              addresses: network?.addresses ?? [],
              extraHosts,
              links: network?.links ?? [],
              ipv6: true,
            });
      const resolv = buildResolvConf({
        hostResolvConf: await readHostFile('/etc/resolv.conf'),
        dns: host.Dns ?? [],
        dnsSearch: host.DnsSearch ?? [],
        dnsOptions: host.DnsOptions ?? [],
        embedded: network?.embedded ?? false,
        ipv6: network?.ipv6 ?? false,
        hostNetwork,
      });
      await Promise.all([
        writeFileAtomic(hostnamePath, `${hostname}\n`, { sync: false }),
        writeFileAtomic(hostsPath, hosts, { sync: false }),
        writeFileAtomic(resolvConfPath, resolv.content, { sync: false }),
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

    ownsUserNamespace(record) {
      return usernsPrivate(record.config.HostConfig ?? {}, options.idMap);
    },

    async execProcess(record, request, rootfs, tty): Promise<Process> {
      const base = (await specFor(record, rootfs, {}, false)).process;
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
          mounts: [],
        });
        if (privileged.process.capabilities) process.capabilities = privileged.process.capabilities;
      }
      return process;
    },

    mountPoints(record): MountPoint[] {
      return record.mounts.map(inspectMount);
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
