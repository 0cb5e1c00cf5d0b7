import type { Command } from '../command.js';

export const command: Command = {
  usage: 'NAME',
  description: "Make a built-in image from the host's tools, without a registry (busybox)",
  minArgs: 1,
  maxArgs: 1,
  flags: [],
  async run(ctx, { args }) {
    const [name] = args as [string];
    const result = (await ctx
      .client()
      .json('POST', '/berth/images/bootstrap', { query: { name } })) as {
      Id: string;
      RepoTags: string[];
    };
    ctx.stdout.write(`${result.RepoTags[0] ?? name} ${result.Id}\n`);
    return 0;
  },
};
