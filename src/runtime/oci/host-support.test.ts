import { test } from 'node:test';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../errors/index.js';
import { adjustToHost, probeHostSupport, type HostSupport } from './host-support.js';

const everything: HostSupport = {
  cgroupVersion: 1,
  blkioWeight: true,
  blkioWeightDevice: true,
  blkioThrottle: true,
  swapLimit: true,
  memorySwappiness: true,
  cpuRealtime: true,
  apparmor: false,
  selinux: false,
  cpus: '0-1',
  mems: '0',
};
const nothing: HostSupport = {
  ...everything,
  blkioWeight: false,
  blkioWeightDevice: false,
  blkioThrottle: false,
  swapLimit: false,
  memorySwappiness: false,
  cpuRealtime: false,
};

test('settings the host enforces pass unchanged and without warnings', () => {
  const h = {
    Memory: 64 << 20,
    MemorySwap: 128 << 20,
    MemorySwappiness: 10,
    BlkioWeight: 300,
    BlkioWeightDevice: [{ Path: '/dev/loop0', Weight: 100 }],
    BlkioDeviceReadBps: [{ Path: '/dev/loop0', Rate: 1 << 20 }],
    CpuRealtimePeriod: 100000,
    CpuRealtimeRuntime: 1000,
  };
  const { hostConfig, warnings } = adjustToHost(h, everything);
  assert.deepEqual(warnings, []);
  assert.deepEqual(hostConfig, { ...h, CgroupnsMode: 'host' });
});

test("what the host cannot enforce is dropped with dockerd's warnings", () => {
  const { hostConfig, warnings } = adjustToHost(
    {
      Memory: 64 << 20,
      MemorySwappiness: 10,
      BlkioWeight: 300,
      BlkioWeightDevice: [{ Path: '/dev/loop0', Weight: 100 }],
      BlkioDeviceReadBps: [{ Path: '/dev/loop0', Rate: 1 }],
      BlkioDeviceWriteIOps: [{ Path: '/dev/loop0', Rate: 1 }],
      KernelMemory: 1 << 20,
      OomKillDisable: true,
    },
    nothing,
  );
  assert.deepEqual(warnings, [
    'Specifying a kernel memory limit is deprecated and will be removed in a future release.',
    'Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.',
    'Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.',
    'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.',
    'Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.',
    'Your kernel does not support BPS Block I/O read limit or the cgroup is not mounted. Block I/O BPS read limit discarded.',
    'Your kernel does not support IOPS Block write limit or the cgroup is not mounted. Block I/O IOPS write limit discarded.',
  ]);
  assert.equal(hostConfig.MemorySwap, -1);
  assert.equal(hostConfig.MemorySwappiness, null);
  assert.equal(hostConfig.BlkioWeight, 0);
  assert.deepEqual(hostConfig.BlkioWeightDevice, []);
  assert.deepEqual(hostConfig.BlkioDeviceReadBps, []);
  assert.deepEqual(hostConfig.BlkioDeviceWriteIOps, []);
});

test('OOM killer disabled without a memory limit warns; with one it does not', () => {
  assert.equal(adjustToHost({ OomKillDisable: true }, everything).warnings.length, 1);
  assert.equal(
    adjustToHost({ OomKillDisable: true, Memory: 8 << 20 }, everything).warnings.length,
    0,
  );
});

test('real-time settings: refused without kernel support, runtime bounded by period', () => {
  assert.throws(
    () => adjustToHost({ CpuRealtimeRuntime: 1000 }, nothing),
    (e: unknown) =>
      e instanceof InvalidArgumentError &&
      e.message === 'Your kernel does not support CPU real-time scheduler',
  );
  assert.throws(
    () => adjustToHost({ CpuRealtimePeriod: 1000, CpuRealtimeRuntime: 2000 }, everything),
    /cpu real-time runtime cannot be higher than cpu real-time period/,
  );
});

