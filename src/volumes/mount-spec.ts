import path from 'node:path/posix';
import { InvalidArgumentError } from '../errors/index.js';
import type { HostConfigMount } from '../spec/engine.js';

/**
 * A container's mount point as berth records it (Docker's container.MountPoint): what
 * `inspect` shows as Mounts, and what the spec mounts. Kept in the container record.
 */
export interface MountPointRecord {
  Type: 'bind' | 'volume' | 'tmpfs';
  /** The volume's name; '' for binds and tmpfs. */
  Name: string;
  /** Host path of a bind; for a volume, its Mountpoint once resolved; '' for tmpfs. */
  Source: string;
  Destination: string;
  /** 'local' for volumes, '' otherwise. */
  Driver: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** Fill an empty volume with the image's content at Destination before first use. */
  CopyData: boolean;
  /** A bind made without MS_REC (`bind-nonrecursive`). */
  NonRecursive?: boolean;
  /** tmpfs mount data (`size=...,mode=...`). */
  TmpfsData?: string;
  /** A `-v` bind whose missing host directory is made, as dockerd does for Binds. */
  CreateSource?: boolean;
}

/** A mount point still to be resolved: a volume to create with these options when missing. */
export interface MountRequest extends MountPointRecord {
  /** Driver options for a volume created by this mount (`volume-opt`). */
  DriverOpts?: Record<string, string>;
  /** Labels for a volume created by this mount (`volume-label`). */
  Labels?: Record<string, string>;
}

const propagationModes = ['private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared'];
const rwModes = ['rw', 'ro'];
const labelModes = ['z', 'Z'];
const copyModes = ['nocopy'];
const consistencyModes = ['consistent', 'cached', 'delegated'];

/** dockerd's linux mount modes: at most one of each group (rw/ro, z/Z, propagation, nocopy). */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const groups = [rwModes, labelModes, propagationModes, copyModes, consistencyModes];
  const counts = groups.map(() => 0);
  for (const o of mode.split(',')) {
    const g = groups.findIndex((list) => list.includes(o));
    if (g < 0) return false;
    counts[g] = (counts[g] ?? 0) + 1;
  }
  return counts.every((n) => n <= 1);
}

function destinationError(target: string): string | undefined {
  const p = target.replaceAll('\\', '/');
  if (path.normalize(p) === '/') return "invalid specification: destination can't be '/'";
  if (!path.isAbsolute(p)) return `invalid mount path: '${p}' mount path must be absolute`;
  return undefined;
}

