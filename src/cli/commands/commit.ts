import type { Command } from '../command.js';
import { splitReference } from './tag.js';

export const command: Command = {
  usage: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  description: "Create a new image from a container's changes",
  minArgs: 1,
  maxArgs: 2,
  flags: [
    {
      long: 'author',
      short: 'a',
      kind: 'string',
      description: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")',
    },
    {
      long: 'change',
      short: 'c',
      kind: 'list',
      description: 'Apply Dockerfile instruction to the created image',
    },
    { long: 'message', short: 'm', kind: 'string', description: 'Commit message' },
    {
      long: 'pause',
      short: 'p',
      kind: 'bool',
      description: 'Pause container during commit (default true)',
    },
  ],
  async run(ctx, { flags, args }) {
    const [container, ref] = args as [string, string | undefined];
    const { repo, tag } = ref ? splitReference(ref) : { repo: undefined, tag: undefined };
    const res = await ctx.client().json<{ Id: string }>('POST', '/commit', {
      query: {
        container,
        repo,
        tag,
        comment: flags.string('message'),
        author: flags.string('author'),
        changes: flags.list('change'),
        pause: flags.has('pause') ? flags.bool('pause') : true,
      },
      body: {},
    });
    ctx.stdout.write(`${res.Id}\n`);
    return 0;
  },
};
