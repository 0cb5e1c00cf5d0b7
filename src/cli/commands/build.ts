import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { jsonLines } from '../../client/streams.js';
import { contextTar, dockerfileTar } from '../build-context.js';
import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import { humanSize } from '../../util/human.js';
import { ClientError } from '../../client/client.js';
import { parseSecretFlag, readSecrets, SecretFlagError } from '../secret-flag.js';

interface Message {
  stream?: string;
  status?: string;
  aux?: { ID?: string };
  error?: string;
  errorDetail?: { message?: string; code?: number };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

function isTarOrCompressed(b: Buffer): boolean {
  if (b[0] === 0x1f && b[1] === 0x8b) return true;
  if (b.subarray(0, 3).toString('latin1') === 'BZh') return true;
  if (b[0] === 0xfd && b.subarray(1, 6).toString('latin1') === '7zXZ\u0000') return true;
  return b.length >= 262 && b.subarray(257, 262).toString('latin1') === 'ustar';
}

/** `k=v` flags into a map; a bare `k` takes the value of the client's environment. */
function keyValues(list: string[], fromEnv: boolean): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq < 0) {
      const env = process.env[item];
      out[item] = fromEnv ? (env ?? null) : '';
      if (fromEnv && env === undefined) delete out[item];
    } else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export const command: Command = {
  usage: '[OPTIONS] PATH | URL | -',
  description: 'Build an image from a Dockerfile',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { long: 'tag', short: 't', kind: 'list', description: 'Name and optionally a tag (name:tag)' },
    {
      long: 'file',
      short: 'f',
      kind: 'string',
      description: "Name of the Dockerfile (default: 'PATH/Dockerfile')",
    },
    { long: 'build-arg', kind: 'list', description: 'Set build-time variables' },
    { long: 'label', kind: 'list', description: 'Set metadata for an image' },
    { long: 'target', kind: 'string', description: 'Set the target build stage to build' },
    { long: 'no-cache', kind: 'bool', description: 'Do not use cache when building the image' },
    {
      long: 'pull',
      kind: 'bool',
      description: 'Always attempt to pull a newer version of the image',
    },
    {
      long: 'quiet',
      short: 'q',
      kind: 'bool',
      description: 'Suppress the build output and print image ID on success',
    },
    { long: 'iidfile', kind: 'string', description: 'Write the image ID to the file' },
    {
      long: 'network',
      kind: 'string',
      description: 'Set the networking mode for the RUN instructions during build',
    },
    { long: 'add-host', kind: 'list', description: 'Add a custom host-to-IP mapping (host:ip)' },
    {
      long: 'secret',
      kind: 'list',
      description: 'Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")',
    },
    {
      long: 'progress',
      kind: 'string',
      description: 'Set type of progress output (auto, plain, tty)',
    },
    { long: 'cache-from', kind: 'list', description: 'Images to consider as cache sources' },
    {
      long: 'platform',
      kind: 'string',
      description: 'Set platform if server is multi-platform capable',
    },
    {
      long: 'rm',
      kind: 'bool',
      description: 'Remove intermediate containers after a successful build',
    },
    { long: 'force-rm', kind: 'bool', description: 'Always remove intermediate containers' },
  ],
  async run(ctx, { flags, args }) {
    const progress = flags.string('progress') ?? 'auto';
    if (!['auto', 'plain', 'tty'].includes(progress)) {
      throw new ExitError(`invalid progress mode ${progress}: use auto, plain or tty`, 1);
    }
    // Checked and read before anything is sent, so that a bad one builds nothing.
    let secrets: Map<string, Buffer> | undefined;
    try {
      const specs = flags.list('secret').map(parseSecretFlag);
      if (specs.length > 0) secrets = await readSecrets(specs, process.env);
    } catch (err: unknown) {
      if (err instanceof SecretFlagError) throw new ExitError(err.message, 1);
      throw err;
    }
    try {
      return await build(ctx, flags, args, secrets);
    } finally {
      if (secrets) for (const b of secrets.values()) b.fill(0);
    }
  },
};

