import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  emptyStats,
  parseBlkioV1,
  parseIoStatV2,
  parseProcStat,
  sampleV1,
  sampleV2,
  statsObject,
  v1Files,
  v2Files,
  zeroTime,
  type TimedSample,
} from './cgroups.js';

const host = 8 * 1024 ** 3;

const v1MemoryStat = `cache 94208
rss 61440
rss_huge 0
shmem 0
mapped_file 45056
dirty 0
writeback 0
swap 0
pgpgin 850
pgpgout 812
pgfault 1150
pgmajfault 1
inactive_anon 53248
active_anon 4096
inactive_file 86016
active_file 8192
unevictable 0
hierarchical_memory_limit 33554432
hierarchical_memsw_limit 9223372036854771712
total_cache 94208
total_rss 61440
total_rss_huge 0
total_shmem 0
total_mapped_file 45056
total_dirty 0
total_writeback 0
total_swap 0
total_pgpgin 850
total_pgpgout 812
total_pgfault 1150
total_pgmajfault 1
total_inactive_anon 53248
total_active_anon 4096
total_inactive_file 86016
total_active_file 8192
total_unevictable 0
`;

const v1: Record<string, string> = {
  'cpuacct/cpuacct.usage': '2410562250\n',
  'cpuacct/cpuacct.usage_percpu': '1535827383 874734867 \n',
  'cpuacct/cpuacct.stat': 'user 240\nsystem 3\n',
  'cpu/cpu.stat': 'nr_periods 12\nnr_throttled 5\nthrottled_time 123456789\n',
  'memory/memory.usage_in_bytes': '864256\n',
  'memory/memory.max_usage_in_bytes': '4087808\n',
  'memory/memory.limit_in_bytes': '33554432\n',
  'memory/memory.failcnt': '0\n',
  'memory/memory.stat': v1MemoryStat,
  'pids/pids.current': '3\n',
  'pids/pids.max': 'max\n',
  'blkio/blkio.throttle.io_service_bytes_recursive':
    '8:0 Read 4096\n8:0 Write 1048576\n8:0 Sync 4096\n8:0 Async 1048576\n8:0 Discard 0\n8:0 Total 1052672\nTotal 1052672\n',
  'blkio/blkio.throttle.io_serviced_recursive':
    '8:0 Read 1\n8:0 Write 16\n8:0 Sync 1\n8:0 Async 16\n8:0 Discard 0\n8:0 Total 17\nTotal 17\n',
};

test('every v1 fixture key is a file the sampler reads', () => {
  for (const k of Object.keys(v1)) assert.ok(v1Files.includes(k), k);
});

test('v1: cpu, memory, pids and blkio as dockerd reports them', () => {
  const s = sampleV1(v1, host);
  assert.deepEqual(s.cpu, {
    cpu_usage: {
      total_usage: 2410562250,
      percpu_usage: [1535827383, 874734867],
      usage_in_kernelmode: 30000000,
      usage_in_usermode: 2400000000,
    },
    throttling_data: { periods: 12, throttled_periods: 5, throttled_time: 123456789 },
  });
  assert.equal(s.memory.usage, 864256);
  assert.equal(s.memory.max_usage, 4087808);
  assert.equal(s.memory.limit, 33554432);
  assert.equal(s.memory.failcnt, undefined);
  const stats = s.memory.stats ?? {};
  assert.equal(stats['total_inactive_file'], 86016);
  assert.equal(stats['hierarchical_memory_limit'], 33554432);
  // dockerd's fixed key set, sorted: no shmem or swap.
  assert.equal(stats['shmem'], undefined);
  assert.equal(stats['swap'], undefined);
  assert.deepEqual(Object.keys(stats), [...Object.keys(stats)].sort());
  assert.equal(Object.keys(stats).length, 32);
  assert.deepEqual(s.pids, { current: 3 });
  assert.deepEqual(s.blkio.io_service_bytes_recursive, [
    { major: 8, minor: 0, op: 'Read', value: 4096 },
    { major: 8, minor: 0, op: 'Write', value: 1048576 },
    { major: 8, minor: 0, op: 'Sync', value: 4096 },
    { major: 8, minor: 0, op: 'Async', value: 1048576 },
    { major: 8, minor: 0, op: 'Discard', value: 0 },
    { major: 8, minor: 0, op: 'Total', value: 1052672 },
  ]);
  assert.equal(s.blkio.io_serviced_recursive?.length, 6);
  assert.deepEqual(s.blkio.io_queue_recursive, []);
});

