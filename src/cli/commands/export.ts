import type { Command } from '../command.js';
import { tarTo } from '../tar-out.js';

export const command: Command = {
  usage: '[OPTIONS] CONTAINER',
  description: "Export a container's filesystem as a tar archive",
  minArgs: 1,
  maxArgs: 1,
  flags: [
    {
      long: 'output',
      short: 'o',
      kind: 'string',
      description: 'Write to a file, instead of STDOUT',
    },
  ],
  async run(ctx, { flags, args }) {
    const res = await ctx
      .client()
      .stream('GET', `/containers/${encodeURIComponent(args[0] as string)}/export`);
    await tarTo(res, flags.string('output'), ctx.stdout, 'export container');
    return 0;
  },
};
