import { promises as fs, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors/index.js';
import type { Change, ChangesOptions } from './archive.js';
import { resolveInRoot } from './root-path.js';
import { byteOrder, isOpaque, isWhiteout } from './tar-tree.js';

/**
 * The changes in an overlay upper directory, as `docker diff` reports them (moby's overlay
 * changes walk): a whiteout is a deletion; anything else is a modification when the path
 * exists in `lower` (the image's merged tree) and an addition otherwise; a directory present
 * in both with the same size, mode and mtime is not listed for itself; the parent of an
 * addition or deletion is listed as modified unless it already was. An opaque directory that
 * replaces one of the lower tree is reported as deleted, its new contents as added.
 */
export async function changes(options: ChangesOptions & { lower?: string }): Promise<Change[]> {
  const upper = path.resolve(options.upperDir);
  const lower = options.lower === undefined ? undefined : path.resolve(options.lower);
  const out: Change[] = [];
  const changedDirs = new Set<string>();

  const lowerStat = async (p: string): Promise<BigIntStats | undefined> => {
    if (lower === undefined) return undefined;
    const dir = await resolveInRoot(lower, path.posix.dirname(p));
    try {
      return await fs.lstat(path.join(dir, path.posix.basename(p)), { bigint: true });
    } catch (err: unknown) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
  };

  const walk = async (dir: string, rel: string): Promise<void> => {
    const names = (await fs.readdir(dir)).sort(byteOrder);
    for (const name of names) {
      const p = `${rel}/${name}`;
      const file = path.join(dir, name);
      const st = await fs.lstat(file, { bigint: true });
      const lst = await lowerStat(p);
      let kind: Change['Kind'];
      if (isWhiteout(st) || (st.isDirectory() && lst !== undefined && isOpaque(file))) {
        kind = 2;
      } else if (lst === undefined) {
        kind = 1;
      } else if (st.isDirectory() && lst.isDirectory() && sameDir(st, lst)) {
        kind = -1 as Change['Kind'];
      } else {
        kind = 0;
      }
      if (kind !== (-1 as number)) {
        if (st.isDirectory()) changedDirs.add(p);
        if (kind === 1 || kind === 2) {
          const parent = rel === '' ? '/' : rel;
          if (parent !== '/' && !changedDirs.has(parent)) {
            out.push({ Path: parent, Kind: 0 });
            changedDirs.add(parent);
          }
        }
        out.push({ Path: p, Kind: kind });
      }
      if (st.isDirectory()) await walk(file, p);
    }
  };

  await walk(upper, '');
  return out;
}

function sameDir(a: BigIntStats, b: BigIntStats): boolean {
  if (a.size !== b.size || a.mode !== b.mode) return false;
  if (a.mtimeNs === b.mtimeNs) return true;
  // As moby's sameFsTime: equal seconds count when either side has no sub-second part.
  const sec = 1_000_000_000n;
  return a.mtimeNs / sec === b.mtimeNs / sec && (a.mtimeNs % sec === 0n || b.mtimeNs % sec === 0n);
}
