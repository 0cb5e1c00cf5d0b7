/**
 * Pure parsing of cgroup files (v1 and v2) into the Engine API's stats shape, as dockerd
 * reports it for `GET /containers/{id}/stats`. Reading the files is stats.ts's business.
 */

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface BlkioStats {
  io_service_bytes_recursive: BlkioEntry[] | null;
  io_serviced_recursive: BlkioEntry[] | null;
  io_queue_recursive: BlkioEntry[] | null;
  io_service_time_recursive: BlkioEntry[] | null;
  io_wait_time_recursive: BlkioEntry[] | null;
  io_merged_recursive: BlkioEntry[] | null;
  io_time_recursive: BlkioEntry[] | null;
  sectors_recursive: BlkioEntry[] | null;
}

export interface CpuStats {
  cpu_usage: {
    total_usage: number;
    /** cgroup v1 only. */
    percpu_usage?: number[];
    usage_in_kernelmode: number;
    usage_in_usermode: number;
  };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface MemoryStats {
  usage?: number;
  /** cgroup v1 only. */
  max_usage?: number;
  stats?: Record<string, number>;
  failcnt?: number;
  limit?: number;
}

export interface PidsStats {
  current?: number;
  limit?: number;
}

/** One `GET /containers/{id}/stats` object, keys in dockerd's order. */
export interface ContainerStats {
  read: string;
  preread: string;
  pids_stats: PidsStats;
  blkio_stats: BlkioStats;
  num_procs: number;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: MemoryStats;
  name: string;
  id: string;
}

/** What one read of a container's cgroup yields (the parts that change between samples). */
export interface CgroupSample {
  pids: PidsStats;
  blkio: BlkioStats;
  cpu: CpuStats;
  memory: MemoryStats;
}

/** File texts by name; undefined when the file is missing. */
export type FileTexts = Record<string, string | undefined>;

export const zeroTime = '0001-01-01T00:00:00Z';

// USER_HZ: cpuacct.stat counts in clock ticks; Linux fixes them at 100 per second for userspace.
const nsPerTick = 1e9 / 100;

/** cgroup v1 files read for a sample, as `<controller>/<file>`. */
export const v1Files: readonly string[] = [
  'cpuacct/cpuacct.usage',
  'cpuacct/cpuacct.usage_percpu',
  'cpuacct/cpuacct.stat',
  'cpu/cpu.stat',
  'memory/memory.usage_in_bytes',
  'memory/memory.max_usage_in_bytes',
  'memory/memory.limit_in_bytes',
  'memory/memory.failcnt',
  'memory/memory.stat',
  'pids/pids.current',
  'pids/pids.max',
  ...blkioV1Names().flatMap(([, file]) => [
    `blkio/${file}`,
    `blkio/blkio.throttle.${file.slice(6)}`,
  ]),
];

/** cgroup v2 files read for a sample (all in the one unified directory). */
export const v2Files: readonly string[] = [
  'cpu.stat',
  'memory.current',
  'memory.max',
  'memory.stat',
  'pids.current',
  'pids.max',
  'io.stat',
];

function blkioV1Names(): [keyof BlkioStats, string][] {
  return [
    ['io_service_bytes_recursive', 'blkio.io_service_bytes_recursive'],
    ['io_serviced_recursive', 'blkio.io_serviced_recursive'],
    ['io_queue_recursive', 'blkio.io_queued_recursive'],
    ['io_service_time_recursive', 'blkio.io_service_time_recursive'],
    ['io_wait_time_recursive', 'blkio.io_wait_time_recursive'],
    ['io_merged_recursive', 'blkio.io_merged_recursive'],
    ['io_time_recursive', 'blkio.time_recursive'],
    ['sectors_recursive', 'blkio.sectors_recursive'],
  ];
}

// The memory.stat keys dockerd reports on cgroup v1, each also with a `total_` twin.
const v1MemoryKeys: readonly string[] = [
  'active_anon',
  'active_file',
  'cache',
  'dirty',
  'inactive_anon',
  'inactive_file',
  'mapped_file',
  'pgfault',
  'pgmajfault',
  'pgpgin',
  'pgpgout',
  'rss',
  'rss_huge',
  'unevictable',
  'writeback',
];

/** v1 memory.stat as dockerd reports it: its fixed set of keys, sorted. */
export function v1MemoryStats(text: string | undefined): Record<string, number> {
  const all = parseFlatKeyed(text);
  const keys = [
    ...v1MemoryKeys,
    ...v1MemoryKeys.map((k) => `total_${k}`),
    'hierarchical_memory_limit',
    'hierarchical_memsw_limit',
  ];
  const out: Record<string, number> = {};
  for (const k of keys.sort()) out[k] = all[k] ?? 0;
  return out;
}

function sorted(r: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k] ?? 0;
  return out;
}

