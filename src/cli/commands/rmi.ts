import type { Command } from '../command.js';
import { eachArg } from '../each.js';

export const command: Command = {
  usage: '[OPTIONS] IMAGE [IMAGE...]',
  description: 'Remove one or more images',
  minArgs: 1,
  flags: [
    { long: 'force', short: 'f', kind: 'bool', description: 'Force removal of the image' },
    { long: 'no-prune', kind: 'bool', description: 'Do not delete untagged parents' },
  ],
  async run(ctx, { flags, args }) {
    const client = ctx.client();
    return eachArg(
      ctx,
      args,
      (ref) =>
        client.json<{ Untagged?: string; Deleted?: string }[]>('DELETE', `/images/${ref}`, {
          query: {
            force: flags.bool('force') || undefined,
            noprune: flags.bool('no-prune') || undefined,
          },
        }),
      {
        print: (_ref, result) =>
          ((result as { Untagged?: string; Deleted?: string }[]) ?? [])
            .map((r) => (r.Untagged ? `Untagged: ${r.Untagged}` : `Deleted: ${r.Deleted ?? ''}`))
            .join('\n') || undefined,
      },
    );
  },
};
