import { constants as fsc, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import tar from 'tar-stream';
import { InvalidArgumentError, errnoCode, isNotFound } from '../errors/index.js';
import { native } from '../util/native.js';
import { peekStream } from '../util/peek.js';
import type { ApplyOptions, ApplyResult, IdShift } from './archive.js';
import { resolveInRoot } from './root-path.js';
import { TarScanner } from './tar-scan.js';

export interface ExtractOptions {
  /** 'none' writes `.wh.` entries as the plain files they are (for `cp`). */
  whiteouts: 'remove' | 'overlay' | 'none';
  /** The directory, relative to root, that entry names are relative to. */
  base?: string;
  /** Owner of every entry, instead of the tar headers' uid/gid. */
  chown?: { uid: number; gid: number };
  /** Applied to the owner of every entry (after `chown`), see ApplyOptions.ids. */
  ids?: IdShift;
  /** Refuse to replace a directory with a non-directory or the reverse. */
  noOverwriteDirNonDir?: boolean;
  /**
   * Something else may change paths under root meanwhile (a running container, for `cp`):
   * every entry is then resolved afresh and finished before the next, with nothing remembered
   * between entries, so that a directory swapped for a symlink is seen as one.
   */
  sharedRoot?: boolean;
  /** Told each entry's cleaned name (relative to root), type and link target, in tar order. */
  onEntry?: (entry: { name: string; type: string; linkname: string }) => void;
  signal?: AbortSignal;
}

/** Applies a layer tarball (plain or gzip) to `root`; see the contract in archive.ts. */
export async function applyLayer(
  root: string,
  tarball: Readable,
  options: ApplyOptions,
): Promise<ApplyResult> {
  const opts: ExtractOptions = { whiteouts: options.whiteouts };
  if (options.signal) opts.signal = options.signal;
  if (options.ids) opts.ids = options.ids;
  return extract(root, tarball, opts);
}

const whiteoutPrefix = '.wh.';
const opaqueWhiteout = '.wh..wh..opq';

/**
 * Streams the tar (decompressing gzip) into `root`, hashing the uncompressed bytes. Every
 * entry's parent is resolved inside root before anything is written.
 */
export async function extract(
  root: string,
  input: Readable,
  options: ExtractOptions,
): Promise<ApplyResult> {
  const absRoot = path.resolve(root);
  const { head, stream } = await peekStream(input, 6);
  const decompress = decompressorFor(head);
  const scanner = new TarScanner();
  const ex = tar.extract();
  const feed = pipeline(stream, decompress, scanner, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      if (ex.destroyed) throw new InvalidArgumentError('tar extraction stopped');
      if (!ex.write(chunk)) await drained(ex);
    }
    ex.end(null);
  }).catch((err: unknown) => {
    ex.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  });
  const state: ApplyState = {
    root: absRoot,
    options,
    added: new Set(),
    dirTimes: [],
    dirs: new Map(),
    fresh: new Set(),
    finishing: new Set(),
    creating: 0,
  };
  let index = 0;
  let contentSize = 0;
  try {
    for await (const entry of ex) {
      options.signal?.throwIfAborted();
      const xattrs = scanner.xattrs(index++);
      const h = entry.header;
      if (h.type === 'file' || h.type === 'contiguous-file') contentSize += h.size ?? 0;
      else if (h.type === 'symlink') contentSize += Buffer.byteLength(h.linkname ?? '');
      await applyEntry(state, h, entry, xattrs);
      for await (const _ of entry) {
        // Whatever an entry carries beyond what was used (a directory's data) is passed over.
      }
    }
    await feed;
    await settle(state);
  } catch (err: unknown) {
    stream.destroy();
    await feed.catch(() => undefined);
    // Nothing of this extraction is left running once it has failed.
    await settle(state).catch(() => undefined);
    throw wrapTarError(err);
  }
  for (const { file, mtime } of state.dirTimes.reverse()) {
    try {
      await fs.lutimes(file, mtime, mtime);
    } catch (err: unknown) {
      if (!isNotFound(err)) throw err;
    }
  }
  return { diffID: scanner.digest(), size: scanner.size, contentSize };
}

function wrapTarError(err: unknown): unknown {
  if (err instanceof InvalidArgumentError || (err instanceof Error && err.name === 'AbortError'))
    return err;
  // tar-stream's own errors ("Invalid tar header", "Unexpected end of data") are bad input.
  if (err instanceof Error && errnoCode(err) === undefined && !(err instanceof TypeError)) {
    return new InvalidArgumentError(`invalid tar stream: ${err.message}`, { cause: err });
  }
  return err;
}

