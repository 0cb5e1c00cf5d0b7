import { jsonLines } from '../../client/streams.js';
import type { Command } from '../command.js';
import { ExitError } from '../command.js';

interface Message {
  stream?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string; RepoTags?: string[] };
}

export const command: Command = {
  usage: 'NAME',
  description:
    "Make a built-in image without a registry: busybox (from the host's busybox-static) or " +
    "debian:<suite>[-slim] (from Debian's packages with mmdebstrap)",
  minArgs: 1,
  maxArgs: 1,
  flags: [{ long: 'quiet', short: 'q', kind: 'bool', description: 'Suppress the progress output' }],
  async run(ctx, { args, flags }) {
    const [name] = args as [string];
    const res = await ctx.client().stream('POST', '/berth/images/bootstrap', { query: { name } });
    let done: Message['aux'];
    // Progress goes to stderr, so stdout carries only the result line.
    for await (const m of jsonLines<Message>(res)) {
      if (m.error || m.errorDetail) {
        throw new ExitError(m.errorDetail?.message ?? m.error ?? 'bootstrap failed', 1);
      }
      if (m.stream !== undefined && !flags.bool('quiet')) ctx.stderr.write(m.stream);
      if (m.aux) done = m.aux;
    }
    if (!done?.ID) throw new ExitError('bootstrap: the daemon ended without a result', 1);
    ctx.stdout.write(`${done.RepoTags?.[0] ?? name} ${done.ID}\n`);
    return 0;
  },
};
