import { promises as fs, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { InvalidArgumentError, errnoCode } from '../errors/index.js';
import { native } from '../util/native.js';
import type { ChangesOptions, IdShift } from './archive.js';
import { encodeHeader, endOfArchive, padding, type TarHeader } from './tar-write.js';

export interface TarTreeOptions {
  /**
   * Paths relative to the root to put in the tar, each with everything below it ('.' is the
   * root itself, as an entry). Without it, the root's contents, and no entry for the root.
   */
  include?: string[];
  /** With one `include`, the name that path has in the tar (its subtree follows it). */
  rebaseTo?: string;
  /** Maps the owners on disk to those written in the tar (host ids → container ids). */
  ids?: IdShift;
}

interface Walk {
  /** First name of each inode seen with more than one link, by `dev:ino`. */
  links: Map<string, string>;
  ids: IdShift | undefined;
}

/**
 * A tar of a directory tree, in a fixed order (names sorted bytewise), with owners, modes,
 * mtimes, symlinks, devices, fifos, hard links (by inode) and the security.capability
 * attribute. Sockets are left out, as Docker does.
 */
export function tarTree(root: string, options: TarTreeOptions = {}): Readable {
  if (options.rebaseTo !== undefined && options.include?.length !== 1) {
    throw new InvalidArgumentError('rebaseTo needs exactly one include path');
  }
  return Readable.from(walkTree(path.resolve(root), options, false), { objectMode: false });
}

/**
 * A tar of an overlay upper directory as an OCI layer: overlay whiteouts (0/0 character
 * devices) become `.wh.<name>` entries and opaque directories get a `.wh..wh..opq` entry.
 */
export function diffTar(options: ChangesOptions & { ids?: IdShift }): Readable {
  const tree: TarTreeOptions = options.ids ? { ids: options.ids } : {};
  return Readable.from(walkTree(path.resolve(options.upperDir), tree, true), {
    objectMode: false,
  });
}

/** Whether a stat is an overlay whiteout: a character device numbered 0/0. */
export function isWhiteout(st: BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

export function isOpaque(file: string): boolean {
  const v = native().lgetxattr(file, 'trusted.overlay.opaque');
  return v !== null && v.length === 1 && v[0] === 0x79;
}

export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function major(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn));
}

function minor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn));
}

async function* walkTree(
  root: string,
  options: TarTreeOptions,
  overlay: boolean,
): AsyncGenerator<Buffer> {
  const walk: Walk = { links: new Map(), ids: options.ids };
  if (!options.include) {
    yield* children(root, '', overlay, walk);
  } else {
    for (const inc of options.include) {
      const rel = path.posix.normalize(inc).replace(/\/+$/, '');
      if (rel.startsWith('../') || rel === '..' || rel.startsWith('/')) {
        throw new InvalidArgumentError(`include path ${JSON.stringify(inc)} is outside the root`);
      }
      yield* visit(path.join(root, rel), options.rebaseTo ?? rel, overlay, walk);
    }
  }
  yield endOfArchive;
}

async function* children(
  dir: string,
  prefix: string,
  overlay: boolean,
  walk: Walk,
): AsyncGenerator<Buffer> {
  const names = (await fs.readdir(dir)).sort(byteOrder);
  for (const n of names) {
    yield* visit(path.join(dir, n), prefix === '' ? n : `${prefix}/${n}`, overlay, walk);
  }
}

async function* visit(
  file: string,
  name: string,
  overlay: boolean,
  walk: Walk,
): AsyncGenerator<Buffer> {
  let st: BigIntStats;
  try {
    st = await fs.lstat(file, { bigint: true });
  } catch (err: unknown) {
    // Gone between readdir and lstat: a tree being written to, like a running container's.
    if (errnoCode(err) === 'ENOENT') return;
    throw err;
  }
  const base: TarHeader = {
    name,
    type: 'file',
    mode: Number(st.mode & 0o7777n),
    ...(walk.ids
      ? walk.ids(Number(st.uid), Number(st.gid))
      : { uid: Number(st.uid), gid: Number(st.gid) }),
    size: 0,
    mtime: new Date(Number(st.mtimeMs)),
  };
  const dirName = path.posix.dirname(name);
  const inDir = dirName === '.' ? '' : `${dirName}/`;
  if (overlay && isWhiteout(st)) {
    yield encodeHeader({ ...base, name: `${inDir}.wh.${path.posix.basename(name)}`, mode: 0o600 });
    return;
  }
  if (st.isDirectory()) {
    yield encodeHeader({ ...base, type: 'directory' });
    if (overlay && isOpaque(file)) {
      yield encodeHeader({ ...base, name: `${name === '.' ? '' : `${name}/`}.wh..wh..opq` });
    }
    yield* children(file, name === '.' ? '.' : name, overlay, walk);
    return;
  }
  if (st.isSymbolicLink()) {
    yield encodeHeader({ ...base, type: 'symlink', linkname: await fs.readlink(file) });
    return;
  }
  if (st.isCharacterDevice() || st.isBlockDevice() || st.isFIFO()) {
    const type = st.isFIFO() ? 'fifo' : st.isBlockDevice() ? 'block-device' : 'character-device';
    yield encodeHeader({ ...base, type, devmajor: major(st.rdev), devminor: minor(st.rdev) });
    return;
  }
  if (!st.isFile()) return;
  if (st.nlink > 1n) {
    const id = `${st.dev}:${st.ino}`;
    const first = walk.links.get(id);
    if (first !== undefined) {
      yield encodeHeader({ ...base, type: 'link', linkname: first });
      return;
    }
    walk.links.set(id, name);
  }
  const header: TarHeader = { ...base, size: Number(st.size) };
  const cap = native().lgetxattr(file, 'security.capability');
  if (cap !== null) header.xattrs = new Map([['security.capability', cap]]);
  yield encodeHeader(header);
  yield* fileData(file, header.size);
}

async function* fileData(file: string, size: number): AsyncGenerator<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    let left = size;
    while (left > 0) {
      const buf = Buffer.alloc(Math.min(left, 1 << 20));
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      // A file that shrank while being read is padded with zeros, so the entry keeps its size.
      const chunk = bytesRead === 0 ? buf : buf.subarray(0, bytesRead);
      left -= chunk.length;
      yield chunk;
    }
  } finally {
    await handle.close();
  }
  yield padding(size);
}