test('v1: an unlimited cgroup reports the host memory; a pids limit and failures show', () => {
  const s = sampleV1(
    {
      ...v1,
      'memory/memory.limit_in_bytes': '9223372036854771712\n',
      'memory/memory.failcnt': '7\n',
      'pids/pids.max': '50\n',
    },
    host,
  );
  assert.equal(s.memory.limit, host);
  assert.equal(s.memory.failcnt, 7);
  assert.deepEqual(s.pids, { current: 3, limit: 50 });
});

test('v1: the CFQ files win over the throttle ones when they count anything', () => {
  const s = sampleV1({ ...v1, 'blkio/blkio.io_service_bytes_recursive': '8:16 Read 512\n' }, host);
  assert.deepEqual(s.blkio.io_service_bytes_recursive, [
    { major: 8, minor: 16, op: 'Read', value: 512 },
  ]);
  assert.deepEqual(parseBlkioV1('8:0 1234\nTotal 1234\n'), [
    { major: 8, minor: 0, op: '', value: 1234 },
  ]);
});

const v2: Record<string, string> = {
  'cpu.stat':
    'usage_usec 4742660\nuser_usec 3111414\nsystem_usec 1631245\nnr_periods 10\nnr_throttled 2\nthrottled_usec 5000\n',
  'memory.current': '2097152\n',
  'memory.max': '67108864\n',
  'memory.stat': 'file 4096\nanon 1048576\ninactive_file 4096\nactive_anon 1048576\n',
  'pids.current': '2\n',
  'pids.max': 'max\n',
  'io.stat': '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
};

test('every v2 fixture key is a file the sampler reads', () => {
  for (const k of Object.keys(v2)) assert.ok(v2Files.includes(k), k);
});

test('v2: usec counters in nanoseconds, no percpu, memory.current and memory.stat', () => {
  const s = sampleV2(v2, host);
  assert.deepEqual(s.cpu, {
    cpu_usage: {
      total_usage: 4742660000,
      usage_in_kernelmode: 1631245000,
      usage_in_usermode: 3111414000,
    },
    throttling_data: { periods: 10, throttled_periods: 2, throttled_time: 5000000 },
  });
  assert.deepEqual(s.memory, {
    usage: 2097152,
    stats: { active_anon: 1048576, anon: 1048576, file: 4096, inactive_file: 4096 },
    limit: 67108864,
  });
  assert.deepEqual(s.pids, { current: 2 });
  assert.deepEqual(s.blkio.io_service_bytes_recursive, [
    { major: 8, minor: 0, op: 'read', value: 4096 },
    { major: 8, minor: 0, op: 'write', value: 8192 },
  ]);
  assert.deepEqual(s.blkio.io_serviced_recursive, [
    { major: 8, minor: 0, op: 'read', value: 1 },
    { major: 8, minor: 0, op: 'write', value: 2 },
  ]);
  assert.equal(s.blkio.sectors_recursive, null);
  assert.equal(sampleV2({ ...v2, 'memory.max': 'max\n' }, host).memory.limit, host);
  assert.deepEqual(parseIoStatV2('').io_service_bytes_recursive, []);
});

test('/proc/stat: host CPU time in nanoseconds (user..softirq) and online CPUs', () => {
  const r = parseProcStat(
    'cpu  311141 0 161359 636910 3787 0 1765 171 0 0\ncpu0 1 0 0 0 0 0 0 0 0 0\ncpu1 1 0 0 0 0 0 0 0 0 0\nintr 5\n',
  );
  assert.equal(r.onlineCpus, 2);
  assert.equal(r.systemUsage, (311141 + 161359 + 636910 + 3787 + 1765) * 1e7);
});

test('stats objects: the first of a stream has zero precpu; a stopped container is all zeros', () => {
  const sample = sampleV1(v1, host);
  const now: TimedSample = { read: 't2', sample, systemUsage: 200, onlineCpus: 2 };
  const first = statsObject('/c', 'abc', now, undefined);
  assert.equal(first.preread, zeroTime);
  assert.deepEqual(first.precpu_stats, {
    cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  assert.equal(first.cpu_stats.system_cpu_usage, 200);
  assert.equal(first.cpu_stats.online_cpus, 2);
  const next = statsObject('/c', 'abc', now, { ...now, read: 't1', systemUsage: 100 });
  assert.equal(next.preread, 't1');
  assert.equal(next.precpu_stats.system_cpu_usage, 100);
  assert.deepEqual(Object.keys(next), [
    'read',
    'preread',
    'pids_stats',
    'blkio_stats',
    'num_procs',
    'storage_stats',
    'cpu_stats',
    'precpu_stats',
    'memory_stats',
    'name',
    'id',
  ]);
  const empty = emptyStats('/c', 'abc');
  assert.equal(empty.read, zeroTime);
  assert.deepEqual(empty.memory_stats, {});
  assert.deepEqual(empty.pids_stats, {});
  assert.equal(empty.blkio_stats.io_service_bytes_recursive, null);
});
