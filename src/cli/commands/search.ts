import { ClientError } from '../../client/client.js';
import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import { registryAuthHeader } from '../credentials.js';
import { daemonMessage } from '../errors.js';
import { normaliseFormat, parseFilters } from '../filters.js';
import { renderRows } from '../format.js';
import { ellipsis } from '../human.js';

interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

const HEADERS = {
  Name: 'NAME',
  Description: 'DESCRIPTION',
  StarCount: 'STARS',
  IsOfficial: 'OFFICIAL',
  IsAutomated: 'AUTOMATED',
};

export const command: Command = {
  usage: '[OPTIONS] TERM',
  description: 'Search Docker Hub for images',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    {
      long: 'filter',
      short: 'f',
      kind: 'list',
      description: 'Filter output based on conditions provided',
    },
    { long: 'format', kind: 'string', description: 'Pretty-print search using a Go template' },
    { long: 'limit', kind: 'number', description: 'Max number of search results (default 25)' },
    { long: 'no-trunc', kind: 'bool', description: "Don't truncate output" },
  ],
  async run(ctx, { flags, args }) {
    const term = args[0] ?? '';
    let results: SearchResult[];
    try {
      results = await ctx.client().json<SearchResult[]>('GET', '/images/search', {
        query: {
          term,
          limit: flags.number('limit'),
          filters: parseFilters(flags.list('filter')),
        },
        headers: await registryAuthHeader(term),
      });
    } catch (err: unknown) {
      if (err instanceof ClientError) throw new ExitError(daemonMessage(err), 1);
      throw err;
    }
    const trunc = !flags.bool('no-trunc');
    const rows = results.map((r) => {
      const desc = r.description.replace(/\n/g, ' ');
      return {
        Name: r.name,
        Description: trunc ? ellipsis(desc, 45) : desc,
        StarCount: String(r.star_count),
        IsOfficial: r.is_official ? '[OK]' : '',
        IsAutomated: r.is_automated ? '[OK]' : '',
      };
    });
    // The docker CLI no longer shows AUTOMATED by default (Docker Hub dropped automated
    // builds); `{{.IsAutomated}}` still works in --format.
    const fallback = 'table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}';
    ctx.stdout.write(renderRows(normaliseFormat(flags.string('format'), fallback), rows, HEADERS));
    return 0;
  },
};
