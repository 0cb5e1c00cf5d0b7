import { ClientError } from '../../client/client.js';
import type { Command } from '../command.js';
import { ExitError } from '../command.js';
import { normalizeServer, storeCredentials } from '../credentials.js';
import { daemonMessage } from '../errors.js';

/** Reads one line from a terminal; `hidden` keeps what is typed off the screen (a password). */
function prompt(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  question: string,
  hidden: boolean,
): Promise<string> {
  output.write(question);
  const tty = input as NodeJS.ReadStream;
  const raw = hidden && typeof tty.setRawMode === 'function';
  if (raw) tty.setRawMode(true);
  return new Promise((resolve, reject) => {
    let line = '';
    const done = (err?: Error): void => {
      input.removeListener('data', onData);
      input.pause();
      if (raw) tty.setRawMode(false);
      if (hidden) output.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: Buffer | string): void => {
      const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      for (const ch of text) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new ExitError('', 130));
        if (ch === '\u007f') line = line.slice(0, -1);
        else line += ch;
      }
    };
    input.on('data', onData);
    input.resume();
  });
}

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
    let username = flags.string('username');
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
      if ((ctx.stdin as unknown as { isTTY?: boolean }).isTTY !== true) {
        throw new ExitError('Error: Cannot perform an interactive login from a non TTY device', 1);
      }
      // The docker CLI's prompts; a terminal echoes the username, not the password.
      username ??= (await prompt(ctx.stdin, ctx.stdout, 'Username: ', false)).trim();
      password ??= await prompt(ctx.stdin, ctx.stdout, 'Password: ', true);
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