interface ApplyState {
  root: string;
  options: ExtractOptions;
  /** Host paths this tar created, which an opaque whiteout keeps. */
  added: Set<string>;
  dirTimes: { file: string; mtime: Date }[];
  /**
   * Parent directories already resolved in this extraction, by their clean relative name:
   * each one exists as a directory and was reached through no symlink, so its host path is
   * root joined with the name. Only this extraction writes under root, and every removal of a
   * path drops the entries at or below it (see {@link removePath}), so an entry stays true.
   */
  dirs: Map<string, string>;
  /**
   * Directories this extraction created (host paths) that hold nothing it did not add: a
   * name in one of them that is not in `added` does not exist.
   */
  fresh: Set<string>;
  /** Metadata of entries still being set, see {@link finishLater}. */
  finishing: Set<Promise<void>>;
  /** Symlinks among those whose creation itself is still under way. */
  creating: number;
  failure?: { err: unknown };
}

/** Removes `target` (recursively) and forgets the resolved directories at or below it. */
async function removePath(state: ApplyState, target: string): Promise<void> {
  await settle(state);
  forgetDirs(state, target);
  await fs.rm(target, { recursive: true, force: true });
}

function forgetDirs(state: ApplyState, target: string): void {
  const under = target + path.sep;
  for (const [rel, dir] of state.dirs) {
    if (dir === target || dir.startsWith(under)) state.dirs.delete(rel);
  }
  for (const dir of state.fresh) {
    if (dir === target || dir.startsWith(under)) state.fresh.delete(dir);
  }
}

/**
 * The host directory of the parent `rel` of an entry, created (with missing parents) when
 * absent. Resolved inside root like every path; remembered when no symlink was followed.
 */
async function parentDirectory(state: ApplyState, rel: string): Promise<string> {
  const known = state.dirs.get(rel);
  if (known !== undefined) return known;
  // Resolving reads links on the way, which a symlink still being created would hide.
  if (state.creating > 0) await settle(state);
  const dir = await resolveInRoot(state.root, rel);
  const made = await mkdirParents(dir, state.options.ids);
  if (state.options.sharedRoot) return dir;
  if (made) state.fresh.add(dir);
  if (dir === path.join(state.root, rel)) state.dirs.set(rel, dir);
  return dir;
}

export interface Header {
  name: string;
  type?: string | null | undefined;
  mode?: number | undefined;
  uid?: number | undefined;
  gid?: number | undefined;
  mtime?: Date | undefined;
  linkname?: string | null | undefined;
  devmajor?: number | undefined;
  devminor?: number | undefined;
  /** tar-stream's decoded PAX records, for the numbers it does not apply itself. */
  pax?: unknown;
}

/** A number from the header's PAX records (`uid`, `gid`, `mtime`), when it has a valid one. */
export function paxNumber(header: Header, key: string): number | undefined {
  const pax = header.pax;
  if (typeof pax !== 'object' || pax === null) return undefined;
  const v = (pax as Record<string, unknown>)[key];
  if (typeof v !== 'string' || !/^[0-9]+(\.[0-9]+)?$/.test(v)) return undefined;
  return Number(v);
}

function refuse(name: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`tar entry ${JSON.stringify(name)}: ${why}`);
}

/** The entry name as a clean relative path ('' for the root itself), or a refusal. */
export function cleanName(name: string, what = 'path'): string {
  if (name.startsWith('/')) throw refuse(name, `absolute ${what} refused`);
  const n = path.posix.normalize(name).replace(/\/+$/, '');
  if (n === '.' || n === '') return '';
  if (n === '..' || n.startsWith('../')) throw refuse(name, `${what} escapes the root`);
  return n;
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(p);
  } catch (err: unknown) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

