import type { Command } from '../command.js';
import { eachArg } from '../each.js';

export const command: Command = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Stop one or more running containers',
  minArgs: 1,
  flags: [
    {
      long: 'time',
      short: 't',
      kind: 'number',
      description: 'Seconds to wait before killing the container',
    },
    { long: 'signal', short: 's', kind: 'string', description: 'Signal to send to the container' },
  ],
  async run(ctx, { flags, args }) {
    const client = ctx.client();
    const t = flags.number('time');
    const signal = flags.string('signal');
    return eachArg(ctx, args, (ref) =>
      client.json('POST', `/containers/${encodeURIComponent(ref)}/stop`, { query: { t, signal } }),
    );
  },
};
