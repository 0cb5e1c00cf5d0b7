import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import { proxySignals, streamSession } from '../attach-io.js';

export const command: Command = {
  usage: '[OPTIONS] CONTAINER',
  description: 'Attach local standard input, output, and error streams to a running container',
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { long: 'no-stdin', kind: 'bool', description: 'Do not attach STDIN' },
    { long: 'sig-proxy', kind: 'bool', description: 'Proxy all received signals to the process' },
    {
      long: 'detach-keys',
      kind: 'string',
      description: 'Override the key sequence for detaching a container',
    },
  ],
  async run(ctx, { flags, args }) {
    const client = ctx.client();
    const info = (await client.containerInspect(args[0] as string)) as {
      Id: string;
      Config: { Tty: boolean; OpenStdin: boolean };
      State: { Running: boolean; Paused: boolean };
    };
    if (!info.State.Running) {
      throw new ExitError('You cannot attach to a stopped container, start it first', 1);
    }
    const tty = info.Config.Tty;
    const stdin = info.Config.OpenStdin && !flags.bool('no-stdin');
    const detachKeys = flags.string('detach-keys');
    const hj = await client.containerAttach(info.Id, {
      stdin,
      stdout: true,
      stderr: true,
      tty,
      ...(detachKeys !== undefined ? { detachKeys } : {}),
    });
    const stop = !tty ? proxySignals((s) => client.containerKill(info.Id, s)) : () => undefined;
    try {
      const how = await streamSession(ctx, hj, {
        tty,
        stdin,
        resize: (h, w) => client.containerResize(info.Id, h, w),
        ...(detachKeys !== undefined ? { detachKeys } : {}),
      });
      if (how === 'detached') return 0;
    } finally {
      stop();
    }
    const after = (await client.containerInspect(info.Id)) as {
      State: { ExitCode: number; Running: boolean };
    };
    return after.State.Running ? 0 : after.State.ExitCode;
  },
};
