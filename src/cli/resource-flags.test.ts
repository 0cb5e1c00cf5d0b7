import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, UsageError } from './args.js';
import { buildCreate, CREATE_FLAGS } from './container-config.js';
import { parseDevice, parseThrottleDevice, parseWeightDevice } from './resource-flags.js';

const hostOf = (argv: string[]): Record<string, unknown> => {
  const parsed = parseArgs(argv, CREATE_FLAGS, { interspersed: false });
  return buildCreate(parsed.flags, parsed.args, { detach: true }).request.HostConfig as Record<
    string,
    unknown
  >;
};

test('--device as the docker CLI parses it', () => {
  assert.deepEqual(parseDevice('/dev/null'), {
    PathOnHost: '/dev/null',
    PathInContainer: '/dev/null',
    CgroupPermissions: 'rwm',
  });
  assert.deepEqual(parseDevice('/dev/null:rw'), {
    PathOnHost: '/dev/null',
    PathInContainer: '/dev/null',
    CgroupPermissions: 'rw',
  });
  assert.deepEqual(parseDevice('/dev/null:/dev/x'), {
    PathOnHost: '/dev/null',
    PathInContainer: '/dev/x',
    CgroupPermissions: 'rwm',
  });
  assert.deepEqual(parseDevice('/dev/null:/dev/x:r'), {
    PathOnHost: '/dev/null',
    PathInContainer: '/dev/x',
    CgroupPermissions: 'r',
  });
  assert.throws(() => parseDevice('/dev/null:/dev/x:rx'), /^UsageError: bad mode specified: rx$/);
  assert.throws(() => parseDevice('/dev/null:/dev/x:rr'), /bad mode specified: rr/);
  assert.throws(() => parseDevice('/dev/null:x'), /x is not an absolute path/);
  assert.throws(() => parseDevice('a:b:c:d'), /invalid device specification: a:b:c:d/);
});

test('blkio weight and throttle devices', () => {
  assert.deepEqual(parseWeightDevice('/dev/sda:200'), { Path: '/dev/sda', Weight: 200 });
  assert.throws(() => parseWeightDevice('/dev/sda:5'), /invalid weight for device: \/dev\/sda:5/);
  assert.throws(() => parseWeightDevice('sda:200'), /bad format for device path/);
  assert.throws(() => parseWeightDevice('/dev/sda'), /bad format: \/dev\/sda/);
  assert.deepEqual(parseThrottleDevice('device-read-bps', '/dev/sda:1mb', 'bps'), {
    Path: '/dev/sda',
    Rate: 1048576,
  });
  assert.deepEqual(parseThrottleDevice('device-read-iops', '/dev/sda:100', 'iops'), {
    Path: '/dev/sda',
    Rate: 100,
  });
  assert.throws(
    () => parseThrottleDevice('device-read-bps', '/dev/sda:10q', 'bps'),
    /invalid rate for device: \/dev\/sda:10q/,
  );
  assert.throws(
    () => parseThrottleDevice('device-write-iops', '/dev/sda:1k', 'iops'),
    /Number must be a positive integer/,
  );
});

test('resource flags land in HostConfig as the docker CLI sends them', () => {
  const h = hostOf([
    '--cpu-period',
    '50000',
    '--cpu-quota',
    '25000',
    '--cpu-rt-period',
    '100000',
    '--cpu-rt-runtime',
    '1000',
    '--cpuset-mems',
    '0',
    '--memory-swappiness',
    '10',
    '--oom-kill-disable',
    '--oom-score-adj',
    '200',
    '--kernel-memory',
    '8m',
    '--blkio-weight',
    '300',
    '--blkio-weight-device',
    '/dev/loop0:100',
    '--device-read-bps',
    '/dev/loop0:1mb',
    '--device-write-iops',
    '/dev/loop0:10',
    '--device-cgroup-rule',
    'c 1:3 rw',
    '--cgroup-parent',
    '/custom',
    '--cgroupns',
    'private',
    '--device',
    '/dev/null:/dev/xnull:r',
    'busybox',
  ]);
  assert.equal(h.CpuPeriod, 50000);
  assert.equal(h.CpuQuota, 25000);
  assert.equal(h.CpuRealtimePeriod, 100000);
  assert.equal(h.CpuRealtimeRuntime, 1000);
  assert.equal(h.CpusetMems, '0');
  assert.equal(h.MemorySwappiness, 10);
  assert.equal(h.OomKillDisable, true);
  assert.equal(h.OomScoreAdj, 200);
  assert.equal(h.KernelMemory, 8 << 20);
  assert.equal(h.BlkioWeight, 300);
  assert.deepEqual(h.BlkioWeightDevice, [{ Path: '/dev/loop0', Weight: 100 }]);
  assert.deepEqual(h.BlkioDeviceReadBps, [{ Path: '/dev/loop0', Rate: 1 << 20 }]);
  assert.deepEqual(h.BlkioDeviceWriteIOps, [{ Path: '/dev/loop0', Rate: 10 }]);
  assert.deepEqual(h.DeviceCgroupRules, ['c 1:3 rw']);
  assert.equal(h.CgroupParent, '/custom');
  assert.equal(h.CgroupnsMode, 'private');
  assert.deepEqual(h.Devices, [
    { PathOnHost: '/dev/null', PathInContainer: '/dev/xnull', CgroupPermissions: 'r' },
  ]);
});

test('bad resource flags are usage errors', () => {
  assert.throws(() => hostOf(['--cgroupns', 'shared', 'busybox']), UsageError);
  assert.throws(
    () => hostOf(['--device-cgroup-rule', 'c 1:3 rx', 'busybox']),
    /invalid device cgroup format 'c 1:3 rx'/,
  );
  assert.throws(() => hostOf(['--kernel-memory', '10q', 'busybox']), /invalid suffix: 'q'/);
});
