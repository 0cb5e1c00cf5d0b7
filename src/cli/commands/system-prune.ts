import type { Command } from '../command.js';
import { parseFilters } from '../filters.js';
import { confirm, pruneContainers, pruneImages, pruneVolumes, reclaimed } from '../prune.js';

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'Remove unused data',
  maxArgs: 0,
  flags: [
    {
      long: 'all',
      short: 'a',
      kind: 'bool',
      description: 'Remove all unused images not just dangling ones',
    },
    { long: 'force', short: 'f', kind: 'bool', description: 'Do not prompt for confirmation' },
    { long: 'volumes', kind: 'bool', description: 'Prune anonymous volumes' },
    { long: 'filter', kind: 'list', description: 'Provide filter values' },
  ],
  async run(ctx, { flags }) {
    const all = flags.bool('all');
    const warning = [
      'WARNING! This will remove:',
      '  - all stopped containers',
      ...(flags.bool('volumes')
        ? ['  - all anonymous volumes not used by at least one container']
        : []),
      all
        ? '  - all images without at least one container associated to them'
        : '  - all dangling images',
      '  - all dangling build cache',
      '',
    ].join('\n');
    if (!flags.bool('force') && !(await confirm(ctx, warning))) return 0;
    const filters = parseFilters(flags.list('filter'));
    const c = await pruneContainers(ctx, filters);
    const v = flags.bool('volumes') ? await pruneVolumes(ctx, filters) : { lines: [], space: 0 };
    const i = await pruneImages(ctx, all, filters);
    const b = await ctx
      .client()
      .json<{ CachesDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/build/prune', {
        query: { all: all || undefined },
      });
    const cache = b.CachesDeleted ?? [];
    const cacheLines = cache.length > 0 ? ['Deleted build cache objects:', ...cache, ''] : [];
    ctx.stdout.write(
      [
        ...c.lines,
        ...v.lines,
        ...i.lines,
        ...cacheLines,
        reclaimed(c.space + v.space + i.space + b.SpaceReclaimed),
      ].join('\n') + '\n',
    );
    return 0;
  },
};
