import { writeFileSync } from 'node:fs';
import { ClientError } from '../../client/client.js';
import type { Command, CommandContext } from '../command.js';
import { ExitError } from '../command.js';
import type { Parsed } from '../args.js';
import { CREATE_FLAGS, buildCreate } from '../container-config.js';
import { proxySignals, streamSession } from '../attach-io.js';
import { runFailure, startExitCode, withDefaultTag } from '../run-errors.js';
import { daemonMessage } from '../errors.js';
import { pullImage } from '../pull.js';

/**
 * Creates the container, pulling a missing image first as docker does (unless --pull never;
 * --pull always pulls first), and writes --cidfile. Engine
 * errors fail as `run` fails them (`berth: ...`, 125) or, for `create`, as docker create does
 * (the daemon's message alone, exit 1).
 */
export async function createContainer(
  ctx: CommandContext,
  parsed: Parsed,
  detach: boolean,
  as: 'run' | 'create' = 'run',
): Promise<{ id: string; plan: ReturnType<typeof buildCreate> }> {
  const plan = buildCreate(parsed.flags, parsed.args, { detach });
  const client = ctx.client();
  const pullPolicy = parsed.flags.string('pull') ?? 'missing';
  const platform = parsed.flags.string('platform');
  const pull = async (): Promise<void> => {
    try {
      await pullImage(ctx, plan.image, {
        out: ctx.stderr,
        ...(platform !== undefined && platform !== '' ? { platform } : {}),
      });
    } catch (err: unknown) {
      if (as === 'create' && err instanceof ClientError) throw new ExitError(daemonMessage(err), 1);
      throw runFailure(err);
    }
  };
  if (pullPolicy === 'always') await pull();
  let id = '';
  for (let attempt = 0; ; attempt++) {
    try {
      const created = await client.containerCreate(plan.request, plan.name);
      id = created.Id;
      for (const w of created.Warnings ?? []) ctx.stderr.write(`WARNING: ${w}\n`);
      break;
    } catch (err: unknown) {
      const missing =
        err instanceof ClientError &&
        err.statusCode === 404 &&
        err.message.startsWith('No such image') &&
        pullPolicy !== 'never';
      if (missing && attempt === 0) {
        ctx.stderr.write(`Unable to find image '${withDefaultTag(plan.image)}' locally\n`);
        // Like docker: pull it, then create once more.
        await pull();
        continue;
      }
      if (as === 'create' && err instanceof ClientError) throw new ExitError(daemonMessage(err), 1);
      throw runFailure(err);
    }
  }
  const cidfile = parsed.flags.string('cidfile');
  if (cidfile !== undefined && cidfile !== '') {
    try {
      writeFileSync(cidfile, id, { flag: 'wx' });
    } catch {
      throw new ExitError(
        `berth: Container ID file found, make sure the other container isn't running or delete ${cidfile}`,
        125,
      );
    }
  }
  return { id, plan };
}

export const command: Command = {
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create and run a new container from an image',
  interspersed: false,
  minArgs: 1,
  flags: [
    {
      long: 'detach',
      short: 'd',
      kind: 'bool',
      description: 'Run container in background and print container ID',
    },
    { long: 'sig-proxy', kind: 'bool', description: 'Proxy received signals to the process' },
    ...CREATE_FLAGS,
  ],
  async run(ctx, parsed) {
    const detach = parsed.flags.bool('detach');
    const { id, plan } = await createContainer(ctx, parsed, detach);
    const client = ctx.client();
    const tty = plan.request.Tty === true;
    const autoRemove = plan.request.HostConfig?.AutoRemove === true;
    if (detach) {
      try {
        await client.containerStart(id);
      } catch (err: unknown) {
        throw runFailure(err, err instanceof ClientError ? startExitCode(err.message) : 125);
      }
      ctx.stdout.write(`${id}\n`);
      return 0;
    }
    const attached = plan.attachStdin || plan.attachStdout || plan.attachStderr;
    const detachKeys = parsed.flags.string('detach-keys');
    let hj;
    try {
      hj = attached
        ? await client.containerAttach(id, {
            stdin: plan.attachStdin,
            stdout: plan.attachStdout,
            stderr: plan.attachStderr,
            tty,
            ...(detachKeys !== undefined ? { detachKeys } : {}),
          })
        : undefined;
    } catch (err: unknown) {
      throw runFailure(err);
    }
    // Registered before start, so a fast exit is never missed.
    const wait = await client
      .containerWait(id, autoRemove ? 'removed' : 'next-exit')
      .catch((err: unknown) => {
        throw runFailure(err);
      });
    // Output is read from before the start: a fast container may be done before start returns.
    const session = hj
      ? streamSession(ctx, hj, {
          tty,
          stdin: plan.attachStdin,
          resize: (h, w) => client.containerResize(id, h, w),
          ...(detachKeys !== undefined ? { detachKeys } : {}),
        })
      : undefined;
    try {
      await client.containerStart(id);
    } catch (err: unknown) {
      hj?.socket.destroy();
      throw runFailure(err, err instanceof ClientError ? startExitCode(err.message) : 125);
    }
    const stopProxy =
      !tty && parsed.flags.string('sig-proxy') !== 'false'
        ? proxySignals((signal) => client.containerKill(id, signal))
        : () => undefined;
    try {
      if (session) {
        const how = await session;
        if (how === 'detached') return 0;
      }
      const status = await wait.result;
      if (status.Error?.Message) ctx.stderr.write(`berth: ${status.Error.Message}\n`);
      return status.StatusCode;
    } finally {
      stopProxy();
    }
  },
};
