import type { Command } from '../command.js';
import { UsageError } from '../args.js';

function keyValues(list: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    if (flag === 'opt' && eq < 0) {
      throw new UsageError(
        `invalid argument "${kv}" for "-o, --opt" flag: invalid key value pair format in driver options`,
      );
    }
    if (eq < 0) out[kv] = '';
    else out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

export const command: Command = {
  usage: '[OPTIONS] [VOLUME]',
  description: 'Create a volume',
  maxArgs: 1,
  flags: [
    { long: 'driver', short: 'd', kind: 'string', description: 'Specify volume driver name' },
    { long: 'label', kind: 'list', description: 'Set metadata for a volume' },
    { long: 'opt', short: 'o', kind: 'list', description: 'Set driver specific options' },
    { long: 'name', kind: 'string', hidden: true },
  ],
  async run(ctx, { flags, args }) {
    const flagName = flags.string('name');
    if (flagName !== undefined && args[0] !== undefined && flagName !== args[0]) {
      throw new UsageError(
        `conflicting options: either specify --name or provide positional arg, not both`,
      );
    }
    const name = args[0] ?? flagName ?? '';
    const v = await ctx.client().json<{ Name: string }>('POST', '/volumes/create', {
      body: {
        Name: name,
        Driver: flags.string('driver') ?? 'local',
        DriverOpts: keyValues(flags.list('opt'), 'opt'),
        Labels: keyValues(flags.list('label'), 'label'),
      },
    });
    ctx.stdout.write(`${v.Name}\n`);
    return 0;
  },
};
