import {
  createReadStream,
  lstatSync,
  promises as fs,
  readFileSync,
  readlinkSync,
  type Stats,
} from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import dockerignore, { type Ignore } from '@balena/dockerignore';
import tarStream from 'tar-stream';

/**
 * The build context as the docker CLI sends it: the directory as a tar, `.dockerignore` (or
 * `<Dockerfile>.dockerignore`) applied, the Dockerfile and the ignore file always included.
 */

function patterns(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const neg = line.startsWith('!');
    const p = path.posix.normalize((neg ? line.slice(1) : line).trim()).replace(/^\/+/, '');
    if (p === '.' || p === '') continue;
    out.push(neg ? `!${p}` : p);
  }
  return out;
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err: unknown) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw err;
  }
}

/** The ignore rules for a context and a Dockerfile path relative to it. */
export async function contextIgnore(dir: string, dockerfileRel: string): Promise<Ignore> {
  const text =
    (await readOptional(path.join(dir, `${dockerfileRel}.dockerignore`))) ??
    (await readOptional(path.join(dir, '.dockerignore'))) ??
    '';
  const factory = dockerignore as unknown as () => Ignore;
  return factory().add(patterns(text));
}

interface Entry {
  rel: string;
  full: string;
}

async function walk(dir: string, ig: Ignore, keep: Set<string>): Promise<Entry[]> {
  const out: Entry[] = [];
  const visit = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      const ignored = ig.ignores(r) && !keep.has(r);
      if (e.isDirectory()) {
        const before = out.length;
        out.push({ rel: r, full: path.join(dir, r) });
        await visit(r);
        // An ignored directory stays only for what an exception brings back below it.
        if (ignored && out.length === before + 1) out.pop();
        continue;
      }
      if (!ignored) out.push({ rel: r, full: path.join(dir, r) });
    }
  };
  await visit('');
  return out;
}

/** A tar of the context directory, with `extra` files (a Dockerfile from outside) added. */
export async function contextTar(
  dir: string,
  dockerfileRel: string,
  extra?: { name: string; data: Buffer },
): Promise<Readable> {
  const ig = await contextIgnore(dir, dockerfileRel);
  const keep = new Set([dockerfileRel, '.dockerignore', `${dockerfileRel}.dockerignore`]);
  const entries = await walk(dir, ig, keep);
  const pack = tarStream.pack();
  const out = new PassThrough();
  pack.pipe(out);
  void (async (): Promise<void> => {
    try {
      for (const e of entries) {
        const r = readEntry(e);
        const { st } = r;
        const base = {
          name: e.rel,
          mode: st.mode & 0o7777,
          uid: st.uid,
          gid: st.gid,
          mtime: st.mtime,
        };
        if (st.isDirectory()) {
          await entry(pack, { ...base, type: 'directory' });
        } else if (st.isSymbolicLink()) {
          await entry(pack, { ...base, type: 'symlink', linkname: r.linkname ?? '' });
        } else if (st.isFile() && r.data) {
          await entry(pack, { ...base, type: 'file', size: r.data.length }, r.data);
        } else if (st.isFile()) {
          await new Promise<void>((resolve, reject) => {
            const sink = pack.entry({ ...base, type: 'file', size: st.size }, (err) =>
              err ? reject(err) : resolve(),
            );
            const rs = createReadStream(e.full);
            rs.on('error', reject);
            rs.pipe(sink);
          });
        }
      }
      if (extra)
        await entry(
          pack,
          { name: extra.name, mode: 0o644, mtime: new Date(), size: extra.data.length },
          extra.data,
        );
      pack.finalize();
    } catch (err: unknown) {
      out.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  })();
  return out;
}

/** The largest file read whole (a larger one is streamed when packed). */
const smallFile = 1 << 20;

interface Read {
  st: Stats;
  linkname?: string;
  /** A small file's bytes. */
  data?: Buffer;
}

/**
 * An entry's metadata and a small file's bytes, read synchronously: this is a one-shot CLI
 * with nothing else to do meanwhile, and a context's many small files cost a thread-pool round
 * trip per call otherwise (about ten times the time here).
 */
function readEntry(e: Entry): Read {
  const st = lstatSync(e.full);
  if (st.isSymbolicLink()) return { st, linkname: readlinkSync(e.full) };
  if (st.isFile() && st.size <= smallFile) return { st, data: readFileSync(e.full) };
  return { st };
}

function entry(
  pack: tarStream.Pack,
  header: Partial<tarStream.Header>,
  data?: Buffer,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null): void => (err ? reject(err) : resolve());
    if (data) pack.entry(header as tarStream.Header, data, done);
    else pack.entry(header as tarStream.Header, done);
  });
}

/** A tar holding only a Dockerfile (`docker build - < Dockerfile`). */
export function dockerfileTar(name: string, data: Buffer): Readable {
  const pack = tarStream.pack();
  pack.entry({ name, mode: 0o644, mtime: new Date(), size: data.length }, data);
  pack.finalize();
  const out = new PassThrough();
  pack.pipe(out);
  return out;
}
