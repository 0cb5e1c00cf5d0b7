import { ClientError } from '../client/client.js';
import type { CommandContext } from './command.js';
import { daemonMessage } from './errors.js';

/**
 * Runs an action per argument as docker's multi-container commands do: prints the argument
 * on success, the error on failure, and exits 1 if any failed.
 */
export async function eachArg(
  ctx: CommandContext,
  args: string[],
  action: (ref: string) => Promise<unknown>,
  options: { print?: (ref: string, result: unknown) => string | undefined } = {},
): Promise<number> {
  let failed = false;
  for (const ref of args) {
    try {
      const result = await action(ref);
      const line = options.print ? options.print(ref, result) : ref;
      if (line !== undefined) ctx.stdout.write(`${line}\n`);
    } catch (err: unknown) {
      if (!(err instanceof ClientError)) throw err;
      failed = true;
      ctx.stderr.write(`${daemonMessage(err)}\n`);
      if (err.statusCode === 0) break;
    }
  }
  return failed ? 1 : 0;
}
