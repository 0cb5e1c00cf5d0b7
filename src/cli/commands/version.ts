import type { Command } from '../command.js';
import { parseTemplate } from '../format.js';
import { CLIENT_API_VERSION } from '../../client/client.js';
import { ClientError } from '../../client/client.js';
import { daemonMessage } from '../errors.js';

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'Show the berth version information',
  maxArgs: 0,
  flags: [
    {
      long: 'format',
      short: 'f',
      kind: 'string',
      description: 'Format output using a custom template',
    },
  ],
  async run(ctx, { flags }) {
    const clientInfo = {
      Version: '0.1.0',
      ApiVersion: CLIENT_API_VERSION,
      Os: process.platform,
      Arch: process.arch === 'x64' ? 'amd64' : process.arch,
      NodeVersion: process.version,
      // The docker CLI's field names; the runtime is Node's, as berthd reports it too.
      GoVersion: `node${process.versions.node}`,
      GitCommit: '',
      BuildTime: '',
      Context: 'default',
    };
    let server: Record<string, unknown> | undefined;
    let error: ClientError | undefined;
    try {
      server = await ctx.client().json<Record<string, unknown>>('GET', '/version');
    } catch (err: unknown) {
      if (!(err instanceof ClientError)) throw err;
      error = err;
    }
    const format = flags.string('format');
    if (format !== undefined) {
      ctx.stdout.write(
        parseTemplate(format).execute({ Client: clientInfo, Server: server ?? null }) + '\n',
      );
      if (error) ctx.stderr.write(`${daemonMessage(error)}\n`);
      return error ? 1 : 0;
    }
    const line = (k: string, v: unknown, indent = 1): string =>
      `${' '.repeat(indent)}${`${k}:`.padEnd(19 - indent)}${String(v ?? '')}\n`;
    let out = 'Client:\n';
    out += line('Version', clientInfo.Version);
    out += line('API version', clientInfo.ApiVersion);
    out += line('Go version', clientInfo.GoVersion);
    out += line('Git commit', clientInfo.GitCommit);
    out += line('Built', clientInfo.BuildTime);
    out += line('OS/Arch', `${clientInfo.Os}/${clientInfo.Arch}`);
    out += line('Context', clientInfo.Context);
    if (server) {
      out += `\nServer:${server.Platform && typeof server.Platform === 'object' ? ` ${String((server.Platform as { Name?: string }).Name ?? '')}` : ''}\n Engine:\n`;
      out += line('Version', server.Version, 2);
      out += line(
        'API version',
        `${String(server.ApiVersion ?? '')} (minimum version ${String(server.MinAPIVersion ?? '')})`,
        2,
      );
      out += line('Go version', server.GoVersion, 2);
      out += line('Git commit', server.GitCommit, 2);
      out += line('Built', server.BuildTime, 2);
      out += line('OS/Arch', `${String(server.Os ?? '')}/${String(server.Arch ?? '')}`, 2);
      out += line('Experimental', server.Experimental ?? false, 2);
    }
    ctx.stdout.write(out);
    if (error) {
      ctx.stderr.write(`${daemonMessage(error)}\n`);
      return 1;
    }
    return 0;
  },
};
