import type { Command } from '../command.js';
import { tarTo } from '../tar-out.js';

export const command: Command = {
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  minArgs: 1,
  flags: [
    {
      long: 'output',
      short: 'o',
      kind: 'string',
      description: 'Write to a file, instead of STDOUT',
    },
  ],
  async run(ctx, { flags, args }) {
    const res = await ctx.client().stream('GET', '/images/get', { query: { names: args } });
    await tarTo(res, flags.string('output'), ctx.stdout, 'save image');
    return 0;
  },
};
