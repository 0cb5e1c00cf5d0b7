import type { Command } from '../command.js';
import { demux } from '../../client/streams.js';

export const command: Command = {
  usage: '[OPTIONS] CONTAINER',
  description: 'Fetch the logs of a container',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { long: 'follow', short: 'f', kind: 'bool', description: 'Follow log output' },
    {
      long: 'tail',
      short: 'n',
      kind: 'string',
      description: 'Number of lines to show from the end of the logs',
    },
    {
      long: 'since',
      kind: 'string',
      description: 'Show logs since timestamp or relative (e.g. 42m)',
    },
    {
      long: 'until',
      kind: 'string',
      description: 'Show logs before a timestamp or relative (e.g. 42m)',
    },
    { long: 'timestamps', short: 't', kind: 'bool', description: 'Show timestamps' },
    { long: 'details', kind: 'bool', description: 'Show extra details provided to logs' },
  ],
  async run(ctx, { flags, args }) {
    const client = ctx.client();
    const ref = args[0] as string;
    const info = (await client.containerInspect(ref)) as { Id: string; Config: { Tty: boolean } };
    const res = await client.stream('GET', `/containers/${encodeURIComponent(info.Id)}/logs`, {
      query: {
        stdout: true,
        stderr: true,
        follow: flags.bool('follow') || undefined,
        tail: flags.string('tail') ?? 'all',
        since: toTimestamp(flags.string('since')),
        until: toTimestamp(flags.string('until')),
        timestamps: flags.bool('timestamps') || undefined,
      },
    });
    if (info.Config.Tty) {
      for await (const chunk of res) ctx.stdout.write(chunk as Buffer);
    } else {
      for await (const f of demux(res))
        (f.stream === 'stderr' ? ctx.stderr : ctx.stdout).write(f.data);
    }
    return 0;
  },
};

/** docker's GetTimestamp: durations (`10m`, `1h30m`) are relative to now; dates pass through. */
export function toTimestamp(value: string | undefined, now = Date.now()): string | undefined {
  if (value === undefined || value === '') return undefined;
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60000,
    h: 3600000,
  };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  if (/^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h))+$/.test(value)) {
    let ms = 0;
    for (const m of value.matchAll(re)) ms += Number(m[1]) * (units[m[2] as string] ?? 0);
    return ((now - ms) / 1000).toFixed(9);
  }
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  const t = Date.parse(value);
  return Number.isNaN(t) ? value : (t / 1000).toFixed(9);
}
