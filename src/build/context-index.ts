import { createReadStream, createWriteStream } from 'node:fs';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import * as zlib from 'node:zlib';
import tar from 'tar-stream';
import { cleanName, paxNumber } from '../archive/apply.js';
import { InvalidArgumentError, NotFoundError } from '../errors/index.js';
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
 * written to disk but the tar itself (one file). The files are extracted from that spool, by
 * the same extractor as before, the first time a step needs them (a COPY that misses the cache,
 * a RUN that binds the context).
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
  o: { dir: string; spool: string; entries: Map<string, TarEntry>; wanted: string[] },
): Promise<{ dockerfile?: string; context: BuildContext }> {
  const head = await readHead(input, 512);
  const { first, rest } = head;
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
  const indexing = newIndexer(wanted, o.entries);
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
  if (!root) {
    await fromSpool();
    return { context: extracted() };
  }
  return {
    context: {
      dir: o.dir,
      index: indexOf(root),
      materialize: () => (materialized ??= fromSpool()),
      applyIgnore: (ig) => {
        if (materialized) return Promise.reject(new Error('ignore rules after materialize'));
        ignore = ig;
        ignoreIn(root, '', ig);
        return Promise.resolve();
      },
    },
  };
}

async function readHead(input: Readable, n: number): Promise<{ first: Buffer; rest: Readable }> {
  const head: Buffer[] = [];
  let size = 0;
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  while (size < n) {
    const r = await it.next();
    if (r.done) break;
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    head.push(b);
    size += b.length;
  }
  const first = Buffer.concat(head);
  const rest = Readable.from(
    (async function* (): AsyncGenerator<Buffer> {
      if (first.length > 0) yield first;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
      }
    })(),
  );
  return { first, rest };
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
): { sink: Writable; failed: boolean; fail(): void; done: Promise<Node | undefined> } {
  const ex = tar.extract();
  const root: Node = { type: 'directory', children: new Map() };
  const named = new Set<string>();
  const state = {
    sink: ex as unknown as Writable,
    failed: false,
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
      const keep: Buffer[] | undefined = file && wanted.has(rel) ? [] : undefined;
      let size = 0;
      for await (const c of entry) {
        const b = c as Buffer;
        size += b.length;
        if (file) sum.update(b);
        keep?.push(b);
      }
      if (file && size !== (h.size ?? 0)) {
        state.fail();
        return undefined;
      }
      const have = parent.children?.get(base);
      if (file) {
        const n: Node = { type: 'file', sum: sum.digest('hex') };
        if (keep) n.data = Buffer.concat(keep);
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
