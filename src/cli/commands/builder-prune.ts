import type { Command } from '../command.js';
import { confirm, reclaimed } from '../prune.js';

interface PruneResult {
  CachesDeleted: string[] | null;
  SpaceReclaimed: number;
}

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'Remove build cache',
  maxArgs: 0,
  flags: [
    {
      long: 'all',
      short: 'a',
      kind: 'bool',
      description: 'Remove all unused build cache, not just dangling ones',
    },
    { long: 'force', short: 'f', kind: 'bool', description: 'Do not prompt for confirmation' },
    { long: 'filter', kind: 'list', description: 'Provide filter values' },
  ],
  async run(ctx, { flags }) {
    const all = flags.bool('all');
    const warning = all
      ? 'WARNING! This will remove all build cache.\n'
      : 'WARNING! This will remove all dangling build cache.\n';
    if (!flags.bool('force') && !(await confirm(ctx, warning))) return 0;
    const res = await ctx.client().json<PruneResult>('POST', '/build/prune', {
      query: { all: all || undefined },
    });
    const ids = res.CachesDeleted ?? [];
    const lines: string[] = [];
    if (ids.length > 0) lines.push('Deleted build cache objects:', ...ids, '');
    lines.push(reclaimed(res.SpaceReclaimed));
    ctx.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
