import { createHash } from 'node:crypto';
import { createReadStream, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import tar from 'tar-stream';
import dockerignore, { type Ignore } from '@balena/dockerignore';
import { extract } from '../archive/apply.js';
import { InvalidArgumentError, NotFoundError, errnoCode } from '../errors/index.js';
import { peekStream } from '../util/peek.js';

/**
 * The build context on disk: received from the request's stream (a tar, plain or compressed,
 * or a bare Dockerfile), `.dockerignore` applied, and COPY/ADD sources found in it with
 * Docker's rules (paths cleaned inside the context, `filepath.Match` globs).
 */

/** An entry of the context's tar, by its cleaned name. */
export interface TarEntry {
  type: string;
  linkname: string;
}

/**
 * Reads the stream into `dir`; returns the Dockerfile text when the body was not a tar.
 * `entries` is given every entry the tar held (dockerd sums the context's files from them).
 */
export async function receiveContext(
  input: Readable,
  dir: string,
  entries?: Map<string, TarEntry>,
): Promise<string | undefined> {
  const { head: first, stream: rest } = await peekStream(input, 512);
  const compressed =
    (first[0] === 0x1f && first[1] === 0x8b) ||
    first.subarray(0, 3).toString('latin1') === 'BZh' ||
    (first[0] === 0xfd && first.subarray(1, 6).toString('latin1') === '7zXZ\u0000') ||
    (first[0] === 0x28 && first[1] === 0xb5 && first[2] === 0x2f && first[3] === 0xfd);
  const isTar = first.subarray(257, 262).toString('latin1') === 'ustar';
  const emptyTar = first.length >= 512 && first.subarray(0, 512).every((b) => b === 0);
  if (compressed || isTar || emptyTar || first.length === 0) {
    if (first.length === 0) return undefined;
    await extract(dir, rest, {
      whiteouts: 'none',
      onEntry: (e) => entries?.set(e.name, { type: e.type, linkname: e.linkname }),
    });
    return undefined;
  }
  const chunks: Buffer[] = [];
  for await (const c of rest) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface ContextIgnore {
  /** Whether a context-relative path (no leading slash) is excluded. */
  ignores(rel: string): boolean;
}

/** Docker's ignore-file lines: comments and blanks dropped, each pattern cleaned. */
export function ignorePatterns(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let neg = '';
    let p = line;
    if (p.startsWith('!')) {
      neg = '!';
      p = p.slice(1).trim();
    }
    p = path.posix.normalize(p).replace(/^\/+/, '');
    if (p === '.' || p === '') continue;
    out.push(neg + p);
  }
  return out;
}

export function newIgnore(patterns: string[]): ContextIgnore {
  // A CommonJS module: its function is the namespace's default at run time.
  const factory = dockerignore as unknown as () => Ignore;
  const ig = factory().add(patterns);
  return { ignores: (rel: string): boolean => rel !== '' && ig.ignores(rel) };
}

/** Reads `<dockerfile>.dockerignore` or else `.dockerignore` from the context. */
export async function readIgnoreFile(dir: string, dockerfile: string): Promise<string[]> {
  for (const name of [`${dockerfile}.dockerignore`, '.dockerignore']) {
    try {
      return ignorePatterns(await fs.readFile(path.join(dir, name), 'utf8'));
    } catch (err: unknown) {
      const code = errnoCode(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'EISDIR') throw err;
    }
  }
  return [];
}

/** Removes every ignored file from the context (directories only once empty and ignored). */
export async function applyIgnore(dir: string, ig: ContextIgnore): Promise<void> {
  const walk = async (rel: string): Promise<boolean> => {
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    let empty = true;
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        const childEmpty = await walk(r);
        if (childEmpty && ig.ignores(r)) await fs.rmdir(path.join(dir, r));
        else empty = false;
      } else if (ig.ignores(r)) {
        await fs.rm(path.join(dir, r), { force: true });
      } else {
        empty = false;
      }
    }
    return empty;
  };
  await walk('');
}

/** A context path cleaned the way Docker cleans COPY sources; refused if it leaves the context. */
export function cleanSource(src: string): string {
  const joined = path.posix.join('/', src);
  const rel = joined.slice(1);
  const raw = path.posix.normalize(src.replace(/^\/+/, ''));
  if (raw === '..' || raw.startsWith('../')) {
    throw new InvalidArgumentError(`Forbidden path outside the build context: ${src} ()`);
  }
  return rel.replace(/\/+$/, '');
}

