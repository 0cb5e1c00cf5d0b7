import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { IdShift } from '../archive/archive.js';
import { rootPair, toHostIds, type IdMap } from '../idmap/idmap.js';

/**
 * The data root of a remapped daemon, `<dataRoot>/<uid>.<gid>` of the mapped root, made 0710
 * and owned by root with the mapped root's group, so that the container's root can reach its
 * layers and nobody else on the host can.
 */
export async function remappedRoot(dataRoot: string, idMap: IdMap): Promise<string> {
  const root = rootPair(idMap);
  const dir = path.join(dataRoot, `${root.uid}.${root.gid}`);
  await fs.mkdir(dir, { recursive: true, mode: 0o710 });
  await fs.chown(dir, 0, root.gid);
  await fs.chmod(dir, 0o710);
  return dir;
}

/** Layer owners shifted into the mapping; an id outside it refuses the layer. */
export function idShift(idMap: IdMap): IdShift {
  return toHostIds(idMap);
}
