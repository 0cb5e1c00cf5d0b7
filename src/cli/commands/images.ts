import type { ImageSummary } from '../../spec/engine.js';
import type { Command } from '../command.js';
import { renderRows } from '../format.js';
import { ago, goTime, humanSize, shortId } from '../human.js';
import { normaliseFormat, parseFilters } from '../filters.js';

const HEADERS: Record<string, string> = {
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  ID: 'IMAGE ID',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'VIRTUAL SIZE',
};

function splitRepoTag(ref: string): [string, string] {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, '<none>'];
}

/** One row per tag (or one `<none>` row), the fields `docker images --format` offers. */
export function imageRows(
  images: ImageSummary[],
  trunc: boolean,
  now = Date.now(),
): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const img of images) {
    const id = trunc ? shortId(img.Id) : img.Id;
    const common = {
      ID: id,
      CreatedSince: ago(img.Created, now),
      CreatedAt: goTime(img.Created),
      Size: humanSize(img.Size),
      VirtualSize: humanSize(img.VirtualSize ?? img.Size, 4),
      SharedSize: img.SharedSize >= 0 ? humanSize(img.SharedSize) : 'N/A',
      UniqueSize: img.SharedSize >= 0 ? humanSize(img.Size - img.SharedSize) : 'N/A',
      Containers: img.Containers >= 0 ? String(img.Containers) : 'N/A',
    };
    const digests = img.RepoDigests ?? [];
    const digestFor = (repo: string): string => {
      const d = digests.find((x) => x.startsWith(`${repo}@`));
      return d ? d.slice(d.indexOf('@') + 1) : '<none>';
    };
    const tags = (img.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
    if (tags.length === 0) {
      const d = digests[0];
      rows.push({
        ...common,
        Repository: d ? d.slice(0, d.indexOf('@')) : '<none>',
        Tag: '<none>',
        Digest: d ? d.slice(d.indexOf('@') + 1) : '<none>',
      });
      continue;
    }
    for (const t of tags) {
      const [repo, tag] = splitRepoTag(t);
      rows.push({ ...common, Repository: repo, Tag: tag, Digest: digestFor(repo) });
    }
  }
  return rows;
}

export const command: Command = {
  usage: '[OPTIONS] [REPOSITORY[:TAG]]',
  description: 'List images',
  maxArgs: 1,
  flags: [
    {
      long: 'all',
      short: 'a',
      kind: 'bool',
      description: 'Show all images (default hides intermediate images)',
    },
    { long: 'quiet', short: 'q', kind: 'bool', description: 'Only show image IDs' },
    { long: 'digests', kind: 'bool', description: 'Show digests' },
    {
      long: 'filter',
      short: 'f',
      kind: 'list',
      description: 'Filter output based on conditions provided',
    },
    { long: 'format', kind: 'string', description: 'Format output using a custom template' },
    { long: 'no-trunc', kind: 'bool', description: "Don't truncate output" },
  ],
  async run(ctx, { flags, args }) {
    const filters = parseFilters(flags.list('filter'));
    if (args[0] !== undefined) (filters.reference ??= []).push(args[0]);
    const images = await ctx
      .client()
      .imageList({ all: flags.bool('all'), digests: flags.bool('digests'), filters });
    const trunc = !flags.bool('no-trunc');
    const format = flags.string('format');
    if (flags.bool('quiet') && format === undefined) {
      const seen = new Set<string>();
      for (const img of images) {
        const id = trunc ? shortId(img.Id) : img.Id;
        if (seen.has(id)) continue;
        seen.add(id);
        ctx.stdout.write(`${id}\n`);
      }
      return 0;
    }
    const fallback = flags.bool('digests')
      ? 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
      : 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
    ctx.stdout.write(
      renderRows(normaliseFormat(format, fallback), imageRows(images, trunc), HEADERS),
    );
    return 0;
  },
};
