import { setTimeout as sleep } from 'node:timers/promises';
import { memoryOfAll } from '../lib/proc.js';
import type { BenchCase, EngineId } from '../lib/types.js';
import { enginesOf, KiB_PER_MiB } from './common.js';

const SAMPLES = 5;

export const benchCase: BenchCase = {
  name: 'idle',
  description: `Resident memory (RSS, and PSS from smaps_rollup) of the idle engine with no containers of ours: berthd against dockerd + containerd; ${SAMPLES} samples 1 s apart. Podman has no daemon.`,
  async run(ctx) {
    const rss: Partial<Record<EngineId, number[]>> = {};
    const pss: Partial<Record<EngineId, number[]>> = {};
    const engines = enginesOf(ctx, ['berth', 'docker']);
    for (const e of engines) {
      rss[e.id] = [];
      pss[e.id] = [];
    }
    for (let i = 0; i < SAMPLES; i++) {
      for (const e of engines) {
        const pids = e.daemonPids();
        if (pids.length === 0) continue;
        const m = memoryOfAll(pids);
        rss[e.id]!.push(m.rssKiB / KiB_PER_MiB);
        pss[e.id]!.push(m.pssKiB / KiB_PER_MiB);
      }
      await sleep(1000);
    }
    return [
      { label: 'idle daemon RSS', unit: 'MiB', values: rss, note: 'Docker: dockerd + containerd' },
      { label: 'idle daemon PSS', unit: 'MiB', values: pss },
    ];
  },
};
