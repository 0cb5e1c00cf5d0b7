import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import * as zlib from 'node:zlib';
import tar from 'tar-stream';
import { cleanName, paxNumber } from '../archive/apply.js';
import { InvalidArgumentError, NotFoundError } from '../errors/index.js';
import { peekStream } from '../util/peek.js';
import {
  applyIgnore,
  cleanSource,
  globMatch,
  hashList,
  hasGlob,
  receiveContext,
  sumHeader,
  type ContextIgnore,
  type TarEntry,
} from './context.js';

/**
 * The build context held as an index of its tar instead of as files: a cached rebuild needs
 * only the sums of the COPY sources, which are taken from the tar as it arrives, so nothing is
 * written to disk but the tar itself (one file). The files are written the first time a step
 * needs them (a COPY that misses the cache, a RUN that binds the context): from memory when
 * the context is small enough to hold, else from that spool by the same extractor as before.
 *
 * Only a context of plain files and directories, each named once, is indexed: one with links,
 * devices, an entry that would replace another, or anything the extractor would refuse, is
 * extracted at once, so that such a tar is handled (and refused) exactly as before.
 */

/** A path of the indexed context. */
interface Node {
  type: 'file' | 'directory';
  /** tarsum v1 of the entry as dockerd's classic builder sums a context path; absent for a directory made only as a parent. */
  sum?: string;
  children?: Map<string, Node>;
  /** The bytes of a file that was asked for (the Dockerfile, the ignore files). */
  data?: Buffer;
}

/** A COPY/ADD source found in the index. */
export interface IndexedSource {
  /** Context-relative path, '' for the context root. */
  rel: string;
  directory: boolean;
}

/** The context of one build: indexed (its files not on disk yet) or extracted. */
export interface BuildContext {
  /** Where the files are, once `materialize` has put them there. */
  readonly dir: string;
  /** The index, when the context was indexed; its paths are the files' after `applyIgnore`. */
  readonly index: ContextIndex | undefined;
  /** Puts the files in `dir` (once; concurrent callers share the work), the ignore rules applied. */
  materialize(): Promise<void>;
  /** Removes the index's paths that the rules exclude; `materialize` applies them to the files too. */
  applyIgnore(ig: ContextIgnore): Promise<void>;
}

export interface ContextIndex {
  /** The file's bytes if it was among `wanted`; 'missing' for no such file (or a directory). */
  file(rel: string): Buffer | 'missing';
  /** As `findSources`, from the index. */
  findSources(arg: string, keyword: string): IndexedSource[];
  /** As `copySourceHash` with the `context` style, from the index. */
  sourceHash(source: IndexedSource, skip: (rel: string) => boolean): string;
}

/**
 * Reads the request's stream: `dockerfile` is the text of a body that was not a tar. A tar is
 * spooled to `spool` and indexed, or, when it cannot be indexed, extracted into `dir` at once.
 * `entries` is given every entry the tar held; `wanted` names the files whose bytes the index
 * keeps.
 */
