import type { Command } from '../command.js';
import { ExitError } from '../command.js';

type Bindings = Record<string, { HostIp: string; HostPort: string }[] | null>;

export const command: Command = {
  usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
  description: 'List port mappings or a specific mapping for the container',
  minArgs: 1,
  maxArgs: 2,
  flags: [],
  async run(ctx, { args }) {
    const info = (await ctx.client().containerInspect(args[0] as string)) as {
      NetworkSettings?: { Ports?: Bindings | null };
    };
    const ports = info.NetworkSettings?.Ports ?? {};
    const show = (b: { HostIp: string; HostPort: string }): string =>
      `${b.HostIp.includes(':') ? `[${b.HostIp}]` : b.HostIp || '0.0.0.0'}:${b.HostPort}`;
    const want = args[1];
    if (want !== undefined) {
      const key = want.includes('/') ? want : `${want}/tcp`;
      const list = ports[key];
      if (!list || list.length === 0) {
        throw new ExitError(`Error: No public port '${key}' published for ${args[0] as string}`, 1);
      }
      for (const b of list) ctx.stdout.write(`${show(b)}\n`);
      return 0;
    }
    for (const [key, list] of Object.entries(ports)) {
      for (const b of list ?? []) ctx.stdout.write(`${key} -> ${show(b)}\n`);
    }
    return 0;
  },
};
