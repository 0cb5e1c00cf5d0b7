import { repeat } from '../lib/stats.js';
import type { BenchCase, EngineId, Metric } from '../lib/types.js';
import { enginesOf, msOf } from './common.js';

const WARMUP = 3;
const RUNS = 30;

export const benchCase: BenchCase = {
  name: 'run-rm',
  description: `\`run --rm busybox true\` end to end from the CLI (process spawn to exit), ${RUNS} runs after ${WARMUP} warm-up runs; berth both with bin/berth and with the docker CLI against berthd.`,
  async run(ctx) {
    const values: Partial<Record<EngineId, number[]>> = {};
    for (const e of enginesOf(ctx, ['berth', 'berth-docker', 'docker', 'podman'])) {
      ctx.log(`run-rm on ${e.id}`);
      const rs = await repeat(WARMUP, RUNS, () =>
        e.cmd(['run', '--rm', '--name', ctx.name(e.id), 'busybox', 'true']),
      );
      values[e.id] = msOf(rs, `${e.id} run --rm`);
    }
    const m: Metric = { label: 'run --rm busybox true', unit: 'ms', values };
    return [m];
  },
};
