import { newClient, type EngineClient } from '../../src/client/client.js';
import { runCommand } from '../lib/command.js';
import { repeat } from '../lib/stats.js';
import type { BenchCase, BenchContext, EngineId, Metric } from '../lib/types.js';
import { msOf } from './common.js';
import { join } from 'node:path';

const RUNS = 20;

type Steps = Record<string, number>;

/** The requests `berth run --rm busybox true` sends, each timed from this process. */
async function oneRun(client: EngineClient, name: string, autoRemove: boolean): Promise<Steps> {
  const steps: Steps = {};
  let t = performance.now();
  const lap = (label: string): void => {
    const now = performance.now();
    steps[label] = now - t;
    t = now;
  };
  const start = t;
  const created = await client.containerCreate(
    {
      Image: 'busybox',
      Cmd: ['true'],
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: { AutoRemove: autoRemove },
    },
    name,
  );
  lap('create');
  const hj = await client.containerAttach(created.Id, {
    stdin: false,
    stdout: true,
    stderr: true,
    stream: true,
    tty: false,
  });
  hj.socket.resume();
  lap('attach');
  const wait = await client.containerWait(created.Id, autoRemove ? 'removed' : 'next-exit');
  lap('wait (registered)');
  await client.containerStart(created.Id);
  lap('start');
  await wait.result;
  lap(autoRemove ? 'exit + auto-remove (wait returns)' : 'exit (wait returns)');
  hj.socket.destroy();
  if (!autoRemove) {
    await client.containerRemove(created.Id);
    lap('remove');
  }
  steps['total (no CLI)'] = performance.now() - start;
  return steps;
}

function collect(all: Steps[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of all) for (const [k, v] of Object.entries(s)) (out[k] ??= []).push(v);
  return out;
}

async function apiSteps(
  ctx: BenchContext,
  id: EngineId,
  host: string,
  autoRemove: boolean,
): Promise<Record<string, number[]>> {
  const client = newClient(host);
  await client.ping();
  return collect(await repeat(3, RUNS, () => oneRun(client, ctx.name(id), autoRemove)));
}

export const benchCase: BenchCase = {
  name: 'breakdown',
  description: `Where \`run --rm busybox true\` spends its time: Node start-up (\`node -e 0\`), the CLI's own start-up (\`bin/berth --version\`, \`docker --version\`), and each API request of a run timed from an in-process client (dist/src/client) against berthd and dockerd: create, attach, wait, start, the exit (with auto-remove; and without, then remove). ${RUNS} runs after 3 warm-up.`,
  async run(ctx) {
    const env = process.env;
    const berthCli = [process.execPath, join(ctx.root, 'bin/berth')];
    const nodeStart = msOf(
      await repeat(3, RUNS, () => runCommand([process.execPath, '-e', '0'], env)),
      'node -e 0',
    );
    const berthVersion = msOf(
      await repeat(3, RUNS, () => runCommand([...berthCli, '--version'], env)),
      'berth --version',
    );
    const dockerVersion = msOf(
      await repeat(3, RUNS, () => runCommand(['docker', '--version'], env)),
      'docker --version',
    );
    const metrics: Metric[] = [
      { label: 'node -e 0', unit: 'ms', values: { berth: nodeStart } },
      {
        label: 'CLI start-up: --version',
        unit: 'ms',
        values: { berth: berthVersion, 'berth-docker': dockerVersion, docker: dockerVersion },
        note: 'docker column: the docker CLI binary',
      },
    ];
    const hosts: [EngineId, string][] = [['berth', ctx.berthHost]];
    if (ctx.engine('docker') && process.env.ANCHOR_DOCKER_HOST)
      hosts.push(['docker', process.env.ANCHOR_DOCKER_HOST]);
    for (const autoRemove of [true, false]) {
      const per: Record<string, Partial<Record<EngineId, number[]>>> = {};
      for (const [id, host] of hosts) {
        ctx.log(`breakdown on ${id} (auto-remove ${String(autoRemove)})`);
        for (const [step, v] of Object.entries(await apiSteps(ctx, id, host, autoRemove)))
          (per[step] ??= {})[id] = v;
      }
      for (const [step, values] of Object.entries(per)) {
        metrics.push({
          label: `API ${autoRemove ? '--rm' : 'no --rm'}: ${step}`,
          unit: 'ms',
          values,
        });
      }
    }
    return metrics;
  },
};
