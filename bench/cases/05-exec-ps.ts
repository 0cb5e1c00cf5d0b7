import { setTimeout as sleep } from 'node:timers/promises';
import { pool, repeat } from '../lib/stats.js';
import type { BenchCase, BenchContext, Engine, EngineId, Metric } from '../lib/types.js';
import { enginesOf, msOf } from './common.js';

const EXEC_RUNS = 20;
const LIST_RUNS = 15;
const FEW = 5;
const MANY = 500;

type Values = Partial<Record<EngineId, number[]>>;

async function createMore(ctx: BenchContext, owner: Engine, n: number): Promise<void> {
  await pool(
    8,
    Array.from(
      { length: n },
      () => () => owner.ok(['create', '--name', ctx.name(owner.id), 'busybox', 'true']),
    ),
  );
}

/** ps -a and inspect, the CLIs interleaved run by run so that neither gets the quieter moments. */
async function listTimes(
  clis: Engine[],
  target: string,
  ps: Values,
  inspect: Values,
  rows: Values,
): Promise<void> {
  // Let the engine settle after the creates before measuring.
  await sleep(2000);
  for (const e of clis) {
    ps[e.id] = [];
    inspect[e.id] = [];
  }
  for (let i = 0; i < 2 + LIST_RUNS; i++) {
    for (const e of clis) {
      const p = await e.cmd(['ps', '-a']);
      const n = await e.cmd(['inspect', target], { discardStdout: true });
      msOf([p, n], `${e.id} ps -a / inspect`);
      if (i < 2) continue;
      ps[e.id]!.push(p.ms);
      inspect[e.id]!.push(n.ms);
      rows[e.id] = [p.stdout.trim().split('\n').length - 1];
    }
  }
}

export const benchCase: BenchCase = {
  name: 'exec-ps',
  description: `\`exec <c> true\` into a running container (${EXEC_RUNS} runs after 3 warm-up); then \`ps -a\` and \`inspect <c>\` (${LIST_RUNS} runs each, the CLIs interleaved, after 2 warm-up and a 2 s settle) with ${FEW} and then ${MANY} containers of ours present (the others created, not started).`,
  async run(ctx) {
    const exec: Values = {};
    const [psFew, psMany, inFew, inMany, rowsFew, rowsMany]: Values[] = [{}, {}, {}, {}, {}, {}];
    const groups: Engine[][] = [
      enginesOf(ctx, ['berth', 'berth-docker']),
      enginesOf(ctx, ['docker']),
      enginesOf(ctx, ['podman']),
    ].filter((g) => g.length > 0);
    for (const clis of groups) {
      const owner = clis[0]!;
      const target = ctx.name(owner.id);
      ctx.log(`exec-ps on ${clis.map((e) => e.id).join('+')}`);
      await owner.ok(['run', '-d', '--name', target, 'busybox', 'sleep', '1d']);
      for (const e of clis) {
        const rs = await repeat(3, EXEC_RUNS, () => e.cmd(['exec', target, 'true']));
        exec[e.id] = msOf(rs, `${e.id} exec`);
      }
      await createMore(ctx, owner, FEW - 1);
      await listTimes(clis, target, psFew, inFew, rowsFew);
      await createMore(ctx, owner, MANY - FEW);
      await listTimes(clis, target, psMany, inMany, rowsMany);
      await ctx.cleanup(owner.id);
    }
    const metrics: Metric[] = [
      { label: 'exec true', unit: 'ms', values: exec },
      { label: `ps -a, ${FEW} containers`, unit: 'ms', values: psFew },
      { label: `ps -a, ${MANY} containers`, unit: 'ms', values: psMany },
      { label: `inspect, ${FEW} containers`, unit: 'ms', values: inFew },
      { label: `inspect, ${MANY} containers`, unit: 'ms', values: inMany },
      { label: `rows ps -a listed with ${FEW} of ours`, unit: 'count', values: rowsFew },
      {
        label: `rows ps -a listed with ${MANY} of ours`,
        unit: 'count',
        values: rowsMany,
        note: 'a shared peer may hold others’ containers too',
      },
    ];
    return metrics;
  },
};
