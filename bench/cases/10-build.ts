import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand } from '../lib/command.js';
import type { BenchCase, CommandResult, EngineId, Metric } from '../lib/types.js';
import { enginesOf, msOf } from './common.js';

const COLD = 3;
const CACHED = 5;
const CHANGED = 3;
const FILES = 200;

const dockerfile = `FROM busybox
ENV APP=/app
WORKDIR /app
COPY deps/ ./deps/
RUN cat deps/* | wc -c > /deps-size
COPY src/ ./src/
RUN ls src | wc -l > /src-count
CMD ["cat", "/src-count"]
`;

/** A context: a Dockerfile, FILES small source files and a dependency directory. */
async function makeContext(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-bench-build-'));
  await fs.writeFile(path.join(dir, 'Dockerfile'), dockerfile);
  await fs.mkdir(path.join(dir, 'deps'));
  await fs.mkdir(path.join(dir, 'src'));
  for (let i = 0; i < 20; i++) {
    await fs.writeFile(path.join(dir, 'deps', `dep${i}.txt`), randomBytes(4096).toString('hex'));
  }
  for (let i = 0; i < FILES; i++) {
    await fs.writeFile(path.join(dir, 'src', `file${i}.txt`), `source ${i}\n`);
  }
  return dir;
}

export const benchCase: BenchCase = {
  name: 'build',
  description: `A ${dockerfile.split('\n').length - 1}-line Dockerfile (ENV, WORKDIR, two COPY of ${FILES + 20} files, two RUN) built by the classic builder (DOCKER_BUILDKIT=0 for Docker): cold (--no-cache, ${COLD} runs), fully cached (${CACHED} runs), and after one source file changes (${CHANGED} runs: the second COPY and the RUN after it are rebuilt).`,
  async run(ctx) {
    const dir = await makeContext();
    const tags: { id: EngineId; tag: string }[] = [];
    const cold: Partial<Record<EngineId, number[]>> = {};
    const cached: Partial<Record<EngineId, number[]>> = {};
    const changed: Partial<Record<EngineId, number[]>> = {};
    try {
      for (const e of enginesOf(ctx, ['berth', 'docker'])) {
        const tag = `bench-build-${randomBytes(3).toString('hex')}:latest`;
        tags.push({ id: e.id, tag });
        // The docker CLI picks BuildKit unless told otherwise: both peers use the classic builder.
        const build = (args: string[]): Promise<CommandResult> =>
          e.id === 'docker'
            ? runCommand(
                ['docker', 'build', ...args],
                {
                  ...process.env,
                  DOCKER_HOST: process.env.ANCHOR_DOCKER_HOST ?? '',
                  DOCKER_BUILDKIT: '0',
                },
                { timeoutMs: 300_000 },
              )
            : e.cmd(['build', ...args], { timeoutMs: 300_000 });
        const runs = async (
          n: number,
          args: string[],
          before?: (i: number) => Promise<void>,
        ): Promise<number[]> => {
          const out: CommandResult[] = [];
          for (let i = 0; i < n; i++) {
            if (before) await before(i);
            out.push(await build(args));
          }
          return msOf(out, `${e.id} build ${args.join(' ')}`);
        };
        ctx.log(`build on ${e.id}`);
        cold[e.id] = await runs(COLD, ['--no-cache', '-q', '-t', tag, dir]);
        cached[e.id] = await runs(CACHED, ['-q', '-t', tag, dir]);
        changed[e.id] = await runs(CHANGED, ['-q', '-t', tag, dir], (i) =>
          fs.writeFile(path.join(dir, 'src', 'file0.txt'), `changed ${e.id} ${i}\n`),
        );
      }
    } finally {
      for (const { id, tag } of tags) {
        const e = ctx.engine(id);
        if (id === 'docker') {
          await runCommand(['docker', 'rmi', tag], {
            ...process.env,
            DOCKER_HOST: process.env.ANCHOR_DOCKER_HOST ?? '',
          });
        } else if (e) await e.cmd(['rmi', tag]);
      }
      await fs.rm(dir, { recursive: true, force: true });
    }
    const metrics: Metric[] = [
      { label: 'build, cold (--no-cache)', unit: 'ms', values: cold },
      { label: 'build, fully cached', unit: 'ms', values: cached },
      { label: 'build, one source file changed', unit: 'ms', values: changed },
    ];
    return metrics;
  },
};
