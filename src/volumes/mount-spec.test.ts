import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  inheritedMount,
  parseApiMount,
  parseBindSpec,
  parseVolumesFrom,
  planMounts,
} from './mount-spec.js';

test('-v host binds: mode, propagation, created source', () => {
  assert.deepEqual(parseBindSpec('/tmp:/h:ro,Z'), {
    Type: 'bind',
    Name: '',
    Source: '/tmp',
    Destination: '/h',
    Driver: '',
    Mode: 'ro,Z',
    RW: false,
    Propagation: 'rprivate',
    CopyData: false,
    CreateSource: true,
  });
  const shared = parseBindSpec('/srv/x/../y:/d:rshared');
  assert.equal(shared.Source, '/srv/y');
  assert.equal(shared.Propagation, 'rshared');
  assert.equal(shared.RW, true);
});

test('-v named volumes: mode "z" by default as dockerd, ro, nocopy', () => {
  const v = parseBindSpec('data:/data');
  assert.equal(v.Type, 'volume');
  assert.equal(v.Name, 'data');
  assert.equal(v.Mode, 'z');
  assert.equal(v.Driver, 'local');
  assert.equal(v.Propagation, '');
  assert.equal(v.CopyData, true);
  const ro = parseBindSpec('data:/data:ro');
  assert.equal(ro.Mode, 'ro');
  assert.equal(ro.RW, false);
  assert.equal(parseBindSpec('data:/data:nocopy').CopyData, false);
  const anon = parseBindSpec('/anon');
  assert.equal(anon.Type, 'volume');
  assert.equal(anon.Name, '');
  assert.equal(anon.Mode, '');
});

test('-v errors in dockerd words', () => {
  const cases: [string, string][] = [
    ['/x:/y:bogus', 'invalid mode: bogus'],
    ['/tmp:/x:rw,ro', 'invalid mode: rw,ro'],
    ['/a:/b:c:d', "invalid volume specification: '/a:/b:c:d'"],
    ['/x:rw', "invalid volume specification: '/x:rw'"],
    [
      'vol:/',
      `invalid volume specification: 'vol:/': invalid mount config for type "volume": invalid specification: destination can't be '/'`,
    ],
    [
      'vol:rel',
      `invalid volume specification: 'vol:rel': invalid mount config for type "volume": invalid mount path: 'rel' mount path must be absolute`,
    ],
  ];
  for (const [raw, message] of cases) assert.throws(() => parseBindSpec(raw), { message }, raw);
});

test('--mount as the API gives it: volume, bind, tmpfs and their checks', () => {
  const v = parseApiMount({
    Type: 'volume',
    Source: 'v1',
    Target: '/m',
    VolumeOptions: { NoCopy: true, DriverConfig: { Options: { type: 'tmpfs', device: 'tmpfs' } } },
  });
  assert.equal(v.Mode, 'z');
  assert.equal(v.CopyData, false);
  assert.deepEqual(v.DriverOpts, { type: 'tmpfs', device: 'tmpfs' });
  const b = parseApiMount({
    Type: 'bind',
    Source: '/tmp',
    Target: '/b',
    ReadOnly: true,
    BindOptions: { Propagation: 'rslave' },
  });
  assert.equal(b.Mode, '');
  assert.equal(b.RW, false);
  assert.equal(b.Propagation, 'rslave');
  assert.equal(b.CreateSource, undefined);
  const t = parseApiMount({
    Type: 'tmpfs',
    Target: '/t',
    TmpfsOptions: { SizeBytes: 1 << 20, Mode: 0o700 },
  });
  assert.equal(t.TmpfsData, 'mode=700,size=1m');
  const err = (m: Parameters<typeof parseApiMount>[0], message: string): void => {
    assert.throws(() => parseApiMount(m), { message });
  };
  err({ Type: 'npipe', Target: '/x' }, 'invalid mount config for type "npipe": mount type unknown');
  err(
    { Type: 'bind', Target: '/x' },
    'invalid mount config for type "bind": field Source must not be empty',
  );
  err(
    { Type: 'tmpfs', Source: 'x', Target: '/x' },
    'invalid mount config for type "tmpfs": field Source must not be specified',
  );
  err({ Type: 'volume' }, 'invalid mount config for type "volume": field Target must not be empty');
});

test('--volumes-from specs and inherited mounts', () => {
  assert.deepEqual(parseVolumesFrom('c1'), { container: 'c1', readOnly: false });
  assert.deepEqual(parseVolumesFrom('c1:ro'), { container: 'c1', readOnly: true });
  assert.throws(() => parseVolumesFrom('c1:z'), { message: 'invalid mode: z' });
  const src = parseBindSpec('data:/data');
  const copy = inheritedMount({ ...src, Source: '/v/data/_data' }, true);
  assert.equal(copy.Mode, '');
  assert.equal(copy.RW, false);
  assert.equal(copy.CopyData, false);
});

test('planning: duplicates refused, explicit beats inherited, Config.Volumes fill gaps', () => {
  assert.throws(
    () => planMounts({ binds: ['/a:/x', 'v:/x'], mounts: [], volumes: [], inherited: [] }),
    { message: 'Duplicate mount point: /x' },
  );
  const inherited = [inheritedMount(parseBindSpec('/srv:/x'), false)];
  const plan = planMounts({
    binds: ['v:/x'],
    mounts: [{ Type: 'tmpfs', Target: '/t' }],
    volumes: ['/x', '/y'],
    inherited,
  });
  assert.deepEqual(
    plan.map((m) => [m.Destination, m.Type, m.Name]),
    [
      ['/x', 'volume', 'v'],
      ['/t', 'tmpfs', ''],
      ['/y', 'volume', ''],
    ],
  );
});