export function hasGlob(p: string): boolean {
  return /[*?[\\]/.test(p);
}

/** Go's filepath.Match for one path: `*` and `?` stop at `/`, `[...]` classes, `\` escapes. */
export function globMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i] ?? '');
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return false;
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\(.)/g, '\\$1')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`${re}$`).test(name);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export interface Source {
  /** Context-relative path, '' for the context root. */
  rel: string;
  /** Host path of the source itself (a symlink given by name is followed, inside the context). */
  host: string;
  stat: Stats;
}

/** Resolves `rel` inside the context, following symlinks without leaving it. */
export async function resolveInContext(dir: string, rel: string): Promise<string> {
  let current = dir;
  const parts = rel === '' ? [] : rel.split('/');
  let hops = 0;
  const queue = [...parts];
  while (queue.length > 0) {
    const part = queue.shift() ?? '';
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (current !== dir) current = path.dirname(current);
      continue;
    }
    const next = path.join(current, part);
    let st: Stats;
    try {
      st = await fs.lstat(next);
    } catch (err: unknown) {
      if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
        current = next;
        continue;
      }
      throw err;
    }
    if (st.isSymbolicLink()) {
      if (++hops > 255) throw new InvalidArgumentError(`too many links in ${rel}`);
      const target = await fs.readlink(next);
      if (target.startsWith('/')) current = dir;
      queue.unshift(...target.split('/'));
      continue;
    }
    current = next;
  }
  return current;
}

/** Every path in the context, relative, sorted; directories too. */
async function allPaths(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      out.push(r);
      if (e.isDirectory()) await walk(r);
    }
  };
  await walk('');
  return out;
}