async function build(
  ctx: Parameters<Command['run']>[0],
  flags: Parameters<Command['run']>[1]['flags'],
  args: string[],
  secrets: Map<string, Buffer> | undefined,
): Promise<number> {
  const where = args[0] ?? '.';
  let file = flags.string('file');
  let body: Readable;
  let dockerfile = 'Dockerfile';
  let size = 0;
  if (where === '-') {
    if (file === '-')
      throw new ExitError(
        "invalid argument: can't use stdin for both build context and dockerfile",
        1,
      );
    const data = await readAll(ctx.stdin);
    if (isTarOrCompressed(data)) {
      body = (await import('node:stream')).Readable.from(data);
      if (file) dockerfile = file;
    } else {
      body = dockerfileTar('Dockerfile', data);
    }
    size = data.length;
  } else {
    const dir = path.resolve(where);
    let st;
    try {
      st = await fs.stat(dir);
    } catch {
      throw new ExitError(`unable to prepare context: path "${where}" not found`, 1);
    }
    if (!st.isDirectory()) {
      throw new ExitError(`unable to prepare context: context must be a directory: ${dir}`, 1);
    }
    let extra: { name: string; data: Buffer } | undefined;
    if (file === '-') {
      extra = {
        name: `.dockerfile.${randomBytes(10).toString('hex')}`,
        data: await readAll(ctx.stdin),
      };
      dockerfile = extra.name;
    } else {
      const full = file ? path.resolve(file) : path.join(dir, 'Dockerfile');
      const rel = path.relative(dir, full);
      try {
        await fs.access(full);
      } catch {
        throw new ExitError(
          `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${full}: no such file or directory`,
          1,
        );
      }
      if (rel.startsWith('..') || path.isAbsolute(rel)) {
        extra = {
          name: `.dockerfile.${randomBytes(10).toString('hex')}`,
          data: await fs.readFile(full),
        };
        dockerfile = extra.name;
      } else {
        dockerfile = rel.split(path.sep).join('/');
      }
    }
    const tar = await contextTar(dir, dockerfile, extra);
    // The size line comes first, as docker's: read the tar whole (contexts are small).
    const data = await readAll(tar);
    size = data.length;
    body = (await import('node:stream')).Readable.from(data);
  }
  file = dockerfile;
  // The secrets go ahead in a request of their own (berth's addition): /build's URL carries
  // only the one-use handle that claims them.
  let handle: string | undefined;
  if (secrets && secrets.size > 0) {
    try {
      handle = await ctx.client().stageBuildSecrets(secrets);
    } catch (err: unknown) {
      if (err instanceof ClientError && err.statusCode === 404) {
        throw new ExitError(
          'berth build: --secret needs berthd (this engine has no /berth/build/secrets)',
          1,
        );
      }
      throw err;
    }
  }
  const quiet = flags.bool('quiet');
  if (!quiet) ctx.stdout.write(`Sending build context to Docker daemon  ${humanSize(size, 4)}\n`);
  const network = flags.string('network');
  const res = await ctx.client().stream('POST', '/build', {
    query: {
      berthsecrets: handle,
      t: flags.list('tag'),
      dockerfile: file,
      buildargs: JSON.stringify(keyValues(flags.list('build-arg'), true)),
      labels: JSON.stringify(keyValues(flags.list('label'), false)),
      target: flags.string('target'),
      nocache: flags.bool('no-cache') || undefined,
      pull: flags.bool('pull') || undefined,
      q: quiet || undefined,
      networkmode: network,
      extrahosts: flags.list('add-host').length > 0 ? flags.list('add-host').join(',') : undefined,
      cachefrom:
        flags.list('cache-from').length > 0 ? JSON.stringify(flags.list('cache-from')) : undefined,
      platform: flags.string('platform'),
      rm: true,
      forcerm: flags.bool('force-rm') || undefined,
    },
    body,
    rawBody: true,
    headers: { 'Content-Type': 'application/x-tar' },
  });
  let id: string | undefined;
  for await (const m of jsonLines<Message>(res)) {
    if (m.error || m.errorDetail) {
      throw new ExitError(
        m.errorDetail?.message ?? m.error ?? 'build failed',
        m.errorDetail?.code ?? 1,
      );
    }
    if (m.aux?.ID) id = m.aux.ID;
    else if (m.stream !== undefined && quiet && /^sha256:[0-9a-f]{64}\n$/.test(m.stream)) {
      id = m.stream.trim();
    } else if (m.stream !== undefined && !quiet) ctx.stdout.write(m.stream);
  }
  if (!id) throw new ExitError('build ended without an image ID', 1);
  if (quiet) ctx.stdout.write(`${id}\n`);
  const iid = flags.string('iidfile');
  if (iid) await fs.writeFile(iid, id);
  return 0;
}
