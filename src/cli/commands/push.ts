import { ClientError } from '../../client/client.js';
import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import { registryAuthHeader } from '../credentials.js';
import { daemonMessage } from '../errors.js';
import { displayJsonMessages } from '../progress.js';
import { splitReference, withTag } from '../pull.js';

export const command: Command = {
  usage: '[OPTIONS] NAME[:TAG]',
  description: 'Upload an image to a registry',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    {
      long: 'all-tags',
      short: 'a',
      kind: 'bool',
      description: 'Push all tags of an image to the repository',
    },
    { long: 'quiet', short: 'q', kind: 'bool', description: 'Suppress verbose output' },
    {
      long: 'disable-content-trust',
      kind: 'bool',
      description: 'Skip image signing (default true)',
    },
  ],
  async run(ctx, { flags, args }) {
    const ref = args[0] ?? '';
    const allTags = flags.bool('all-tags');
    const hasTag = ref.lastIndexOf(':') > ref.lastIndexOf('/');
    if (ref.includes('@')) throw new ExitError('cannot push a digest reference', 1);
    if (allTags && hasTag) throw new ExitError("tag can't be used with --all-tags/-a", 1);
    if (!allTags && !hasTag) ctx.stdout.write('Using default tag: latest\n');
    const { name, tag } = splitReference(allTags ? ref : withTag(ref));
    let res;
    try {
      res = await ctx.client().stream('POST', `/images/${name}/push`, {
        query: { tag },
        headers: await registryAuthHeader(name),
      });
    } catch (err: unknown) {
      if (err instanceof ClientError) throw new ExitError(daemonMessage(err), 1);
      throw err;
    }
    const tty = (ctx.stdout as unknown as { isTTY?: boolean }).isTTY === true;
    if (flags.bool('quiet')) {
      for await (const chunk of res) void chunk;
      ctx.stdout.write(`${allTags ? name : withTag(ref)}\n`);
      return 0;
    }
    await displayJsonMessages(res, ctx.stdout, tty);
    return 0;
  },
};
