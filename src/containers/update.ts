import { promises as fs } from 'node:fs';
import { ConflictError, InvalidArgumentError, isNotFound } from '../errors/index.js';
import { validateRestartPolicy } from '../runtime/oci/spec.js';
import type { HostConfig, RestartPolicy } from '../spec/engine.js';
import type { LinuxResources } from '../spec/oci-runtime.js';

/**
 * `POST /containers/{id}/update`: the resources a running container's cgroup can change, and
 * its restart policy. Zero (or empty, or absent) means "leave as it is", as in dockerd.
 */
export interface UpdateRequest {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  KernelMemory?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  NanoCpus?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  BlkioWeight?: number;
  RestartPolicy?: RestartPolicy;
}

/** What the host offers, for the checks dockerd makes against it. */
export interface HostLimits {
  /** CPUs online, as a cpuset list (`0-1`). */
  cpus: string;
  /** Memory nodes online (`0`). */
  mems: string;
  /** Whether the blkio controller has a weight file (CFQ); without it the weight is dropped. */
  blkioWeight: boolean;
}

const minMemory = 6 * 1024 * 1024;

/** Parses a cpuset list (`0-2,4`) into its members; InvalidArgumentError when malformed. */
export function parseCpuset(list: string): Set<number> {
  const out = new Set<number>();
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new InvalidArgumentError(`invalid format: ${list}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new InvalidArgumentError(`invalid format: ${list}`);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return out;
}

function checkSubset(requested: string, available: string, what: string): void {
  const have = parseCpuset(available);
  for (const n of parseCpuset(requested)) {
    if (!have.has(n)) {
      throw new InvalidArgumentError(
        `Requested ${what} are not available - requested ${requested}, available: ${available}`,
      );
    }
  }
}

/** dockerd's checks of the request alone (400s), before it looks at the container. */
function validateRequest(req: UpdateRequest, host: HostLimits): void {
  const memory = req.Memory ?? 0;
  const swap = req.MemorySwap ?? 0;
  const reservation = req.MemoryReservation ?? 0;
  if (memory !== 0 && memory < minMemory) {
    throw new InvalidArgumentError('Minimum memory limit allowed is 6MB');
  }
  if (memory > 0 && swap > 0 && swap < memory) {
    throw new InvalidArgumentError(
      'Minimum memoryswap limit should be larger than memory limit, see usage',
    );
  }
  if (reservation !== 0 && reservation < minMemory) {
    throw new InvalidArgumentError('Minimum memory reservation allowed is 6MB');
  }
  if (memory > 0 && reservation > 0 && memory < reservation) {
    throw new InvalidArgumentError(
      'Minimum memory limit can not be less than memory reservation limit, see usage',
    );
  }
  const nano = req.NanoCpus ?? 0;
  if (nano > 0 && (req.CpuPeriod ?? 0) > 0) {
    throw new InvalidArgumentError(
      'Conflicting options: Nano CPUs and CPU Period cannot both be set',
    );
  }
  if (nano > 0 && (req.CpuQuota ?? 0) > 0) {
    throw new InvalidArgumentError(
      'Conflicting options: Nano CPUs and CPU Quota cannot both be set',
    );
  }
  const cpuCount = parseCpuset(host.cpus).size;
  if (nano < 0 || nano > cpuCount * 1e9) {
    throw new InvalidArgumentError(
      `Range of CPUs is from 0.01 to ${cpuCount}.00, as there are only ${cpuCount} CPUs available`,
    );
  }
  const period = req.CpuPeriod ?? 0;
  if (period !== 0 && (period < 1000 || period > 1000000)) {
    throw new InvalidArgumentError(
      'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)',
    );
  }
  const quota = req.CpuQuota ?? 0;
  if (quota > 0 && quota < 1000) {
    throw new InvalidArgumentError('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  }
  if ((req.CpuShares ?? 0) < 0) {
    throw new InvalidArgumentError(
      `invalid CPU shares (${req.CpuShares ?? 0}): value must be a positive integer`,
    );
  }
  if (req.CpusetCpus) checkSubset(req.CpusetCpus, host.cpus, 'CPUs');
  if (req.CpusetMems) checkSubset(req.CpusetMems, host.mems, 'memory nodes');
  const weight = req.BlkioWeight ?? 0;
  if (weight > 0 && (weight < 10 || weight > 1000)) {
    throw new InvalidArgumentError('Range of blkio weight is from 10 to 1000');
  }
  if (req.RestartPolicy?.Name) validateRestartPolicy({ RestartPolicy: req.RestartPolicy });
}

/** The swap limit in effect: dockerd stores twice the memory limit when none was given. */
export function effectiveSwap(h: HostConfig): number {
  const swap = h.MemorySwap ?? 0;
  if (swap !== 0) return swap;
  return (h.Memory ?? 0) > 0 ? (h.Memory ?? 0) * 2 : 0;
}

/**
 * Checks an update as dockerd does and merges it into the container's HostConfig. Request
 * errors are InvalidArgumentError; conflicts with what the container has are ConflictError
 * ("Cannot update container <id>: ...").
 */
export function planUpdate(
  id: string,
  current: HostConfig,
  req: UpdateRequest,
  host: HostLimits,
): { hostConfig: HostConfig; warnings: string[] } {
  validateRequest(req, host);
  const conflict = (message: string): ConflictError =>
    new ConflictError(`Cannot update container ${id}: ${message}`);
  const h: HostConfig = { ...current };
  const warnings: string[] = [];
  // NanoCpus stands for a period and quota of its own: the two ways cannot be mixed.
  if ((req.NanoCpus ?? 0) > 0 && (h.CpuPeriod ?? 0) > 0) {
    throw conflict(
      'Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set',
    );
  }
  if ((req.NanoCpus ?? 0) > 0 && (h.CpuQuota ?? 0) > 0) {
    throw conflict(
      'Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set',
    );
  }
  if ((req.CpuPeriod ?? 0) > 0 && (h.NanoCpus ?? 0) > 0) {
    throw conflict(
      'Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set',
    );
  }
  if ((req.CpuQuota ?? 0) > 0 && (h.NanoCpus ?? 0) > 0) {
    throw conflict(
      'Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set',
    );
  }
  if ((req.BlkioWeight ?? 0) !== 0) {
    if (host.blkioWeight) h.BlkioWeight = req.BlkioWeight ?? 0;
    else {
      warnings.push(
        'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
      );
    }
  }
  if ((req.CpuShares ?? 0) !== 0) h.CpuShares = req.CpuShares ?? 0;
  if ((req.NanoCpus ?? 0) !== 0) h.NanoCpus = req.NanoCpus ?? 0;
  if ((req.CpuPeriod ?? 0) !== 0) h.CpuPeriod = req.CpuPeriod ?? 0;
  if ((req.CpuQuota ?? 0) !== 0) h.CpuQuota = req.CpuQuota ?? 0;
  if (req.CpusetCpus) h.CpusetCpus = req.CpusetCpus;
  if (req.CpusetMems) h.CpusetMems = req.CpusetMems;
  const memory = req.Memory ?? 0;
  if (memory !== 0) {
    if (memory > effectiveSwap(h) && (req.MemorySwap ?? 0) === 0) {
      throw conflict(
        'Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time',
      );
    }
    h.MemorySwap = effectiveSwap(h);
    h.Memory = memory;
  }
  if ((req.MemorySwap ?? 0) !== 0) h.MemorySwap = req.MemorySwap ?? 0;
  if ((req.MemoryReservation ?? 0) !== 0) h.MemoryReservation = req.MemoryReservation ?? 0;
  if ((req.KernelMemory ?? 0) !== 0) {
    warnings.push(
      'Specifying a kernel memory limit is deprecated and will be removed in a future release.',
    );
  }
  if (req.PidsLimit !== undefined && req.PidsLimit !== null) {
    h.PidsLimit = req.PidsLimit <= 0 ? null : req.PidsLimit;
  }
  if (req.RestartPolicy?.Name) {
    if (h.AutoRemove && req.RestartPolicy.Name !== 'no') {
      throw conflict(
        'Restart policy cannot be updated because AutoRemove is enabled for the container',
      );
    }
    h.RestartPolicy = {
      Name: req.RestartPolicy.Name,
      MaximumRetryCount: req.RestartPolicy.MaximumRetryCount ?? 0,
    };
  }
  return { hostConfig: h, warnings };
}

/** The cgroup resources `runc update` gets for a container's (merged) HostConfig. */
export function updateResources(h: HostConfig): LinuxResources {
  const out: LinuxResources = {};
  const memory: NonNullable<LinuxResources['memory']> = {};
  if ((h.Memory ?? 0) > 0) {
    memory.limit = h.Memory ?? 0;
    const swap = effectiveSwap(h);
    if (swap !== 0) memory.swap = swap;
  }
  if ((h.MemoryReservation ?? 0) > 0) memory.reservation = h.MemoryReservation ?? 0;
  if (Object.keys(memory).length > 0) out.memory = memory;
  const cpu: NonNullable<LinuxResources['cpu']> = {};
  if ((h.CpuShares ?? 0) > 0) cpu.shares = h.CpuShares ?? 0;
  if ((h.NanoCpus ?? 0) > 0) {
    cpu.period = 100000;
    cpu.quota = Math.trunc(((h.NanoCpus ?? 0) * 100000) / 1e9);
  }
  if ((h.CpuPeriod ?? 0) > 0) cpu.period = h.CpuPeriod ?? 0;
  if ((h.CpuQuota ?? 0) !== 0) cpu.quota = h.CpuQuota ?? 0;
  if (h.CpusetCpus) cpu.cpus = h.CpusetCpus;
  if (h.CpusetMems) cpu.mems = h.CpusetMems;
  if (Object.keys(cpu).length > 0) out.cpu = cpu;
  out.pids = { limit: h.PidsLimit !== undefined && h.PidsLimit !== null ? h.PidsLimit : -1 };
  if ((h.BlkioWeight ?? 0) > 0) out.blockIO = { weight: h.BlkioWeight ?? 0 };
  return out;
}

async function readTrimmed(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch (err: unknown) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The host's online CPUs and memory nodes, and whether blkio weights can be set. */
export async function hostLimits(): Promise<HostLimits> {
  const cpus = (await readTrimmed('/sys/devices/system/cpu/online')) ?? '0';
  const mems = (await readTrimmed('/sys/devices/system/node/online')) ?? '0';
  const v1Weight = await readTrimmed('/sys/fs/cgroup/blkio/blkio.weight');
  return { cpus, mems, blkioWeight: v1Weight !== undefined };
}
