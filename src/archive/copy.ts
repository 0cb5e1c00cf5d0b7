import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { InvalidArgumentError, NotFoundError, errnoCode } from '../errors/index.js';
import { extract } from './apply.js';
import { resolveInRoot } from './root-path.js';
import { tarTree } from './tar-tree.js';
import type { IdShift } from './archive.js';

/**
 * The stat of a path for `docker cp` (the X-Docker-Container-Path-Stat header): `mode` is a Go
 * os.FileMode, as the docker CLI decodes it; `linkTarget` is a symlink's target fully resolved
 * inside the container.
 */
export interface ArchivePathStat {
  name: string;
  size: number;
  mode: number;
  mtime: string;
  linkTarget: string;
}

export interface CopyInOptions {
  /** Refuse to replace a directory with a non-directory, or the reverse. */
  noOverwriteDirNonDir: boolean;
  /** Owner for every extracted entry; without it the tar's uid/gid are kept. */
  chown?: { uid: number; gid: number };
  /** Maps the (container) owners of the tar to the ids written on disk, see ApplyOptions.ids. */
  ids?: IdShift;
  signal?: AbortSignal;
}

interface Resolved {
  /** The container path, absolute, with a trailing `/` or `/.` kept. */
  absPath: string;
  /** Host path: the parent resolved inside root, the last element as given (not followed). */
  hostPath: string;
  /** The last element, '' when the path ends in `/`. */
  basePart: string;
  dirHost: string;
}

/** Keeps the trailing separator or `/.` that path normalisation drops; they mean "follow". */
function preserveTrailing(cleaned: string, original: string): string {
  if ((original.endsWith('/.') || original === '.') && !cleaned.endsWith('/.')) {
    return cleaned === '/' ? '/.' : `${cleaned}/.`;
  }
  if (original.endsWith('/') && !cleaned.endsWith('/')) return `${cleaned}/`;
  return cleaned;
}

async function resolveForCopy(root: string, containerPath: string): Promise<Resolved> {
  const absPath = preserveTrailing(path.posix.join('/', containerPath), containerPath);
  const slash = absPath.lastIndexOf('/');
  const dirPart = absPath.slice(0, slash + 1);
  const basePart = absPath.slice(slash + 1);
  const dirHost = await resolveInRoot(root, dirPart);
  const hostPath = basePart === '' || basePart === '.' ? dirHost : path.join(dirHost, basePart);
  return { absPath, hostPath, basePart, dirHost };
}

const goMode = {
  dir: 0x80000000,
  symlink: 0x08000000,
  device: 0x04000000,
  namedPipe: 0x02000000,
  socket: 0x01000000,
  setuid: 0x00800000,
  setgid: 0x00400000,
  charDevice: 0x00200000,
  sticky: 0x00100000,
} as const;

function toGoMode(st: Stats): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m |= goMode.dir;
  else if (st.isSymbolicLink()) m |= goMode.symlink;
  else if (st.isFIFO()) m |= goMode.namedPipe;
  else if (st.isSocket()) m |= goMode.socket;
  else if (st.isCharacterDevice()) m |= goMode.device | goMode.charDevice;
  else if (st.isBlockDevice()) m |= goMode.device;
  if (st.mode & 0o4000) m |= goMode.setuid;
  if (st.mode & 0o2000) m |= goMode.setgid;
  if (st.mode & 0o1000) m |= goMode.sticky;
  return m >>> 0;
}

async function lstatFor(file: string, containerPath: string, trailing: boolean): Promise<Stats> {
  try {
    const st = await fs.lstat(trailing ? `${file}/` : file);
    return st;
  } catch (err: unknown) {
    const code = errnoCode(err);
    if (code === 'ENOENT')
      throw new NotFoundError(`Could not find the file ${containerPath} in container`, {
        cause: err,
      });
    if (code === 'ENOTDIR')
      throw new InvalidArgumentError(`not a directory: ${containerPath}`, { cause: err });
    throw err;
  }
}

/** `HEAD /containers/{id}/archive`: the stat of a path in the tree at `root`. */
export async function statPath(root: string, containerPath: string): Promise<ArchivePathStat> {
  const absRoot = path.resolve(root);
  const r = await resolveForCopy(absRoot, containerPath);
  const st = await lstatFor(r.hostPath, containerPath, r.basePart === '');
  let linkTarget = '';
  if (st.isSymbolicLink()) {
    const target = await resolveInRoot(absRoot, r.absPath);
    linkTarget = path.posix.join('/', path.relative(absRoot, target));
  }
  return {
    name: r.absPath === '/' || r.absPath === '/.' ? '/' : path.posix.basename(r.absPath),
    size: st.size,
    mode: toGoMode(st),
    mtime: st.mtime.toISOString(),
    linkTarget,
  };
}

/**
 * `GET /containers/{id}/archive`: a tar of a path. The top entry is named after the path's last
 * element; a symlink there is copied as the link itself, unless the path ends in `/` or `/.`
 * (then it is followed). A directory path ending in `/.` gives its contents under `./`.
 */
export async function copyOut(
  root: string,
  containerPath: string,
  options: { ids?: IdShift } = {},
): Promise<{ stat: ArchivePathStat; tar: Readable }> {
  const ids = options.ids ? { ids: options.ids } : {};
  const absRoot = path.resolve(root);
  const stat = await statPath(absRoot, containerPath);
  const r = await resolveForCopy(absRoot, containerPath);
  if (r.basePart === '.') {
    return { stat, tar: tarTree(r.dirHost, { include: ['.'], rebaseTo: '.', ...ids }) };
  }
  if (r.hostPath === absRoot) {
    return { stat, tar: tarTree(absRoot, { include: ['.'], rebaseTo: '.', ...ids }) };
  }
  const rebaseTo = path.posix.basename(r.absPath);
  return {
    stat,
    tar: tarTree(path.dirname(r.hostPath), {
      include: [path.basename(r.hostPath)],
      rebaseTo,
      ...ids,
    }),
  };
}

/**
 * `PUT /containers/{id}/archive`: extracts a tar (plain or gzip) into directory `destDir` of
 * the tree at `root`. Entries are resolved inside root (symlinks as the container sees them)
 * and must stay below destDir.
 */
export async function copyIn(
  root: string,
  destDir: string,
  tarball: Readable,
  options: CopyInOptions,
): Promise<void> {
  const absRoot = path.resolve(root);
  const dest = await resolveInRoot(absRoot, destDir);
  let st: Stats;
  try {
    st = await fs.lstat(dest);
  } catch (err: unknown) {
    if (errnoCode(err) === 'ENOENT')
      throw new NotFoundError(`Could not find the file ${destDir} in container`, { cause: err });
    throw err;
  }
  if (!st.isDirectory()) throw new InvalidArgumentError('extraction point is not a directory');
  const base = path.relative(absRoot, dest);
  await extract(absRoot, tarball, {
    whiteouts: 'none',
    base: base === '' ? '.' : base,
    noOverwriteDirNonDir: options.noOverwriteDirNonDir,
    // The container may be running: its processes can change the tree while this writes.
    sharedRoot: true,
    ...(options.chown ? { chown: options.chown } : {}),
    ...(options.ids ? { ids: options.ids } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}
