import type { Command } from '../command.js';
import { eachArg } from '../each.js';

export const command: Command = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Kill one or more running containers',
  minArgs: 1,
  flags: [
    { long: 'signal', short: 's', kind: 'string', description: 'Signal to send to the container' },
  ],
  async run(ctx, { flags, args }) {
    const client = ctx.client();
    const signal = flags.string('signal');
    return eachArg(ctx, args, (ref) => client.containerKill(ref, signal));
  },
};
