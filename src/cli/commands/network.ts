import { ClientError } from '../../client/client.js';
import type { Command, CommandContext } from '../command.js';
import { ExitError } from '../command.js';
import { UsageError } from '../args.js';
import { parseFilters, normaliseFormat } from '../filters.js';
import { parseTemplate, renderRows } from '../format.js';
import { daemonMessage } from '../errors.js';
import { confirm } from '../prune.js';
import { goTime, shortId } from '../human.js';

interface NetworkJson {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  Internal: boolean;
  Labels: Record<string, string>;
}

const HEADERS: Record<string, string> = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};

/** `key=value` pairs of repeated flags into a map (`-o`, `--label`, `--aux-address`). */
function keyValues(values: string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq < 0 && what !== 'label')
      throw new UsageError(`invalid ${what}: ${v} (expected key=value)`);
    if (eq < 0) out[v] = '';
    else out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

export const networkCreate: Command = {
  usage: '[OPTIONS] NETWORK',
  description: 'Create a network',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { long: 'driver', short: 'd', kind: 'string', description: 'Driver to manage the Network' },
    {
      long: 'subnet',
      kind: 'list',
      description: 'Subnet in CIDR format that represents a network segment',
    },
    { long: 'gateway', kind: 'list', description: 'IPv4 or IPv6 Gateway for the master subnet' },
    { long: 'ip-range', kind: 'list', description: 'Allocate container ip from a sub-range' },
    {
      long: 'aux-address',
      kind: 'list',
      description: 'Auxiliary IPv4 or IPv6 addresses used by Network driver',
    },
    { long: 'internal', kind: 'bool', description: 'Restrict external access to the network' },
    { long: 'attachable', kind: 'bool', description: 'Enable manual container attachment' },
    { long: 'ipv6', kind: 'bool', description: 'Enable IPv6 networking' },
    { long: 'label', kind: 'list', description: 'Set metadata on a network' },
    { long: 'opt', short: 'o', kind: 'list', description: 'Set driver specific options' },
    { long: 'ipam-driver', kind: 'string', description: 'IP Address Management Driver' },
    { long: 'ipam-opt', kind: 'list', description: 'Set IPAM driver specific options' },
  ],
  async run(ctx, { flags, args }) {
    const subnets = flags.list('subnet');
    const gateways = flags.list('gateway');
    const ranges = flags.list('ip-range');
    const aux = keyValues(flags.list('aux-address'), 'aux-address');
    if (gateways.length > subnets.length || ranges.length > subnets.length)
      throw new UsageError('every ip-range or gateway must have a corresponding subnet');
    // As the docker CLI: each gateway, range and aux address goes with the subnet holding it.
    const config = subnets.map((s, i) => ({
      Subnet: s,
      ...(ranges[i] ? { IPRange: ranges[i] } : {}),
      ...(gateways[i] ? { Gateway: gateways[i] } : {}),
    })) as {
      Subnet: string;
      IPRange?: string;
      Gateway?: string;
      AuxiliaryAddresses?: Record<string, string>;
    }[];
    if (Object.keys(aux).length > 0) {
      const first = config[0];
      if (!first) throw new UsageError('no matching subnet for aux-address');
      first.AuxiliaryAddresses = aux;
    }
    const body = {
      Name: args[0],
      CheckDuplicate: true,
      Driver: flags.string('driver') ?? 'bridge',
      Internal: flags.bool('internal'),
      Attachable: flags.bool('attachable'),
      EnableIPv6: flags.bool('ipv6'),
      IPAM: {
        Driver: flags.string('ipam-driver') ?? 'default',
        Config: config,
        Options: keyValues(flags.list('ipam-opt'), 'ipam-opt'),
      },
      Options: keyValues(flags.list('opt'), 'opt'),
      Labels: keyValues(flags.list('label'), 'label'),
    };
    const r = await ctx.client().json<{ Id: string }>('POST', '/networks/create', { body });
    ctx.stdout.write(`${r.Id}\n`);
    return 0;
  },
};

