import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, errnoCode } from '../errors/index.js';

const maxLinks = 255;

/**
 * The host path of `p` inside `root`, with every symlink on the way followed as if `root` were
 * `/` (absolute targets restart at root, `..` stops at root), in the manner of containerd's
 * fs.RootPath. The result is always `root` or below it. Components that do not exist are kept
 * as they are; the last component is followed like the others.
 */
export async function resolveInRoot(root: string, p: string): Promise<string> {
  const base = path.resolve(root);
  let pending = components(p);
  let resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const c = pending.shift() as string;
    if (c === '..') {
      resolved.pop();
      continue;
    }
    const candidate = path.join(base, ...resolved, c);
    let target: string | undefined;
    try {
      const st = await fs.lstat(candidate);
      if (st.isSymbolicLink()) target = await fs.readlink(candidate);
    } catch (err: unknown) {
      const code = errnoCode(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
    if (target === undefined) {
      resolved.push(c);
      continue;
    }
    if (++links > maxLinks) {
      throw new InvalidArgumentError(`too many levels of symbolic links in ${JSON.stringify(p)}`);
    }
    if (target.startsWith('/')) resolved = [];
    pending = [...components(target), ...pending];
  }
  return path.join(base, ...resolved);
}

/** Like {@link resolveInRoot}, but the last component is not followed: for creating it. */
export async function resolveParentInRoot(root: string, p: string): Promise<string> {
  const parts = components(p);
  const last = parts.pop();
  const dir = await resolveInRoot(root, parts.join('/'));
  if (last === undefined) return dir;
  if (last === '..') return resolveInRoot(root, p);
  return path.join(dir, last);
}

function components(p: string): string[] {
  return p.split('/').filter((c) => c !== '' && c !== '.');
}
