import type { Command } from '../command.js';
import { eachArg } from '../each.js';

export const command: Command = {
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Unpause all processes within one or more containers',
  minArgs: 1,
  flags: [],
  async run(ctx, { args }) {
    const client = ctx.client();
    return eachArg(ctx, args, (ref) =>
      client.json('POST', `/containers/${encodeURIComponent(ref)}/unpause`),
    );
  },
};
