import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errnoCode } from '../errors/index.js';
import {
  emptyStats,
  parseProcStat,
  sampleV1,
  sampleV2,
  statsObject,
  v1Files,
  v2Files,
  type ContainerStats,
  type FileTexts,
  type TimedSample,
} from './cgroups.js';

/** Reads a cgroup or /proc file; undefined when it is missing or its cgroup went away. */
async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err: unknown) {
    const code = errnoCode(err);
    // ENODEV/EINVAL: a controller file the kernel lists but cannot serve; ESRCH: gone.
    if (code === 'ENOENT' || code === 'ENODEV' || code === 'EINVAL' || code === 'ESRCH') {
      return undefined;
    }
    throw err;
  }
}

/** Whether runc's cgroup paths describe a v1 layout (one directory per controller). */
export function isCgroupV1(paths: Record<string, string>): boolean {
  return 'cpuacct' in paths || 'memory' in paths || 'cpu' in paths;
}

/** One sample of a container's cgroup, or undefined when runc knows no cgroup for it. */
export async function readSample(
  paths: Record<string, string>,
  hostMemory = os.totalmem(),
): Promise<TimedSample | undefined> {
  const files: FileTexts = {};
  let sample;
  if (isCgroupV1(paths)) {
    await Promise.all(
      v1Files.map(async (key) => {
        const [controller = '', file = ''] = key.split('/');
        const dir = paths[controller];
        files[key] = dir === undefined ? undefined : await readOptional(path.join(dir, file));
      }),
    );
    sample = sampleV1(files, hostMemory);
  } else {
    const dir = paths[''];
    if (dir === undefined) return undefined;
    await Promise.all(
      v2Files.map(async (file) => {
        files[file] = await readOptional(path.join(dir, file));
      }),
    );
    sample = sampleV2(files, hostMemory);
  }
  const host = parseProcStat((await readOptional('/proc/stat')) ?? '');
  return { read: new Date().toISOString(), sample, ...host };
}

export interface StatsTarget {
  id: string;
  /** With the leading slash, as dockerd reports it. */
  name: string;
  /** False once the container is removed: a stream then ends, as dockerd's does. */
  exists(): boolean;
  /** The cgroup paths while the container runs (or is paused); undefined otherwise. */
  cgroupPaths(): Promise<Record<string, string> | undefined>;
}

export interface StatsOptions {
  stream: boolean;
  /** With stream false: answer at once, without waiting a second for a CPU delta. */
  oneShot: boolean;
  signal?: AbortSignal;
  /** Between streamed objects; dockerd's collector ticks once a second. */
  intervalMs?: number;
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

async function sampleOf(target: StatsTarget): Promise<TimedSample | undefined> {
  const paths = await target.cgroupPaths();
  return paths ? readSample(paths) : undefined;
}

/**
 * The stats objects of `GET /containers/{id}/stats`: one (after a second, to have a CPU delta,
 * unless one-shot) or, streaming, one a second until the signal aborts. A container that is not
 * running yields dockerd's all-zero object.
 */
export async function* containerStats(
  target: StatsTarget,
  options: StatsOptions,
): AsyncGenerator<ContainerStats> {
  const interval = options.intervalMs ?? 1000;
  let pre: TimedSample | undefined;
  if (!options.stream) {
    let now = await sampleOf(target);
    if (now && !options.oneShot) {
      pre = now;
      await sleep(interval, options.signal);
      now = await sampleOf(target);
    }
    yield now ? statsObject(target.name, target.id, now, pre) : emptyStats(target.name, target.id);
    return;
  }
  while (!options.signal?.aborted && target.exists()) {
    const now = await sampleOf(target);
    if (now) {
      yield statsObject(target.name, target.id, now, pre);
      pre = now;
    } else {
      yield emptyStats(target.name, target.id);
      pre = undefined;
    }
    await sleep(interval, options.signal);
  }
}
