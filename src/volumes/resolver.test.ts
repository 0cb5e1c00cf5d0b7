import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError, NotFoundError } from '../errors/index.js';
import type { MountPointRecord } from './mount-spec.js';
import { newMountResolver, type MountConfig } from './resolver.js';
import { newVolumeService } from './service.js';
import { anonymousLabel } from './volumes.js';

const none = async (ref: string): Promise<MountPointRecord[]> => {
  throw new NotFoundError(`No such container: ${ref}`);
};

function config(partial: Partial<MountConfig>): MountConfig {
  return { binds: [], mounts: [], volumes: [], volumesFrom: [], ...partial };
}

async function withStore(
  fn: (v: Awaited<ReturnType<typeof newVolumeService>>, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-resolver-'));
  try {
    await fn(await newVolumeService({ root: path.join(dir, 'volumes') }), dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('resolve creates named and anonymous volumes and references them', async () => {
  await withStore(async (volumes, dir) => {
    const r = newMountResolver(volumes);
    const mounts = await r.resolve(
      'c1',
      config({ binds: ['data:/data', `${dir}:/h:ro`], volumes: ['/anon'] }),
      none,
    );
    assert.deepEqual(
      mounts.map((m) => [m.Type, m.Destination, m.Mode, m.RW]),
      [
        ['volume', '/anon', '', true],
        ['volume', '/data', 'z', true],
        ['bind', '/h', 'ro', false],
      ],
    );
    const anon = mounts[0]?.Name ?? '';
    assert.match(anon, /^[0-9a-f]{64}$/);
    assert.equal(mounts[0]?.Source, path.join(dir, 'volumes', anon, '_data'));
    assert.deepEqual((await volumes.get(anon)).Labels, { [anonymousLabel]: '' });
    assert.deepEqual(volumes.users('data'), ['c1']);
    // A second container shares the named volume; removing the first with its anonymous
    // volumes leaves the named one, still used by the second.
    const other = await r.resolve('c2', config({ volumesFrom: ['c1:ro'] }), async () => mounts);
    assert.ok(other.every((m) => !m.RW && m.Mode === ''));
    await r.release('c1', mounts, { removeAnonymous: true });
    assert.deepEqual(volumes.users('data'), ['c2']);
    // The anonymous volume is c2's too now: kept.
    assert.equal((await volumes.get(anon)).Name, anon);
    await r.release('c2', other, { removeAnonymous: true });
    await assert.rejects(volumes.get(anon), NotFoundError);
    assert.equal((await volumes.get('data')).Name, 'data');
  });
});

test('bad input creates nothing', async () => {
  await withStore(async (volumes) => {
    const r = newMountResolver(volumes);
    const cases: [MountConfig, RegExp][] = [
      [config({ binds: ['ok1:/a', 'a#b:/b'] }), /includes invalid characters/],
      [
        config({
          binds: ['ok1:/a'],
          volumes: ['/x'],
          mounts: [{ Type: 'bind', Source: '/nonexistent-berth', Target: '/m' }],
        }),
        /bind source path does not exist: \/nonexistent-berth/,
      ],
      [config({ binds: ['ok1:/a', 'ok2:/a'] }), /Duplicate mount point: \/a/],
      [config({ binds: ['ok1:/a'], volumesFrom: ['ghost'] }), /No such container: ghost/],
      [
        config({
          mounts: [
            {
              Type: 'volume',
              Source: 'ok1',
              Target: '/a',
              VolumeOptions: { DriverConfig: { Options: { bogus: '1' } } },
            },
          ],
        }),
        /invalid option: "bogus"/,
      ],
    ];
    for (const [c, message] of cases) {
      await assert.rejects(r.resolve('c1', c, none), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, String(err));
        assert.match(err.message, message);
        return true;
      });
    }
    assert.deepEqual(await volumes.list({}), []);
  });
});
