import type { Command } from '../command.js';
import { inspectObjects } from './inspect.js';

export const command: Command = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Display detailed information on one or more containers',
  minArgs: 1,
  flags: [
    {
      long: 'format',
      short: 'f',
      kind: 'string',
      description: 'Format output using a custom template',
    },
    { long: 'size', short: 's', kind: 'bool', description: 'Display total file sizes' },
  ],
  async run(ctx, parsed) {
    return inspectObjects(ctx, parsed, ['container']);
  },
};
