import type { Command } from '../command.js';
import { tabwrite } from '../format.js';

export const command: Command = {
  usage: 'CONTAINER [ps OPTIONS]',
  description: 'Display the running processes of a container',
  interspersed: false,
  minArgs: 1,
  flags: [],
  async run(ctx, { args }) {
    const [ref, ...psArgs] = args as [string, ...string[]];
    const top = await ctx
      .client()
      .json<{ Titles: string[]; Processes: string[][] }>(
        'GET',
        `/containers/${encodeURIComponent(ref)}/top`,
        { query: { ps_args: psArgs.length > 0 ? psArgs.join(' ') : undefined } },
      );
    const lines = [top.Titles.join('\t'), ...(top.Processes ?? []).map((p) => p.join('\t'))];
    ctx.stdout.write(tabwrite(lines.join('\n') + '\n', { minWidth: 1, padding: 3 }));
    return 0;
  },
};