export const networkLs: Command = {
  usage: '[OPTIONS]',
  description: 'List networks',
  maxArgs: 0,
  flags: [
    {
      long: 'filter',
      short: 'f',
      kind: 'list',
      description: 'Provide filter values (e.g. "driver=bridge")',
    },
    { long: 'format', kind: 'string', description: 'Format output using a custom template' },
    { long: 'no-trunc', kind: 'bool', description: 'Do not truncate the output' },
    { long: 'quiet', short: 'q', kind: 'bool', description: 'Only display network IDs' },
  ],
  async run(ctx, { flags }) {
    const list = await ctx.client().json<NetworkJson[]>('GET', '/networks', {
      query: { filters: parseFilters(flags.list('filter')) },
    });
    list.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
    const trunc = !flags.bool('no-trunc');
    const format = flags.string('format');
    if (flags.bool('quiet') && format === undefined) {
      for (const n of list) ctx.stdout.write(`${trunc ? shortId(n.Id) : n.Id}\n`);
      return 0;
    }
    const rows = list.map((n) => ({
      ID: trunc ? shortId(n.Id) : n.Id,
      Name: n.Name,
      Driver: n.Driver,
      Scope: n.Scope,
      IPv6: String(n.EnableIPv6),
      Internal: String(n.Internal),
      Labels: Object.entries(n.Labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
      CreatedAt: goTime(Math.floor(Date.parse(n.Created) / 1000)),
    }));
    const fallback = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
    ctx.stdout.write(renderRows(normaliseFormat(format, fallback), rows, HEADERS));
    return 0;
  },
};

async function eachRef(
  ctx: CommandContext,
  refs: string[],
  fn: (ref: string) => Promise<void>,
): Promise<number> {
  let failed = false;
  for (const ref of refs) {
    try {
      await fn(ref);
    } catch (err: unknown) {
      if (!(err instanceof ClientError)) throw err;
      failed = true;
      ctx.stderr.write(`${daemonMessage(err)}\n`);
      if (err.statusCode === 0) throw new ExitError('', 1);
    }
  }
  return failed ? 1 : 0;
}

export const networkInspect: Command = {
  usage: '[OPTIONS] NETWORK [NETWORK...]',
  description: 'Display detailed information on one or more networks',
  minArgs: 1,
  flags: [
    {
      long: 'format',
      short: 'f',
      kind: 'string',
      description: 'Format output using a custom template',
    },
    { long: 'verbose', short: 'v', kind: 'bool', description: 'Verbose output for diagnostics' },
  ],
  async run(ctx, { flags, args }) {
    const format = flags.string('format');
    const template = format && format !== 'json' ? parseTemplate(format) : undefined;
    const found: unknown[] = [];
    const code = await eachRef(ctx, args, async (ref) => {
      const n = await ctx
        .client()
        .json<Record<string, unknown>>('GET', `/networks/${encodeURIComponent(ref)}`);
      if (template) ctx.stdout.write(`${template.execute(n)}\n`);
      else found.push(n);
    });
    if (!template) ctx.stdout.write(`${JSON.stringify(found, null, 4)}\n`);
    return code;
  },
};

export const networkRm: Command = {
  usage: 'NETWORK [NETWORK...]',
  description: 'Remove one or more networks',
  minArgs: 1,
  flags: [
    {
      long: 'force',
      short: 'f',
      kind: 'bool',
      description: 'Do not error if the network does not exist',
    },
  ],
  async run(ctx, { flags, args }) {
    return eachRef(ctx, args, async (ref) => {
      try {
        await ctx.client().json('DELETE', `/networks/${encodeURIComponent(ref)}`);
        ctx.stdout.write(`${ref}\n`);
      } catch (err: unknown) {
        if (flags.bool('force') && err instanceof ClientError && err.statusCode === 404) return;
        throw err;
      }
    });
  },
};

export const networkPrune: Command = {
  usage: '[OPTIONS]',
  description: 'Remove all unused networks',
  maxArgs: 0,
  flags: [
    { long: 'force', short: 'f', kind: 'bool', description: 'Do not prompt for confirmation' },
    {
      long: 'filter',
      kind: 'list',
      description: 'Provide filter values (e.g. "until=<timestamp>")',
    },
  ],
  async run(ctx, { flags }) {
    const warning =
      'WARNING! This will remove all custom networks not used by at least one container.';
    if (!flags.bool('force') && !(await confirm(ctx, warning))) return 0;
    const r = await ctx
      .client()
      .json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', {
        query: { filters: parseFilters(flags.list('filter')) },
      });
    const deleted = r.NetworksDeleted ?? [];
    if (deleted.length > 0)
      ctx.stdout.write(`Deleted Networks:\n${deleted.map((d) => `${d}\n`).join('')}`);
    return 0;
  },
};

export const networkConnect: Command = {
  usage: '[OPTIONS] NETWORK CONTAINER',
  description: 'Connect a container to a network',
  minArgs: 2,
  maxArgs: 2,
  flags: [
    { long: 'ip', kind: 'string', description: 'IPv4 address (e.g., "172.30.100.104")' },
    { long: 'ip6', kind: 'string', description: 'IPv6 address (e.g., "2001:db8::33")' },
    { long: 'alias', kind: 'list', description: 'Add network-scoped alias for the container' },
    { long: 'link', kind: 'list', description: 'Add link to another container' },
  ],
  async run(ctx, { flags, args }) {
    const ip = flags.string('ip');
    const ip6 = flags.string('ip6');
    const body = {
      Container: args[1],
      EndpointConfig: {
        ...(ip || ip6
          ? {
              IPAMConfig: {
                ...(ip ? { IPv4Address: ip } : {}),
                ...(ip6 ? { IPv6Address: ip6 } : {}),
              },
            }
          : {}),
        Aliases: flags.list('alias'),
        Links: flags.list('link'),
      },
    };
    await ctx
      .client()
      .json('POST', `/networks/${encodeURIComponent(args[0] as string)}/connect`, { body });
    return 0;
  },
};

export const networkDisconnect: Command = {
  usage: '[OPTIONS] NETWORK CONTAINER',
  description: 'Disconnect a container from a network',
  minArgs: 2,
  maxArgs: 2,
  flags: [
    {
      long: 'force',
      short: 'f',
      kind: 'bool',
      description: 'Force the container to disconnect from a network',
    },
  ],
  async run(ctx, { flags, args }) {
    await ctx
      .client()
      .json('POST', `/networks/${encodeURIComponent(args[0] as string)}/disconnect`, {
        body: { Container: args[1], Force: flags.bool('force') },
      });
    return 0;
  },
};
