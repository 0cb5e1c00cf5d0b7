import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../errors/index.js';
import { newVolumeService } from './service.js';
import { anonymousLabel } from './volumes.js';

async function withRoot(fn: (root: string) => Promise<void>): Promise<void> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-volumes-'));
  try {
    await fn(root);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
}

test('create, get, list, remove; records survive a reopen', async () => {
  await withRoot(async (root) => {
    const v = await newVolumeService({ root });
    const a = await v.create({ Name: 'alpha', Labels: { k: 'v' } });
    assert.equal(a.Mountpoint, path.join(root, 'alpha', '_data'));
    assert.deepEqual(a.Labels, { k: 'v' });
    assert.equal(a.Options, null);
    // Same name again: the existing volume, unchanged.
    assert.deepEqual(await v.create({ Name: 'alpha' }), a);
    const anon = await v.create({});
    assert.match(anon.Name, /^[0-9a-f]{64}$/);
    assert.deepEqual(anon.Labels, { [anonymousLabel]: '' });
    await fs.writeFile(path.join(a.Mountpoint, 'f'), 'data');

    const again = await newVolumeService({ root });
    assert.deepEqual(await again.get('alpha'), a);
    assert.deepEqual(
      (await again.list({})).map((x) => x.Name),
      ['alpha', anon.Name].sort(),
    );
    const [usage] = (await again.usage()).filter((x) => x.Name === 'alpha');
    assert.deepEqual(usage?.UsageData, { Size: 4, RefCount: 0 });
    await again.remove('alpha', { force: false });
    await assert.rejects(again.get('alpha'), NotFoundError);
    await assert.rejects(fs.stat(path.join(root, 'alpha')));
    await assert.rejects(again.remove('alpha', { force: false }), {
      message: 'get alpha: no such volume',
    });
    await again.remove('alpha', { force: true });
  });
});

test('in use: remove refuses even with force, prune skips, release frees', async () => {
  await withRoot(async (root) => {
    const v = await newVolumeService({ root });
    await v.create({ Name: 'used' });
    const anon = await v.create({});
    v.reference('used', 'c1');
    v.reference('used', 'c2');
    v.reference(anon.Name, 'c1');
    assert.throws(() => v.reference('nope', 'c1'), NotFoundError);
    await assert.rejects(v.remove('used', { force: true }), (err: unknown) => {
      assert.ok(err instanceof ConflictError);
      assert.equal(err.message, 'remove used: volume is in use - [c1, c2]');
      return true;
    });
    assert.deepEqual(
      (await v.list({ dangling: ['true'] })).map((x) => x.Name),
      [],
    );
    assert.deepEqual((await v.prune({ all: ['true'] })).VolumesDeleted, []);
    v.release(anon.Name, 'c1');
    v.release('used', 'c1');
    assert.deepEqual(v.users('used'), ['c2']);
    // Anonymous only by default.
    assert.deepEqual((await v.prune({})).VolumesDeleted, [anon.Name]);
    v.release('used', 'c2');
    assert.deepEqual((await v.prune({})).VolumesDeleted, []);
    assert.deepEqual((await v.prune({ all: ['1'] })).VolumesDeleted, ['used']);
  });
});

test('bad input changes nothing', async () => {
  await withRoot(async (root) => {
    const v = await newVolumeService({ root });
    await assert.rejects(v.create({ Name: 'a' }), InvalidArgumentError);
    await assert.rejects(v.create({ Name: 'ok', DriverOpts: { bogus: '1' } }), {
      message: 'create ok: invalid option: "bogus"',
    });
    await assert.rejects(v.create({ Name: 'ok', Driver: 'other' }), NotFoundError);
    assert.deepEqual(await fs.readdir(root), []);
  });
});

test('a crash before the record is written leaves nothing after the next start', async () => {
  await withRoot(async (root) => {
    // What a crash between mkdir and the record's rename leaves: the directory and a temp file.
    await fs.mkdir(path.join(root, 'half', '_data'), { recursive: true });
    await fs.writeFile(path.join(root, 'half', '.tmp-volume.json-abc'), '{');
    const v = await newVolumeService({ root });
    assert.deepEqual(await v.list({}), []);
    assert.deepEqual(await fs.readdir(root), []);
  });
});
