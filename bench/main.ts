// The benchmark runner: `node dist/bench/main.js [case,...]` (scripts/bench.sh brings up the
// anchors first). Starts its own berthd, runs each case against every engine that can do it,
// and writes bench/results/latest.{md,json}.
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import {
  berthDockerEngine,
  berthEngine,
  peerEngines,
  startBerthd,
  type Berthd,
} from './lib/engines.js';
import { jsonReport, markdown, tableRows, terminalTable, type CaseOutcome } from './lib/report.js';
import type { BenchCase, BenchContext, Engine, EngineId } from './lib/types.js';

const here = dirname(fileURLToPath(import.meta.url));
// dist/bench -> repository root
const root = join(here, '..', '..');

function log(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

async function loadCases(): Promise<BenchCase[]> {
  const dir = join(here, 'cases');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.js') && !f.endsWith('.test.js'))
    .sort();
  const out: BenchCase[] = [];
  for (const f of files) {
    const m = (await import(pathToFileURL(join(dir, f)).href)) as { benchCase?: BenchCase };
    if (m.benchCase) out.push(m.benchCase);
  }
  return out;
}

function newContext(engines: Engine[], berthHost: string): BenchContext {
  const runId = Date.now().toString(36).slice(-5);
  let counter = 0;
  const made = new Map<EngineId, Set<string>>();
  const record = (e: EngineId, ref: string): void => {
    // berth and the docker CLI against berthd share one engine: clean up through bin/berth.
    const key: EngineId = e === 'berth-docker' ? 'berth' : e;
    const set = made.get(key) ?? new Set<string>();
    set.add(ref);
    made.set(key, set);
  };
  const byId = (id: EngineId): Engine | undefined => engines.find((e) => e.id === id);
  return {
    engines,
    engine: byId,
    name(e) {
      const n = `bench-${runId}-${++counter}`;
      record(e, n);
      return n;
    },
    track: record,
    async cleanup(e) {
      const key: EngineId = e === 'berth-docker' ? 'berth' : e;
      const engine = byId(key);
      const refs = [...(made.get(key) ?? [])];
      made.delete(key);
      if (!engine || refs.length === 0) return;
      for (let i = 0; i < refs.length; i += 50) {
        const batch = refs.slice(i, i + 50);
        // Already gone (--rm, removed by the case) is fine; anything else is reported.
        const r = await engine.cmd(['rm', '-f', ...batch], { timeoutMs: 300_000 });
        const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
        const real = lines.filter(
          (l) => !/no such container|no container with name or id/i.test(l),
        );
        if (real.length > 0) log(`cleanup on ${key}: ${real.slice(0, 3).join(' / ')}`);
      }
      // podman 4.3's rm -f removes nothing, and says nothing, when one name of a batch is
      // missing: what is still listed goes one by one.
      const left = await engine.cmd(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}}']);
      if (left.code !== 0) {
        log(`cleanup on ${key}: cannot list what is left: ${left.stderr.trim()}`);
        return;
      }
      const wanted = new Set(refs);
      const still = left.stdout
        .split('\n')
        .map((l) => l.trim().split(' '))
        .filter(([id, name]) => wanted.has(id ?? '') || wanted.has(name ?? ''))
        .map(([id]) => id!);
      for (const id of still) {
        const r = await engine.cmd(['rm', '-f', id]);
        if (r.code !== 0) log(`cleanup on ${key}: ${id}: ${r.stderr.trim()}`);
      }
    },
    log,
    root,
    berthHost,
  };
}

/** The previous latest.json's outcomes with this run's put in their place, in case order. */
function mergeOutcomes(jsonPath: string, fresh: CaseOutcome[], order: string[]): CaseOutcome[] {
  let old: CaseOutcome[] = [];
  if (existsSync(jsonPath)) {
    try {
      old = (JSON.parse(readFileSync(jsonPath, 'utf8')) as { cases: CaseOutcome[] }).cases;
    } catch (err: unknown) {
      if (!(err instanceof SyntaxError)) throw err;
    }
  }
  const byName = new Map(old.map((o) => [o.name, o]));
  for (const o of fresh) byName.set(o.name, o);
  return [...byName.values()].sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
}

async function main(argv: string[]): Promise<number> {
  const only = argv
    .flatMap((a) => a.split(/[, ]/))
    .map((a) => a.trim())
    .filter(Boolean);
  const all = await loadCases();
  const unknown = only.filter((n) => !all.some((c) => c.name === n));
  if (unknown.length > 0) {
    log(`no case ${unknown.join(', ')}; cases: ${all.map((c) => c.name).join(', ')}`);
    return 2;
  }
  const chosen =
    only.length > 0
      ? all.filter((c) => only.includes(c.name))
      : all.filter((c) => c.optIn !== true);
  let berthd: Berthd | undefined;
  let ctx: BenchContext | undefined;
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    log('interrupted: cleaning up after the current step');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const outcomes: CaseOutcome[] = [];
  try {
    berthd = await startBerthd(root, log);
    const engines = [
      berthEngine(root, berthd),
      berthDockerEngine(berthd),
      ...(await peerEngines(log)),
    ];
    log(`engines: ${engines.map((e) => e.id).join(', ')}`);
    ctx = newContext(engines, berthd.host);
    for (const c of chosen) {
      if (interrupted) break;
      log(`case ${c.name}: ${c.description}`);
      const t0 = performance.now();
      const outcome: CaseOutcome = {
        name: c.name,
        description: c.description,
        date: new Date().toISOString(),
        seconds: 0,
        metrics: [],
      };
      try {
        outcome.metrics = await c.run(ctx);
      } catch (err: unknown) {
        outcome.error = err instanceof Error ? err.message : String(err);
        log(`case ${c.name} failed: ${outcome.error}`);
      } finally {
        for (const e of engines) await ctx.cleanup(e.id);
      }
      outcome.seconds = (performance.now() - t0) / 1000;
      outcomes.push(outcome);
    }
  } finally {
    if (ctx) for (const e of ctx.engines) await ctx.cleanup(e.id);
    if (berthd) {
      log('stopping berthd');
      await berthd.stop();
    }
  }
  const machine = {
    nproc: cpus().length,
    memoryGiB: totalmem() / 2 ** 30,
    kernel: release(),
    node: process.version,
    date: new Date().toISOString(),
  };
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  // A run of some cases replaces those in the latest results and keeps the others' figures.
  const jsonPath = join(resultsDir, 'latest.json');
  const merged = mergeOutcomes(
    jsonPath,
    outcomes,
    all.map((c) => c.name),
  );
  writeFileSync(join(resultsDir, 'latest.md'), markdown(merged, machine));
  writeFileSync(jsonPath, `${JSON.stringify(jsonReport(merged, machine), null, 2)}\n`);
  process.stdout.write(`\n${terminalTable(tableRows(outcomes))}\n\n`);
  log('wrote bench/results/latest.md and latest.json');
  return outcomes.some((o) => o.error !== undefined) ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
