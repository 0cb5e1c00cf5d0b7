import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../errors/index.js';
import type { Mount } from '../mount/mount.js';
import { mountAll, unmountAll } from '../mount/mount-linux.js';
import type { Snapshotter } from './snapshotter.js';

/**
 * The conformance suite every snapshotter passes, with real mounts (needs root). `open` makes
 * or reopens a snapshotter on `root`.
 */
export function snapshotterSuite(name: string, open: (root: string) => Promise<Snapshotter>): void {
  interface Ctx {
    root: string;
    sn: Snapshotter;
    /** Mounts `mounts` on a fresh directory, runs fn, unmounts. */
    withMounted: <T>(mounts: Mount[], fn: (dir: string) => Promise<T>) => Promise<T>;
  }

  const withSnapshotter = (fn: (ctx: Ctx) => Promise<void>) => async () => {
    const base = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-snap-'));
    const root = path.join(base, 'root');
    const targets: string[] = [];
    const sn = await open(root);
    let n = 0;
    const withMounted = async <T>(
      mounts: Mount[],
      inner: (dir: string) => Promise<T>,
    ): Promise<T> => {
      const target = path.join(base, `m${n++}`);
      await fs.mkdir(target);
      targets.push(target);
      await mountAll(mounts, target);
      try {
        return await inner(target);
      } finally {
        await unmountAll(target);
      }
    };
    try {
      await fn({ root, sn, withMounted });
    } finally {
      await sn.close();
      for (const t of targets) await unmountAll(t, { detach: true });
      await fs.rm(base, { recursive: true, force: true });
    }
  };

  const read = (dir: string, p: string): Promise<string> => fs.readFile(path.join(dir, p), 'utf8');
  const exists = async (p: string): Promise<boolean> => {
    try {
      await fs.lstat(p);
      return true;
    } catch {
      return false;
    }
  };

  describe(`snapshotter conformance: ${name}`, () => {
    it(
      'prepares, writes and commits a base layer',
      withSnapshotter(async ({ sn, withMounted }) => {
        const mounts = await sn.prepare('base-active', undefined, { labels: { a: 'b' } });
        await withMounted(mounts, async (dir) => {
          await fs.mkdir(path.join(dir, 'etc'));
          await fs.writeFile(path.join(dir, 'etc', 'hostname'), 'base');
        });
        assert.deepEqual(await sn.mounts('base-active'), mounts);
        assert.equal((await sn.stat('base-active')).kind, 'active');
        assert.equal((await sn.stat('base-active')).labels.a, 'b');
        assert.ok(await sn.upperDir('base-active'));
        await sn.commit('base', 'base-active');
        await assert.rejects(sn.stat('base-active'), NotFoundError);
        const info = await sn.stat('base');
        assert.equal(info.kind, 'committed');
        assert.equal(info.parent, undefined);
        assert.equal(await sn.upperDir('base'), undefined);
        await assert.rejects(sn.mounts('base'), InvalidArgumentError);
        assert.deepEqual(
          (await sn.walk()).map((i) => [i.key, i.kind]),
          [['base', 'committed']],
        );
      }),
    );

    it(
      'stacks layers; deletions in an upper layer hide lower files',
      withSnapshotter(async ({ sn, withMounted }) => {
        await withMounted(await sn.prepare('l1-a'), async (dir) => {
          await fs.mkdir(path.join(dir, 'd'));
          await fs.writeFile(path.join(dir, 'd', 'keep'), 'keep');
          await fs.writeFile(path.join(dir, 'd', 'gone'), 'gone');
          await fs.mkdir(path.join(dir, 'olddir'));
          await fs.writeFile(path.join(dir, 'olddir', 'x'), 'x');
          await fs.writeFile(path.join(dir, 'changed'), 'v1');
        });
        await sn.commit('l1', 'l1-a');
        await withMounted(await sn.prepare('l2-a', 'l1'), async (dir) => {
          assert.equal(await read(dir, 'd/keep'), 'keep');
          await fs.rm(path.join(dir, 'd', 'gone'));
          await fs.rm(path.join(dir, 'olddir'), { recursive: true });
          await fs.mkdir(path.join(dir, 'olddir'));
          await fs.writeFile(path.join(dir, 'olddir', 'y'), 'y');
          await fs.writeFile(path.join(dir, 'changed'), 'v2');
        });
        await sn.commit('l2', 'l2-a', { labels: { layer: '2' } });
        assert.equal((await sn.stat('l2')).parent, 'l1');
        assert.equal((await sn.stat('l2')).labels.layer, '2');
        await withMounted(await sn.prepare('top', 'l2'), async (dir) => {
          assert.equal(await read(dir, 'd/keep'), 'keep');
          assert.equal(await exists(path.join(dir, 'd', 'gone')), false);
          assert.deepEqual(await fs.readdir(path.join(dir, 'olddir')), ['y']);
          assert.equal(await read(dir, 'changed'), 'v2');
          await fs.writeFile(path.join(dir, 'new'), 'n');
        });
        const upper = await sn.upperDir('top');
        assert.ok(upper);
        assert.equal(await read(upper, 'new'), 'n');
        // The committed layers are untouched by writes above them.
        await withMounted(await sn.view('v1', 'l1'), async (dir) => {
          assert.equal(await read(dir, 'd/gone'), 'gone');
          assert.equal(await read(dir, 'changed'), 'v1');
        });
      }),
    );

    it(
      'gives read-only views',
      withSnapshotter(async ({ sn, withMounted }) => {
        await withMounted(await sn.prepare('a'), (dir) => fs.writeFile(path.join(dir, 'a'), 'a'));
        await sn.commit('A', 'a');
        await withMounted(await sn.prepare('b', 'A'), (dir) =>
          fs.writeFile(path.join(dir, 'b'), 'b'),
        );
        await sn.commit('B', 'b');
        for (const [key, parent] of [
          ['view-A', 'A'],
          ['view-B', 'B'],
        ] as const) {
          const mounts = await sn.view(key, parent);
          assert.equal((await sn.stat(key)).kind, 'view');
          assert.equal(await sn.upperDir(key), undefined);
          await withMounted(mounts, async (dir) => {
            assert.equal(await read(dir, 'a'), 'a');
            await assert.rejects(fs.writeFile(path.join(dir, 'c'), 'c'), { code: 'EROFS' });
          });
        }
        await withMounted(await sn.mounts('view-B'), async (dir) => {
          assert.equal(await read(dir, 'b'), 'b');
        });
        await withMounted(await sn.view('empty-view'), async (dir) => {
          assert.deepEqual(await fs.readdir(dir), []);
        });
        await assert.rejects(sn.commit('C', 'view-A'), InvalidArgumentError);
      }),
    );

    it(
      'enforces keys, parents and removal rules',
      withSnapshotter(async ({ sn }) => {
        await sn.prepare('a');
        await assert.rejects(sn.prepare('a'), ConflictError);
        await assert.rejects(sn.view('a'), ConflictError);
        await assert.rejects(sn.prepare('b', 'missing'), NotFoundError);
        await assert.rejects(sn.prepare('b', 'a'), InvalidArgumentError);
        await sn.commit('A', 'a');
        await sn.prepare('x');
        await assert.rejects(sn.commit('A', 'x'), ConflictError);
        await assert.rejects(sn.commit('Y', 'nothing'), NotFoundError);
        await sn.prepare('child', 'A');
        await sn.view('view', 'A');
        await assert.rejects(sn.remove('A'), ConflictError);
        await sn.remove('child');
        await assert.rejects(sn.remove('A'), ConflictError);
        await sn.remove('view');
        await sn.remove('A');
        await sn.remove('x');
        await assert.rejects(sn.remove('A'), NotFoundError);
        await assert.rejects(sn.stat('A'), NotFoundError);
        await assert.rejects(sn.usage('A'), NotFoundError);
        assert.deepEqual(await sn.walk(), []);
      }),
    );

    it(
      'measures usage of a layer, counting hard links once',
      withSnapshotter(async ({ sn }) => {
        await sn.prepare('u');
        const upper = await sn.upperDir('u');
        assert.ok(upper);
        const before = await sn.usage('u');
        await fs.writeFile(path.join(upper, 'f'), Buffer.alloc(1000));
        await fs.link(path.join(upper, 'f'), path.join(upper, 'g'));
        await fs.mkdir(path.join(upper, 'd'));
        await fs.writeFile(path.join(upper, 'd', 'h'), Buffer.alloc(24));
        const after = await sn.usage('u');
        assert.equal(after.size - before.size, 1024);
        assert.equal(after.inodes - before.inodes, 3);
      }),
    );

    it(
      'keeps its records across a reopen and sweeps crash leftovers',
      withSnapshotter(async ({ root, sn }) => {
        await sn.prepare('a', undefined, { labels: { k: 'v' } });
        await sn.commit('A', 'a');
        await sn.prepare('b', 'A');
        await sn.view('c', 'A');
        await sn.prepare('gone');
        await sn.remove('gone');
        const before = await sn.walk();
        // What a crash inside prepare (a directory, no record yet) or inside remove (the record
        // gone, the directory not yet) leaves, and a half-written record.
        const strayDir = path.join(root, 'snapshots', '9999');
        await fs.mkdir(path.join(strayDir, 'fs', 'deep'), { recursive: true });
        await fs.writeFile(path.join(strayDir, 'fs', 'deep', 'file'), 'x');
        await fs.writeFile(path.join(root, 'records', '.tmp-12.json-abc'), '{"id":');
        await sn.close();
        const again = await open(root);
        try {
          assert.deepEqual(await again.walk(), before);
          assert.equal(await exists(strayDir), false);
          assert.equal(await exists(path.join(root, 'records', '.tmp-12.json-abc')), false);
          assert.equal((await again.stat('A')).labels.k, 'v');
          await again.prepare('d', 'A');
          assert.equal((await again.stat('d')).parent, 'A');
        } finally {
          await again.close();
        }
      }),
    );

    it(
      'mounts a chain of 130 layers and reads the bottom one',
      withSnapshotter(async ({ sn, withMounted }) => {
        let parent: string | undefined;
        for (let i = 0; i < 130; i++) {
          await sn.prepare(`active-${i}`, parent);
          const upper = await sn.upperDir(`active-${i}`);
          assert.ok(upper);
          await fs.writeFile(path.join(upper, `layer-${i}`), String(i));
          await sn.commit(`layer-${i}`, `active-${i}`);
          parent = `layer-${i}`;
        }
        const check = async (dir: string): Promise<void> => {
          assert.equal(await read(dir, 'layer-0'), '0');
          assert.equal(await read(dir, 'layer-129'), '129');
          assert.equal((await fs.readdir(dir)).length, 130);
        };
        await withMounted(await sn.prepare('container', parent), async (dir) => {
          await check(dir);
          await fs.writeFile(path.join(dir, 'mine'), 'x');
        });
        await withMounted(await sn.view('deep-view', parent), check);
      }),
    );
  });
}
