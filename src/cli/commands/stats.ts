import type { IncomingMessage } from 'node:http';
import { ClientError, type EngineClient } from '../../client/client.js';
import { jsonLines } from '../../client/streams.js';
import type { Command, CommandContext } from '../command.js';
import { daemonMessage } from '../errors.js';
import { renderRows } from '../format.js';
import { normaliseFormat } from '../filters.js';
import { goG, humanSize, shortId } from '../human.js';

/** The parts of a `GET /containers/{id}/stats` object the table uses. */
export interface StatsJson {
  read?: string;
  name?: string;
  id?: string;
  pids_stats?: { current?: number };
  blkio_stats?: { io_service_bytes_recursive?: { op: string; value: number }[] | null };
  cpu_stats?: CpuJson;
  precpu_stats?: CpuJson;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
}

interface CpuJson {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
  system_cpu_usage?: number;
  online_cpus?: number;
}

const HEADERS: Record<string, string> = {
  Container: 'CONTAINER',
  ID: 'CONTAINER ID',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

const DEFAULT_FORMAT =
  'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';

/**
 * The docker CLI's CPU %: the container's CPU time over the host's in the same interval,
 * times the online CPUs (so one busy CPU of two shows 100%).
 */
export function cpuPercent(s: StatsJson): number {
  const cpu = s.cpu_stats ?? {};
  const pre = s.precpu_stats ?? {};
  const cpuDelta = (cpu.cpu_usage?.total_usage ?? 0) - (pre.cpu_usage?.total_usage ?? 0);
  const systemDelta = (cpu.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  let online = cpu.online_cpus ?? 0;
  if (online === 0) online = cpu.cpu_usage?.percpu_usage?.length ?? 0;
  if (systemDelta > 0 && cpuDelta > 0) return (cpuDelta / systemDelta) * online * 100;
  return 0;
}

/** Memory in use without the inactive page cache, as the docker CLI counts it (v1 and v2). */
export function memoryUsage(s: StatsJson): number {
  const m = s.memory_stats ?? {};
  const usage = m.usage ?? 0;
  const v1 = m.stats?.['total_inactive_file'];
  if (v1 !== undefined && v1 < usage) return usage - v1;
  const v2 = m.stats?.['inactive_file'] ?? 0;
  if (v2 < usage) return usage - v2;
  return usage;
}

/** docker's units.BytesSize: binary units, 4 significant digits. */
export function binarySize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${goG(v, 4)}${units[i]}`;
}

/** The fields `docker stats --format` offers, for one stats object. */
export function statsRow(container: string, s: StatsJson, trunc: boolean): Record<string, string> {
  const id = s.id ?? '';
  const mem = memoryUsage(s);
  const limit = s.memory_stats?.limit ?? 0;
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks ?? {})) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  let read = 0;
  let write = 0;
  for (const e of s.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') read += e.value;
    else if (op === 'write') write += e.value;
  }
  return {
    Container: container,
    ID: trunc ? shortId(id) : id,
    Name: (s.name ?? '').replace(/^\//, ''),
    CPUPerc: `${cpuPercent(s).toFixed(2)}%`,
    MemUsage: `${binarySize(mem)} / ${binarySize(limit)}`,
    MemPerc: `${(limit !== 0 ? (mem / limit) * 100 : 0).toFixed(2)}%`,
    NetIO: `${humanSize(rx)} / ${humanSize(tx)}`,
    BlockIO: `${humanSize(read)} / ${humanSize(write)}`,
    PIDs: String(s.pids_stats?.current ?? 0),
  };
}

function statsPath(ref: string): string {
  return `/containers/${encodeURIComponent(ref)}/stats`;
}

async function containerIds(client: EngineClient, all: boolean): Promise<string[]> {
  return (await client.containerList({ all })).map((c) => c.Id);
}

/** One table: each container's stats once (the daemon waits a second for the CPU delta). */
async function once(
  ctx: CommandContext,
  refs: { ref: string; label: string }[],
  format: string,
  trunc: boolean,
): Promise<number> {
  const client = ctx.client();
  let failed = false;
  const results = await Promise.all(
    refs.map(async ({ ref, label }) => {
      try {
        const s = await client.json<StatsJson>('GET', statsPath(ref), {
          query: { stream: false },
        });
        return statsRow(label, s, trunc);
      } catch (err: unknown) {
        if (!(err instanceof ClientError)) throw err;
        failed = true;
        ctx.stderr.write(`${daemonMessage(err)}\n`);
        return undefined;
      }
    }),
  );
  const rows = results.filter((r): r is Record<string, string> => r !== undefined);
  if (rows.length > 0 || !failed) ctx.stdout.write(renderRows(format, rows, HEADERS));
  return failed ? 1 : 0;
}

/** Streams every container's stats and redraws the table each second, until interrupted. */
async function live(
  ctx: CommandContext,
  fixed: { ref: string; label: string }[] | undefined,
  all: boolean,
  format: string,
  trunc: boolean,
): Promise<number> {
  const client = ctx.client();
  const rows = new Map<string, Record<string, string>>();
  const open = new Map<string, IncomingMessage>();
  const follow = (ref: string, label: string): void => {
    if (open.has(ref)) return;
    void client
      .stream('GET', statsPath(ref), { query: { stream: true } })
      .then(async (res) => {
        open.set(ref, res);
        for await (const s of jsonLines<StatsJson>(res)) rows.set(ref, statsRow(label, s, trunc));
      })
      .catch((err: unknown) => {
        if (err instanceof ClientError) ctx.stderr.write(`${daemonMessage(err)}\n`);
      })
      .finally(() => {
        open.delete(ref);
        if (!fixed) rows.delete(ref);
      });
  };
  for (;;) {
    if (fixed) for (const f of fixed) follow(f.ref, f.label);
    else {
      const ids = await containerIds(client, all);
      for (const id of ids) follow(id, shortId(id));
      for (const [ref, res] of open) if (!ids.includes(ref)) res.destroy();
      for (const ref of rows.keys()) if (!ids.includes(ref)) rows.delete(ref);
    }
    await new Promise((r) => setTimeout(r, 1000));
    const order = fixed ? fixed.map((f) => f.ref) : [...rows.keys()];
    const shown = order.map((r) => rows.get(r)).filter((r) => r !== undefined);
    ctx.stdout.write('\x1b[2J\x1b[H' + renderRows(format, shown, HEADERS));
  }
}

export const command: Command = {
  usage: '[OPTIONS] [CONTAINER...]',
  description: 'Display a live stream of container(s) resource usage statistics',
  flags: [
    {
      long: 'all',
      short: 'a',
      kind: 'bool',
      description: 'Show all containers (default shows just running)',
    },
    { long: 'format', kind: 'string', description: 'Format output using a custom template' },
    {
      long: 'no-stream',
      kind: 'bool',
      description: 'Disable streaming stats and only pull the first result',
    },
    { long: 'no-trunc', kind: 'bool', description: 'Do not truncate output' },
  ],
  async run(ctx, { flags, args }) {
    const format = normaliseFormat(flags.string('format'), DEFAULT_FORMAT);
    const trunc = !flags.bool('no-trunc');
    const fixed = args.length > 0 ? args.map((a) => ({ ref: a, label: a })) : undefined;
    if (!flags.bool('no-stream')) return live(ctx, fixed, flags.bool('all'), format, trunc);
    const refs =
      fixed ??
      (await containerIds(ctx.client(), flags.bool('all'))).map((id) => ({
        ref: id,
        label: shortId(id),
      }));
    return once(ctx, refs, format, trunc);
  },
};
