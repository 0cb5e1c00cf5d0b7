import type { Command } from '../command.js';
import { parseFilters } from '../filters.js';
import { confirm, pruneContainers, reclaimed } from '../prune.js';

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'Remove all stopped containers',
  maxArgs: 0,
  flags: [
    { long: 'force', short: 'f', kind: 'bool', description: 'Do not prompt for confirmation' },
    { long: 'filter', kind: 'list', description: 'Provide filter values' },
  ],
  async run(ctx, { flags }) {
    if (
      !flags.bool('force') &&
      !(await confirm(ctx, 'WARNING! This will remove all stopped containers.'))
    )
      return 0;
    const r = await pruneContainers(ctx, parseFilters(flags.list('filter')));
    ctx.stdout.write([...r.lines, reclaimed(r.space)].join('\n') + '\n');
    return 0;
  },
};
