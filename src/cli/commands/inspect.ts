import { ClientError, type EngineClient } from '../../client/client.js';
import type { Command, CommandContext } from '../command.js';
import { ExitError } from '../command.js';
import { UsageError, type Parsed } from '../args.js';
import { parseTemplate } from '../format.js';
import { daemonMessage } from '../errors.js';

type Kind = 'container' | 'image' | 'volume';

async function fetchOne(
  client: EngineClient,
  ref: string,
  kinds: Kind[],
): Promise<Record<string, unknown>> {
  for (const kind of kinds) {
    try {
      if (kind === 'volume') {
        return await client.json<Record<string, unknown>>(
          'GET',
          `/volumes/${encodeURIComponent(ref)}`,
        );
      }
      return kind === 'container'
        ? await client.containerInspect(ref)
        : await client.imageInspect(ref);
    } catch (err: unknown) {
      if (!(err instanceof ClientError) || err.statusCode !== 404) throw err;
    }
  }
  throw new ClientError(
    kinds.length > 1 ? `No such object: ${ref}` : `No such ${kinds[0] as string}: ${ref}`,
    404,
  );
}

/** Prints JSON (4-space indent, as docker) or one templated line per object. */
export async function inspectObjects(
  ctx: CommandContext,
  { flags, args }: Parsed,
  kinds: Kind[],
): Promise<number> {
  const client = ctx.client();
  const format = flags.string('format');
  const template =
    format !== undefined && format !== '' && format !== 'json' ? parseTemplate(format) : undefined;
  const found: Record<string, unknown>[] = [];
  let failed = false;
  let printed = 0;
  for (const ref of args) {
    try {
      const obj = await fetchOne(client, ref, kinds);
      if (template) {
        ctx.stdout.write(template.execute(obj) + '\n');
        printed++;
      } else found.push(obj);
    } catch (err: unknown) {
      if (!(err instanceof ClientError)) throw err;
      failed = true;
      const msg = err.statusCode === 404 ? `Error: ${err.message}` : daemonMessage(err);
      if (template) ctx.stderr.write(`${msg}\n`);
      else {
        // docker prints what it found, then the errors.
        ctx.stderr.write(`${msg}\n`);
      }
      if (err.statusCode === 0) throw new ExitError('', 1);
    }
  }
  if (!template) ctx.stdout.write(JSON.stringify(found, null, 4) + '\n');
  // docker executes the template over what it found; nothing found still ends a line.
  else if (printed === 0) ctx.stdout.write('\n');
  return failed ? 1 : 0;
}

export const command: Command = {
  usage: '[OPTIONS] NAME|ID [NAME|ID...]',
  description: 'Return low-level information on berth objects',
  minArgs: 1,
  flags: [
    {
      long: 'format',
      short: 'f',
      kind: 'string',
      description: 'Format output using a custom template',
    },
    { long: 'type', kind: 'string', description: 'Only inspect objects of the given type' },
    {
      long: 'size',
      short: 's',
      kind: 'bool',
      description: 'Display total file sizes if the type is container',
    },
  ],
  async run(ctx, parsed) {
    const type = parsed.flags.string('type');
    if (type !== undefined && type !== 'container' && type !== 'image' && type !== 'volume') {
      throw new UsageError(`"${type}" is not a valid value for --type`);
    }
    return inspectObjects(ctx, parsed, type ? [type] : ['container', 'image', 'volume']);
  },
};
