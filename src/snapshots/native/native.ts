import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Mount } from '../../mount/mount.js';
import { run } from '../../util/exec.js';
import { openLayered, type LayerDriver } from '../layered.js';
import type { Snapshotter } from '../snapshotter.js';

/**
 * The copying snapshotter, for filesystems without overlayfs: each active snapshot is a full
 * copy of its parent's tree (reflinked where the filesystem can), mounted by a bind mount.
 */
export async function newNativeSnapshotter(root: string): Promise<Snapshotter> {
  return openLayered(root, nativeDriver);
}

const nativeDriver: LayerDriver = {
  async prepare(dir, kind, chain) {
    const fsDir = path.join(dir, 'fs');
    await fs.mkdir(fsDir, { mode: 0o755 });
    const [parent] = chain;
    // A view binds its parent's tree read-only; only a writable snapshot needs its own copy.
    if (kind === 'active' && parent !== undefined) {
      await run('cp', ['-a', '--reflink=auto', `${parent}/.`, fsDir]);
    }
  },
  mounts(dir, kind, chain): Mount[] {
    const fsDir = path.join(dir, 'fs');
    if (kind === 'active') return [{ type: 'bind', source: fsDir, options: ['rbind', 'rw'] }];
    return [{ type: 'bind', source: chain[0] ?? fsDir, options: ['rbind', 'ro'] }];
  },
  async commit() {
    // The tree is already complete: it becomes the committed layer as it is.
  },
};
