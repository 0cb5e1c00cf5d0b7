import { ComposeError } from './errors.js';

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
  d: 86400e9,
};

/** A Go duration (`1m30s`, `500ms`, `10s`) in nanoseconds; a bare number is seconds. */
export function parseDuration(v: string | number): number {
  if (typeof v === 'number') return v * 1e9;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1e9;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/g;
  if (!/^((\d+(\.\d+)?)(ns|us|µs|ms|s|m|h|d))+$/.test(s))
    throw new ComposeError(`invalid duration "${v}"`);
  let ns = 0;
  for (const m of s.matchAll(re)) ns += Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
  return Math.round(ns);
}

/** A size as compose reads it (`512m`, `1g`, `1gb`, `100k`, bytes), powers of 1024. */
export function parseBytes(v: string | number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)b?$/i.exec(v.trim());
  if (!m) throw new ComposeError(`invalid size: '${v}'`);
  const mult: Record<string, number> = {
    '': 1,
    b: 1,
    k: 1024,
    m: 1024 ** 2,
    g: 1024 ** 3,
    t: 1024 ** 4,
    p: 1024 ** 5,
  };
  return Math.round(Number(m[1]) * (mult[(m[2] as string).toLowerCase()] as number));
}

/** Go's time.Duration.String for nanoseconds: `1m30s`, `10s`, `500ms`, `0s`. */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let n = Math.abs(ns);
  if (n < 1e3) return `${sign}${n}ns`;
  if (n < 1e6) return `${sign}${trim(n / 1e3)}µs`;
  if (n < 1e9) return `${sign}${trim(n / 1e6)}ms`;
  let out = '';
  const h = Math.floor(n / 3600e9);
  n -= h * 3600e9;
  const m = Math.floor(n / 60e9);
  n -= m * 60e9;
  if (h > 0) out += `${h}h`;
  if (h > 0 || m > 0) out += `${m}m`;
  return `${sign}${out}${trim(n / 1e9)}s`;
}

function trim(x: number): string {
  return String(Number(x.toFixed(9)));
}
