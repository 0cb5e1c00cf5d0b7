import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import { streamSession } from '../attach-io.js';

export const command: Command = {
  usage: '[OPTIONS] CONTAINER COMMAND [ARG...]',
  description: 'Execute a command in a running container',
  interspersed: false,
  minArgs: 2,
  flags: [
    {
      long: 'detach',
      short: 'd',
      kind: 'bool',
      description: 'Detached mode: run command in the background',
    },
    {
      long: 'interactive',
      short: 'i',
      kind: 'bool',
      description: 'Keep STDIN open even if not attached',
    },
    { long: 'tty', short: 't', kind: 'bool', description: 'Allocate a pseudo-TTY' },
    { long: 'env', short: 'e', kind: 'list', description: 'Set environment variables' },
    { long: 'user', short: 'u', kind: 'string', description: 'Username or UID' },
    {
      long: 'workdir',
      short: 'w',
      kind: 'string',
      description: 'Working directory inside the container',
    },
    { long: 'privileged', kind: 'bool', description: 'Give extended privileges to the command' },
    {
      long: 'detach-keys',
      kind: 'string',
      description: 'Override the key sequence for detaching a container',
    },
  ],
  async run(ctx, { flags, args }) {
    const client = ctx.client();
    const [ref, ...cmd] = args as [string, ...string[]];
    const detach = flags.bool('detach');
    const tty = flags.bool('tty');
    const stdin = flags.bool('interactive') && !detach;
    const env = flags
      .list('env')
      .map((e) =>
        e.includes('=') ? e : process.env[e] !== undefined ? `${e}=${process.env[e]}` : undefined,
      )
      .filter((e): e is string => e !== undefined);
    const out = ctx.stdout as unknown as { isTTY?: boolean; rows?: number; columns?: number };
    const consoleSize: [number, number] | undefined =
      tty && out.isTTY && out.rows && out.columns ? [out.rows, out.columns] : undefined;
    const detachKeys = flags.string('detach-keys');
    const { Id } = await client.execCreate(ref, {
      User: flags.string('user') ?? '',
      Privileged: flags.bool('privileged'),
      Tty: tty,
      AttachStdin: stdin,
      AttachStdout: !detach,
      AttachStderr: !detach,
      Env: env,
      WorkingDir: flags.string('workdir') ?? '',
      Cmd: cmd,
      ...(consoleSize ? { ConsoleSize: consoleSize } : {}),
      ...(detachKeys !== undefined ? { DetachKeys: detachKeys } : {}),
    });
    if (detach) {
      await client.execStart(Id, { Detach: true, Tty: tty });
      return 0;
    }
    const hj = await client.execStart(Id, {
      Detach: false,
      Tty: tty,
      ...(consoleSize ? { ConsoleSize: consoleSize } : {}),
    });
    if (!hj) throw new ExitError('berth: exec start returned no stream', 1);
    const how = await streamSession(ctx, hj, {
      tty,
      stdin,
      resize: (h, w) => client.execResize(Id, h, w),
      ...(detachKeys !== undefined ? { detachKeys } : {}),
    });
    if (how === 'detached') return 0;
    // The stream ends a moment before the exec's exit code is recorded.
    for (let i = 0; i < 50; i++) {
      const info = await client.execInspect(Id);
      if (!info.Running) return info.ExitCode ?? 0;
      await new Promise((r) => setTimeout(r, 20));
    }
    return 0;
  },
};
