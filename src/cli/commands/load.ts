import { createReadStream } from 'node:fs';
import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import { printProgress } from '../progress.js';

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'Load an image from a tar archive or STDIN',
  maxArgs: 0,
  flags: [
    {
      long: 'input',
      short: 'i',
      kind: 'string',
      description: 'Read from tar archive file, instead of STDIN',
    },
    { long: 'quiet', short: 'q', kind: 'bool', description: 'Suppress the load output' },
  ],
  async run(ctx, { flags }) {
    const input = flags.string('input');
    const stdinTty = (ctx.stdin as unknown as { isTTY?: boolean }).isTTY;
    if (input === undefined && stdinTty) {
      throw new ExitError('requested load from stdin, but stdin is empty', 1);
    }
    const res = await ctx.client().stream('POST', '/images/load', {
      query: { quiet: flags.bool('quiet') || undefined },
      body: input !== undefined ? createReadStream(input) : ctx.stdin,
      rawBody: true,
      headers: { 'Content-Type': 'application/x-tar' },
    });
    await printProgress(res, ctx.stdout);
    return 0;
  },
};
