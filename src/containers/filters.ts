import { InvalidArgumentError } from '../errors/index.js';
import type { ContainerRecord } from './containers.js';
import { validateHealthFilter } from './health.js';

/**
 * `docker ps --filter` and `docker container prune --filter`, as dockerd applies them: values of
 * one key are alternatives (OR), different keys must all hold (AND).
 */

const listKeys = new Set([
  'id',
  'name',
  'label',
  'exited',
  'status',
  'ancestor',
  'before',
  'since',
  'is-task',
  'health',
  'volume',
  'network',
  'publish',
  'expose',
  'isolation',
]);
const pruneKeys = new Set(['until', 'label', 'label!']);
const statuses = new Set([
  'created',
  'restarting',
  'running',
  'removing',
  'paused',
  'exited',
  'dead',
]);

function labelMatches(labels: Record<string, string>, expr: string): boolean {
  const i = expr.indexOf('=');
  if (i < 0) return expr in labels;
  return labels[expr.slice(0, i)] === expr.slice(i + 1);
}

/** Seconds since the epoch from a Docker timestamp filter: unix seconds, RFC 3339, or a Go duration ago. */
export function parseTimestamp(value: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  const duration = /^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$/.exec(value);
  if (duration?.[1] && duration[2]) {
    const unit = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }[duration[2] as 'ns'];
    return now / 1000 - Number(duration[1]) * unit;
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new InvalidArgumentError(`failed to parse value ${value}`);
  return t / 1000;
}

export function filterContainers(
  records: ContainerRecord[],
  filters: Record<string, string[]>,
  options: { pruning: boolean; all?: ContainerRecord[] },
): ContainerRecord[] {
  const allowed = options.pruning ? pruneKeys : listKeys;
  for (const key of Object.keys(filters)) {
    if (!allowed.has(key)) throw new InvalidArgumentError(`invalid filter '${key}'`);
  }
  validateHealthFilter(filters['health'] ?? []);
  for (const s of filters['status'] ?? []) {
    if (!statuses.has(s)) throw new InvalidArgumentError(`invalid filter 'status=${s}'`);
  }
  const find = (ref: string): ContainerRecord | undefined =>
    (options.all ?? records).find(
      (r) => r.id === ref || r.name === ref.replace(/^\//, '') || r.id.startsWith(ref),
    );
  const created = (r: ContainerRecord): number => Date.parse(r.created);
  const bound = (key: 'before' | 'since'): number | undefined => {
    const ref = filters[key]?.[0];
    if (ref === undefined) return undefined;
    const r = find(ref);
    if (!r) throw new InvalidArgumentError(`No such container: ${ref}`);
    return created(r);
  };
  const before = bound('before');
  const since = bound('since');
  const until =
    filters['until']?.[0] !== undefined ? parseTimestamp(filters['until'][0]) * 1000 : undefined;
  const any = (key: string, test: (v: string) => boolean): boolean => {
    const values = filters[key];
    return values === undefined || values.length === 0 || values.some(test);
  };
  return records.filter((r) => {
    const labels = r.config.Labels ?? {};
    return (
      any('id', (v) => r.id.startsWith(v)) &&
      any('name', (v) => new RegExp(v.replace(/^\//, '')).test(r.name)) &&
      (filters['label'] ?? []).every((v) => labelMatches(labels, v)) &&
      (filters['label!'] ?? []).every((v) => !labelMatches(labels, v)) &&
      any('status', (v) => r.state.status === v) &&
      any('exited', (v) => r.state.status === 'exited' && r.state.exitCode === Number(v)) &&
      any(
        'ancestor',
        (v) =>
          r.imageRef === v ||
          r.imageId === v ||
          r.imageId.replace('sha256:', '').startsWith(v) ||
          `${r.imageRef}:latest` === v,
      ) &&
      (before === undefined || created(r) < before) &&
      (since === undefined || created(r) > since) &&
      (until === undefined || created(r) < until) &&
      any('is-task', (v) => v === 'false') &&
      any('health', (v) => (r.state.health?.Status ?? 'none') === v) &&
      any('volume', (v) => r.mounts.some((m) => (m.Name || m.Source) === v || m.Destination === v))
    );
  });
}