function num(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!/^\d+$/.test(t)) return undefined;
  return Number(t);
}

/** `key value` lines (memory.stat, cpu.stat, cpuacct.stat) into a record of numbers. */
export function parseFlatKeyed(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [key, value, extra] = line.trim().split(/\s+/);
    if (!key || value === undefined || extra !== undefined || !/^\d+$/.test(value)) continue;
    out[key] = Number(value);
  }
  return out;
}

/** cpuacct.usage_percpu: nanoseconds per CPU, space-separated. */
export function parsePercpu(text: string | undefined): number[] {
  return (text ?? '')
    .trim()
    .split(/\s+/)
    .filter((f) => /^\d+$/.test(f))
    .map(Number);
}

/** A v1 blkio file: `major:minor Op value` lines; `Total n` summary lines are dropped. */
export function parseBlkioV1(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const fields = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(fields[0] ?? '');
    if (!dev) continue;
    // Most files name an operation; time_recursive and sectors_recursive have none.
    const [op, value] = fields.length >= 3 ? [fields[1] ?? '', fields[2]] : ['', fields[1]];
    if (value === undefined || !/^\d+$/.test(value)) continue;
    out.push({ major: Number(dev[1]), minor: Number(dev[2]), op, value: Number(value) });
  }
  return out;
}

/**
 * v2 io.stat (`8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0`) as dockerd maps it:
 * bytes into io_service_bytes_recursive, operations into io_serviced_recursive, op names
 * `read` and `write`; the rest stays null.
 */
export function parseIoStatV2(text: string | undefined): BlkioStats {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const fields = line.trim().split(/\s+/);
    const dev = /^(\d+):(\d+)$/.exec(fields[0] ?? '');
    if (!dev) continue;
    const major = Number(dev[1]);
    const minor = Number(dev[2]);
    for (const f of fields.slice(1)) {
      const [k, v] = f.split('=');
      if (v === undefined || !/^\d+$/.test(v)) continue;
      const value = Number(v);
      if (k === 'rbytes') bytes.push({ major, minor, op: 'read', value });
      else if (k === 'wbytes') bytes.push({ major, minor, op: 'write', value });
      else if (k === 'rios') ios.push({ major, minor, op: 'read', value });
      else if (k === 'wios') ios.push({ major, minor, op: 'write', value });
    }
  }
  return { ...nullBlkio(), io_service_bytes_recursive: bytes, io_serviced_recursive: ios };
}

export function nullBlkio(): BlkioStats {
  return {
    io_service_bytes_recursive: null,
    io_serviced_recursive: null,
    io_queue_recursive: null,
    io_service_time_recursive: null,
    io_wait_time_recursive: null,
    io_merged_recursive: null,
    io_time_recursive: null,
    sectors_recursive: null,
  };
}

function pidsStats(current: string | undefined, max: string | undefined): PidsStats {
  const out: PidsStats = {};
  const c = num(current);
  if (c !== undefined) out.current = c;
  const m = num(max);
  if (m !== undefined && m > 0) out.limit = m;
  return out;
}

/**
 * A sample from cgroup v1 files (keys as in {@link v1Files}). `hostMemory` caps the memory
 * limit: an unlimited cgroup reports a huge number, dockerd reports the host's memory then.
 */
export function sampleV1(files: FileTexts, hostMemory: number): CgroupSample {
  const acct = parseFlatKeyed(files['cpuacct/cpuacct.stat']);
  const cpuStat = parseFlatKeyed(files['cpu/cpu.stat']);
  const percpu = parsePercpu(files['cpuacct/cpuacct.usage_percpu']);
  const cpu: CpuStats = {
    cpu_usage: {
      total_usage: num(files['cpuacct/cpuacct.usage']) ?? 0,
      ...(percpu.length > 0 ? { percpu_usage: percpu } : {}),
      usage_in_kernelmode: (acct['system'] ?? 0) * nsPerTick,
      usage_in_usermode: (acct['user'] ?? 0) * nsPerTick,
    },
    throttling_data: {
      periods: cpuStat['nr_periods'] ?? 0,
      throttled_periods: cpuStat['nr_throttled'] ?? 0,
      throttled_time: cpuStat['throttled_time'] ?? 0,
    },
  };
  const memory: MemoryStats = {};
  const usage = num(files['memory/memory.usage_in_bytes']);
  if (usage !== undefined) {
    memory.usage = usage;
    memory.max_usage = num(files['memory/memory.max_usage_in_bytes']) ?? 0;
    memory.stats = v1MemoryStats(files['memory/memory.stat']);
    const failcnt = num(files['memory/memory.failcnt']) ?? 0;
    if (failcnt > 0) memory.failcnt = failcnt;
    const limit = num(files['memory/memory.limit_in_bytes']);
    memory.limit = limit !== undefined && limit < hostMemory ? limit : hostMemory;
  }
  const blkio = nullBlkio();
  for (const [key, file] of blkioV1Names()) {
    let entries = parseBlkioV1(files[`blkio/${file}`]);
    // Without CFQ/BFQ only the throttle files count I/O; dockerd falls back to them.
    if (entries.length === 0)
      entries = parseBlkioV1(files[`blkio/blkio.throttle.${file.slice(6)}`]);
    blkio[key] = entries;
  }
  return {
    pids: pidsStats(files['pids/pids.current'], files['pids/pids.max']),
    blkio,
    cpu,
    memory,
  };
}

