import type { Command } from '../command.js';
import { renderRows } from '../format.js';
import { humanSize } from '../human.js';
import { normaliseFormat } from '../filters.js';
import { verboseDf } from '../df-verbose.js';

interface Df {
  LayersSize?: number;
  Images?: { Size: number; SharedSize: number; Containers: number }[] | null;
  Containers?: { SizeRw?: number; State: string }[] | null;
  Volumes?: { UsageData?: { Size: number; RefCount: number } }[] | null;
  BuildCache?: { Size: number; InUse: boolean; Shared: boolean }[] | null;
}

function reclaim(size: number, total: number): string {
  const pct = total > 0 ? Math.round((size * 100) / total) : 0;
  return total > 0 ? `${humanSize(size)} (${pct}%)` : humanSize(size);
}

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'Show berth disk usage',
  maxArgs: 0,
  flags: [
    { long: 'format', kind: 'string', description: 'Format output using a custom template' },
    {
      long: 'verbose',
      short: 'v',
      kind: 'bool',
      description: 'Show detailed information on space usage',
    },
  ],
  async run(ctx, { flags }) {
    const df = await ctx.client().json<Df>('GET', '/system/df');
    if (flags.bool('verbose')) {
      ctx.stdout.write(verboseDf(df as Parameters<typeof verboseDf>[0]));
      return 0;
    }
    const images = df.Images ?? [];
    const containers = df.Containers ?? [];
    const volumes = df.Volumes ?? [];
    const cache = df.BuildCache ?? [];
    const imgSize = df.LayersSize ?? images.reduce((s, i) => s + i.Size, 0);
    const activeImages = images.filter((i) => i.Containers > 0);
    const imgReclaim =
      imgSize - activeImages.reduce((s, i) => s + i.Size - Math.max(0, i.SharedSize), 0);
    const cSize = containers.reduce((s, c) => s + (c.SizeRw ?? 0), 0);
    const cActive = containers.filter((c) => c.State === 'running');
    const cReclaim = containers
      .filter((c) => c.State !== 'running')
      .reduce((s, c) => s + (c.SizeRw ?? 0), 0);
    const vSize = volumes.reduce((s, v) => s + Math.max(0, v.UsageData?.Size ?? 0), 0);
    const vActive = volumes.filter((v) => (v.UsageData?.RefCount ?? 0) > 0);
    const vReclaim = volumes
      .filter((v) => (v.UsageData?.RefCount ?? 0) === 0)
      .reduce((s, v) => s + Math.max(0, v.UsageData?.Size ?? 0), 0);
    const bSize = cache.reduce((s, b) => s + b.Size, 0);
    const rows = [
      {
        Type: 'Images',
        TotalCount: String(images.length),
        Active: String(activeImages.length),
        Size: humanSize(imgSize),
        Reclaimable: reclaim(Math.max(0, imgReclaim), imgSize),
      },
      {
        Type: 'Containers',
        TotalCount: String(containers.length),
        Active: String(cActive.length),
        Size: humanSize(cSize),
        Reclaimable: reclaim(cReclaim, cSize),
      },
      {
        Type: 'Local Volumes',
        TotalCount: String(volumes.length),
        Active: String(vActive.length),
        Size: humanSize(vSize),
        Reclaimable: reclaim(vReclaim, vSize),
      },
      {
        Type: 'Build Cache',
        TotalCount: String(cache.length),
        Active: String(cache.filter((b) => b.InUse).length),
        Size: humanSize(bSize),
        Reclaimable: humanSize(
          cache.filter((b) => !b.InUse && !b.Shared).reduce((s, b) => s + b.Size, 0),
        ),
      },
    ];
    const fallback = 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
    ctx.stdout.write(
      renderRows(normaliseFormat(flags.string('format'), fallback), rows, {
        Type: 'TYPE',
        TotalCount: 'TOTAL',
        Active: 'ACTIVE',
        Size: 'SIZE',
        Reclaimable: 'RECLAIMABLE',
      }),
    );
    return 0;
  },
};