function splitN(s: string, sep: string, n: number): string[] {
  const parts = s.split(sep);
  if (parts.length <= n) return parts;
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

/** One `HostConfig.Binds` entry (`-v`): `/host:/ctr[:mode]`, `name:/ctr[:mode]` or `/ctr`. */
export function parseBindSpec(raw: string): MountRequest {
  const invalid = (): InvalidArgumentError =>
    new InvalidArgumentError(`invalid volume specification: '${raw}'`);
  const arr = splitN(raw, ':', 4);
  if (arr[0] === '') throw invalid();
  let source = '';
  let target: string;
  let mode = '';
  if (arr.length === 1) {
    target = arr[0] ?? '';
  } else if (arr.length === 2) {
    if (validMountMode(arr[1] ?? '')) throw invalid();
    source = arr[0] ?? '';
    target = arr[1] ?? '';
  } else if (arr.length === 3) {
    source = arr[0] ?? '';
    target = arr[1] ?? '';
    mode = arr[2] ?? '';
  } else {
    throw invalid();
  }
  if (!validMountMode(mode)) throw new InvalidArgumentError(`invalid mode: ${mode}`);
  const bind = path.isAbsolute(source);
  const type = bind ? 'bind' : 'volume';
  const bad = destinationError(target);
  if (bad !== undefined) {
    throw new InvalidArgumentError(
      `invalid volume specification: '${raw}': invalid mount config for type "${type}": ${bad}`,
    );
  }
  const opts = mode === '' ? [] : mode.split(',');
  const propagation = opts.find((o) => propagationModes.includes(o));
  if (!bind && propagation !== undefined) {
    throw new InvalidArgumentError(
      `invalid volume specification: '${raw}': invalid mount config for type "volume": propagation mode is not supported for volumes`,
    );
  }
  return {
    Type: type,
    Name: bind ? '' : source,
    Source: bind ? path.normalize(source) : '',
    Destination: path.normalize(target),
    Driver: bind ? '' : 'local',
    // dockerd gives a local volume named in Binds without a mode the SELinux mode "z".
    Mode: !bind && source !== '' && mode === '' ? 'z' : mode,
    RW: !opts.includes('ro'),
    Propagation: bind ? (propagation ?? 'rprivate') : '',
    CopyData: !bind && !opts.includes('nocopy'),
    ...(bind ? { CreateSource: true } : {}),
  };
}

/** A `Config.Volumes` key (`-v /path`, image VOLUME): an anonymous volume. */
export function anonymousSpec(destination: string): MountRequest {
  const bad = destinationError(destination);
  if (bad !== undefined) {
    throw new InvalidArgumentError(
      `invalid volume specification: '${destination}': invalid mount config for type "volume": ${bad}`,
    );
  }
  return {
    Type: 'volume',
    Name: '',
    Source: '',
    Destination: path.normalize(destination),
    Driver: 'local',
    Mode: '',
    RW: true,
    Propagation: '',
    CopyData: true,
  };
}

function tmpfsSize(size: number): string {
  for (const [suffix, divisor] of [
    ['g', 1 << 30],
    ['m', 1 << 20],
    ['k', 1 << 10],
  ] as const) {
    if (size % divisor === 0) return `${size / divisor}${suffix}`;
  }
  return String(size);
}

/** One `HostConfig.Mounts` entry (`--mount`), checked as dockerd's validateMountConfig. */
export function parseApiMount(m: HostConfigMount): MountRequest {
  const type = m.Type ?? '';
  const wrap = (message: string): InvalidArgumentError =>
    new InvalidArgumentError(`invalid mount config for type "${type}": ${message}`);
  if (!['bind', 'volume', 'tmpfs'].includes(type)) throw wrap('mount type unknown');
  if (!m.Target) throw wrap('field Target must not be empty');
  const bad = destinationError(m.Target);
  if (bad !== undefined) throw wrap(bad);
  const destination = path.normalize(m.Target);
  const vo = (m.VolumeOptions ?? undefined) as
    | {
        NoCopy?: boolean;
        Labels?: Record<string, string> | null;
        DriverConfig?: { Name?: string; Options?: Record<string, string> | null } | null;
      }
    | undefined;
  if (type === 'bind') {
    if (vo) throw wrap('VolumeOptions must not be specified');
    if (!m.Source) throw wrap('field Source must not be empty');
    if (!path.isAbsolute(m.Source)) {
      throw wrap(`invalid mount path: '${m.Source}' mount path must be absolute`);
    }
    const propagation = m.BindOptions?.Propagation;
    if (propagation && !propagationModes.includes(propagation)) {
      throw wrap(`invalid propagation mode: ${propagation}`);
    }
    return {
      Type: 'bind',
      Name: '',
      Source: path.normalize(m.Source),
      Destination: destination,
      Driver: '',
      Mode: '',
      RW: !m.ReadOnly,
      Propagation: propagation || 'rprivate',
      CopyData: false,
      NonRecursive: m.BindOptions?.NonRecursive ?? false,
    };
  }
  if (m.BindOptions) throw wrap('BindOptions must not be specified');
  if (type === 'tmpfs') {
    if (m.Source) throw wrap('field Source must not be specified');
    if (vo) throw wrap('VolumeOptions must not be specified');
    const data: string[] = [];
    const mode = m.TmpfsOptions?.Mode;
    if (mode) data.push(`mode=${mode.toString(8)}`);
    const size = m.TmpfsOptions?.SizeBytes;
    if (size !== undefined && size < 0) throw wrap('invalid tmpfs size');
    if (size) data.push(`size=${tmpfsSize(size)}`);
    return {
      Type: 'tmpfs',
      Name: '',
      Source: '',
      Destination: destination,
      Driver: '',
      Mode: '',
      RW: !m.ReadOnly,
      Propagation: '',
      CopyData: false,
      TmpfsData: data.join(','),
    };
  }
  const driver = vo?.DriverConfig?.Name || 'local';
  const opts = vo?.DriverConfig?.Options ?? {};
  const labels = vo?.Labels ?? {};
  return {
    Type: 'volume',
    Name: m.Source ?? '',
    Source: '',
    Destination: destination,
    Driver: driver,
    Mode: 'z',
    RW: !m.ReadOnly,
    Propagation: '',
    CopyData: vo?.NoCopy !== true,
    ...(Object.keys(opts).length > 0 ? { DriverOpts: { ...opts } } : {}),
    ...(Object.keys(labels).length > 0 ? { Labels: { ...labels } } : {}),
  };
}

/** One `HostConfig.VolumesFrom` entry: `container[:ro|rw]`. */
export function parseVolumesFrom(raw: string): { container: string; readOnly: boolean } {
  const colon = raw.indexOf(':');
  const container = colon < 0 ? raw : raw.slice(0, colon);
  const mode = colon < 0 ? '' : raw.slice(colon + 1);
  if (container === '') throw new InvalidArgumentError(`invalid volume specification: '${raw}'`);
  if (mode !== '' && (!validMountMode(mode) || mode.split(',').some((o) => !rwModes.includes(o)))) {
    throw new InvalidArgumentError(`invalid mode: ${mode}`);
  }
  return { container, readOnly: mode.split(',').includes('ro') };
}

/** The copy of another container's mount point that `--volumes-from` makes. */
export function inheritedMount(m: MountPointRecord, readOnly: boolean): MountPointRecord {
  return {
    Type: m.Type,
    Name: m.Name,
    Source: m.Source,
    Destination: m.Destination,
    Driver: m.Driver,
    Mode: '',
    RW: m.RW && !readOnly,
    Propagation: m.Propagation,
    CopyData: false,
    ...(m.NonRecursive ? { NonRecursive: true } : {}),
  };
}

/**
 * A container's mount points in dockerd's order of precedence: `--volumes-from` first, then
 * Binds and Mounts (each destination once: a duplicate is an error), overriding inherited ones,
 * then the Config.Volumes (image VOLUME, `-v /path`) not already covered. Pure: nothing is
 * created here. `inherited` are the mounts of the `--volumes-from` containers, already copied.
 */
export function planMounts(input: {
  binds: readonly string[];
  mounts: readonly HostConfigMount[];
  volumes: readonly string[];
  inherited: readonly MountPointRecord[];
}): MountRequest[] {
  const byDest = new Map<string, MountRequest>();
  for (const m of input.inherited) if (m.Type !== 'tmpfs') byDest.set(m.Destination, m);
  const explicit = new Set<string>();
  const add = (m: MountRequest): void => {
    if (explicit.has(m.Destination)) {
      throw new InvalidArgumentError(`Duplicate mount point: ${m.Destination}`);
    }
    explicit.add(m.Destination);
    byDest.set(m.Destination, m);
  };
  for (const raw of input.binds) add(parseBindSpec(raw));
  for (const m of input.mounts) add(parseApiMount(m));
  for (const v of input.volumes) {
    const m = anonymousSpec(v);
    if (!byDest.has(m.Destination)) byDest.set(m.Destination, m);
  }
  return [...byDest.values()];
}
