import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isMountPoint, mountAll, unmount, unmountAll } from './mount-linux.js';

describe('mount-linux', () => {
  let dir = '';
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-mount-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function mkdirs(...names: string[]): Promise<string[]> {
    const made = names.map((n) => path.join(dir, n));
    for (const p of made) await fs.mkdir(p, { recursive: true });
    return made;
  }

  it('bind mounts read-write and read-only', async () => {
    const [src, rw, ro] = (await mkdirs('bsrc', 'brw', 'bro')) as [string, string, string];
    await fs.writeFile(path.join(src, 'f'), 'x');
    await mountAll([{ type: 'bind', source: src, options: ['rbind'] }], rw);
    await mountAll([{ type: 'bind', source: src, options: ['rbind', 'ro'] }], ro);
    try {
      assert.equal(await isMountPoint(rw), true);
      assert.equal(await fs.readFile(path.join(ro, 'f'), 'utf8'), 'x');
      await fs.writeFile(path.join(rw, 'g'), 'y');
      assert.equal(await fs.readFile(path.join(src, 'g'), 'utf8'), 'y');
      await assert.rejects(fs.writeFile(path.join(ro, 'h'), 'z'), { code: 'EROFS' });
    } finally {
      await unmount(rw);
      await unmount(ro);
    }
    assert.equal(await isMountPoint(rw), false);
    assert.equal(await isMountPoint(ro), false);
  });

  it('mounts tmpfs and unmounts stacked mounts with unmountAll', async () => {
    const [t] = (await mkdirs('tmpfs')) as [string];
    await mountAll(
      [
        { type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=0755'] },
        { type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] },
      ],
      t,
    );
    await fs.writeFile(path.join(t, 'top'), 'x');
    await unmount(t);
    await assert.rejects(fs.stat(path.join(t, 'top')), { code: 'ENOENT' });
    assert.equal(await isMountPoint(t), true);
    await unmountAll(t);
    assert.equal(await isMountPoint(t), false);
  });

  it('treats unmounting what is not mounted as done', async () => {
    const [plain] = (await mkdirs('plain')) as [string];
    await unmount(plain);
    await unmount(path.join(dir, 'absent'));
    await unmountAll(plain);
    assert.equal(await isMountPoint(path.join(dir, 'absent')), false);
  });

  it('mounts an overlay of 130 lower layers past the page limit on mount data', async () => {
    const layers = path.join(dir, 'a-rather-long-directory-name-for-layers', 'snapshots');
    const lowers: string[] = [];
    for (let i = 0; i < 130; i++) {
      const l = path.join(layers, String(i), 'fs');
      await fs.mkdir(l, { recursive: true });
      await fs.writeFile(path.join(l, `layer-${i}`), String(i));
      lowers.push(l);
    }
    await fs.writeFile(path.join(lowers[0] as string, 'shadowed'), 'top');
    await fs.writeFile(path.join(lowers[129] as string, 'shadowed'), 'bottom');
    const [upper, work, merged] = (await mkdirs(
      'a-rather-long-directory-name-for-layers/snapshots/up/fs',
      'a-rather-long-directory-name-for-layers/snapshots/up/work',
      'merged',
    )) as [string, string, string];
    const options = [`lowerdir=${lowers.join(':')}`, `upperdir=${upper}`, `workdir=${work}`];
    assert.ok(options.join(',').length > 4096);
    const cwd = process.cwd();
    await mountAll([{ type: 'overlay', source: 'overlay', options }], merged);
    try {
      assert.equal(process.cwd(), cwd);
      assert.equal(await fs.readFile(path.join(merged, 'layer-129'), 'utf8'), '129');
      assert.equal(await fs.readFile(path.join(merged, 'layer-0'), 'utf8'), '0');
      assert.equal(await fs.readFile(path.join(merged, 'shadowed'), 'utf8'), 'top');
      await fs.writeFile(path.join(merged, 'new'), 'n');
      assert.equal(await fs.readFile(path.join(upper, 'new'), 'utf8'), 'n');
    } finally {
      await unmount(merged);
    }
    assert.equal(await isMountPoint(merged), false);
  });

  it('unmounts what it mounted when a later mount fails', async () => {
    const [src, t] = (await mkdirs('fsrc', 'ftarget')) as [string, string];
    await assert.rejects(
      mountAll(
        [
          { type: 'bind', source: src, options: ['rbind'] },
          { type: 'bind', source: path.join(dir, 'does-not-exist'), options: ['rbind'] },
        ],
        t,
      ),
      { code: 'ENOENT' },
    );
    assert.equal(await isMountPoint(t), false);
  });
});
