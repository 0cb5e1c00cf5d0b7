import type { CommandContext } from './command.js';
import { ExitError } from './command.js';
import { registryAuthHeader, serverForReference, hubServer } from './credentials.js';
import { displayJsonMessages } from './progress.js';

/** `busybox` → `busybox:latest`; a name with a tag or digest is left alone. */
export function withTag(ref: string): string {
  if (ref.includes('@')) return ref;
  return ref.lastIndexOf(':') > ref.lastIndexOf('/') ? ref : `${ref}:latest`;
}

/** `fromImage` and `tag` as the docker CLI sends them for a reference. */
export function splitReference(ref: string): { name: string; tag: string } {
  const at = ref.indexOf('@');
  if (at >= 0) return { name: ref.slice(0, at), tag: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(':');
  if (colon > ref.lastIndexOf('/')) return { name: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { name: ref, tag: '' };
}

/** The fully qualified name the docker CLI prints after a pull: `docker.io/library/busybox:latest`. */
export function qualified(ref: string): string {
  if (serverForReference(ref) !== hubServer) return ref;
  const stripped = ref.replace(/^(docker\.io|index\.docker\.io)\//, '');
  const first = stripped.split('/')[0] ?? '';
  return stripped.includes('/') || first.includes('@')
    ? `docker.io/${stripped}`
    : `docker.io/library/${stripped}`;
}

/**
 * Pulls `ref` through the engine, printing its progress to `out` as the docker CLI does.
 * `allTags` pulls every tag of the repository.
 */
export async function pullImage(
  ctx: CommandContext,
  ref: string,
  options: { platform?: string; allTags?: boolean; quiet?: boolean; out: NodeJS.WritableStream },
): Promise<void> {
  const target = options.allTags ? ref : withTag(ref);
  const { name, tag } = splitReference(target);
  const res = await ctx.client().stream('POST', '/images/create', {
    query: {
      fromImage: name,
      tag,
      ...(options.platform ? { platform: options.platform } : {}),
    },
    headers: await registryAuthHeader(name),
  });
  const tty = (options.out as unknown as { isTTY?: boolean }).isTTY === true;
  if (options.quiet) {
    for await (const chunk of res) void chunk;
    return;
  }
  await displayJsonMessages(res, options.out, tty);
}

export function pullFailure(err: unknown): ExitError {
  if (err instanceof ExitError) return err;
  return new ExitError(err instanceof Error ? err.message : String(err), 1);
}
