import { promises as fs } from 'node:fs';
import path from 'node:path';
import { startApiServer, type ApiServer } from '../api/server.js';
import { newBuildService } from '../build/service.js';
import { newContainerService } from '../containers/service.js';
import { newContainerFs } from '../containers/fs.js';
import { newLocalContentStore } from '../content/local/store.js';
import { ConflictError, errnoCode, isNotFound } from '../errors/index.js';
import { newEventExchange } from '../events/exchange.js';
import { newImageService } from '../images/service.js';
import type { DistributionOptions } from '../images/distribution.js';
import { newRegistryClientService } from '../registry/client/service.js';
import { newConmonRuntime } from '../runtime/conmon/runtime.js';
import { newNativeSnapshotter } from '../snapshots/native/native.js';
import { newOverlaySnapshotter, overlaySupported } from '../snapshots/overlay/overlay.js';
import type { Snapshotter } from '../snapshots/snapshotter.js';
import { newId } from '../util/digest.js';
import { writeFileAtomic } from '../util/atomic.js';
import { parseDaemonArgs, type DaemonOptions } from './options.js';
import { newVolumeService } from '../volumes/service.js';
import { newMountResolver } from '../volumes/resolver.js';
import { loadDaemonTls } from './tls.js';
import { idShift, remappedRoot } from './userns.js';
import { idFilesFromEnv, loadRemap } from '../idmap/load.js';
import { newSystemService } from './system.js';
import { daemonTag, newNetworkService } from '../network/service.js';

export interface Daemon {
  /** Stops serving; containers keep running (live-restore). */
  shutdown(): Promise<void>;
}

/** Claims the data root: one berthd per data root, recorded in `<exec-root>/berthd.pid`. */
async function claimPidFile(file: string): Promise<void> {
  try {
    const pid = Number((await fs.readFile(file, 'utf8')).trim());
    if (pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        throw new ConflictError(`berthd is already running (pid ${pid}, ${file})`);
      } catch (err: unknown) {
        if (errnoCode(err) !== 'ESRCH') throw err;
      }
    }
  } catch (err: unknown) {
    if (!isNotFound(err)) throw err;
  }
  await writeFileAtomic(file, `${process.pid}\n`);
}

async function engineId(dataRoot: string): Promise<string> {
  const file = path.join(dataRoot, 'engine-id');
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (err: unknown) {
    if (!isNotFound(err)) throw err;
    const id = newId();
    await writeFileAtomic(file, id);
    return id;
  }
}

function registryOptions(options: DaemonOptions): DistributionOptions {
  return {
    hosts: { mirrors: options.registryMirrors, insecure: options.insecureRegistries },
    certsDir: options.certsDir,
    maxDownloads: options.maxConcurrentDownloads,
    maxUploads: options.maxConcurrentUploads,
  };
}

/** Builds the stores and services in dependency order and starts the API. */
export async function startDaemon(given: DaemonOptions): Promise<Daemon> {
  const remap = given.usernsRemap
    ? await loadRemap(given.usernsRemap, idFilesFromEnv(process.env))
    : undefined;
  await fs.mkdir(given.dataRoot, { recursive: true, mode: 0o711 });
  // A remapped daemon keeps all its state apart, in <data-root>/<uid>.<gid>, as dockerd does.
  const options = remap ? { ...given, dataRoot: await remappedRoot(given.dataRoot, remap) } : given;
  await fs.mkdir(options.execRoot, { recursive: true, mode: 0o711 });
  const pidFile = path.join(options.execRoot, 'berthd.pid');
  await claimPidFile(pidFile);

  const content = await newLocalContentStore(path.join(options.dataRoot, 'content'));
  const snapshotRoot = path.join(options.dataRoot, 'snapshots');
  await fs.mkdir(snapshotRoot, { recursive: true });
  const overlay = await overlaySupported(snapshotRoot);
  const snapshotter: Snapshotter = overlay
    ? await newOverlaySnapshotter(path.join(snapshotRoot, 'overlay'))
    : await newNativeSnapshotter(path.join(snapshotRoot, 'native'));
  const events = newEventExchange();
  const images = await newImageService({
    root: path.join(options.dataRoot, 'images'),
    content,
    snapshotter,
    events,
    ...(remap ? { ids: idShift(remap) } : {}),
    distribution: registryOptions(options),
  });
  const registry = newRegistryClientService(registryOptions(options));
  const runtime = await newConmonRuntime({
    execRoot: options.execRoot,
    dataRoot: options.dataRoot,
  });
  const volumes = await newVolumeService({
    root: path.join(options.dataRoot, 'volumes'),
    events,
  });
  const mounts = newMountResolver(volumes);
  const containerFs = await newContainerFs({
    snapshotter,
    runtime,
    images,
    tmpRoot: path.join(options.dataRoot, 'tmp'),
    cpuRealtime: options.cpuRealtime,
    hostGateway: () => options.hostGatewayIp,
    mounts,
    ...(remap ? { idMap: remap } : {}),
  });
  const networkRoot = path.join(options.dataRoot, 'network');
  const networks = await newNetworkService({
    root: networkRoot,
    execRoot: options.execRoot,
    events,
    // berth0 is the default data root's; a berthd on another root (tests, a second engine)
    // gets a bridge of its own, so that two engines never share one bridge's addresses.
    defaultBridge:
      path.resolve(options.dataRoot) === '/var/lib/berth'
        ? 'berth0'
        : `bd-${daemonTag(networkRoot)}`,
  });
  const containers = await newContainerService({
    root: path.join(options.dataRoot, 'containers'),
    images,
    snapshotter,
    runtime,
    events,
    fs: containerFs,
    network: networks,
    mounts,
  });
  const build = await newBuildService({
    images,
    containers,
    tmpRoot: path.join(options.dataRoot, 'tmp'),
    cacheRoot: path.join(options.dataRoot, 'build-cache'),
    ...(remap ? { idMap: remap } : {}),
  });
  const system = newSystemService({
    daemon: options,
    containers,
    images,
    volumes,
    snapshotterName: overlay ? 'overlay2' : 'vfs',
    runtimeName: 'runc',
    id: await engineId(options.dataRoot),
  });
  let api: ApiServer;
  try {
    api = await startApiServer({
      hosts: options.hosts,
      services: { containers, images, events, system, build, networks, volumes, registry },
      ...(options.tls?.verify ? { tls: await loadDaemonTls(options.tls) } : {}),
    });
  } catch (err: unknown) {
    await containers.close();
    await networks.close();
    await runtime.close();
    throw err;
  }
  return {
    async shutdown(): Promise<void> {
      await api.close();
      await containers.close();
      await networks.close();
      await runtime.close();
      await snapshotter.close();
      await fs.rm(pidFile, { force: true });
    },
  };
}

/** `berth daemon`: runs berthd in the foreground; resolves once SIGTERM or SIGINT has stopped it. */
export async function runDaemon(argv: string[]): Promise<void> {
  const options = parseDaemonArgs(argv);
  const daemon = await startDaemon(options);
  console.error(`berthd: serving ${options.hosts.join(', ')} (data root ${options.dataRoot})`);
  await new Promise<void>((resolve, reject) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      console.error(`berthd: ${signal}, shutting down (containers keep running)`);
      daemon.shutdown().then(resolve, reject);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}