/** The sources one COPY/ADD argument names; NotFoundError as Docker words it when none. */
export async function findSources(dir: string, arg: string, keyword: string): Promise<Source[]> {
  const rel = cleanSource(arg);
  if (hasGlob(rel)) {
    const matches = (await allPaths(dir)).filter((p) => globMatch(rel, p));
    const out: Source[] = [];
    for (const m of matches) {
      const host = await resolveInContext(dir, m);
      out.push({ rel: m, host, stat: await fs.stat(host) });
    }
    if (out.length === 0) {
      throw new NotFoundError(`${keyword} failed: no source files were specified`);
    }
    return out;
  }
  const host = await resolveInContext(dir, rel);
  try {
    return [{ rel, host, stat: await fs.stat(host) }];
  } catch (err: unknown) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') {
      throw new NotFoundError(
        `${keyword} failed: file not found in build context or excluded by .dockerignore: stat ${rel}: file does not exist`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** One entry to put in a COPY layer. */
export interface CopyEntry {
  /** Name inside the image, relative to `/`. */
  name: string;
  /** `link`: a hard link to the entry named `linkname`, put earlier. */
  type: 'file' | 'directory' | 'symlink' | 'link';
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
  /** Host file for a file entry. */
  host?: string;
  /** Bytes for a file entry made in memory (heredocs, downloads). */
  data?: Buffer;
  size: number;
  linkname?: string;
}

/** Entries of a source directory's tree below `host`, named under `destRel`. */
export async function treeEntries(
  host: string,
  destRel: string,
  owner: { uid: number; gid: number } | undefined,
  skip: (rel: string) => boolean,
): Promise<CopyEntry[]> {
  const out: CopyEntry[] = [];
  // Files hard-linked to each other stay so in the copy, as dockerd copies a tree with tar.
  const firstNames = new Map<string, string>();
  const walk = async (dirHost: string, relBelow: string): Promise<void> => {
    const entries = await fs.readdir(dirHost, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const rel = relBelow === '' ? e.name : `${relBelow}/${e.name}`;
      if (skip(rel)) continue;
      const h = path.join(dirHost, e.name);
      const st = await fs.lstat(h);
      const entry = entryOf(h, st, path.posix.join(destRel, rel), owner);
      if (entry.type === 'symlink') entry.linkname = await fs.readlink(h);
      if (entry.type === 'file' && st.nlink > 1) {
        const inode = `${st.dev}:${st.ino}`;
        const first = firstNames.get(inode);
        if (first !== undefined) {
          entry.type = 'link';
          entry.linkname = first;
          entry.size = 0;
          delete entry.host;
        } else firstNames.set(inode, entry.name);
      }
      out.push(entry);
      if (st.isDirectory()) await walk(h, rel);
    }
  };
  await walk(host, '');
  return out;
}

export function entryOf(
  host: string,
  st: Stats,
  name: string,
  owner: { uid: number; gid: number } | undefined,
): CopyEntry {
  const base = {
    name,
    mode: st.mode & 0o7777,
    uid: owner?.uid ?? 0,
    gid: owner?.gid ?? 0,
    mtime: st.mtime,
  };
  if (st.isDirectory()) return { ...base, type: 'directory', size: 0 };
  if (st.isSymbolicLink()) return { ...base, type: 'symlink', size: 0, linkname: '' };
  return { ...base, type: 'file', host, size: st.size };
}

/** A tar of the entries, in order. */
export function entriesTar(entries: CopyEntry[]): Readable {
  const pack = tar.pack();
  const out = new PassThrough();
  pack.pipe(out);
  void (async (): Promise<void> => {
    try {
      for (const e of entries) {
        const header = {
          name: e.name,
          mode: e.mode,
          uid: e.uid,
          gid: e.gid,
          mtime: e.mtime,
          type: e.type,
          size: e.type === 'file' ? e.size : 0,
          ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
        };
        if (e.type !== 'file') {
          await new Promise<void>((resolve, reject) =>
            pack.entry(header, (err) => (err ? reject(err) : resolve())),
          );
          continue;
        }
        await new Promise<void>((resolve, reject) => {
          const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
          if (e.data) {
            sink.end(e.data);
            return;
          }
          const rs = createReadStream(e.host ?? '');
          rs.on('error', reject);
          rs.pipe(sink);
        });
      }
      pack.finalize();
    } catch (err: unknown) {
      out.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  })();
  return out;
}

/** sha256 over the entries' names, types, modes, owners, link targets and file contents. */
export async function hashEntries(entries: CopyEntry[]): Promise<string> {
  const h = createHash('sha256');
  for (const e of entries) {
    h.update(
      `${e.name}\0${e.type}\0${e.mode.toString(8)}\0${e.uid}:${e.gid}\0${e.linkname ?? ''}\0`,
    );
    if (e.type === 'file') {
      if (e.data) h.update(e.data);
      else {
        for await (const c of createReadStream(e.host ?? '')) h.update(c as Buffer);
      }
      h.update('\0');
    }
  }
  return h.digest('hex');
}

/**
 * Whose files a source's sums describe, which decides their tar headers as dockerd's classic
 * builder (20.10, the anchor) hashes them. `context`: the build context, summed by dockerd
 * from the client's tar as it arrives (tarsum v1: modes are permission bits only, user and
 * group names blanked). `image`: files of a stage or image (`--from`) and downloads, summed
 * from the files on dockerd's disk (a header from `lstat`: the mode has the file type bits,
 * the owner's names are looked up on the daemon's host).
 */
export type SumStyle = 'context' | 'image';

/** Host user and group names by id (the daemon's /etc/passwd and /etc/group). */
export interface HostNames {
  user(uid: number): string;
  group(gid: number): string;
}

/** Reads the host's user and group names once. */
export async function hostNames(): Promise<HostNames> {
  const table = async (file: string): Promise<Map<number, string>> => {
    const m = new Map<number, string>();
    let text = '';
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err: unknown) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    for (const line of text.split('\n')) {
      const f = line.split(':');
      const id = Number(f[2]);
      if (f[0] && f[2] !== undefined && /^\d+$/.test(f[2]) && !m.has(id)) m.set(id, f[0]);
    }
    return m;
  };
  const users = await table('/etc/passwd');
  const groups = await table('/etc/group');
  return { user: (u) => users.get(u) ?? '', group: (g) => groups.get(g) ?? '' };
}

/** The fields of a tar header that tarsum v1 hashes, in its order. */
export interface SumHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  typeflag: string;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

/** tarsum v1 of one entry: sha256 over `key+value` of each header field, then the data. */
export function sumHeader(h: SumHeader): ReturnType<typeof createHash> {
  const hash = createHash('sha256');
  const fields: [string, string | number][] = [
    ['name', h.name],
    ['mode', h.mode],
    ['uid', h.uid],
    ['gid', h.gid],
    ['size', h.size],
    ['typeflag', h.typeflag],
    ['linkname', h.linkname],
    ['uname', h.uname],
    ['gname', h.gname],
    ['devmajor', h.devmajor],
    ['devminor', h.devminor],
  ];
  for (const [k, v] of fields) hash.update(`${k}${v}`);
  return hash;
}

/**
 * The tarsum of a regular file given as bytes: its header fields (`owner` defaults to root,
 * with no user or group names) and its content.
 */
export function fileSum(
  name: string,
  data: Buffer,
  mode: number,
  owner: { uid: number; gid: number; uname: string; gname: string } = {
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
  },
): string {
  return sumHeader({
    name,
    mode,
    ...owner,
    size: data.length,
    typeflag: '0',
    linkname: '',
    devmajor: 0,
    devminor: 0,
  })
    .update(data)
    .digest('hex');
}

function typeflagOf(st: Stats): string {
  if (st.isFile()) return '0';
  if (st.isDirectory()) return '5';
  if (st.isSymbolicLink()) return '2';
  if (st.isCharacterDevice()) return '3';
  if (st.isBlockDevice()) return '4';
  if (st.isFIFO()) return '6';
  return '0';
}

/** Where a COPY/ADD's sources are summed from. */
export interface SumSource {
  /** The directory the sources are in. */
  root: string;
  style: SumStyle;
  names: HostNames;
  /** `context` style: the entries of the context's tar (a path not among them is summed as its name). */
  entries?: Map<string, TarEntry>;
}

/** The sum of `rel` (a path inside the root) as dockerd's builder source `Hash(rel)` gives it. */
export async function sourceSum(src: SumSource, rel: string): Promise<string> {
  const { root, style, names } = src;
  // The path is followed inside root: a symlink is summed as what it points at.
  const host = await resolveInContext(root, rel);
  const followed = path.relative(root, host).split(path.sep).join('/');
  let st: Stats;
  try {
    st = await fs.lstat(host);
  } catch (err: unknown) {
    // A broken symlink: dockerd sums it as its path.
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return followed;
    throw err;
  }
  const inTar = style === 'context' ? src.entries?.get(followed) : undefined;
  // dockerd has no sum for a path its tar did not hold (a directory made only as a parent).
  if (style === 'context' && !inTar) return rel;
  if (inTar?.type === 'link') {
    return sumHeader({
      name: followed,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      size: 0,
      typeflag: '1',
      linkname: inTar.linkname,
      uname: '',
      gname: '',
      devmajor: 0,
      devminor: 0,
    }).digest('hex');
  }
  const dev = st.isCharacterDevice() || st.isBlockDevice();
  const h = sumHeader({
    name: st.isDirectory() ? `${followed}/` : followed,
    mode: style === 'image' ? st.mode : st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: st.isFile() ? st.size : 0,
    typeflag: typeflagOf(st),
    linkname: st.isSymbolicLink() ? await fs.readlink(host) : '',
    uname: style === 'image' ? names.user(st.uid) : '',
    gname: style === 'image' ? names.group(st.gid) : '',
    devmajor: dev ? ((st.rdev >> 8) & 0xfff) | (Math.floor(st.rdev / 2 ** 32) & ~0xfff) : 0,
    devminor: dev ? (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) : 0,
  });
  if (st.isFile() && st.size > 0) {
    for await (const c of createReadStream(host)) h.update(c as Buffer);
  }
  return h.digest('hex');
}

/** `prefix:` sha256 of the strings joined with commas: dockerd's `hashStringSlice`. */
export function hashList(prefix: string, list: string[]): string {
  return `${prefix}:${createHash('sha256').update(list.join(',')).digest('hex')}`;
}

/**
 * The hash dockerd's classic builder gives one COPY/ADD source: `file:<sum>` for a file (a
 * symlink followed), `dir:<hash>` for a directory (the sorted sums of the directory and
 * everything below it, `skip` aside).
 */
export async function copySourceHash(
  src: SumSource,
  source: Source,
  skip: (rel: string) => boolean,
): Promise<string> {
  if (!source.stat.isDirectory()) return `file:${await sourceSum(src, source.rel)}`;
  const sums: string[] = [];
  if (source.rel !== '') sums.push(await sourceSum(src, source.rel));
  const walk = async (dir: string, relBelow: string): Promise<void> => {
    const entries = await fs.readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      const below = relBelow === '' ? e.name : `${relBelow}/${e.name}`;
      if (skip(below)) continue;
      const rel = source.rel === '' ? below : `${source.rel}/${below}`;
      sums.push(await sourceSum(src, rel));
      if (e.isDirectory()) await walk(path.join(dir, e.name), below);
    }
  };
  await walk(source.host, '');
  sums.sort();
  return hashList('dir', sums);
}
