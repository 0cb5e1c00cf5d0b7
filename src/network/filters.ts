import { InvalidArgumentError } from '../errors/index.js';
import type { NetworkRecord } from './network.js';

const known = new Set(['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling', 'until']);

/** `until=`: a Unix time, an RFC 3339 time, or a Go duration back from now (`24h`, `90m`). */
export function untilTime(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(\d+(?:\.\d+)?)(h|m|s)$/.exec(v);
  if (d) return now - Number(d[1]) * { h: 3_600_000, m: 60_000, s: 1000 }[d[2] as 'h' | 'm' | 's'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`invalid filter 'until=${v}'`);
  return t;
}

/**
 * `GET /networks?filters=` as dockerd applies it: a network passes when, for every filter
 * key, it matches one of the values (name and id by substring/prefix, label by key or
 * key=value, type custom|builtin, dangling by having no containers).
 */
export function filterNetworks<T extends NetworkRecord & { Containers: Record<string, unknown> }>(
  all: readonly T[],
  filters: Record<string, string[]>,
  typeOf: (n: T) => 'builtin' | 'custom',
): T[] {
  for (const k of Object.keys(filters)) {
    if (!known.has(k)) throw new InvalidArgumentError(`invalid filter '${k}'`);
  }
  for (const t of filters['type'] ?? []) {
    if (t !== 'custom' && t !== 'builtin')
      throw new InvalidArgumentError(`invalid filter: 'type'='${t}'`);
  }
  for (const d of filters['dangling'] ?? []) {
    if (!['true', 'false', '1', '0'].includes(d))
      throw new InvalidArgumentError(`invalid filter 'dangling=${d}'`);
  }
  const any = (key: string, test: (v: string) => boolean): boolean => {
    const vs = filters[key];
    return !vs || vs.length === 0 || vs.some(test);
  };
  return all.filter(
    (n) =>
      any('driver', (v) => n.Driver === v) &&
      any('id', (v) => n.Id.startsWith(v)) &&
      any('name', (v) => n.Name.includes(v)) &&
      any('scope', (v) => n.Scope === v) &&
      any('type', (v) => typeOf(n) === v) &&
      any(
        'dangling',
        (v) =>
          (v === 'true' || v === '1') ===
          (Object.keys(n.Containers).length === 0 && typeOf(n) === 'custom'),
      ) &&
      (filters['until'] ?? []).every((v) => Date.parse(n.Created) < untilTime(v)) &&
      (filters['label'] ?? []).every((v) => {
        const eq = v.indexOf('=');
        if (eq < 0) return v in n.Labels;
        return n.Labels[v.slice(0, eq)] === v.slice(eq + 1);
      }),
  );
}
