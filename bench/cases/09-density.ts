import { memoryOf } from '../lib/proc.js';
import type { BenchCase, Metric } from '../lib/types.js';
import { freemem } from 'node:os';

const TARGET = 1000;
const WIDTH = 8;
const CHECK_TIMEOUT_MS = 60_000;

export const benchCase: BenchCase = {
  name: 'density',
  optIn: true,
  description: `berth only (opt-in: ONLY=density): start detached \`busybox sleep 1d\` containers ${WIDTH} at a time until ${TARGET} run or one fails; report the count, what failed, and whether \`ps\`, \`logs\`, \`exec\` and \`stop\` still answer (within ${CHECK_TIMEOUT_MS / 1000} s) at that count.`,
  async run(ctx) {
    const e = ctx.engine('berth')!;
    const names: string[] = [];
    let failure: string | undefined;
    const free0 = freemem();
    const t0 = performance.now();
    while (names.length < TARGET && failure === undefined) {
      const batch = Array.from({ length: Math.min(WIDTH, TARGET - names.length) }, () =>
        ctx.name('berth'),
      );
      const rs = await Promise.all(
        batch.map((n) =>
          e.cmd(['run', '-d', '--name', n, 'busybox', 'sleep', '1d'], { timeoutMs: 120_000 }),
        ),
      );
      rs.forEach((r, i) => {
        if (r.code === 0) names.push(batch[i]!);
        else
          failure ??= `${r.timedOut ? 'timed out' : `exit ${String(r.code)}`}: ${r.stderr.trim().slice(0, 300)}`;
      });
      if (names.length % 100 < WIDTH) ctx.log(`density: ${names.length} running`);
    }
    const startS = (performance.now() - t0) / 1000;
    const target = names[names.length - 1];
    const answered = async (args: string[]): Promise<number> => {
      const r = await e.cmd(args, { timeoutMs: CHECK_TIMEOUT_MS, discardStdout: true });
      return r.code === 0 ? r.ms : -1;
    };
    const checks: [string, number][] = [];
    if (target !== undefined) {
      checks.push(['ps', await answered(['ps'])]);
      checks.push(['logs', await answered(['logs', target])]);
      checks.push(['exec', await answered(['exec', target, 'true'])]);
      checks.push(['stop', await answered(['stop', '-t', '1', target])]);
    }
    const metrics: Metric[] = [
      {
        label: 'containers running',
        unit: 'count',
        values: { berth: [names.length] },
        note: failure ? `stopped by: ${failure}` : `reached the bound of ${TARGET}`,
      },
      { label: `time to start them (${WIDTH} at a time)`, unit: 's', values: { berth: [startS] } },
      {
        label: 'host memory used meanwhile (free before − after)',
        unit: 'MiB',
        values: { berth: [(free0 - freemem()) / 2 ** 20] },
      },
      {
        label: 'berthd RSS at that count',
        unit: 'MiB',
        values: { berth: [memoryOf(e.daemonPids()[0]!).rssKiB / 1024] },
      },
      ...checks.map(([what, ms]): Metric => ({
        label: `${what} answers at that count`,
        unit: 'ms',
        values: ms >= 0 ? { berth: [ms] } : {},
        ...(ms < 0 ? { note: 'did not answer' } : {}),
      })),
    ];
    return metrics;
  },
};
