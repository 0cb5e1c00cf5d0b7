import type { Command } from '../command.js';
import { eraseCredentials, normalizeServer } from '../credentials.js';

export const command: Command = {
  usage: '[SERVER]',
  description:
    'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
  maxArgs: 1,
  flags: [],
  async run(ctx, { args }) {
    const server = normalizeServer(args[0]);
    if (!(await eraseCredentials(server))) {
      ctx.stdout.write(`Not logged in to ${server}\n`);
      return 0;
    }
    ctx.stdout.write(`Removing login credentials for ${server}\n`);
    return 0;
  },
};
