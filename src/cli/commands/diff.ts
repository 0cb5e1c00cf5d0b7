import type { Command } from '../command.js';

const KINDS = ['C', 'A', 'D'];

export const command: Command = {
  usage: 'CONTAINER',
  description: "Inspect changes to files or directories on a container's filesystem",
  minArgs: 1,
  maxArgs: 1,
  flags: [],
  async run(ctx, { args }) {
    const changes = await ctx
      .client()
      .json<{ Path: string; Kind: number }[] | null>(
        'GET',
        `/containers/${encodeURIComponent(args[0] as string)}/changes`,
      );
    for (const c of changes ?? []) ctx.stdout.write(`${KINDS[c.Kind] ?? '?'} ${c.Path}\n`);
    return 0;
  },
};