/** A sample from cgroup v2 files (keys as in {@link v2Files}). */
export function sampleV2(files: FileTexts, hostMemory: number): CgroupSample {
  const cpuStat = parseFlatKeyed(files['cpu.stat']);
  const cpu: CpuStats = {
    cpu_usage: {
      total_usage: (cpuStat['usage_usec'] ?? 0) * 1000,
      usage_in_kernelmode: (cpuStat['system_usec'] ?? 0) * 1000,
      usage_in_usermode: (cpuStat['user_usec'] ?? 0) * 1000,
    },
    throttling_data: {
      periods: cpuStat['nr_periods'] ?? 0,
      throttled_periods: cpuStat['nr_throttled'] ?? 0,
      throttled_time: (cpuStat['throttled_usec'] ?? 0) * 1000,
    },
  };
  const memory: MemoryStats = {};
  const usage = num(files['memory.current']);
  if (usage !== undefined) {
    memory.usage = usage;
    memory.stats = sorted(parseFlatKeyed(files['memory.stat']));
    const limit = num(files['memory.max']);
    memory.limit = limit !== undefined && limit < hostMemory ? limit : hostMemory;
  }
  return {
    pids: pidsStats(files['pids.current'], files['pids.max']),
    blkio: parseIoStatV2(files['io.stat']),
    cpu,
    memory,
  };
}

/**
 * The host's CPU time in nanoseconds from /proc/stat's `cpu` line (user through softirq, as
 * dockerd sums it), and the number of `cpuN` lines (online CPUs).
 */
export function parseProcStat(text: string): { systemUsage: number; onlineCpus: number } {
  let systemUsage = 0;
  let onlineCpus = 0;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === 'cpu') {
      const ticks = fields.slice(1, 8).reduce((sum, f) => sum + Number(f), 0);
      systemUsage = ticks * nsPerTick;
    } else if (/^cpu\d+$/.test(fields[0] ?? '')) onlineCpus++;
  }
  return { systemUsage, onlineCpus };
}

function zeroCpu(): CpuStats {
  return {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  };
}

/** dockerd's object for a container that is not running: zeros, null blkio lists. */
export function emptyStats(name: string, id: string): ContainerStats {
  return {
    read: zeroTime,
    preread: zeroTime,
    pids_stats: {},
    blkio_stats: nullBlkio(),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: zeroCpu(),
    precpu_stats: zeroCpu(),
    memory_stats: {},
    name,
    id,
  };
}

/** A sample taken at a time, with the host's CPU figures of that moment. */
export interface TimedSample {
  read: string;
  sample: CgroupSample;
  systemUsage: number;
  onlineCpus: number;
}

/** The stats object from a sample and the one before it (absent for the first of a stream). */
export function statsObject(
  name: string,
  id: string,
  now: TimedSample,
  pre: TimedSample | undefined,
): ContainerStats {
  const withHost = (t: TimedSample): CpuStats => ({
    cpu_usage: t.sample.cpu.cpu_usage,
    system_cpu_usage: t.systemUsage,
    online_cpus: t.onlineCpus,
    throttling_data: t.sample.cpu.throttling_data,
  });
  return {
    read: now.read,
    preread: pre?.read ?? zeroTime,
    pids_stats: now.sample.pids,
    blkio_stats: now.sample.blkio,
    num_procs: 0,
    storage_stats: {},
    cpu_stats: withHost(now),
    precpu_stats: pre ? withHost(pre) : zeroCpu(),
    memory_stats: now.sample.memory,
    name,
    id,
  };
}