export async function receiveBuildContext(
  input: Readable,
  o: {
    dir: string;
    spool: string;
    entries: Map<string, TarEntry>;
    wanted: string[];
    /** The most file bytes held in memory to write the files from (else they come from the spool). */
    holdBytes?: number;
  },
): Promise<{ dockerfile?: string; context: BuildContext }> {
  const { head: first, stream: rest } = await peekStream(input, 512);
  const gzip = first[0] === 0x1f && first[1] === 0x8b;
  const isTar = first.subarray(257, 262).toString('latin1') === 'ustar';
  const emptyTar = first.length >= 512 && first.subarray(0, 512).every((b) => b === 0);
  const extracted = (): BuildContext => ({
    dir: o.dir,
    index: undefined,
    materialize: () => Promise.resolve(),
    applyIgnore: (ig) => applyIgnore(o.dir, ig),
  });
  if (!gzip && !isTar && !emptyTar) {
    // Another compression, a bare Dockerfile or nothing: as before, on disk.
    const dockerfile = await receiveContext(rest, o.dir, o.entries);
    return dockerfile === undefined
      ? { context: extracted() }
      : { dockerfile, context: extracted() };
  }
  const wanted = new Set(o.wanted.map((w) => path.posix.normalize(w)));
  const indexing = newIndexer(wanted, o.entries, o.holdBytes ?? defaultHold);
  const parse: Writable = gzip ? zlib.createGunzip() : indexing.sink;
  if (gzip) {
    parse.on('error', () => indexing.fail());
    parse.pipe(indexing.sink);
  }
  const spool = createWriteStream(o.spool, { flags: 'wx', mode: 0o600 });
  const spoolDone = new Promise<void>((resolve, reject) => {
    spool.on('finish', resolve);
    spool.on('error', reject);
  });
  // Awaited below; this only keeps a failed write from being unhandled when the body failed too.
  spoolDone.catch(() => undefined);
  try {
    for await (const chunk of rest) {
      const b = chunk as Buffer;
      const more = spool.write(b);
      if (!indexing.failed && !parse.write(b)) await drained(parse);
      if (!more) await drained(spool);
    }
  } finally {
    spool.end();
  }
  await spoolDone;
  if (!indexing.failed) parse.end();
  const root = await indexing.done;
  let materialized: Promise<void> | undefined;
  let ignore: ContextIgnore | undefined;
  const fromSpool = async (): Promise<void> => {
    // Same extractor, same refusals, same entries as an eager receive.
    await receiveContext(createReadStream(o.spool), o.dir, o.entries);
    if (ignore) await applyIgnore(o.dir, ignore);
  };
  const held = indexing.held;
  const fromMemory = async (): Promise<void> => {
    await writeHeld(o.dir, held ?? []);
    if (ignore) await applyIgnore(o.dir, ignore);
  };
  if (!root) {
    await fromSpool();
    return { context: extracted() };
  }
  return {
    context: {
      dir: o.dir,
      index: indexOf(root),
      materialize: () => (materialized ??= held ? fromMemory() : fromSpool()),
      applyIgnore: (ig) => {
        if (materialized) return Promise.reject(new Error('ignore rules after materialize'));
        ignore = ig;
        ignoreIn(root, '', ig);
        return Promise.resolve();
      },
    },
  };
}

/** Resolves once `w` can take more, or will never (closed, failed). */
function drained(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      w.off('error', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
    w.on('error', done);
  });
}

/**
 * Parses the tar into a tree. `done` gives the root, or undefined when the tar cannot be
 * indexed (then it is extracted, which reports whatever was wrong with it).
 */
