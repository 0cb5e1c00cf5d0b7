import { lstat, mkdir, readdir, readlink, stat, symlink, utimes, chmod } from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { basename, dirname, join, posix, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { ClientError } from '../../client/client.js';
import type { Command, CommandContext } from '../command.js';
import { ExitError } from '../command.js';
import { UsageError } from '../args.js';

/** `container:path` → its parts; a plain path (or `-`) → undefined container. */
export function splitCpArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith('/') || arg.startsWith('.') || arg === '-') return { path: arg };
  const colon = arg.indexOf(':');
  if (colon <= 0) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (err: unknown) {
    if ((err as { code?: string }).code === 'ENOENT') return false;
    throw err;
  }
}

async function copyFrom(
  ctx: CommandContext,
  container: string,
  src: string,
  dest: string,
): Promise<void> {
  const res = await ctx
    .client()
    .stream('GET', `/containers/${encodeURIComponent(container)}/archive`, {
      query: { path: src },
    });
  if (dest === '-') {
    for await (const chunk of res) ctx.stdout.write(chunk as Buffer);
    return;
  }
  const statHeader = res.headers['x-docker-container-path-stat'];
  const srcName = statHeader
    ? (JSON.parse(Buffer.from(String(statHeader), 'base64').toString()) as { name: string }).name
    : basename(src);
  const intoDir = await isDir(dest);
  if (!intoDir && !(await isDir(dirname(resolve(dest))))) {
    throw new ExitError(`Error: no such directory: ${dirname(dest)}`, 1);
  }
  const root = intoDir ? resolve(dest) : dirname(resolve(dest));
  const rename = intoDir ? undefined : basename(dest);
  const extract = tarStream.extract();
  extract.on('entry', (header, stream, next) => {
    void (async () => {
      let name = header.name.replace(/^\.?\//, '');
      if (rename !== undefined) {
        const [first, ...rest] = name.split('/');
        if (first === srcName || first === basename(src)) name = [rename, ...rest].join('/');
      }
      const target = resolve(root, name);
      if (target !== root && !target.startsWith(root + sep))
        throw new Error(`unsafe path in archive: ${header.name}`);
      const mode = (header.mode ?? 0o644) & 0o7777;
      if (header.type === 'directory') {
        await mkdir(target, { recursive: true });
        await chmod(target, mode);
        stream.resume();
      } else if (header.type === 'symlink') {
        stream.resume();
        await symlink(header.linkname ?? '', target).catch((err: unknown) => {
          if ((err as { code?: string }).code !== 'EEXIST') throw err;
        });
      } else if (header.type === 'file' || header.type === 'contiguous-file') {
        await mkdir(dirname(target), { recursive: true });
        await pipeline(stream, createWriteStream(target, { mode }));
        await chmod(target, mode);
        if (header.mtime) await utimes(target, header.mtime, header.mtime);
      } else stream.resume();
      next();
    })().catch((err: unknown) =>
      extract.destroy(err instanceof Error ? err : new Error(String(err))),
    );
  });
  await pipeline(res, extract);
}

async function packPath(pack: tarStream.Pack, path: string, name: string): Promise<void> {
  const st = await lstat(path);
  const common = { name, mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid };
  if (st.isSymbolicLink()) {
    pack.entry({ ...common, type: 'symlink', linkname: await readlink(path) });
  } else if (st.isDirectory()) {
    pack.entry({ ...common, type: 'directory' });
    for (const child of (await readdir(path)).sort())
      await packPath(pack, join(path, child), posix.join(name, child));
  } else if (st.isFile()) {
    await new Promise<void>((resolveEntry, reject) => {
      const entry = pack.entry({ ...common, type: 'file', size: st.size }, (err) =>
        err ? reject(err) : resolveEntry(),
      );
      createReadStream(path).on('error', reject).pipe(entry);
    });
  }
}

async function copyTo(
  ctx: CommandContext,
  src: string,
  container: string,
  dest: string,
): Promise<void> {
  const client = ctx.client();
  const put = async (path: string, body: Readable): Promise<void> => {
    await client.json('PUT', `/containers/${encodeURIComponent(container)}/archive`, {
      query: { path, noOverwriteDirNonDir: true },
      body,
      rawBody: true,
      headers: { 'Content-Type': 'application/x-tar' },
    });
  };
  if (src === '-') {
    await put(dest, ctx.stdin);
    return;
  }
  try {
    await lstat(src);
  } catch {
    throw new ExitError(`lstat ${resolve(src)}: no such file or directory`, 1);
  }
  let destIsDir = false;
  try {
    const res = await client.stream(
      'HEAD',
      `/containers/${encodeURIComponent(container)}/archive`,
      { query: { path: dest } },
    );
    res.resume();
    const header = res.headers['x-docker-container-path-stat'];
    if (header) {
      const st = JSON.parse(Buffer.from(String(header), 'base64').toString()) as { mode: number };
      // Go's os.ModeDir is the top bit of a uint32 mode.
      destIsDir = (st.mode & 0x80000000) !== 0 || (st.mode & 0o170000) === 0o040000;
    }
  } catch (err: unknown) {
    if (!(err instanceof ClientError) || err.statusCode !== 404) throw err;
  }
  const name = destIsDir ? basename(resolve(src)) : posix.basename(dest);
  const target = destIsDir ? dest : posix.dirname(dest);
  const pack = tarStream.pack();
  const packing = packPath(pack, src, name).then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  await Promise.all([put(target, pack as unknown as Readable), packing]);
}

export const command: Command = {
  usage:
    '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  description: 'Copy files/folders between a container and the local filesystem',
  minArgs: 2,
  maxArgs: 2,
  flags: [
    {
      long: 'archive',
      short: 'a',
      kind: 'bool',
      description: 'Archive mode (copy all uid/gid information)',
    },
    {
      long: 'follow-link',
      short: 'L',
      kind: 'bool',
      description: 'Always follow symbol link in SRC_PATH',
    },
    {
      long: 'quiet',
      short: 'q',
      kind: 'bool',
      description: 'Suppress progress output during copy',
    },
  ],
  async run(ctx, { args }) {
    const from = splitCpArg(args[0] as string);
    const to = splitCpArg(args[1] as string);
    if (from.container !== undefined && to.container !== undefined) {
      throw new UsageError('copying between containers is not supported');
    }
    if (from.container === undefined && to.container === undefined) {
      throw new UsageError('must specify at least one container source');
    }
    if (from.container !== undefined) await copyFrom(ctx, from.container, from.path, to.path);
    else await copyTo(ctx, from.path, to.container as string, to.path);
    return 0;
  },
};
