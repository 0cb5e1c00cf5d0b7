import { parseArgs, flagHelp, UsageError } from '../../cli/args.js';
import type { CommandContext } from '../../cli/command.js';
import { ExitError } from '../../cli/command.js';
import { daemonMessage } from '../../cli/errors.js';
import { ClientError } from '../../client/client.js';
import { ComposeError } from '../errors.js';
import { SUBCOMMANDS } from './commands.js';
import { GLOBAL_FLAGS, type ComposeContext } from './context.js';

function usage(): string {
  const names = Object.entries(SUBCOMMANDS)
    .map(([n, c]) => `  ${n.padEnd(10)}  ${c.description}`)
    .join('\n');
  return `\nUsage:  berth compose [OPTIONS] COMMAND\n\nDefine and run multi-container applications with Berth\n\nOptions:\n${flagHelp(GLOBAL_FLAGS)}\n\nCommands:\n${names}\n\nRun 'berth compose COMMAND --help' for more information on a command.\n`;
}

/**
 * `berth compose [global flags] COMMAND [flags] [args]`: the Compose client. Exit codes as
 * docker compose: 0, 1 for a project or engine error, the service's code where a command
 * reports one (run, up --exit-code-from, wait), 125... never (compose has no usage code;
 * a bad flag is 1 too).
 */
export async function runCompose(
  ctx: CommandContext,
  argv: string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  let i = 0;
  const globalsArgv: string[] = [];
  const valued = new Set(
    GLOBAL_FLAGS.filter((f) => f.kind !== 'bool').flatMap((f) => [
      `--${f.long}`,
      ...(f.short ? [`-${f.short}`] : []),
    ]),
  );
  while (i < argv.length) {
    const a = argv[i] as string;
    if (!a.startsWith('-') || a === '-') break;
    globalsArgv.push(a);
    i++;
    if (valued.has(a) && i < argv.length) globalsArgv.push(argv[i++] as string);
  }
  const rest = argv.slice(i);
  try {
    const g = parseArgs(globalsArgv, [
      ...GLOBAL_FLAGS,
      { long: 'help', short: 'h', kind: 'bool' },
      { long: 'version', short: 'v', kind: 'bool' },
    ]);
    if (g.flags.bool('version')) {
      ctx.stdout.write('berth compose version v2.29.7 (berth 0.1.0)\n');
      return 0;
    }
    for (const unsupported of ['dry-run', 'compatibility'])
      if (g.flags.bool(unsupported))
        throw new ComposeError(
          `--${unsupported} is not supported by berth compose: nothing was done`,
        );
    const name = rest[0];
    if (g.flags.bool('help') || name === undefined || name === 'help') {
      ctx.stdout.write(usage());
      return name === undefined && !g.flags.bool('help') ? 1 : 0;
    }
    const sub = SUBCOMMANDS[name];
    if (!sub) throw new UsageError(`unknown docker command: "compose ${name}"`);
    const args = rest.slice(1);
    if (
      args.includes('--help') &&
      !args.slice(0, args.indexOf('--help')).some((a) => !a.startsWith('-'))
    ) {
      ctx.stdout.write(
        `\nUsage:  berth compose ${name} ${sub.usage}\n\n${sub.description}\n\nOptions:\n${flagHelp(sub.flags)}\n`,
      );
      return 0;
    }
    const parsed = parseArgs(args, sub.flags, { interspersed: sub.interspersed ?? true });
    const cctx: ComposeContext = {
      ...ctx,
      name: `compose ${name}`,
      globals: g.flags,
      env,
      cwd: process.cwd(),
    };
    return await sub.run(cctx, parsed);
  } catch (err: unknown) {
    if (err instanceof ComposeError || err instanceof UsageError) {
      ctx.stderr.write(`${err.message}\n`);
      return 1;
    }
    if (err instanceof ExitError) {
      if (err.message !== '') ctx.stderr.write(`${err.message}\n`);
      return err.code;
    }
    if (err instanceof ClientError) {
      ctx.stderr.write(`${daemonMessage(err)}\n`);
      return 1;
    }
    throw err;
  }
}
