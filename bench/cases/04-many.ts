import { setTimeout as sleep } from 'node:timers/promises';
import { containerProcesses, memoryOfAll, processTable, shimProcesses } from '../lib/proc.js';
import { pool } from '../lib/stats.js';
import type { BenchCase, BenchContext, Engine, EngineId } from '../lib/types.js';
import { enginesOf, KiB_PER_MiB } from './common.js';

const COUNT = Number(process.env.BENCH_MANY_COUNT ?? 200);
const WIDTH = 8;

async function startAll(
  ctx: BenchContext,
  e: Engine,
  width: number,
): Promise<{ ms: number; ids: string[] }> {
  const t0 = performance.now();
  const jobs = Array.from({ length: COUNT }, () => async (): Promise<string> => {
    const r = await e.ok(['run', '-d', '--name', ctx.name(e.id), 'busybox', 'sleep', '1d']);
    // The name is tracked for clean-up; the id is kept to find the processes serving it.
    return r.stdout.trim().split('\n').pop()!.trim();
  });
  const ids = await pool(width, jobs);
  return { ms: performance.now() - t0, ids };
}

export const benchCase: BenchCase = {
  name: 'many',
  description: `${COUNT} detached \`busybox sleep 1d\` containers started one after another, then (after removing them) ${COUNT} started ${WIDTH} at a time: total time of each. With the sequential set running: host memory per container = (RSS, or PSS, of every process serving them — conmon or containerd-shim and the container's processes — plus the daemons' growth) / ${COUNT}.`,
  async run(ctx) {
    const seq: Partial<Record<EngineId, number[]>> = {};
    const par: Partial<Record<EngineId, number[]>> = {};
    const rssPer: Partial<Record<EngineId, number[]>> = {};
    const pssPer: Partial<Record<EngineId, number[]>> = {};
    const overheadRss: Partial<Record<EngineId, number[]>> = {};
    const overheadPss: Partial<Record<EngineId, number[]>> = {};
    const growth: Partial<Record<EngineId, number[]>> = {};
    const removal: Partial<Record<EngineId, number[]>> = {};
    for (const e of enginesOf(ctx, ['berth', 'docker', 'podman'])) {
      ctx.log(`many on ${e.id}: ${COUNT} one after another`);
      const before = memoryOfAll(e.daemonPids());
      const s = await startAll(ctx, e, 1);
      seq[e.id] = [s.ms / 1000];
      await sleep(2000);
      const table = processTable();
      const procs = containerProcesses(table, s.ids);
      const served = memoryOfAll(procs);
      const shims = memoryOfAll(shimProcesses(table, s.ids));
      const after = memoryOfAll(e.daemonPids());
      const grewRss = Math.max(0, after.rssKiB - before.rssKiB);
      const grewPss = Math.max(0, after.pssKiB - before.pssKiB);
      rssPer[e.id] = [(served.rssKiB + grewRss) / COUNT / KiB_PER_MiB];
      pssPer[e.id] = [(served.pssKiB + grewPss) / COUNT / KiB_PER_MiB];
      // What the issue's target compares: the engine's share alone (shim + daemons' growth).
      overheadRss[e.id] = [(shims.rssKiB + grewRss) / COUNT / KiB_PER_MiB];
      overheadPss[e.id] = [(shims.pssKiB + grewPss) / COUNT / KiB_PER_MiB];
      growth[e.id] = [grewRss / KiB_PER_MiB];
      ctx.log(`many on ${e.id}: ${procs.size} processes serve ${COUNT} containers`);
      const t0 = performance.now();
      await ctx.cleanup(e.id);
      removal[e.id] = [(performance.now() - t0) / 1000];
      ctx.log(`many on ${e.id}: ${COUNT}, ${WIDTH} at a time`);
      const p = await startAll(ctx, e, WIDTH);
      par[e.id] = [p.ms / 1000];
      await ctx.cleanup(e.id);
    }
    return [
      { label: `${COUNT} × run -d, one after another`, unit: 's', values: seq },
      { label: `${COUNT} × run -d, ${WIDTH} at a time`, unit: 's', values: par },
      { label: `rm -f of ${COUNT} (50 per command)`, unit: 's', values: removal },
      { label: 'host memory per container (RSS)', unit: 'MiB', values: rssPer },
      { label: 'host memory per container (PSS)', unit: 'MiB', values: pssPer },
      {
        label: 'engine memory per container, shim + daemon growth, without the container (RSS)',
        unit: 'MiB',
        values: overheadRss,
      },
      {
        label: 'engine memory per container, shim + daemon growth, without the container (PSS)',
        unit: 'MiB',
        values: overheadPss,
      },
      { label: `daemon RSS growth with ${COUNT} running`, unit: 'MiB', values: growth },
    ];
  },
};
