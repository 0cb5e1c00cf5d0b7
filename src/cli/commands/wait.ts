import type { Command } from '../command.js';
import { eachArg } from '../each.js';

export const command: Command = {
  usage: 'CONTAINER [CONTAINER...]',
  description: 'Block until one or more containers stop, then print their exit codes',
  minArgs: 1,
  flags: [],
  async run(ctx, { args }) {
    const client = ctx.client();
    return eachArg(
      ctx,
      args,
      async (ref) => (await (await client.containerWait(ref, 'not-running')).result).StatusCode,
      { print: (_ref, code) => String(code) },
    );
  },
};
