import type { Command } from '../command.js';
import { renderRows } from '../format.js';
import { normaliseFormat, parseFilters } from '../filters.js';

interface VolumeJson {
  Name: string;
  Driver: string;
  Scope: string;
  Mountpoint: string;
  Labels: Record<string, string> | null;
}

const HEADERS: Record<string, string> = {
  Name: 'VOLUME NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  Mountpoint: 'MOUNTPOINT',
  Labels: 'LABELS',
  Links: 'LINKS',
  Size: 'SIZE',
  Group: 'GROUP',
  Availability: 'AVAILABILITY',
  Status: 'STATUS',
};

/** The fields `docker volume ls --format` offers. */
export function volumeRows(volumes: readonly VolumeJson[]): Record<string, unknown>[] {
  return volumes.map((v) => ({
    Name: v.Name,
    Driver: v.Driver,
    Scope: v.Scope,
    Mountpoint: v.Mountpoint,
    Labels: Object.entries(v.Labels ?? {})
      .map(([k, val]) => `${k}=${val}`)
      .join(','),
    Links: 'N/A',
    Size: 'N/A',
    Group: 'N/A',
    Availability: 'N/A',
    Status: 'N/A',
  }));
}

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'List volumes',
  maxArgs: 0,
  flags: [
    { long: 'quiet', short: 'q', kind: 'bool', description: 'Only display volume names' },
    { long: 'format', kind: 'string', description: 'Format output using a custom template' },
    {
      long: 'filter',
      short: 'f',
      kind: 'list',
      description: "Provide filter values (e.g. 'dangling=true')",
    },
    { long: 'cluster', kind: 'bool', hidden: true },
  ],
  async run(ctx, { flags }) {
    const r = await ctx.client().json<{ Volumes: VolumeJson[] | null }>('GET', '/volumes', {
      query: { filters: parseFilters(flags.list('filter')) },
    });
    const volumes = [...(r.Volumes ?? [])].sort((a, b) =>
      a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0,
    );
    const format = flags.string('format');
    if (flags.bool('quiet') && format === undefined) {
      for (const v of volumes) ctx.stdout.write(`${v.Name}\n`);
      return 0;
    }
    ctx.stdout.write(
      renderRows(
        normaliseFormat(format, 'table {{.Driver}}\t{{.Name}}'),
        volumeRows(volumes),
        HEADERS,
      ),
    );
    return 0;
  },
};
