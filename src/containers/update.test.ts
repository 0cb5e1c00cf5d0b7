import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConflictError, InvalidArgumentError } from '../errors/index.js';
import { parseCpuset, planUpdate, updateResources, type HostLimits } from './update.js';

const host: HostLimits = { cpus: '0-1', mems: '0', blkioWeight: false };
const mb = 1024 * 1024;

test('request checks are 400s in dockerd words', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ Memory: 1000 }, 'Minimum memory limit allowed is 6MB'],
    [
      { Memory: 16 * mb, MemorySwap: 8 * mb },
      'Minimum memoryswap limit should be larger than memory limit, see usage',
    ],
    [{ MemoryReservation: 1000 }, 'Minimum memory reservation allowed is 6MB'],
    [{ NanoCpus: 5e9 }, 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available'],
    [{ CpusetCpus: '7' }, 'Requested CPUs are not available - requested 7, available: 0-1'],
    [{ BlkioWeight: 5 }, 'Range of blkio weight is from 10 to 1000'],
  ];
  for (const [req, message] of cases) {
    assert.throws(
      () => planUpdate('id1', {}, req, host),
      (err: unknown) => err instanceof InvalidArgumentError && err.message === message,
      message,
    );
  }
});

test('a memory limit above the swap limit in effect needs the swap limit too (409)', () => {
  assert.throws(
    () => planUpdate('id1', {}, { Memory: 32 * mb }, host),
    (err: unknown) =>
      err instanceof ConflictError &&
      err.message ===
        'Cannot update container id1: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time',
  );
  // Created with -m 64m: the swap limit in effect is twice that, so lowering memory is fine.
  const { hostConfig } = planUpdate('id1', { Memory: 64 * mb }, { Memory: 32 * mb }, host);
  assert.equal(hostConfig.Memory, 32 * mb);
  assert.equal(hostConfig.MemorySwap, 128 * mb);
  const both = planUpdate('id1', {}, { Memory: 32 * mb, MemorySwap: 32 * mb }, host);
  assert.deepEqual(updateResources(both.hostConfig).memory, { limit: 32 * mb, swap: 32 * mb });
});

test('NanoCpus and period/quota do not mix across updates', () => {
  assert.throws(
    () => planUpdate('id1', { NanoCpus: 5e8 }, { CpuQuota: 20000 }, host),
    /Cannot update container id1: Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set/,
  );
  assert.throws(
    () => planUpdate('id1', { CpuPeriod: 50000 }, { NanoCpus: 5e8 }, host),
    ConflictError,
  );
  const { hostConfig } = planUpdate('id1', {}, { NanoCpus: 5e8 }, host);
  assert.deepEqual(updateResources(hostConfig).cpu, { period: 100000, quota: 50000 });
});

test('zeros leave fields alone; pids, restart policy and the blkio warning', () => {
  const current = { Memory: 64 * mb, CpuShares: 512, PidsLimit: 100 };
  const zeros = {
    Memory: 0,
    MemorySwap: 0,
    CpuShares: 0,
    CpusetCpus: '',
    RestartPolicy: { Name: '' as const, MaximumRetryCount: 0 },
  };
  assert.deepEqual(planUpdate('id1', current, zeros, host).hostConfig, current);
  const r = planUpdate(
    'id1',
    current,
    { PidsLimit: 20, BlkioWeight: 300, RestartPolicy: { Name: 'always' } },
    host,
  );
  assert.equal(r.hostConfig.PidsLimit, 20);
  assert.deepEqual(r.hostConfig.RestartPolicy, { Name: 'always', MaximumRetryCount: 0 });
  assert.equal(r.hostConfig.BlkioWeight, undefined);
  assert.deepEqual(r.warnings, [
    'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
  ]);
  assert.equal(planUpdate('id1', current, { PidsLimit: -1 }, host).hostConfig.PidsLimit, null);
  assert.deepEqual(updateResources({}).pids, { limit: -1 });
  assert.throws(
    () => planUpdate('id1', { AutoRemove: true }, { RestartPolicy: { Name: 'always' } }, host),
    /Restart policy cannot be updated because AutoRemove is enabled for the container/,
  );
});

test('cpuset lists', () => {
  assert.deepEqual([...parseCpuset('0-2,4')], [0, 1, 2, 4]);
  assert.throws(() => parseCpuset('a'), InvalidArgumentError);
});
