import assert from 'node:assert/strict';
import { test } from 'node:test';
import { absoluteBindSource } from './container-config.js';
import { parseMountFlag } from './mount-flag.js';

test('--mount: aliases, defaults and options', () => {
  assert.deepEqual(parseMountFlag('dst=/x'), { Type: 'volume', Target: '/x' });
  assert.deepEqual(
    parseMountFlag(
      'type=volume,src=v,destination=/m,volume-nocopy,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=a=b,volume-driver=local,ro',
    ),
    {
      Type: 'volume',
      Source: 'v',
      Target: '/m',
      ReadOnly: true,
      VolumeOptions: {
        NoCopy: true,
        Labels: { a: 'b' },
        DriverConfig: { Name: 'local', Options: { type: 'tmpfs', device: 'tmpfs' } },
      },
    },
  );
  assert.deepEqual(
    parseMountFlag('type=bind,source=/tmp,target=/b,readonly=false,bind-propagation=rslave'),
    {
      Type: 'bind',
      Source: '/tmp',
      Target: '/b',
      ReadOnly: false,
      BindOptions: { Propagation: 'rslave' },
    },
  );
  assert.deepEqual(parseMountFlag('type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=0700'), {
    Type: 'tmpfs',
    Target: '/t',
    TmpfsOptions: { SizeBytes: 1 << 20, Mode: 0o700 },
  });
});

test('--mount errors in the docker CLI words', () => {
  const cases: [string, string][] = [
    ['type=volume,src=v', 'target is required'],
    ['bogus=1,dst=/x', "unexpected key 'bogus' in 'bogus=1'"],
    ['type=volume,dst=/x,readonly=maybe', 'invalid value for readonly: maybe'],
    ['type=tmpfs,dst=/x,tmpfs-size=abc', 'invalid value for tmpfs-size: abc'],
    [
      'type=bind,src=/tmp,dst=/x,volume-nocopy',
      "cannot mix 'volume-*' options with mount type 'bind'",
    ],
    [
      'type=volume,dst=/x,bind-propagation=shared',
      "cannot mix 'bind-*' options with mount type 'volume'",
    ],
    ['dst=/x,src', "invalid field 'src' must be a key=value pair"],
  ];
  for (const [raw, msg] of cases) {
    assert.throws(() => parseMountFlag(raw), {
      message: `invalid argument "${raw}" for "--mount" flag: ${msg}`,
    });
  }
});

test('-v ./dir:/p: a relative host path is made absolute, as the docker CLI does', () => {
  assert.equal(absoluteBindSource('./d:/p:ro', '/work'), '/work/d:/p:ro');
  assert.equal(absoluteBindSource('../d:/p', '/work/x'), '/work/d:/p');
  assert.equal(absoluteBindSource('.:/p', '/work'), '/work:/p');
  assert.equal(absoluteBindSource('name:/p', '/work'), 'name:/p');
  assert.equal(absoluteBindSource('/abs:/p', '/work'), '/abs:/p');
});
