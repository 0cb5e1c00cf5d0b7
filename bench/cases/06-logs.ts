import { setTimeout as sleep } from 'node:timers/promises';
import { repeat } from '../lib/stats.js';
import type { BenchCase, Engine, EngineId, Metric } from '../lib/types.js';
import { enginesOf } from './common.js';

const BYTES = 100_000_000;
const LINE =
  'berth bench log line 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const RUNS = 3;
const MARKS = 10;

type Values = Partial<Record<EngineId, number[]>>;

/** Lag of `logs -f`: a line written into the container's stdout by exec, until it is shown. */
async function followLag(e: Engine, name: string): Promise<number[]> {
  const seen = new Map<string, number>();
  let buffer = '';
  const abort = new AbortController();
  const follow = e.cmd(['logs', '-f', name], {
    discardStdout: true,
    signal: abort.signal,
    timeoutMs: 120_000,
    onStdout(chunk) {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const l of lines) if (l.startsWith('mark-')) seen.set(l.trim(), performance.now());
    },
  });
  await sleep(1000);
  const lags: number[] = [];
  try {
    for (let i = 0; i < MARKS; i++) {
      const mark = `mark-${i}`;
      await e.ok(['exec', name, 'sh', '-c', `echo ${mark} > /proc/1/fd/1`]);
      const written = performance.now();
      for (let j = 0; j < 500 && !seen.has(mark); j++) await sleep(2);
      const at = seen.get(mark);
      if (at === undefined) throw new Error(`${e.id}: logs -f did not show ${mark} within 1 s`);
      lags.push(Math.max(0, at - written));
    }
  } finally {
    abort.abort();
    await follow;
  }
  return lags;
}

export const benchCase: BenchCase = {
  name: 'logs',
  description: `A container writes ${BYTES / 1e6} MB of lines (\`yes | head -c\`) and exits; then the time until \`logs\` has returned all of it (${RUNS} runs after 1 warm-up, bytes checked). \`logs -f\` lag: a line written into a running container's stdout by exec, from exec's return until \`logs -f\` shows it (${MARKS} lines; 0 when it was already shown).`,
  async run(ctx) {
    const read: Values = {};
    const write: Values = {};
    const lag: Values = {};
    const notes: string[] = [];
    const groups: Engine[][] = [
      enginesOf(ctx, ['berth', 'berth-docker']),
      enginesOf(ctx, ['docker']),
      enginesOf(ctx, ['podman']),
    ].filter((g) => g.length > 0);
    for (const clis of groups) {
      const owner = clis[0]!;
      const name = ctx.name(owner.id);
      ctx.log(`logs on ${clis.map((e) => e.id).join('+')}`);
      const t0 = performance.now();
      await owner.ok([
        'run',
        '-d',
        '--name',
        name,
        'busybox',
        'sh',
        '-c',
        `yes '${LINE}' | head -c ${BYTES}`,
      ]);
      await owner.ok(['wait', name], { timeoutMs: 300_000 });
      write[owner.id] = [(performance.now() - t0) / 1000];
      for (const e of clis) {
        const rs = await repeat(1, RUNS, () =>
          e.cmd(['logs', name], { discardStdout: true, timeoutMs: 300_000 }),
        );
        for (const r of rs) {
          if (r.code !== 0)
            throw new Error(`${e.id} logs: exit ${String(r.code)}: ${r.stderr.slice(0, 200)}`);
          if (r.stdoutBytes !== BYTES) notes.push(`${e.id} returned ${r.stdoutBytes} bytes`);
        }
        read[e.id] = rs.map((r) => r.ms / 1000);
      }
      const follower = ctx.name(owner.id);
      await owner.ok(['run', '-d', '--name', follower, 'busybox', 'sleep', '1d']);
      for (const e of clis) lag[e.id] = await followLag(e, follower);
      await ctx.cleanup(owner.id);
    }
    const metrics: Metric[] = [
      {
        label: `container writes ${BYTES / 1e6} MB and exits (run -d … wait)`,
        unit: 's',
        values: write,
      },
      {
        label: `logs returns all ${BYTES / 1e6} MB`,
        unit: 's',
        values: read,
        ...(notes.length > 0 ? { note: [...new Set(notes)].join('; ') } : {}),
      },
      { label: 'logs -f lag after exec returns', unit: 'ms', values: lag },
    ];
    return metrics;
  },
};
