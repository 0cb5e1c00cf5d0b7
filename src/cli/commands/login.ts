import { ClientError } from '../../client/client.js';
import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import { normalizeServer, storeCredentials } from '../credentials.js';
import { daemonMessage } from '../errors.js';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const c of stream) s += typeof c === 'string' ? c : (c as Buffer).toString('utf8');
  return s;
}

export const command: Command = {
  usage: '[OPTIONS] [SERVER]',
  description:
    'Log in to a registry.\nIf no server is specified, the default is defined by the daemon.',
  maxArgs: 1,
  flags: [
    { long: 'username', short: 'u', kind: 'string', description: 'Username' },
    { long: 'password', short: 'p', kind: 'string', description: 'Password' },
    { long: 'password-stdin', kind: 'bool', description: 'Take the password from stdin' },
  ],
  async run(ctx, { flags, args }) {
    const server = normalizeServer(args[0]);
    const username = flags.string('username');
    let password = flags.string('password');
    if (flags.bool('password-stdin')) {
      if (password !== undefined)
        throw new ExitError('--password and --password-stdin are mutually exclusive', 1);
      if (username === undefined)
        throw new ExitError('Must provide --username with --password-stdin', 1);
      password = (await readAll(ctx.stdin)).replace(/\r?\n$/, '');
    } else if (password !== undefined) {
      ctx.stderr.write(
        'WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n',
      );
    }
    if (username === undefined || password === undefined) {
      throw new ExitError('Error: Cannot perform an interactive login from a non TTY device', 1);
    }
    try {
      await ctx.client().json('POST', '/auth', {
        body: { username, password, serveraddress: server },
      });
    } catch (err: unknown) {
      if (err instanceof ClientError) throw new ExitError(daemonMessage(err), 1);
      throw err;
    }
    const file = await storeCredentials({ username, password, serveraddress: server });
    ctx.stdout.write(
      `WARNING! Your password will be stored unencrypted in ${file}.\n` +
        'Configure a credential helper to remove this warning. See\n' +
        'https://docs.docker.com/engine/reference/commandline/login/#credentials-store\n\n',
    );
    ctx.stdout.write('Login Succeeded\n');
    return 0;
  },
};
