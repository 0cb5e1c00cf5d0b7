import type { Command } from '../command.js';
import { parseTemplate } from '../format.js';
import { goG } from '../human.js';

/** docker's units.BytesSize: binary units, 4 significant digits. */
function bytesSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${goG(v, 4)}${units[i]}`;
}

/**
 * The docker CLI's "Security Options" block: each `name=x,key=value` option as its name, then
 * its other keys title-cased (`profile=default` → `Profile: default`).
 */
export function securityOptionLines(options: unknown): string[] {
  if (!Array.isArray(options) || options.length === 0) return [];
  const out = [' Security Options:'];
  for (const opt of options) {
    const pairs = String(opt)
      .split(',')
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const);
    const name = pairs.find(([k]) => k === 'name')?.[1];
    if (name === undefined) continue;
    out.push(`  ${name}`);
    for (const [k, val] of pairs) {
      if (k !== 'name') out.push(`   ${k.charAt(0).toUpperCase()}${k.slice(1)}: ${val}`);
    }
  }
  return out;
}

export const command: Command = {
  usage: '[OPTIONS]',
  description: 'Display system-wide information',
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
    const info = await ctx.client().json<Record<string, unknown>>('GET', '/info');
    const format = flags.string('format');
    if (format !== undefined) {
      ctx.stdout.write(parseTemplate(format).execute(info) + '\n');
      return 0;
    }
    const v = (k: string): string => String(info[k] ?? '');
    const lines = [
      'Client:',
      ' Version:    0.1.0',
      ' Context:    default',
      ' Debug Mode: false',
      '',
      'Server:',
      ` Containers: ${v('Containers')}`,
      `  Running: ${v('ContainersRunning')}`,
      `  Paused: ${v('ContainersPaused')}`,
      `  Stopped: ${v('ContainersStopped')}`,
      ` Images: ${v('Images')}`,
      ` Server Version: ${v('ServerVersion')}`,
      ` Storage Driver: ${v('Driver')}`,
      ` Logging Driver: ${v('LoggingDriver')}`,
      ` Cgroup Driver: ${v('CgroupDriver')}`,
      ` Cgroup Version: ${v('CgroupVersion')}`,
      ` Default Runtime: ${v('DefaultRuntime')}`,
      ` Init Binary: ${v('InitBinary')}`,
      ...securityOptionLines(info.SecurityOptions),
      ` Kernel Version: ${v('KernelVersion')}`,
      ` Operating System: ${v('OperatingSystem')}`,
      ` OSType: ${v('OSType')}`,
      ` Architecture: ${v('Architecture')}`,
      ` CPUs: ${v('NCPU')}`,
      ` Total Memory: ${bytesSize(Number(info.MemTotal ?? 0))}`,
      ` Name: ${v('Name')}`,
      ` ID: ${v('ID')}`,
      ` Docker Root Dir: ${v('DockerRootDir')}`,
      ` Debug Mode: ${v('Debug') || 'false'}`,
      ` Experimental: ${v('ExperimentalBuild') || 'false'}`,
      ` Live Restore Enabled: ${v('LiveRestoreEnabled') || 'false'}`,
      '',
    ];
    ctx.stdout.write(lines.join('\n'));
    return 0;
  },
};