function newIndexer(
  wanted: Set<string>,
  entries: Map<string, TarEntry>,
  holdBytes: number,
): {
  sink: Writable;
  failed: boolean;
  held: Held[] | undefined;
  fail(): void;
  done: Promise<Node | undefined>;
} {
  const ex = tar.extract();
  const root: Node = { type: 'directory', children: new Map() };
  const named = new Set<string>();
  let heldBytes = 0;
  const state = {
    sink: ex as unknown as Writable,
    failed: false,
    held: [] as Held[] | undefined,
    fail(): void {
      state.failed = true;
      ex.destroy();
    },
    done: Promise.resolve<Node | undefined>(undefined),
  };
  ex.on('error', () => {
    state.failed = true;
  });
  const index = async (): Promise<Node | undefined> => {
    for await (const entry of ex) {
      const h = entry.header;
      const node = indexable(root, named, h);
      if (node === 'skip') {
        for await (const _ of entry) {
          // The root's own entry carries nothing the index keeps.
        }
        continue;
      }
      if (!node) {
        state.fail();
        return undefined;
      }
      const { rel, parent, base } = node;
      entries.set(rel, { type: h.type ?? 'file', linkname: h.linkname ?? '' });
      const file = h.type !== 'directory';
      const sum = sumHeader({
        name: file ? rel : `${rel}/`,
        mode: (h.mode ?? 0o644) & 0o7777,
        uid: paxNumber(h, 'uid') ?? h.uid ?? 0,
        gid: paxNumber(h, 'gid') ?? h.gid ?? 0,
        size: file ? (h.size ?? 0) : 0,
        typeflag: file ? '0' : '5',
        linkname: '',
        uname: '',
        gname: '',
        devmajor: 0,
        devminor: 0,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of entry) {
        const b = c as Buffer;
        size += b.length;
        if (!file) continue;
        sum.update(b);
        // Too much to hold: the files will come from the spool.
        if (state.held && heldBytes + size > holdBytes) state.held = undefined;
        if (state.held || wanted.has(rel)) chunks.push(b);
        else chunks.length = 0;
      }
      if (file && size !== (h.size ?? 0)) {
        state.fail();
        return undefined;
      }
      const bytes = file && (state.held || wanted.has(rel)) ? Buffer.concat(chunks) : undefined;
      if (state.held) {
        heldBytes += size;
        const paxMtime = paxNumber(h, 'mtime');
        state.held.push({
          rel,
          directory: !file,
          mode: (h.mode ?? 0o644) & 0o7777,
          uid: paxNumber(h, 'uid') ?? h.uid ?? 0,
          gid: paxNumber(h, 'gid') ?? h.gid ?? 0,
          mtime: paxMtime !== undefined ? new Date(paxMtime * 1000) : (h.mtime ?? new Date(0)),
          ...(bytes ? { data: bytes } : {}),
        });
      }
      const have = parent.children?.get(base);
      if (file) {
        const n: Node = { type: 'file', sum: sum.digest('hex') };
        if (bytes && wanted.has(rel)) n.data = bytes;
        parent.children?.set(base, n);
      } else if (have) {
        have.sum = sum.digest('hex');
      } else {
        parent.children?.set(base, {
          type: 'directory',
          sum: sum.digest('hex'),
          children: new Map(),
        });
      }
    }
    return state.failed ? undefined : root;
  };
  state.done = index().catch(() => {
    state.failed = true;
    return undefined;
  });
  return state;
}

/**
 * Where an entry goes in the tree, its missing parents made as directories; undefined for an
 * entry the index does not take (see the file's comment): a name the extractor refuses, a type
 * other than file and directory, a second entry of a name, a path through a file, a file where
 * a directory was made.
 */
function indexable(
  root: Node,
  named: Set<string>,
  h: tar.Header,
): { rel: string; parent: Node; base: string } | 'skip' | undefined {
  let rel: string;
  try {
    rel = cleanName(h.name);
  } catch {
    return undefined;
  }
  // The root's own entry is passed over, as the extractor does.
  if (rel === '') return 'skip';
  const type = h.type ?? 'file';
  if ((type !== 'file' && type !== 'directory') || named.has(rel)) return undefined;
  // Owners lchown would refuse, and extended attributes (which the extractor sets, and may
  // fail to), are left to the extractor.
  const ids = [paxNumber(h, 'uid') ?? h.uid ?? 0, paxNumber(h, 'gid') ?? h.gid ?? 0];
  if (ids.some((n) => !Number.isInteger(n) || n < 0 || n >= 0xffffffff)) return undefined;
  const pax = h.pax as Record<string, unknown> | undefined;
  if (pax && Object.keys(pax).some((k) => k.includes('xattr'))) return undefined;
  named.add(rel);
  const parts = rel.split('/');
  const base = parts.pop() ?? '';
  let parent = root;
  for (const p of parts) {
    let next = parent.children?.get(p);
    if (!next) {
      next = { type: 'directory', children: new Map() };
      parent.children?.set(p, next);
    }
    if (next.type !== 'directory') return undefined;
    parent = next;
  }
  const have = parent.children?.get(base);
  if (have && (type !== 'directory' || have.type !== 'directory')) return undefined;
  return { rel, parent, base };
}

/** The most file bytes a build holds in memory to write its context from. */
const defaultHold = 32 << 20;

/** An entry of the tar as the extractor would write it. */
interface Held {
  rel: string;
  directory: boolean;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  data?: Buffer;
}

/**
 * Writes the held entries into the empty directory `dir` as `extract` would (a directory
 * made 0700, then owned and moded as its header says, its time set last; a parent made only
 * as a parent 0755 and the daemon's; a file written new, owned, moded, timed), the files a
 * few at once: the tree has only files and directories, each named once (see `indexable`),
 * and `dir` is the build's own, so no entry can change where another goes.
 */
async function writeHeld(dir: string, held: Held[]): Promise<void> {
  const made = new Set<string>(['']);
  const parentOf = async (rel: string): Promise<void> => {
    const parent = path.posix.dirname(rel);
    const p = parent === '.' ? '' : parent;
    if (made.has(p)) return;
    await fs.mkdir(path.join(dir, p), { recursive: true, mode: 0o755 });
    for (let q = p; q !== '' && q !== '.'; q = path.posix.dirname(q)) made.add(q);
  };
  const dirs: Held[] = [];
  for (const e of held) {
    if (!e.directory) continue;
    await parentOf(e.rel);
    const target = path.join(dir, e.rel);
    if (!made.has(e.rel)) {
      await fs.mkdir(target, { mode: 0o700 });
      made.add(e.rel);
    }
    await fs.lchown(target, e.uid, e.gid);
    await fs.chmod(target, e.mode);
    dirs.push(e);
  }
  const files = held.filter((e) => !e.directory);
  for (const e of files) await parentOf(e.rel);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const e = files[next++];
      if (!e) continue;
      const target = path.join(dir, e.rel);
      await fs.writeFile(target, e.data ?? Buffer.alloc(0), { flag: 'wx', mode: 0o600 });
      await fs.lchown(target, e.uid, e.gid);
      await fs.chmod(target, e.mode);
      await fs.lutimes(target, e.mtime, e.mtime);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, files.length) }, worker));
  for (const e of dirs.reverse()) {
    const target = path.join(dir, e.rel);
    await fs.lutimes(target, e.mtime, e.mtime);
  }
}

