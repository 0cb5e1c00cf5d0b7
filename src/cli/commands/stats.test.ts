import assert from 'node:assert/strict';
import { test } from 'node:test';
import { binarySize, cpuPercent, memoryUsage, statsRow, type StatsJson } from './stats.js';

const busy: StatsJson = {
  id: 'efdc6ea32e9b0123456789abcdef',
  name: '/spin',
  cpu_stats: {
    cpu_usage: { total_usage: 2_410_562_250, percpu_usage: [1, 2] },
    system_cpu_usage: 10_918_430_000_000,
    online_cpus: 2,
  },
  precpu_stats: {
    cpu_usage: { total_usage: 1_492_742_557 },
    system_cpu_usage: 10_916_420_000_000,
  },
  memory_stats: { usage: 864_256, limit: 25_276_502_016, stats: { total_inactive_file: 516_096 } },
  pids_stats: { current: 1 },
  blkio_stats: {
    io_service_bytes_recursive: [
      { op: 'Read', value: 4096 },
      { op: 'Write', value: 1_000_000 },
      { op: 'Total', value: 1_004_096 },
    ],
  },
};

test('CPU %: container delta over host delta, times online CPUs', () => {
  // 0.9178 s of CPU in 2.01 s of host time over 2 CPUs: one CPU nearly full.
  const pct = cpuPercent(busy);
  assert.ok(Math.abs(pct - (917_819_693 / 2_010_000_000) * 2 * 100) < 1e-9);
  assert.equal(pct.toFixed(2), '91.33');
  // Without online_cpus the percpu list counts them.
  const noOnline = { ...busy, cpu_stats: { ...busy.cpu_stats, online_cpus: 0 } };
  assert.equal(cpuPercent(noOnline), pct);
  // No host delta (first sample of a stream, or a stopped container): 0.
  assert.equal(cpuPercent({ ...busy, precpu_stats: busy.cpu_stats }), 0);
  assert.equal(cpuPercent({}), 0);
});

test('memory without inactive page cache, v1 and v2', () => {
  assert.equal(memoryUsage(busy), 864_256 - 516_096);
  assert.equal(memoryUsage({ memory_stats: { usage: 1000, stats: { inactive_file: 200 } } }), 800);
  assert.equal(memoryUsage({ memory_stats: { usage: 1000, stats: {} } }), 1000);
});

test('a row as docker stats prints it', () => {
  assert.deepEqual(statsRow('spin', busy, true), {
    Container: 'spin',
    ID: 'efdc6ea32e9b',
    Name: 'spin',
    CPUPerc: '91.33%',
    MemUsage: '340KiB / 23.54GiB',
    MemPerc: '0.00%',
    NetIO: '0B / 0B',
    BlockIO: '4.1kB / 1MB',
    PIDs: '1',
  });
  assert.equal(statsRow('x', {}, true).MemUsage, '0B / 0B');
  assert.equal(binarySize(33554432), '32MiB');
});
