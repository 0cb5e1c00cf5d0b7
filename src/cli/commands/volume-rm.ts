import type { Command } from '../command.js';
import { eachArg } from '../each.js';

export const command: Command = {
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  description: 'Remove one or more volumes',
  minArgs: 1,
  flags: [
    {
      long: 'force',
      short: 'f',
      kind: 'bool',
      description: 'Force the removal of one or more volumes',
    },
  ],
  async run(ctx, { flags, args }) {
    const force = flags.bool('force');
    return eachArg(ctx, args, (name) =>
      ctx.client().json('DELETE', `/volumes/${encodeURIComponent(name)}`, {
        query: { force: force ? '1' : undefined },
      }),
    );
  },
};
