import type { Command } from '../command.js';
import { parseFilters } from '../filters.js';
import { confirm, pruneVolumes, reclaimed } from '../prune.js';

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'Remove unused local volumes',
  maxArgs: 0,
  flags: [
    {
      long: 'all',
      short: 'a',
      kind: 'bool',
      description: 'Remove all unused volumes, not just anonymous ones',
    },
    { long: 'filter', kind: 'list', description: "Provide filter values (e.g. 'label=<label>')" },
    { long: 'force', short: 'f', kind: 'bool', description: 'Do not prompt for confirmation' },
  ],
  async run(ctx, { flags }) {
    const all = flags.bool('all');
    const warning = all
      ? 'WARNING! This will remove all local volumes not used by at least one container.'
      : 'WARNING! This will remove anonymous local volumes not used by at least one container.';
    if (!flags.bool('force') && !(await confirm(ctx, warning))) return 0;
    const filters = parseFilters(flags.list('filter'));
    if (all) filters.all = ['true'];
    const r = await pruneVolumes(ctx, filters);
    ctx.stdout.write([...r.lines, reclaimed(r.space)].join('\n') + '\n');
    return 0;
  },
};
