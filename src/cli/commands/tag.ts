import type { Command } from '../command.js';

/** Splits `repo[:tag]` at the tag colon (not a registry port). */
export function splitReference(ref: string): { repo: string; tag?: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repo: ref };
}

export const command: Command = {
  usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]',
  description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  minArgs: 2,
  maxArgs: 2,
  flags: [],
  async run(ctx, { args }) {
    const [source, target] = args as [string, string];
    const { repo, tag } = splitReference(target);
    await ctx
      .client()
      .json('POST', `/images/${source}/tag`, { query: { repo, tag: tag ?? 'latest' } });
    return 0;
  },
};
