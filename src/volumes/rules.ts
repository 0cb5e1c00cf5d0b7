import { InvalidArgumentError } from '../errors/index.js';
import { anonymousLabel, type VolumeRecord } from './volumes.js';

/**
 * Pure rules of the volume service: names, local driver options, list filters and prune
 * selection, each with dockerd's words.
 */

const namePattern = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Docker's local volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`. Throws InvalidArgumentError. */
export function validateVolumeName(name: string): void {
  if (name.length === 1) {
    throw new InvalidArgumentError(
      `create ${name}: volume name is too short, names should be at least two alphanumeric characters`,
    );
  }
  if (!namePattern.test(name)) {
    throw new InvalidArgumentError(
      `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
}

/** Whether `name` is a valid volume name (for telling `-v name:/p` from a relative path). */
export function isVolumeName(name: string): boolean {
  return namePattern.test(name);
}

const localOptions = ['type', 'device', 'o', 'size'];

/** The local driver's options: type, device, o (and size, which needs quotas berth lacks). */
export function validateLocalOptions(name: string, opts: Record<string, string>): void {
  for (const key of Object.keys(opts)) {
    if (!localOptions.includes(key)) {
      throw new InvalidArgumentError(`create ${name}: invalid option: ${JSON.stringify(key)}`);
    }
  }
  if (opts.size !== undefined) {
    throw new InvalidArgumentError(`create ${name}: quota size requested but no quota support`);
  }
  if (opts.type !== undefined && opts.device === undefined) {
    throw new InvalidArgumentError(`create ${name}: missing required option: "device"`);
  }
  if (opts.device !== undefined && opts.type === undefined) {
    throw new InvalidArgumentError(`create ${name}: missing required option: "type"`);
  }
}

/** Whether a volume with these options has a device to mount over `_data`. */
export function hasDevice(opts: Record<string, string>): boolean {
  return opts.type !== undefined || opts.device !== undefined || opts.o !== undefined;
}

/** `type`/`device`/`o` as a mount: `o` is a mount(8) option string. */
export function deviceMount(opts: Record<string, string>): {
  type: string;
  source: string;
  options: string[];
} {
  const o = (opts.o ?? '').split(',').filter((x) => x !== '');
  const type = opts.type ?? 'none';
  return { type: type === 'none' ? 'bind' : type, source: opts.device ?? '', options: o };
}

function boolFilter(key: string, value: string): boolean {
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new InvalidArgumentError(`invalid filter '${key}=[${value}]'`);
}

/** `label=k` or `label=k=v` against a volume's labels. */
function labelMatches(labels: Record<string, string>, want: string): boolean {
  const eq = want.indexOf('=');
  if (eq < 0) return Object.hasOwn(labels, want);
  return labels[want.slice(0, eq)] === want.slice(eq + 1);
}

function checkKeys(filters: Record<string, string[]>, accepted: readonly string[]): void {
  for (const key of Object.keys(filters)) {
    if (!accepted.includes(key)) throw new InvalidArgumentError(`invalid filter '${key}'`);
  }
}

/** The `GET /volumes` filters; `inUse` says whether a volume has users. */
export function filterVolumes(
  records: readonly VolumeRecord[],
  filters: Record<string, string[]>,
  inUse: (name: string) => boolean,
): VolumeRecord[] {
  checkKeys(filters, ['dangling', 'name', 'label', 'driver']);
  const dangling = (filters.dangling ?? []).map((v) => boolFilter('dangling', v));
  return records.filter((r) => {
    for (const d of dangling) if (inUse(r.name) === d) return false;
    const names = filters.name ?? [];
    if (names.length > 0 && !names.some((n) => r.name.includes(n))) return false;
    const drivers = filters.driver ?? [];
    if (drivers.length > 0 && !drivers.includes(r.driver)) return false;
    for (const l of filters.label ?? []) if (!labelMatches(r.labels, l)) return false;
    return true;
  });
}

/**
 * The volumes `POST /volumes/prune` removes: unused ones, anonymous only unless `all` is true
 * (Docker 23+; API callers before 1.42 get `all=true` added by the API layer), narrowed by
 * `label` / `label!`.
 */
export function pruneSelection(
  records: readonly VolumeRecord[],
  filters: Record<string, string[]>,
  inUse: (name: string) => boolean,
): VolumeRecord[] {
  checkKeys(filters, ['label', 'label!', 'all']);
  const all = (filters.all ?? []).map((v) => boolFilter('all', v)).some((v) => v);
  return records.filter((r) => {
    if (inUse(r.name)) return false;
    if (!all && !Object.hasOwn(r.labels, anonymousLabel)) return false;
    for (const l of filters.label ?? []) if (!labelMatches(r.labels, l)) return false;
    for (const l of filters['label!'] ?? []) if (labelMatches(r.labels, l)) return false;
    return true;
  });
}

const flagBits: Record<string, number> = {
  ro: 0x1,
  nosuid: 0x2,
  nodev: 0x4,
  noexec: 0x8,
  sync: 0x10,
  remount: 0x20,
  mand: 0x40,
  dirsync: 0x80,
  noatime: 0x400,
  nodiratime: 0x800,
  bind: 0x1000,
  rbind: 0x5000,
  relatime: 0x200000,
  strictatime: 0x1000000,
};

/**
 * How dockerd's local driver words a failed device mount: `mount <device>:<path>, flags:
 * <hex>[, data: <data>]: <reason>`.
 */
export function mountFailure(opts: Record<string, string>, target: string, reason: string): string {
  const m = deviceMount(opts);
  let flags = 0;
  const data: string[] = [];
  for (const o of m.options) {
    const bit = flagBits[o];
    if (bit !== undefined) flags |= bit;
    else data.push(o);
  }
  const dataPart = data.length > 0 ? `, data: ${data.join(',')}` : '';
  return `error while mounting volume '${target}': failed to mount local volume: mount ${m.source}:${target}, flags: 0x${flags.toString(16)}${dataPart}: ${reason}`;
}