/** applyIgnore over the tree: ignored files go, directories too once empty and ignored. */
function ignoreIn(node: Node, rel: string, ig: ContextIgnore): boolean {
  let empty = true;
  for (const [name, child] of node.children ?? []) {
    const r = rel === '' ? name : `${rel}/${name}`;
    if (child.type === 'directory') {
      const childEmpty = ignoreIn(child, r, ig);
      if (childEmpty && ig.ignores(r)) node.children?.delete(name);
      else empty = false;
    } else if (ig.ignores(r)) {
      node.children?.delete(name);
    } else {
      empty = false;
    }
  }
  return empty;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function indexOf(root: Node): ContextIndex {
  const lookup = (rel: string): Node | undefined => {
    let n: Node | undefined = root;
    for (const p of rel === '' ? [] : rel.split('/')) {
      n = n?.children?.get(p);
      if (!n) return undefined;
    }
    return n;
  };
  const allPaths = (): string[] => {
    const out: string[] = [];
    const walk = (node: Node, rel: string): void => {
      for (const name of [...(node.children?.keys() ?? [])].sort(byName)) {
        const r = rel === '' ? name : `${rel}/${name}`;
        out.push(r);
        const child = node.children?.get(name);
        if (child?.type === 'directory') walk(child, r);
      }
    };
    walk(root, '');
    return out;
  };
  // A path the tar did not hold (a parent only) is summed as its name, as dockerd has none.
  const sumOf = (node: Node, rel: string): string => node.sum ?? rel;
  return {
    file(rel) {
      const n = lookup(path.posix.normalize(rel));
      return n?.type === 'file' && n.data ? n.data : 'missing';
    },
    findSources(arg, keyword) {
      const rel = cleanSource(arg);
      if (hasGlob(rel)) {
        const out = allPaths()
          .filter((p) => globMatch(rel, p))
          .map((p) => ({ rel: p, directory: lookup(p)?.type === 'directory' }));
        if (out.length === 0) {
          throw new NotFoundError(`${keyword} failed: no source files were specified`);
        }
        return out;
      }
      const n = lookup(rel);
      if (!n) {
        throw new NotFoundError(
          `${keyword} failed: file not found in build context or excluded by .dockerignore: stat ${rel}: file does not exist`,
        );
      }
      return [{ rel, directory: n.type === 'directory' }];
    },
    sourceHash(source, skip) {
      const n = lookup(source.rel);
      if (!n) throw new InvalidArgumentError(`no ${source.rel} in the build context`);
      if (n.type === 'file') return `file:${sumOf(n, source.rel)}`;
      const sums: string[] = [];
      if (source.rel !== '') sums.push(sumOf(n, source.rel));
      const walk = (node: Node, relBelow: string): void => {
        for (const [name, child] of node.children ?? []) {
          const below = relBelow === '' ? name : `${relBelow}/${name}`;
          if (skip(below)) continue;
          const rel = source.rel === '' ? below : `${source.rel}/${below}`;
          sums.push(sumOf(child, rel));
          if (child.type === 'directory') walk(child, below);
        }
      };
      walk(n, '');
      sums.sort();
      return hashList('dir', sums);
    },
  };
}
