import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from '../errors/index.js';
import {
  deviceMount,
  filterVolumes,
  pruneSelection,
  validateLocalOptions,
  validateVolumeName,
} from './rules.js';
import { anonymousLabel, type VolumeRecord } from './volumes.js';

const rec = (name: string, labels: Record<string, string> = {}): VolumeRecord => ({
  name,
  driver: 'local',
  labels,
  options: {},
  createdAt: '2024-01-01T00:00:00Z',
});

test('volume names as dockerd checks them', () => {
  for (const ok of ['ab', 'a1', 'my-vol_1.x', 'A.b-c']) validateVolumeName(ok);
  assert.throws(() => validateVolumeName('a'), {
    message:
      'create a: volume name is too short, names should be at least two alphanumeric characters',
  });
  assert.throws(() => validateVolumeName('a#b'), {
    message:
      'create a#b: "a#b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
  });
  for (const bad of ['-ab', '.ab', '_ab', 'a/b', 'a b', './x', 'a:b']) {
    assert.throws(() => validateVolumeName(bad), InvalidArgumentError, bad);
  }
});

test('local driver options: type/device/o only, type and device together', () => {
  validateLocalOptions('v', {});
  validateLocalOptions('v', { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' });
  assert.throws(() => validateLocalOptions('v', { foo: 'bar' }), {
    message: 'create v: invalid option: "foo"',
  });
  assert.throws(() => validateLocalOptions('v', { type: 'none' }), {
    message: 'create v: missing required option: "device"',
  });
  assert.deepEqual(deviceMount({ type: 'none', device: '/srv', o: 'bind' }), {
    type: 'bind',
    source: '/srv',
    options: ['bind'],
  });
  assert.deepEqual(deviceMount({ type: 'tmpfs', device: 'tmpfs', o: 'size=1m,uid=1000' }), {
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['size=1m', 'uid=1000'],
  });
});

test('list filters: dangling, name substring, label, driver; bad keys and values refused', () => {
  const all = [rec('alpha', { a: '1' }), rec('beta', { a: '2', b: '' }), rec('gamma')];
  const used = (n: string): boolean => n === 'alpha';
  const names = (f: Record<string, string[]>): string[] =>
    filterVolumes(all, f, used).map((r) => r.name);
  assert.deepEqual(names({}), ['alpha', 'beta', 'gamma']);
  assert.deepEqual(names({ dangling: ['true'] }), ['beta', 'gamma']);
  assert.deepEqual(names({ dangling: ['0'] }), ['alpha']);
  assert.deepEqual(names({ name: ['a'] }), ['alpha', 'beta', 'gamma']);
  assert.deepEqual(names({ name: ['mm'] }), ['gamma']);
  assert.deepEqual(names({ label: ['a'] }), ['alpha', 'beta']);
  assert.deepEqual(names({ label: ['a=2'] }), ['beta']);
  assert.deepEqual(names({ label: ['a', 'b'] }), ['beta']);
  assert.deepEqual(names({ driver: ['local'] }), ['alpha', 'beta', 'gamma']);
  assert.deepEqual(names({ driver: ['other'] }), []);
  assert.throws(() => names({ bogus: ['1'] }), { message: "invalid filter 'bogus'" });
  assert.throws(() => names({ dangling: ['maybe'] }), {
    message: "invalid filter 'dangling=[maybe]'",
  });
});

test('prune: unused anonymous only by default, all=true every unused one, label narrows', () => {
  const anon = { [anonymousLabel]: '' };
  const all = [
    rec('anon-used', anon),
    rec('anon-free', { ...anon, keep: 'yes' }),
    rec('anon-free2', anon),
    rec('named-free', { keep: 'no' }),
    rec('named-used'),
  ];
  const used = (n: string): boolean => n.endsWith('-used');
  const names = (f: Record<string, string[]>): string[] =>
    pruneSelection(all, f, used).map((r) => r.name);
  assert.deepEqual(names({}), ['anon-free', 'anon-free2']);
  assert.deepEqual(names({ all: ['true'] }), ['anon-free', 'anon-free2', 'named-free']);
  assert.deepEqual(names({ all: ['false'] }), ['anon-free', 'anon-free2']);
  assert.deepEqual(names({ all: ['1'], label: ['keep'] }), ['anon-free', 'named-free']);
  assert.deepEqual(names({ all: ['1'], 'label!': ['keep=yes'] }), ['anon-free2', 'named-free']);
  assert.throws(() => names({ dangling: ['true'] }), { message: "invalid filter 'dangling'" });
  assert.throws(() => names({ all: ['yes'] }), { message: "invalid filter 'all=[yes]'" });
});
