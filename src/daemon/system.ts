import os from 'node:os';
import { promises as fs } from 'node:fs';
import type { ContainerService } from '../containers/containers.js';
import type { ImageService } from '../images/images.js';
import type { SystemService } from '../system/system.js';
import { probeHostSupport } from '../runtime/oci/host-support.js';
import type { VolumeService } from '../volumes/volumes.js';
import type { DaemonOptions } from './options.js';

export const berthVersion = '0.1.0';
const apiVersion = '1.47';
const minApiVersion = '1.24';

async function cgroupVersion(): Promise<'1' | '2'> {
  try {
    await fs.access('/sys/fs/cgroup/cgroup.controllers');
    return '2';
  } catch {
    return '1';
  }
}

async function osName(): Promise<string> {
  try {
    const text = await fs.readFile('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

export function newSystemService(options: {
  daemon: DaemonOptions;
  containers: ContainerService;
  images: ImageService;
  /** For the Volumes section of `/system/df`. */
  volumes?: VolumeService;
  snapshotterName: string;
  runtimeName: string;
  id: string;
}): SystemService {
  const started = new Date().toISOString();
  const arch = os.arch() === 'x64' ? 'amd64' : os.arch();
  return {
    version(): Record<string, unknown> {
      const components = [
        {
          Name: 'Engine',
          Version: berthVersion,
          Details: {
            ApiVersion: apiVersion,
            MinAPIVersion: minApiVersion,
            Os: 'linux',
            Arch: arch,
            KernelVersion: os.release(),
            GoVersion: `node${process.versions.node}`,
            GitCommit: '',
            BuildTime: '',
            Experimental: 'false',
          },
        },
      ];
      return {
        Platform: { Name: 'berth' },
        Components: components,
        Version: berthVersion,
        ApiVersion: apiVersion,
        MinAPIVersion: minApiVersion,
        GitCommit: '',
        GoVersion: `node${process.versions.node}`,
        Os: 'linux',
        Arch: arch,
        KernelVersion: os.release(),
        BuildTime: '',
      };
    },
    async info(): Promise<Record<string, unknown>> {
      const counts = options.containers.counts();
      const images = await options.images.list();
      const support = await probeHostSupport();
      return {
        ID: options.id,
        Containers: counts.running + counts.paused + counts.stopped,
        ContainersRunning: counts.running,
        ContainersPaused: counts.paused,
        ContainersStopped: counts.stopped,
        Images: images.length,
        Driver: options.snapshotterName,
        DriverStatus: [['Backing Filesystem', 'extfs']],
        Plugins: {
          Volume: options.volumes ? ['local'] : [],
          Network: [],
          Authorization: null,
          Log: ['k8s-file'],
        },
        MemoryLimit: true,
        SwapLimit: support.swapLimit,
        CpuCfsPeriod: true,
        CpuCfsQuota: true,
        CPUShares: true,
        CPUSet: true,
        PidsLimit: true,
        IPv4Forwarding: true,
        Debug: options.daemon.debug,
        NFd: (await fs.readdir('/proc/self/fd').catch(() => [])).length,
        OomKillDisable: true,
        NGoroutines: 0,
        SystemTime: new Date().toISOString(),
        LoggingDriver: 'k8s-file',
        CgroupDriver: 'cgroupfs',
        CgroupVersion: await cgroupVersion(),
        NEventsListener: 0,
        KernelVersion: os.release(),
        OperatingSystem: await osName(),
        OSVersion: '',
        OSType: 'linux',
        Architecture: os.machine(),
        IndexServerAddress: 'https://index.docker.io/v1/',
        RegistryConfig: registryConfig(options.daemon),
        NCPU: os.cpus().length,
        MemTotal: os.totalmem(),
        DockerRootDir: options.daemon.dataRoot,
        HttpProxy: '',
        HttpsProxy: '',
        NoProxy: '',
        Name: os.hostname(),
        Labels: [],
        ExperimentalBuild: false,
        ServerVersion: berthVersion,
        Runtimes: { [options.runtimeName]: { path: options.runtimeName } },
        DefaultRuntime: options.runtimeName,
        Swarm: {
          NodeID: '',
          NodeAddr: '',
          LocalNodeState: 'inactive',
          ControlAvailable: false,
          Error: '',
          RemoteManagers: null,
        },
        LiveRestoreEnabled: true,
        Isolation: '',
        InitBinary: 'docker-init',
        ContainerdCommit: { ID: '' },
        RuncCommit: { ID: '' },
        InitCommit: { ID: '' },
        // The default seccomp profile is berth's own, applied as dockerd's built-in one is.
        SecurityOptions: [
          'name=seccomp,profile=builtin',
          ...(options.daemon.usernsRemap !== undefined ? ['name=userns'] : []),
          ...(support.cgroupVersion === 2 ? ['name=cgroupns'] : []),
        ],
        Warnings: [],
        BerthStarted: started,
      };
    },
    async df(): Promise<Record<string, unknown>> {
      const users = options.containers.imageUsers();
      const images = await options.images.summaries(users);
      const containers = await options.containers.list({ all: true, size: true, filters: {} });
      const { layersSize } = await options.images.diskUsage();
      return {
        LayersSize: layersSize,
        Images: images,
        Containers: containers,
        Volumes: (await options.volumes?.usage()) ?? [],
        BuildCache: [],
      };
    },
  };
}

/** `RegistryConfig` of `/info`, from the daemon's registry flags, in dockerd's shape. */
function registryConfig(daemon: DaemonOptions): Record<string, unknown> {
  const mirrors = (daemon.registryMirrors ?? []).map((m) => `${m}/`);
  const insecure = daemon.insecureRegistries ?? [];
  const indexConfigs: Record<string, unknown> = {
    'docker.io': { Mirrors: mirrors, Name: 'docker.io', Official: true, Secure: true },
  };
  for (const h of insecure.filter((x) => !x.includes('/'))) {
    indexConfigs[h] = { Mirrors: [], Name: h, Official: false, Secure: false };
  }
  return {
    IndexConfigs: indexConfigs,
    InsecureRegistryCIDRs: [...insecure.filter((x) => x.includes('/')), '127.0.0.0/8'],
    Mirrors: mirrors,
  };
}
