import type { Command } from '../command.js';
import { eachArg } from '../each.js';

/** `stop` and `restart` take the same flags and differ only in the route they post to. */
export function stopLike(action: 'stop' | 'restart', description: string): Command {
  return {
    usage: '[OPTIONS] CONTAINER [CONTAINER...]',
    description,
    minArgs: 1,
    flags: [
      {
        long: 'time',
        short: 't',
        kind: 'number',
        description: 'Seconds to wait before killing the container',
      },
      {
        long: 'signal',
        short: 's',
        kind: 'string',
        description: 'Signal to send to the container',
      },
    ],
    async run(ctx, { flags, args }) {
      const client = ctx.client();
      const t = flags.number('time');
      const signal = flags.string('signal');
      return eachArg(ctx, args, (ref) =>
        client.json('POST', `/containers/${encodeURIComponent(ref)}/${action}`, {
          query: { t, signal },
        }),
      );
    },
  };
}

export const command: Command = stopLike('stop', 'Stop one or more running containers');
