import { UsageError } from './args.js';

/** `--filter key=value` flags → the API's filters map. */
export function parseFilters(values: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`bad format of filter (expected name=value)`);
    (out[v.slice(0, eq).trim().toLowerCase()] ??= []).push(v.slice(eq + 1));
  }
  return out;
}

/** docker's `--format json` shorthand. */
export function normaliseFormat(format: string | undefined, fallback: string): string {
  if (format === undefined || format === '' || format === 'table') return fallback;
  if (format === 'json') return '{{json .}}';
  return format;
}
