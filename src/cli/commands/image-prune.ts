import type { Command } from '../command.js';
import { parseFilters } from '../filters.js';
import { confirm, pruneImages, reclaimed } from '../prune.js';

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'Remove unused images',
  maxArgs: 0,
  flags: [
    {
      long: 'all',
      short: 'a',
      kind: 'bool',
      description: 'Remove all unused images, not just dangling ones',
    },
    { long: 'force', short: 'f', kind: 'bool', description: 'Do not prompt for confirmation' },
    { long: 'filter', kind: 'list', description: 'Provide filter values' },
  ],
  async run(ctx, { flags }) {
    const all = flags.bool('all');
    const warning = all
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    if (!flags.bool('force') && !(await confirm(ctx, warning))) return 0;
    const r = await pruneImages(ctx, all, parseFilters(flags.list('filter')));
    ctx.stdout.write([...r.lines, reclaimed(r.space)].join('\n') + '\n');
    return 0;
  },
};
