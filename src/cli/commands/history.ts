import type { Command } from '../command.js';
import { renderRows } from '../format.js';
import { ago, ellipsis, goTime, humanSize, shortId } from '../human.js';
import { normaliseFormat } from '../filters.js';

interface Entry {
  Id: string;
  Created: number;
  CreatedBy: string;
  Size: number;
  Comment: string;
  Tags: string[] | null;
}

export const command: Command = {
  usage: '[OPTIONS] IMAGE',
  description: 'Show the history of an image',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    {
      long: 'human',
      short: 'H',
      kind: 'bool',
      description: 'Print sizes and dates in human readable format',
    },
    { long: 'quiet', short: 'q', kind: 'bool', description: 'Only show image IDs' },
    { long: 'no-trunc', kind: 'bool', description: "Don't truncate output" },
    { long: 'format', kind: 'string', description: 'Format output using a custom template' },
  ],
  async run(ctx, { flags, args }) {
    const list = await ctx.client().json<Entry[]>('GET', `/images/${args[0] as string}/history`);
    const trunc = !flags.bool('no-trunc');
    const human = !flags.has('human') || flags.bool('human');
    const id = (e: Entry): string =>
      e.Id.startsWith('sha256:') ? (trunc ? shortId(e.Id) : e.Id) : '<missing>';
    if (flags.bool('quiet')) {
      for (const e of list) ctx.stdout.write(`${id(e)}\n`);
      return 0;
    }
    const rows = list.map((e) => ({
      ID: id(e),
      CreatedSince: human ? ago(e.Created) : goTime(e.Created),
      CreatedAt: goTime(e.Created),
      CreatedBy: trunc ? ellipsis(e.CreatedBy.replace(/\t/g, ' '), 45) : e.CreatedBy,
      Size: human ? humanSize(e.Size) : String(e.Size),
      Comment: e.Comment,
    }));
    const fallback = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';
    ctx.stdout.write(
      renderRows(normaliseFormat(flags.string('format'), fallback), rows, {
        ID: 'IMAGE',
        CreatedSince: 'CREATED',
        CreatedAt: 'CREATED AT',
        CreatedBy: 'CREATED BY',
        Size: 'SIZE',
        Comment: 'COMMENT',
      }),
    );
    return 0;
  },
};
