import { ClientError } from '../../client/client.js';
import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import { streamSession } from '../attach-io.js';
import { daemonMessage } from '../errors.js';
import { startExitCode } from '../run-errors.js';
import { eachArg } from '../each.js';

export const command: Command = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Start one or more stopped containers',
  minArgs: 1,
  flags: [
    {
      long: 'attach',
      short: 'a',
      kind: 'bool',
      description: 'Attach STDOUT/STDERR and forward signals',
    },
    { long: 'interactive', short: 'i', kind: 'bool', description: "Attach container's STDIN" },
    {
      long: 'detach-keys',
      kind: 'string',
      description: 'Override the key sequence for detaching a container',
    },
  ],
  async run(ctx, { flags, args }) {
    const client = ctx.client();
    const attach = flags.bool('attach') || flags.bool('interactive');
    if (!attach) return eachArg(ctx, args, (ref) => client.containerStart(ref));
    if (args.length > 1)
      throw new ExitError('berth: you cannot start and attach multiple containers at once', 1);
    const ref = args[0] as string;
    const info = (await client.containerInspect(ref)) as {
      Id: string;
      Config: { Tty: boolean; OpenStdin: boolean };
    };
    const tty = info.Config.Tty;
    const stdin = flags.bool('interactive') && info.Config.OpenStdin;
    const detachKeys = flags.string('detach-keys');
    const hj = await client.containerAttach(info.Id, {
      stdin,
      stdout: true,
      stderr: true,
      tty,
      ...(detachKeys !== undefined ? { detachKeys } : {}),
    });
    const wait = await client.containerWait(info.Id, 'next-exit');
    // Output is read from before the start: a fast container may be done before start returns.
    const session = streamSession(ctx, hj, {
      tty,
      stdin,
      resize: (h, w) => client.containerResize(info.Id, h, w),
      ...(detachKeys !== undefined ? { detachKeys } : {}),
    });
    try {
      await client.containerStart(info.Id);
    } catch (err: unknown) {
      hj.socket.destroy();
      if (err instanceof ClientError)
        throw new ExitError(
          daemonMessage(err),
          startExitCode(err.message) === 125 ? 1 : startExitCode(err.message),
        );
      throw err;
    }
    const how = await session;
    if (how === 'detached') return 0;
    return (await wait.result).StatusCode;
  },
};
