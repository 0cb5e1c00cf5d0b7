import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, isNotFound } from '../../errors/index.js';
import type { HostConfig } from '../../spec/engine.js';

/**
 * What the host's cgroups and security modules can enforce, as dockerd's sysinfo records it.
 * A setting the host cannot enforce is discarded at create with dockerd's warning; one whose
 * absence changes the meaning of the container (real-time scheduling) is refused.
 */
export interface HostSupport {
  cgroupVersion: 1 | 2;
  blkioWeight: boolean;
  blkioWeightDevice: boolean;
  blkioThrottle: boolean;
  swapLimit: boolean;
  memorySwappiness: boolean;
  cpuRealtime: boolean;
  apparmor: boolean;
  selinux: boolean;
  /** The CPUs and memory nodes containers may be given (cpuset list syntax: `0-3,5`). */
  cpus: string;
  mems: string;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch (err: unknown) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/** Reads the host's support from /sys (the cgroup v1 controllers' files, or v2's). */
export async function probeHostSupport(root = '/sys/fs/cgroup'): Promise<HostSupport> {
  const v2 = await exists(path.join(root, 'cgroup.controllers'));
  const read = async (...candidates: string[]): Promise<string> => {
    for (const c of candidates) {
      const text = await fs.readFile(c, 'utf8').catch(() => undefined);
      if (text !== undefined && text.trim() !== '') return text.trim();
    }
    return '';
  };
  const cpuset = {
    cpus: await read(
      path.join(root, 'cpuset', 'cpuset.cpus'),
      path.join(root, 'cpuset.cpus.effective'),
      '/sys/devices/system/cpu/online',
    ),
    mems: await read(
      path.join(root, 'cpuset', 'cpuset.mems'),
      path.join(root, 'cpuset.mems.effective'),
      '/sys/devices/system/node/online',
    ),
  };
  const lsm = {
    apparmor: (await fs.readFile('/sys/module/apparmor/parameters/enabled', 'utf8').catch(() => ''))
      .trim()
      .startsWith('Y'),
    selinux: await exists('/sys/fs/selinux/enforce'),
  };
  if (v2) {
    const controllers = (await fs.readFile(path.join(root, 'cgroup.controllers'), 'utf8')).split(
      /\s+/,
    );
    const io = controllers.includes('io');
    return {
      cgroupVersion: 2,
      // cgroup v2 has io.weight (or io.bfq.weight) in each child, and io.max for throttling.
      blkioWeight: io,
      blkioWeightDevice: io,
      blkioThrottle: io,
      swapLimit: controllers.includes('memory'),
      memorySwappiness: false,
      cpuRealtime: false,
      ...lsm,
      ...cpuset,
    };
  }
  const file = (controller: string, name: string): Promise<boolean> =>
    exists(path.join(root, controller, name));
  return {
    cgroupVersion: 1,
    blkioWeight: (await file('blkio', 'blkio.weight')) || (await file('blkio', 'blkio.bfq.weight')),
    blkioWeightDevice:
      (await file('blkio', 'blkio.weight_device')) ||
      (await file('blkio', 'blkio.bfq.weight_device')),
    blkioThrottle: await file('blkio', 'blkio.throttle.read_bps_device'),
    swapLimit: await file('memory', 'memory.memsw.limit_in_bytes'),
    memorySwappiness: await file('memory', 'memory.swappiness'),
    cpuRealtime: await file('cpu', 'cpu.rt_runtime_us'),
    ...lsm,
    ...cpuset,
  };
}

/**
 * dockerd's create-time adjustment of HostConfig to the host: the settings it cannot enforce
 * are dropped, each with dockerd's warning; real-time CPU settings without kernel support are
 * an error. Returns a new HostConfig; the input is not changed.
 */
export function adjustToHost(
  input: HostConfig,
  support: HostSupport,
): { hostConfig: HostConfig; warnings: string[] } {
  const h: HostConfig = { ...input };
  const warnings: string[] = [];
  // dockerd's default cgroup namespace: private on cgroup v2, the host's on v1.
  if (!h.CgroupnsMode) h.CgroupnsMode = support.cgroupVersion === 2 ? 'private' : 'host';
  if ((h.KernelMemory ?? 0) !== 0) {
    warnings.push(
      'Specifying a kernel memory limit is deprecated and will be removed in a future release.',
    );
  }
  if (h.OomKillDisable === true && (h.Memory ?? 0) === 0) {
    warnings.push(
      'OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.',
    );
  }
  // dockerd's default: swap as large as the memory limit (a MemorySwap of twice Memory).
  if ((h.Memory ?? 0) > 0 && (h.MemorySwap ?? 0) === 0) h.MemorySwap = (h.Memory ?? 0) * 2;
  if ((h.Memory ?? 0) > 0 && h.MemorySwap !== -1 && !support.swapLimit) {
    warnings.push(
      'Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.',
    );
    h.MemorySwap = -1;
  }
  const swappiness = h.MemorySwappiness;
  if (swappiness !== undefined && swappiness !== null && swappiness !== -1) {
    if (!support.memorySwappiness) {
      warnings.push(
        'Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.',
      );
      h.MemorySwappiness = null;
    } else if (swappiness < 0 || swappiness > 100) {
      throw new InvalidArgumentError(
        `Invalid value: ${swappiness}, valid memory swappiness range is 0-100`,
      );
    }
  }
  checkCpuset(h.CpusetCpus ?? '', support.cpus, 'cpus', 'CPUs');
  checkCpuset(h.CpusetMems ?? '', support.mems, 'mems', 'memory nodes');
  if ((h.BlkioWeight ?? 0) > 0 && !support.blkioWeight) {
    warnings.push(
      'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
    );
    h.BlkioWeight = 0;
  }
  if ((h.BlkioWeightDevice?.length ?? 0) > 0 && !support.blkioWeightDevice) {
    warnings.push(
      'Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.',
    );
    h.BlkioWeightDevice = [];
  }
  const throttles = [
    ['BlkioDeviceReadBps', 'BPS Block I/O read limit', 'Block I/O BPS read limit'],
    ['BlkioDeviceWriteBps', 'BPS Block I/O write limit', 'Block I/O BPS write limit'],
    ['BlkioDeviceReadIOps', 'IOPS Block read limit', 'Block I/O IOPS read limit'],
    ['BlkioDeviceWriteIOps', 'IOPS Block write limit', 'Block I/O IOPS write limit'],
  ] as const;
  for (const [key, what, discarded] of throttles) {
    const list = h[key];
    for (const d of list ?? []) {
      if (!Number.isSafeInteger(d.Rate) || d.Rate < 0) {
        throw new InvalidArgumentError(
          `invalid rate ${d.Rate} for device ${d.Path}: a rate is a non-negative integer`,
        );
      }
    }
    if ((list?.length ?? 0) > 0 && !support.blkioThrottle) {
      warnings.push(
        `Your kernel does not support ${what} or the cgroup is not mounted. ${discarded} discarded.`,
      );
      h[key] = [];
    }
  }
  for (const d of h.BlkioWeightDevice ?? []) {
    if (!Number.isInteger(d.Weight) || d.Weight < 10 || d.Weight > 1000) {
      throw new InvalidArgumentError(
        `invalid weight for device: ${d.Path}:${d.Weight} (range is 10 to 1000)`,
      );
    }
  }
  const rtPeriod = h.CpuRealtimePeriod ?? 0;
  const rtRuntime = h.CpuRealtimeRuntime ?? 0;
  if ((rtPeriod > 0 || rtRuntime > 0) && !support.cpuRealtime) {
    throw new InvalidArgumentError('Your kernel does not support CPU real-time scheduler');
  }
  if (rtPeriod > 0 && rtRuntime > rtPeriod) {
    throw new InvalidArgumentError(
      'cpu real-time runtime cannot be higher than cpu real-time period',
    );
  }
  for (const opt of h.SecurityOpt ?? []) {
    const key = /^([^=:]+)/.exec(opt)?.[1] ?? '';
    if (key === 'apparmor' && !support.apparmor) {
      warnings.push(`AppArmor is not enabled on this host: --security-opt ${opt} has no effect.`);
    }
    if (key === 'label' && !support.selinux && opt !== 'label=disable' && opt !== 'label:disable') {
      warnings.push(`SELinux is not enabled on this host: --security-opt ${opt} has no effect.`);
    }
  }
  return { hostConfig: h, warnings };
}

/**
 * Gives the cgroup v1 `parent` (relative to the cpu controller's mount) and its ancestors the
 * daemon's real-time budget, as dockerd's --cpu-rt-period/--cpu-rt-runtime do: a child can
 * only get real-time time its parents have. Values of 0 leave a level as it is.
 */
export async function initRealtimeParent(
  parent: string,
  budget: { period: number; runtime: number },
  root = '/sys/fs/cgroup/cpu',
): Promise<void> {
  if (budget.period === 0 && budget.runtime === 0) return;
  let dir = root;
  for (const part of parent.split('/').filter((p) => p !== '' && p !== '.')) {
    dir = path.join(dir, part);
    await fs.mkdir(dir, { recursive: true });
    // The period first: a runtime larger than the old period would be refused.
    if (budget.period > 0)
      await fs.writeFile(path.join(dir, 'cpu.rt_period_us'), `${budget.period}`);
    if (budget.runtime > 0)
      await fs.writeFile(path.join(dir, 'cpu.rt_runtime_us'), `${budget.runtime}`);
  }
}

/** A cpuset list (`0-3,5`) as the set of its members; undefined when malformed. */
export function parseCpusetList(list: string): Set<number> | undefined {
  const out = new Set<number>();
  if (list.trim() === '') return out;
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) return undefined;
    for (let i = from; i <= to; i++) out.add(i);
  }
  return out;
}

function checkCpuset(requested: string, available: string, kind: string, what: string): void {
  if (requested === '') return;
  const want = parseCpusetList(requested);
  if (!want) throw new InvalidArgumentError(`Invalid value ${requested} for cpuset ${kind}`);
  const have = parseCpusetList(available);
  // A host whose list cannot be read is not second-guessed; the runtime will refuse.
  if (!have || available === '') return;
  if ([...want].some((n) => !have.has(n))) {
    throw new InvalidArgumentError(
      `Requested ${what} are not available - requested ${requested}, available: ${available}`,
    );
  }
}
