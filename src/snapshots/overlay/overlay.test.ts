import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { snapshotterSuite } from '../testsuite.js';
import { newOverlaySnapshotter, overlaySupported } from './overlay.js';

snapshotterSuite('overlay', newOverlaySnapshotter);

it('detects overlay support and leaves nothing behind', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-ovl-check-'));
  try {
    assert.equal(await overlaySupported(root), true);
    assert.deepEqual(await fs.readdir(root), []);
  } finally {
    await fs.rm(root, { recursive: true, force: true });
  }
});

it('writes overlay whiteouts into the upper dir of an active snapshot', async () => {
  const base = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-ovl-'));
  const { mountAll, unmountAll } = await import('../../mount/mount-linux.js');
  const sn = await newOverlaySnapshotter(path.join(base, 'root'));
  const target = path.join(base, 'mnt');
  await fs.mkdir(target);
  try {
    await mountAll(await sn.prepare('a'), target);
    await fs.writeFile(path.join(target, 'f'), 'x');
    await unmountAll(target);
    await sn.commit('A', 'a');
    await mountAll(await sn.prepare('b', 'A'), target);
    await fs.rm(path.join(target, 'f'));
    await unmountAll(target);
    const upper = await sn.upperDir('b');
    assert.ok(upper);
    const st = await fs.lstat(path.join(upper, 'f'));
    assert.ok(st.isCharacterDevice());
    assert.equal(st.rdev, 0);
  } finally {
    await unmountAll(target, { detach: true });
    await sn.close();
    await fs.rm(base, { recursive: true, force: true });
  }
});
