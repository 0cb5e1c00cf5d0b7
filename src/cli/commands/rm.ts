import type { Command } from '../command.js';
import { eachArg } from '../each.js';

export const command: Command = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Remove one or more containers',
  minArgs: 1,
  flags: [
    {
      long: 'force',
      short: 'f',
      kind: 'bool',
      description: 'Force the removal of a running container (uses SIGKILL)',
    },
    {
      long: 'volumes',
      short: 'v',
      kind: 'bool',
      description: 'Remove anonymous volumes associated with the container',
    },
    { long: 'link', short: 'l', kind: 'bool', description: 'Remove the specified link' },
  ],
  async run(ctx, { flags, args }) {
    const client = ctx.client();
    return eachArg(ctx, args, (ref) =>
      client.json('DELETE', `/containers/${encodeURIComponent(ref)}`, {
        query: {
          force: flags.bool('force') || undefined,
          v: flags.bool('volumes') || undefined,
          link: flags.bool('link') || undefined,
        },
      }),
    );
  },
};
