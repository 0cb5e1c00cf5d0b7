import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Mount } from '../../mount/mount.js';
import { mountAll, unmount } from '../../mount/mount-linux.js';
import { openLayered, type LayerDriver } from '../layered.js';
import type { Snapshotter } from '../snapshotter.js';

/**
 * The overlayfs snapshotter: each snapshot's fs dir is one overlay layer; an active snapshot
 * mounts its parents' layers as lowerdirs under its own fs as upperdir.
 */
export async function newOverlaySnapshotter(root: string): Promise<Snapshotter> {
  return openLayered(root, overlayDriver);
}

// With an index, overlayfs ties each lower layer to the first upper dir mounted over it and
// refuses others; layers here are shared by many containers.
const indexOff = existsSync('/sys/module/overlay/parameters/index') ? ['index=off'] : [];

const overlayDriver: LayerDriver = {
  async prepare(dir, kind) {
    await fs.mkdir(path.join(dir, 'fs'), { mode: 0o755 });
    if (kind === 'active') await fs.mkdir(path.join(dir, 'work'), { mode: 0o700 });
  },
  mounts(dir, kind, chain): Mount[] {
    const fsDir = path.join(dir, 'fs');
    if (kind === 'active') {
      if (chain.length === 0) return [{ type: 'bind', source: fsDir, options: ['rbind', 'rw'] }];
      return [
        {
          type: 'overlay',
          source: 'overlay',
          options: [
            ...indexOff,
            `lowerdir=${chain.join(':')}`,
            `upperdir=${fsDir}`,
            `workdir=${path.join(dir, 'work')}`,
          ],
        },
      ];
    }
    const [only] = chain;
    if (chain.length <= 1)
      return [{ type: 'bind', source: only ?? fsDir, options: ['rbind', 'ro'] }];
    // Without an upperdir overlayfs is read-only, and needs two lowerdirs at least.
    return [
      { type: 'overlay', source: 'overlay', options: [...indexOff, `lowerdir=${chain.join(':')}`] },
    ];
  },
  async commit(dir) {
    const work = path.join(dir, 'work');
    await fs.rm(work, { recursive: true, force: true });
  },
};

/**
 * Whether overlayfs works on the filesystem of `root`: mounts a small overlay in a temporary
 * directory there and unmounts it again.
 */
export async function overlaySupported(root: string): Promise<boolean> {
  await fs.mkdir(root, { recursive: true });
  const dir = path.join(root, `.overlay-check-${randomBytes(6).toString('hex')}`);
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((n) =>
    path.join(dir, n),
  ) as [string, string, string, string];
  try {
    for (const d of [lower, upper, work, merged]) await fs.mkdir(d, { recursive: true });
    await fs.writeFile(path.join(lower, 'f'), 'x');
    try {
      await mountAll(
        [
          {
            type: 'overlay',
            source: 'overlay',
            options: [...indexOff, `lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`],
          },
        ],
        merged,
      );
    } catch {
      // Any failure (ENODEV without the module, EINVAL on a filesystem overlay refuses, EPERM
      // without privilege) means the same: no overlay here.
      return false;
    }
    try {
      return (await fs.readFile(path.join(merged, 'f'), 'utf8')) === 'x';
    } finally {
      await unmount(merged, { detach: true });
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
