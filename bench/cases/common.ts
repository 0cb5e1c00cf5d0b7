import type { BenchContext, Engine, EngineId } from '../lib/types.js';

/** The engines of `ids` this run has, in that order. */
export function enginesOf(ctx: BenchContext, ids: EngineId[]): Engine[] {
  return ids.map((id) => ctx.engine(id)).filter((e): e is Engine => e !== undefined);
}

/** Milliseconds of each result, failing the case on any non-zero exit. */
export function msOf(
  results: { ms: number; code: number | null; stderr: string }[],
  what: string,
): number[] {
  for (const r of results) {
    if (r.code !== 0)
      throw new Error(`${what}: exit ${String(r.code)}: ${r.stderr.trim().slice(0, 300)}`);
  }
  return results.map((r) => r.ms);
}

export const KiB_PER_MiB = 1024;
