import { InvalidArgumentError } from '../errors/index.js';
import type { Exchange } from './exchange.js';

/** dockerd's boolValue: anything but "", "0", "no", "false", "none" is true. */
export function qBool(ex: Exchange, name: string, fallback = false): boolean {
  const v = ex.query.get(name);
  if (v === null) return fallback;
  return !['', '0', 'no', 'false', 'none'].includes(v.trim().toLowerCase());
}

export function qString(ex: Exchange, name: string): string | undefined {
  const v = ex.query.get(name);
  return v === null || v === '' ? undefined : v;
}

export function qInt(ex: Exchange, name: string): number | undefined {
  const v = qString(ex, name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v.trim())) {
    throw new InvalidArgumentError(`invalid value for ${name}: ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/** `since`/`until` as dockerd takes them: Unix seconds (fractions allowed) or RFC 3339. */
export function qTime(ex: Exchange, name: string): number | undefined {
  const v = qString(ex, name);
  if (v === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`invalid value for ${name}: ${v}`);
  return t / 1000;
}

/**
 * The `filters` query: JSON of `{"key": {"value": true}}` (current) or `{"key": ["value"]}`
 * (before API 1.22).
 */
export function qFilters(ex: Exchange): Record<string, string[]> {
  const raw = qString(ex, 'filters');
  if (raw === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (cause) {
    throw new InvalidArgumentError(`invalid filter: ${(cause as Error).message}`, { cause });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError('invalid filter: not an object');
  }
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (typeof v === 'object' && v !== null) {
      out[k] = Object.entries(v as Record<string, unknown>)
        .filter(([, on]) => on === true)
        .map(([name]) => name);
    } else throw new InvalidArgumentError(`invalid filter: ${k}`);
  }
  return out;
}

/** The JSON body, or `fallback` when the body is empty; malformed JSON is a 400. */
export async function jsonBody<T>(ex: Exchange, fallback: T): Promise<T> {
  const buf = await ex.body();
  const text = buf.toString('utf8').trim();
  if (text === '') return fallback;
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new InvalidArgumentError(`invalid JSON: ${(cause as Error).message}`, { cause });
  }
}

/** A JSON body that must be an object. */
export async function objectBody(ex: Exchange): Promise<Record<string, unknown>> {
  const v = await jsonBody<unknown>(ex, {});
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidArgumentError('invalid JSON: expected an object');
  }
  return v as Record<string, unknown>;
}

/** Compares API versions `1.NN`: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const [amaj = 0, amin = 0] = a.split('.').map(Number);
  const [bmaj = 0, bmin = 0] = b.split('.').map(Number);
  return amaj !== bmaj ? amaj - bmaj : amin - bmin;
}
