import { ClientError } from '../../client/client.js';
import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import { daemonMessage } from '../errors.js';
import { pullImage, qualified, withTag } from '../pull.js';

export const command: Command = {
  usage: '[OPTIONS] NAME[:TAG|@DIGEST]',
  description: 'Download an image from a registry',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    {
      long: 'all-tags',
      short: 'a',
      kind: 'bool',
      description: 'Download all tagged images in the repository',
    },
    {
      long: 'platform',
      kind: 'string',
      description: 'Set platform if server is multi-platform capable',
    },
    { long: 'quiet', short: 'q', kind: 'bool', description: 'Suppress verbose output' },
    {
      long: 'disable-content-trust',
      kind: 'bool',
      description: 'Skip image verification (default true)',
    },
  ],
  async run(ctx, { flags, args }) {
    const ref = args[0] ?? '';
    const allTags = flags.bool('all-tags');
    if (allTags && (ref.includes('@') || ref.lastIndexOf(':') > ref.lastIndexOf('/'))) {
      throw new ExitError("tag can't be used with --all-tags/-a", 1);
    }
    if (
      !allTags &&
      !flags.bool('quiet') &&
      ref.lastIndexOf(':') <= ref.lastIndexOf('/') &&
      !ref.includes('@')
    ) {
      ctx.stdout.write('Using default tag: latest\n');
    }
    const platform = flags.string('platform');
    try {
      await pullImage(ctx, ref, {
        allTags,
        quiet: flags.bool('quiet'),
        out: ctx.stdout,
        ...(platform !== undefined ? { platform } : {}),
      });
    } catch (err: unknown) {
      if (err instanceof ClientError) throw new ExitError(daemonMessage(err), 1);
      throw err;
    }
    ctx.stdout.write(`${qualified(allTags ? ref : withTag(ref))}\n`);
    return 0;
  },
};