async function applyEntry(
  state: ApplyState,
  header: Header,
  body: AsyncIterable<unknown>,
  xattrs: Map<string, Buffer> | undefined,
): Promise<void> {
  const { root, options } = state;
  const rel = cleanName(header.name);
  const full = options.base ? cleanName(path.posix.join(options.base, rel || '.')) : rel;
  if (rel === '') return;
  options.onEntry?.({ name: full, type: header.type ?? 'file', linkname: header.linkname ?? '' });
  const baseName = path.posix.basename(full);
  const dirRel = path.posix.dirname(full);
  const parentRel = dirRel === '.' ? '' : dirRel;

  if (options.whiteouts !== 'none' && baseName.startsWith(whiteoutPrefix)) {
    await settle(state);
    const parentDir = state.dirs.get(parentRel) ?? (await resolveInRoot(root, parentRel));
    await applyWhiteout(state, header, parentDir, baseName);
    return;
  }

  const parentDir = await parentDirectory(state, parentRel);
  const target = path.join(parentDir, baseName);
  const type = header.type ?? 'file';
  const isDir = type === 'directory';
  // A symlink that certainly does not exist yet is created along with its metadata, while
  // the next entries are read (see finishLater); those entries wait for it unless they are
  // such symlinks too, since they might resolve through it or replace it.
  const later =
    type === 'symlink' &&
    !options.sharedRoot &&
    state.fresh.has(parentDir) &&
    !state.added.has(target);
  if (!later && state.creating > 0) await settle(state);
  // What is already at target is looked at only when creating fails with EEXIST: most entries
  // of a layer are new, and each lstat is a round trip to the disk.
  const replaceExisting = async (): Promise<boolean> => {
    await settle(state);
    const existing = await lstatOrUndefined(target);
    if (existing && existing.isDirectory() && isDir) return true;
    if (existing) {
      if (options.noOverwriteDirNonDir && existing.isDirectory() !== isDir) {
        throw refuse(
          header.name,
          existing.isDirectory()
            ? 'cannot overwrite a directory with a non-directory'
            : 'cannot overwrite a non-directory with a directory',
        );
      }
      await removePath(state, target);
    }
    return false;
  };
  /** Creates target; true when it was an existing directory, kept (the entry is one too). */
  const create = async (make: () => Promise<void>): Promise<boolean> => {
    try {
      await make();
    } catch (err: unknown) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      if (await replaceExisting()) return true;
      await make();
    }
    return false;
  };

  const mode = (header.mode ?? 0o644) & 0o7777;
  switch (type) {
    case 'file':
    case 'contiguous-file':
      await create(() => writeFileFrom(target, body));
      break;
    case 'directory':
      if (!(await create(() => fs.mkdir(target, { mode: 0o700 }).then(() => undefined))))
        state.fresh.add(target);
      break;
    case 'symlink':
      if (!later) await create(() => fs.symlink(header.linkname ?? '', target));
      break;
    case 'link': {
      const linkRel = cleanName(header.linkname ?? '', 'hardlink target');
      if (linkRel === '') throw refuse(header.name, 'hardlink to the root refused');
      const lp = path.posix.dirname(linkRel);
      const source = path.join(
        await resolveInRoot(root, lp === '.' ? '' : lp),
        path.posix.basename(linkRel),
      );
      // The target is checked after a path in the way was removed: a link to itself is refused.
      await create(async () => {
        const st = await lstatOrUndefined(source);
        if (!st || st.isDirectory()) {
          throw refuse(
            header.name,
            `hardlink target ${JSON.stringify(header.linkname)} is not in the archive`,
          );
        }
        await fs.link(source, target);
      });
      state.added.add(target);
      // A hard link shares its inode, and so its metadata, with the target.
      return;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo': {
      const kind =
        type === 'fifo' ? fsc.S_IFIFO : type === 'block-device' ? fsc.S_IFBLK : fsc.S_IFCHR;
      await create(async () =>
        native().mknod(target, kind | mode, header.devmajor ?? 0, header.devminor ?? 0),
      );
      break;
    }
    default:
      // GNU volume labels, sparse maps and other kinds a layer has no use for.
      return;
  }
  state.added.add(target);

  const uid = options.chown?.uid ?? paxNumber(header, 'uid') ?? header.uid ?? 0;
  const gid = options.chown?.gid ?? paxNumber(header, 'gid') ?? header.gid ?? 0;
  const owner = options.ids ? options.ids(uid, gid) : { uid, gid };
  const paxMtime = paxNumber(header, 'mtime');
  const mtime = paxMtime !== undefined ? new Date(paxMtime * 1000) : (header.mtime ?? new Date(0));
  if (isDir) state.dirTimes.push({ file: target, mtime });
  if (later) state.creating++;
  await finishLater(state, async () => {
    if (later) {
      try {
        await fs.symlink(header.linkname ?? '', target);
      } finally {
        state.creating--;
      }
    }
    await fs.lchown(target, owner.uid, owner.gid);
    // After lchown, which clears set-id bits; symlinks have no mode of their own on Linux.
    if (type !== 'symlink') await fs.chmod(target, mode);
    for (const [name, value] of xattrs ?? []) {
      try {
        native().lsetxattr(target, name, value);
      } catch (err: unknown) {
        if (errnoCode(err) !== 'ENOTSUP') throw err;
      }
    }
    if (!isDir) await fs.lutimes(target, mtime, mtime);
  });
}

