import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Command } from '../command.js';
import { printProgress } from '../progress.js';
import { splitReference } from './tag.js';

export const command: Command = {
  usage: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]',
  description: 'Import the contents from a tarball to create a filesystem image',
  minArgs: 1,
  maxArgs: 2,
  flags: [
    {
      long: 'change',
      short: 'c',
      kind: 'list',
      description: 'Apply Dockerfile instruction to the created image',
    },
    {
      long: 'message',
      short: 'm',
      kind: 'string',
      description: 'Set commit message for imported image',
    },
    {
      long: 'platform',
      kind: 'string',
      description: 'Set platform if server is multi-platform capable',
    },
  ],
  async run(ctx, { flags, args }) {
    const [src, ref] = args as [string, string | undefined];
    const body: Readable = src === '-' ? ctx.stdin : createReadStream(src);
    const { repo, tag } = ref ? splitReference(ref) : { repo: undefined, tag: undefined };
    const res = await ctx.client().stream('POST', '/images/create', {
      query: {
        fromSrc: '-',
        repo,
        tag,
        message: flags.string('message'),
        platform: flags.string('platform'),
        changes: flags.list('change'),
      },
      body,
      rawBody: true,
      headers: { 'Content-Type': 'application/x-tar' },
    });
    await printProgress(res, ctx.stdout);
    return 0;
  },
};