test('out-of-range swappiness, weights and rates are refused', () => {
  assert.throws(() => adjustToHost({ MemorySwappiness: 101 }, everything), /0-100/);
  assert.throws(
    () => adjustToHost({ BlkioWeightDevice: [{ Path: '/dev/loop0', Weight: 5 }] }, everything),
    /invalid weight for device/,
  );
  assert.throws(
    () => adjustToHost({ BlkioDeviceReadBps: [{ Path: '/dev/loop0', Rate: -1 }] }, everything),
    /invalid rate/,
  );
});

test('LSM options on a host without the module are accepted with a warning', () => {
  const { warnings, hostConfig } = adjustToHost(
    { SecurityOpt: ['apparmor=unconfined', 'label=level:s0:c100', 'label=disable'] },
    everything,
  );
  assert.equal(warnings.length, 2);
  assert.match(warnings[0] ?? '', /AppArmor is not enabled/);
  assert.match(warnings[1] ?? '', /SELinux is not enabled/);
  assert.deepEqual(hostConfig.SecurityOpt, [
    'apparmor=unconfined',
    'label=level:s0:c100',
    'label=disable',
  ]);
  assert.deepEqual(
    adjustToHost({ SecurityOpt: ['apparmor=x'] }, { ...everything, apparmor: true }).warnings,
    [],
  );
});

test('the cgroup namespace defaults to private on v2 and host on v1', () => {
  assert.equal(adjustToHost({}, everything).hostConfig.CgroupnsMode, 'host');
  assert.equal(
    adjustToHost({}, { ...everything, cgroupVersion: 2 }).hostConfig.CgroupnsMode,
    'private',
  );
  assert.equal(
    adjustToHost({ CgroupnsMode: 'host' }, { ...everything, cgroupVersion: 2 }).hostConfig
      .CgroupnsMode,
    'host',
  );
});

test("cpusets naming absent CPUs or nodes are refused with dockerd's words", () => {
  assert.throws(
    () => adjustToHost({ CpusetCpus: '7' }, everything),
    /^InvalidArgumentError: Requested CPUs are not available - requested 7, available: 0-1$/,
  );
  assert.throws(
    () => adjustToHost({ CpusetMems: '0-1' }, everything),
    /Requested memory nodes are not available - requested 0-1, available: 0/,
  );
  assert.throws(() => adjustToHost({ CpusetCpus: '1-0' }, everything), /Invalid value 1-0/);
  assert.equal(adjustToHost({ CpusetCpus: '0,1' }, everything).hostConfig.CpusetCpus, '0,1');
});

test('probing a cgroup v1 and a v2 hierarchy', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-probe-'));
  try {
    const v2 = path.join(dir, 'v2');
    await mkdir(v2);
    await writeFile(path.join(v2, 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    await writeFile(path.join(v2, 'cpuset.cpus.effective'), '0-3\n');
    await writeFile(path.join(v2, 'cpuset.mems.effective'), '0\n');
    const s2 = await probeHostSupport(v2);
    assert.equal(s2.cgroupVersion, 2);
    assert.equal(s2.blkioThrottle, true);
    assert.equal(s2.memorySwappiness, false);
    assert.equal(s2.cpuRealtime, false);
    assert.equal(s2.cpus, '0-3');

    const v1 = path.join(dir, 'v1');
    for (const c of ['blkio', 'memory', 'cpu', 'cpuset'])
      await mkdir(path.join(v1, c), { recursive: true });
    await writeFile(path.join(v1, 'blkio', 'blkio.throttle.read_bps_device'), '');
    await writeFile(path.join(v1, 'memory', 'memory.memsw.limit_in_bytes'), '');
    await writeFile(path.join(v1, 'cpu', 'cpu.rt_runtime_us'), '950000');
    await writeFile(path.join(v1, 'cpuset', 'cpuset.cpus'), '0-1\n');
    await writeFile(path.join(v1, 'cpuset', 'cpuset.mems'), '0\n');
    const s1 = await probeHostSupport(v1);
    assert.deepEqual(
      { ...s1, apparmor: false, selinux: false },
      {
        cgroupVersion: 1,
        blkioWeight: false,
        blkioWeightDevice: false,
        blkioThrottle: true,
        swapLimit: true,
        memorySwappiness: false,
        cpuRealtime: true,
        apparmor: false,
        selinux: false,
        cpus: '0-1',
        mems: '0',
      },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
