import { ClientError } from '../../client/client.js';
import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import { parseTemplate } from '../format.js';
import { daemonMessage } from '../errors.js';

export const command: Command = {
  usage: '[OPTIONS] VOLUME [VOLUME...]',
  description: 'Display detailed information on one or more volumes',
  minArgs: 1,
  flags: [
    {
      long: 'format',
      short: 'f',
      kind: 'string',
      description: 'Format output using a custom template',
    },
  ],
  async run(ctx, { flags, args }) {
    const format = flags.string('format');
    const template =
      format !== undefined && format !== '' && format !== 'json'
        ? parseTemplate(format)
        : undefined;
    const found: Record<string, unknown>[] = [];
    let failed = false;
    for (const name of args) {
      try {
        const v = await ctx
          .client()
          .json<Record<string, unknown>>('GET', `/volumes/${encodeURIComponent(name)}`);
        if (template) ctx.stdout.write(template.execute(v) + '\n');
        else found.push(v);
      } catch (err: unknown) {
        if (!(err instanceof ClientError)) throw err;
        failed = true;
        ctx.stderr.write(`${daemonMessage(err)}\n`);
        if (err.statusCode === 0) throw new ExitError('', 1);
      }
    }
    if (!template) ctx.stdout.write(JSON.stringify(found, null, 4) + '\n');
    return failed ? 1 : 0;
  },
};
