import type { Command } from '../command.js';
import { CREATE_FLAGS } from '../container-config.js';
import { createContainer } from './run.js';

export const command: Command = {
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create a new container',
  interspersed: false,
  minArgs: 1,
  flags: CREATE_FLAGS,
  async run(ctx, parsed) {
    const { id } = await createContainer(ctx, parsed, true, 'create');
    ctx.stdout.write(`${id}\n`);
    return 0;
  },
};
