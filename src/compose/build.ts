import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import ignoreModule, { type Ignore } from '@balena/dockerignore';
import type { EngineClient } from '../client/client.js';
import { jsonLines } from '../client/streams.js';
import { ComposeError } from './errors.js';
import type { BuildConfig } from './model.js';

// A CommonJS module whose typings describe an ES default export: the function is `.default`.
const dockerignore = (
  ignoreModule as unknown as { default: (o?: { ignorecase?: boolean }) => Ignore }
).default;

/** Files of a build context (relative, `/`-separated), .dockerignore applied as docker does. */
export async function contextFiles(dir: string, dockerfile?: string): Promise<string[]> {
  let ignore: string[] = [];
  try {
    ignore = (await fs.readFile(path.join(dir, '.dockerignore'), 'utf8')).split('\n');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const ig = dockerignore({ ignorecase: false }).add(ignore);
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      const keep = !ig.ignores(r) || r === dockerfile || r === '.dockerignore';
      if (e.isDirectory()) {
        if (keep) out.push(`${r}/`);
        await walk(r);
      } else if (keep) out.push(r);
    }
  };
  await walk('');
  return out;
}

async function contextTar(
  dir: string,
  files: string[],
  inline?: { name: string; text: string },
): Promise<Readable> {
  const p = pack();
  (async () => {
    for (const f of files) {
      const full = path.join(dir, f);
      const st = await fs.lstat(full);
      const name = f.replace(/\/$/, '');
      if (st.isDirectory())
        p.entry({ name, type: 'directory', mode: st.mode & 0o7777, mtime: st.mtime });
      else if (st.isSymbolicLink())
        p.entry({
          name,
          type: 'symlink',
          linkname: await fs.readlink(full),
          mode: st.mode & 0o7777,
        });
      else if (st.isFile())
        p.entry({ name, mode: st.mode & 0o7777, mtime: st.mtime }, await fs.readFile(full));
    }
    if (inline) p.entry({ name: inline.name, mode: 0o644 }, inline.text);
    p.finalize();
  })().catch((err: unknown) => p.destroy(err as Error));
  return p as unknown as Readable;
}

/**
 * Builds a service's image with POST /build (the classic builder's API, which every engine
 * has): the context as a tar, the build section as query parameters. `onLine` gets the
 * builder's output; a build error is thrown with the builder's message.
 */
export async function buildImage(
  client: EngineClient,
  build: BuildConfig,
  tag: string,
  options: {
    noCache?: boolean;
    pull?: boolean;
    labels?: Record<string, string>;
    onLine?: (s: string) => void;
  } = {},
): Promise<void> {
  if (/^[a-z]+:\/\//.test(build.context))
    throw new ComposeError(`build context ${build.context}: remote contexts are not supported`);
  const inline =
    build.dockerfile_inline !== undefined
      ? { name: '.berth-compose.Dockerfile', text: build.dockerfile_inline }
      : undefined;
  const dockerfile = inline?.name ?? build.dockerfile ?? 'Dockerfile';
  const files = await contextFiles(build.context, dockerfile);
  const body = await contextTar(build.context, files, inline);
  const args: Record<string, string> = {};
  for (const [k, v] of Object.entries(build.args ?? {})) if (v !== null) args[k] = v;
  const res = await client.stream('POST', '/build', {
    query: {
      t: [tag, ...(build.tags ?? [])],
      dockerfile,
      buildargs: Object.keys(args).length > 0 ? JSON.stringify(args) : undefined,
      target: build.target,
      labels: JSON.stringify({ ...(build.labels ?? {}), ...(options.labels ?? {}) }),
      nocache: options.noCache || build.no_cache || undefined,
      pull: options.pull || build.pull || undefined,
      cachefrom: build.cache_from ? JSON.stringify(build.cache_from) : undefined,
      networkmode: build.network,
      extrahosts: build.extra_hosts?.join(','),
      rm: true,
    },
    body,
    rawBody: true,
    headers: { 'Content-Type': 'application/x-tar' },
  });
  for await (const m of jsonLines<{
    stream?: string;
    error?: string;
    errorDetail?: { message?: string };
  }>(res)) {
    if (m.error || m.errorDetail)
      throw new ComposeError(m.errorDetail?.message ?? m.error ?? 'build failed');
    if (m.stream !== undefined) options.onLine?.(m.stream);
  }
}

/** Pulls an image with POST /images/create; the engine's error is thrown. */
export async function pullImage(
  client: EngineClient,
  ref: string,
  platform?: string,
): Promise<void> {
  const { repo, tag } = splitRef(ref);
  const res = await client.stream('POST', '/images/create', {
    query: { fromImage: repo, tag, platform },
  });
  for await (const m of jsonLines<{ error?: string; errorDetail?: { message?: string } }>(res)) {
    if (m.error || m.errorDetail)
      throw new ComposeError(m.errorDetail?.message ?? m.error ?? 'pull failed');
  }
}

/** `repo[:tag][@digest]` split as the pull API takes it. */
export function splitRef(ref: string): { repo: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { repo: ref.slice(0, at), tag: ref.slice(at + 1) };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}
