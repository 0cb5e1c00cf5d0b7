import type { Command } from '../command.js';
import type { ContainerSummary } from '../../client/client.js';
import { renderRows } from '../format.js';
import { ago, ellipsis, goTime, humanSize, shortId } from '../human.js';
import { normaliseFormat, parseFilters } from '../filters.js';

const HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  Networks: 'NETWORKS',
  LocalVolumes: 'LOCAL VOLUMES',
  Platform: 'PLATFORM',
};

/** docker's DisplayablePorts, without range folding. */
export function formatPorts(ports: ContainerSummary['Ports']): string {
  const out: string[] = [];
  for (const p of [...(ports ?? [])].sort((a, b) => a.PrivatePort - b.PrivatePort)) {
    if (p.PublicPort !== undefined && p.PublicPort !== 0) {
      const ip = p.IP ?? '';
      const host = ip.includes(':') ? `[${ip}]` : ip;
      out.push(`${host}:${p.PublicPort}->${p.PrivatePort}/${p.Type}`);
    } else out.push(`${p.PrivatePort}/${p.Type}`);
  }
  return out.join(', ');
}

/** The fields `docker ps --format` offers, for one container. */
export function containerRow(
  c: ContainerSummary,
  trunc: boolean,
  now = Date.now(),
): Record<string, unknown> {
  const names = (c.Names ?? []).map((n) => n.replace(/^\//, '')).filter((n) => !n.includes('/'));
  let image = c.Image;
  if (trunc && shortId(c.ImageID ?? '') === shortId(image)) image = shortId(image);
  const size =
    c.SizeRw !== undefined || c.SizeRootFs !== undefined
      ? `${humanSize(c.SizeRw ?? 0)} (virtual ${humanSize(c.SizeRootFs ?? 0)})`
      : '';
  const labels = c.Labels ?? {};
  return {
    ID: trunc ? shortId(c.Id) : c.Id,
    Image: image,
    Command: JSON.stringify(trunc ? ellipsis(c.Command, 20) : c.Command),
    CreatedAt: goTime(c.Created),
    RunningFor: ago(c.Created, now),
    Ports: formatPorts(c.Ports),
    State: c.State,
    Status: c.Status,
    Size: size,
    Names: names.join(','),
    Labels: Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    Mounts: (c.Mounts ?? [])
      .map((m) => (trunc ? ellipsis(m.Name ?? m.Source ?? '', 15) : (m.Name ?? m.Source ?? '')))
      .join(','),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Name).length),
  };
}

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'List containers',
  maxArgs: 0,
  flags: [
    {
      long: 'all',
      short: 'a',
      kind: 'bool',
      description: 'Show all containers (default shows just running)',
    },
    { long: 'quiet', short: 'q', kind: 'bool', description: 'Only display container IDs' },
    {
      long: 'last',
      short: 'n',
      kind: 'number',
      description: 'Show n last created containers (includes all states)',
    },
    {
      long: 'latest',
      short: 'l',
      kind: 'bool',
      description: 'Show the latest created container (includes all states)',
    },
    { long: 'size', short: 's', kind: 'bool', description: 'Display total file sizes' },
    {
      long: 'filter',
      short: 'f',
      kind: 'list',
      description: 'Filter output based on conditions provided',
    },
    { long: 'format', kind: 'string', description: 'Format output using a custom template' },
    { long: 'no-trunc', kind: 'bool', description: "Don't truncate output" },
  ],
  async run(ctx, { flags }) {
    const last = flags.bool('latest') ? 1 : (flags.number('last') ?? -1);
    const format = flags.string('format');
    const size = flags.bool('size') || (format !== undefined && format.includes('.Size'));
    const list = await ctx.client().containerList({
      all: flags.bool('all') || last > 0,
      size,
      filters: parseFilters(flags.list('filter')),
      ...(last > 0 ? { limit: last } : {}),
    });
    const trunc = !flags.bool('no-trunc');
    if (flags.bool('quiet') && format === undefined) {
      for (const c of list) ctx.stdout.write(`${trunc ? shortId(c.Id) : c.Id}\n`);
      return 0;
    }
    let fallback =
      'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
    if (flags.bool('size')) fallback += '\t{{.Size}}';
    const rows = list.map((c) => containerRow(c, trunc));
    ctx.stdout.write(renderRows(normaliseFormat(format, fallback), rows, HEADERS));
    return 0;
  },
};
