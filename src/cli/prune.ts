import type { CommandContext } from './command.js';
import { humanSize } from './human.js';

/** docker's prompt for destructive commands; true when the user typed y. */
export async function confirm(ctx: CommandContext, warning: string): Promise<boolean> {
  ctx.stdout.write(`${warning}\nAre you sure you want to continue? [y/N] `);
  const answer = await new Promise<string>((resolve) => {
    let text = '';
    const onData = (b: Buffer): void => {
      text += b.toString();
      if (text.includes('\n')) done();
    };
    const done = (): void => {
      ctx.stdin.off('data', onData);
      ctx.stdin.off('end', done);
      ctx.stdin.pause();
      resolve(text);
    };
    ctx.stdin.on('data', onData);
    ctx.stdin.on('end', done);
    ctx.stdin.resume();
  });
  return /^\s*y(es)?\s*$/i.test(answer.split('\n')[0] ?? '');
}

export async function pruneContainers(
  ctx: CommandContext,
  filters: Record<string, string[]>,
): Promise<{ lines: string[]; space: number }> {
  const r = await ctx
    .client()
    .json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>(
      'POST',
      '/containers/prune',
      { query: { filters } },
    );
  const ids = r.ContainersDeleted ?? [];
  return {
    lines: ids.length > 0 ? ['Deleted Containers:', ...ids, ''] : [],
    space: r.SpaceReclaimed ?? 0,
  };
}

export async function pruneImages(
  ctx: CommandContext,
  all: boolean,
  filters: Record<string, string[]>,
): Promise<{ lines: string[]; space: number }> {
  const f = { ...filters, ...(all ? { dangling: ['false'] } : {}) };
  const r = await ctx.client().json<{
    ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null;
    SpaceReclaimed: number;
  }>('POST', '/images/prune', { query: { filters: f } });
  const list = (r.ImagesDeleted ?? []).map((d) =>
    d.Untagged ? `untagged: ${d.Untagged}` : `deleted: ${d.Deleted ?? ''}`,
  );
  return {
    lines: list.length > 0 ? ['Deleted Images:', ...list, ''] : [],
    space: r.SpaceReclaimed ?? 0,
  };
}

export function reclaimed(space: number): string {
  return `Total reclaimed space: ${humanSize(space)}`;
}

export async function pruneVolumes(
  ctx: CommandContext,
  filters: Record<string, string[]>,
): Promise<{ lines: string[]; space: number }> {
  const r = await ctx
    .client()
    .json<{ VolumesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/volumes/prune', {
      query: { filters },
    });
  const names = r.VolumesDeleted ?? [];
  return {
    lines: names.length > 0 ? ['Deleted Volumes:', ...names, ''] : [],
    space: r.SpaceReclaimed ?? 0,
  };
}
