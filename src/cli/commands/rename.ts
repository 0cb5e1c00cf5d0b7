import type { Command } from '../command.js';

export const command: Command = {
  usage: 'CONTAINER NEW_NAME',
  description: 'Rename a container',
  minArgs: 2,
  maxArgs: 2,
  flags: [],
  async run(ctx, { args }) {
    const [ref, name] = args as [string, string];
    await ctx
      .client()
      .json('POST', `/containers/${encodeURIComponent(ref)}/rename`, { query: { name } });
    return 0;
  },
};
