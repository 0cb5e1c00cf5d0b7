import type { BenchCase, EngineId } from '../lib/types.js';
import { enginesOf } from './common.js';

const WARMUP = 2;
const RUNS = 20;

export const benchCase: BenchCase = {
  name: 'run-d',
  description: `\`run -d busybox sleep 1d\` then \`rm -f\` of that container, each timed from the CLI, ${RUNS} pairs after ${WARMUP} warm-up pairs.`,
  async run(ctx) {
    const runD: Partial<Record<EngineId, number[]>> = {};
    const rmF: Partial<Record<EngineId, number[]>> = {};
    for (const e of enginesOf(ctx, ['berth', 'berth-docker', 'docker', 'podman'])) {
      ctx.log(`run-d on ${e.id}`);
      const a: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < WARMUP + RUNS; i++) {
        const name = ctx.name(e.id);
        const r = await e.ok(['run', '-d', '--name', name, 'busybox', 'sleep', '1d']);
        const d = await e.ok(['rm', '-f', name]);
        if (i >= WARMUP) {
          a.push(r.ms);
          b.push(d.ms);
        }
      }
      runD[e.id] = a;
      rmF[e.id] = b;
    }
    return [
      { label: 'run -d busybox sleep 1d', unit: 'ms', values: runD },
      { label: 'rm -f (running)', unit: 'ms', values: rmF },
    ];
  },
};