/** Entries whose owner, mode and times may be set at once while later entries are created. */
const maxFinishing = 16;

/**
 * Sets an entry's metadata (`work`, on the path just created) while the next entries are
 * created: each of those calls is a round trip to the disk, and entries that follow are on
 * other paths. Anything that removes or replaces a path, or reads a directory's listing,
 * first waits for every entry still finishing ({@link settle}), as does the end of the
 * extraction, so the order of operations on any one path is the tar's.
 */
async function finishLater(state: ApplyState, work: () => Promise<void>): Promise<void> {
  const p: Promise<void> = work().then(
    () => {
      state.finishing.delete(p);
    },
    (err: unknown) => {
      state.finishing.delete(p);
      state.failure ??= { err };
    },
  );
  state.finishing.add(p);
  if (
    state.options.sharedRoot ||
    state.failure !== undefined ||
    state.finishing.size >= maxFinishing
  )
    await settle(state);
}

/** Waits for every entry still finishing; throws the first failure among them. */
async function settle(state: ApplyState): Promise<void> {
  while (state.finishing.size > 0) await Promise.all(state.finishing);
  if (state.failure !== undefined) throw state.failure.err;
}

/** Creates `dir` and missing parents; those it creates are owned by the mapped root, as dockerd. */
async function mkdirParents(dir: string, ids: IdShift | undefined): Promise<boolean> {
  const first = await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  if (first === undefined) return false;
  if (!ids) return true;
  const root = ids(0, 0);
  let p = dir;
  const made: string[] = [];
  while (p.length >= first.length) {
    made.push(p);
    if (p === first) break;
    p = path.dirname(p);
  }
  for (const d of made) await fs.lchown(d, root.uid, root.gid);
  return true;
}

async function applyWhiteout(
  state: ApplyState,
  header: Header,
  parentDir: string,
  baseName: string,
): Promise<void> {
  await settle(state);
  if (baseName === opaqueWhiteout) {
    if (state.options.whiteouts === 'overlay') {
      await fs.mkdir(parentDir, { recursive: true, mode: 0o755 });
      native().lsetxattr(parentDir, 'trusted.overlay.opaque', Buffer.from('y'));
      return;
    }
    let names: string[];
    try {
      names = await fs.readdir(parentDir);
    } catch (err: unknown) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw err;
    }
    for (const name of names) {
      const child = path.join(parentDir, name);
      if (!state.added.has(child)) await removePath(state, child);
    }
    return;
  }
  const victim = baseName.slice(whiteoutPrefix.length);
  if (victim === '' || victim === '.' || victim === '..')
    throw refuse(header.name, 'invalid whiteout');
  const target = path.join(parentDir, victim);
  if (state.options.whiteouts === 'remove') {
    await removePath(state, target);
    return;
  }
  await fs.mkdir(parentDir, { recursive: true, mode: 0o755 });
  await removePath(state, target);
  native().mknod(target, fsc.S_IFCHR, 0, 0);
  await fs.lchown(target, header.uid ?? 0, header.gid ?? 0);
}

function decompressorFor(head: Buffer): Transform {
  // Larger output chunks than the default 16 KiB: each chunk is a round trip to the thread
  // pool and a callback.
  if (head[0] === 0x1f && head[1] === 0x8b) return zlib.createGunzip({ chunkSize: 128 * 1024 });
  if (head.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) {
    throw new InvalidArgumentError('zstd layers are not supported');
  }
  if (head.subarray(0, 3).toString('latin1') === 'BZh') {
    throw new InvalidArgumentError('bzip2 layers are not supported');
  }
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    throw new InvalidArgumentError('xz layers are not supported');
  }
  return new PassThrough();
}

/** Bytes of a file's data gathered before one write: fewer round trips for large files. */
const writeBatch = 1 << 20;

async function writeFileFrom(target: string, body: AsyncIterable<unknown>): Promise<void> {
  const handle = await fs.open(target, 'wx', 0o600);
  try {
    let batch: Buffer[] = [];
    let batched = 0;
    const flush = async (): Promise<void> => {
      const b = batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, batched);
      batch = [];
      batched = 0;
      let off = 0;
      while (off < b.length) off += (await handle.write(b, off, b.length - off)).bytesWritten;
    };
    for await (const chunk of body) {
      const b = chunk as Buffer;
      batch.push(b);
      batched += b.length;
      if (batched >= writeBatch) await flush();
    }
    if (batched > 0) await flush();
  } finally {
    await handle.close();
  }
}

function drained(w: tar.Extract): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}
