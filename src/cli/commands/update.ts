import { ClientError } from '../../client/client.js';
import { UsageError, type Flags } from '../args.js';
import type { Command } from '../command.js';
import { parseRestart } from '../container-config.js';
import { daemonMessage } from '../errors.js';
import { ramInBytes } from '../human.js';

function size(flags: Flags, name: string): number | undefined {
  const v = flags.string(name);
  if (v === undefined) return undefined;
  if (v === '-1') return -1;
  try {
    return ramInBytes(v);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    const display = name === 'memory' ? '-m, --memory' : `--${name}`;
    throw new UsageError(`invalid argument "${v}" for "${display}" flag: ${reason}`, { cause });
  }
}

/** The `POST /containers/{id}/update` body for `berth update` flags, as the docker CLI sends it. */
export function updateBody(flags: Flags): Record<string, unknown> {
  const body: Record<string, unknown> = {
    BlkioWeight: flags.number('blkio-weight') ?? 0,
    CpuPeriod: flags.number('cpu-period') ?? 0,
    CpuQuota: flags.number('cpu-quota') ?? 0,
    CpuRealtimePeriod: flags.number('cpu-rt-period') ?? 0,
    CpuRealtimeRuntime: flags.number('cpu-rt-runtime') ?? 0,
    CpusetCpus: flags.string('cpuset-cpus') ?? '',
    CpusetMems: flags.string('cpuset-mems') ?? '',
    CpuShares: flags.number('cpu-shares') ?? 0,
    KernelMemory: size(flags, 'kernel-memory') ?? 0,
    Memory: size(flags, 'memory') ?? 0,
    MemoryReservation: size(flags, 'memory-reservation') ?? 0,
    MemorySwap: size(flags, 'memory-swap') ?? 0,
    NanoCpus: 0,
    RestartPolicy: { Name: '', MaximumRetryCount: 0 },
  };
  const cpus = flags.string('cpus');
  if (cpus !== undefined) {
    const n = Number(cpus);
    if (cpus.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new UsageError(`invalid argument "${cpus}" for "--cpus" flag`);
    }
    body['NanoCpus'] = Math.round(n * 1e9);
  }
  const pids = flags.number('pids-limit');
  if (pids !== undefined) body['PidsLimit'] = pids;
  const restart = flags.string('restart');
  if (restart !== undefined) body['RestartPolicy'] = parseRestart(restart);
  return body;
}

const FLAG_NAMES = [
  'blkio-weight',
  'cpu-period',
  'cpu-quota',
  'cpu-rt-period',
  'cpu-rt-runtime',
  'cpu-shares',
  'cpus',
  'cpuset-cpus',
  'cpuset-mems',
  'kernel-memory',
  'memory',
  'memory-reservation',
  'memory-swap',
  'pids-limit',
  'restart',
];

export const command: Command = {
  usage: '[OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Update configuration of one or more containers',
  minArgs: 1,
  flags: [
    {
      long: 'blkio-weight',
      kind: 'number',
      description: 'Block IO (relative weight), between 10 and 1000, or 0 to disable',
    },
    {
      long: 'cpu-period',
      kind: 'number',
      description: 'Limit CPU CFS (Completely Fair Scheduler) period',
    },
    {
      long: 'cpu-quota',
      kind: 'number',
      description: 'Limit CPU CFS (Completely Fair Scheduler) quota',
    },
    {
      long: 'cpu-rt-period',
      kind: 'number',
      description: 'Limit the CPU real-time period in microseconds',
    },
    {
      long: 'cpu-rt-runtime',
      kind: 'number',
      description: 'Limit the CPU real-time runtime in microseconds',
    },
    { long: 'cpu-shares', short: 'c', kind: 'number', description: 'CPU shares (relative weight)' },
    { long: 'cpus', kind: 'string', description: 'Number of CPUs' },
    {
      long: 'cpuset-cpus',
      kind: 'string',
      description: 'CPUs in which to allow execution (0-3, 0,1)',
    },
    {
      long: 'cpuset-mems',
      kind: 'string',
      description: 'MEMs in which to allow execution (0-3, 0,1)',
    },
    { long: 'kernel-memory', kind: 'string', description: 'Kernel memory limit (deprecated)' },
    { long: 'memory', short: 'm', kind: 'string', description: 'Memory limit' },
    { long: 'memory-reservation', kind: 'string', description: 'Memory soft limit' },
    {
      long: 'memory-swap',
      kind: 'string',
      description: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap',
    },
    {
      long: 'pids-limit',
      kind: 'number',
      description: 'Tune container pids limit (set -1 for unlimited)',
    },
    {
      long: 'restart',
      kind: 'string',
      description: 'Restart policy to apply when a container exits',
    },
  ],
  async run(ctx, { flags, args }) {
    if (!FLAG_NAMES.some((f) => flags.has(f))) {
      throw new UsageError('you must provide one or more flags when using this command');
    }
    const body = updateBody(flags);
    const client = ctx.client();
    const warnings: string[] = [];
    let failed = false;
    for (const ref of args) {
      try {
        const r = await client.json<{ Warnings?: string[] | null }>(
          'POST',
          `/containers/${encodeURIComponent(ref)}/update`,
          { body },
        );
        warnings.push(...(r?.Warnings ?? []));
        ctx.stdout.write(`${ref}\n`);
      } catch (err: unknown) {
        if (!(err instanceof ClientError)) throw err;
        failed = true;
        ctx.stderr.write(`${daemonMessage(err)}\n`);
        if (err.statusCode === 0) break;
      }
    }
    if (warnings.length > 0) ctx.stderr.write(`${warnings.join('\n')}\n`);
    return failed ? 1 : 0;
  },
};
