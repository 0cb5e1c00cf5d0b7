import { InvalidArgumentError } from '../errors/index.js';

/**
 * User-namespace id mappings (`--userns-remap`): container ids mapped onto host ids, as the
 * runtime spec's uidMappings/gidMappings and /proc/<pid>/uid_map have them. Pure logic; the
 * files are read by load.ts.
 */

/** One contiguous range: container ids [containerID, containerID+size) are host ids from hostID. */
export interface IdRange {
  containerID: number;
  hostID: number;
  size: number;
}

/** The uid and gid mappings of a remapped daemon; container root is uid[0]'s hostID. */
export interface IdMap {
  uid: IdRange[];
  gid: IdRange[];
}

/** One line of /etc/subuid or /etc/subgid: `name-or-id:start:count`. */
export interface SubordinateRange {
  owner: string;
  start: number;
  count: number;
}

/** The remap target `--userns-remap` names: `default` is the user `berthremap`. */
export interface RemapTarget {
  /** A user name or a numeric uid, as given. */
  user: string;
  /** A group name or a numeric gid; absent means the user's own name (or uid). */
  group?: string;
}

/** The user `--userns-remap default` stands for (dockerd's is `dockremap`). */
export const defaultRemapUser = 'berthremap';

const maxId = 2 ** 32 - 1;

/** Parses the `--userns-remap` value: `default`, `user`, `user:group`, `uid`, `uid:gid`. */
export function parseRemapTarget(value: string): RemapTarget {
  const v = value.trim();
  if (v === 'default') return { user: defaultRemapUser, group: defaultRemapUser };
  const parts = v.split(':');
  if (parts.length > 2 || parts.some((p) => p === '')) {
    throw new InvalidArgumentError(
      `invalid --userns-remap value ${JSON.stringify(value)}: use default, user[:group] or uid[:gid]`,
    );
  }
  const [user, group] = parts as [string, string | undefined];
  if (/^\d+$/.test(user) && Number(user) === 0) {
    throw new InvalidArgumentError('--userns-remap: the remapped user cannot be root (uid 0)');
  }
  if (user === 'root') {
    throw new InvalidArgumentError('--userns-remap: the remapped user cannot be root');
  }
  return group === undefined ? { user } : { user, group };
}

/**
 * Parses /etc/subuid or /etc/subgid text. Blank lines and `#` comments are skipped; a line
 * that is not `owner:start:count` with numbers in range is an error naming the line.
 */
export function parseSubordinateFile(text: string, file: string): SubordinateRange[] {
  const out: SubordinateRange[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(':');
    const [owner, start, count] = parts;
    if (
      parts.length !== 3 ||
      !owner ||
      !/^\d+$/.test(start ?? '') ||
      !/^\d+$/.test(count ?? '') ||
      Number(count) === 0 ||
      Number(start) + Number(count) - 1 > maxId
    ) {
      throw new InvalidArgumentError(`${file}:${i + 1}: invalid subordinate id range ${line}`);
    }
    out.push({ owner, start: Number(start), count: Number(count) });
  }
  return out;
}

/**
 * The ranges of the owner known by `names` (its name and its numeric id), in file order,
 * mapped from container id 0 upward: the first range gives container ids 0..count-1, the next
 * continues after it, as dockerd builds its mapping.
 */
export function rangesFor(entries: SubordinateRange[], names: string[]): IdRange[] {
  const out: IdRange[] = [];
  let next = 0;
  for (const e of entries) {
    if (!names.includes(e.owner)) continue;
    out.push({ containerID: next, hostID: e.start, size: e.count });
    next += e.count;
  }
  return out;
}

function mapOne(id: number, ranges: IdRange[], from: 'containerID' | 'hostID'): number | undefined {
  const to = from === 'containerID' ? 'hostID' : 'containerID';
  for (const r of ranges) {
    if (id >= r[from] && id < r[from] + r.size) return id - r[from] + r[to];
  }
  return undefined;
}

/** The host id of container id `id`; InvalidArgumentError when the mapping has none. */
export function toHost(id: number, ranges: IdRange[], what: 'uid' | 'gid' = 'uid'): number {
  const host = mapOne(id, ranges, 'containerID');
  if (host === undefined) {
    throw new InvalidArgumentError(`container ${what} ${id} cannot be mapped to a host ${what}`);
  }
  return host;
}

/** The container id of host id `id`, or undefined when it is outside the mapping. */
export function toContainer(id: number, ranges: IdRange[]): number | undefined {
  return mapOne(id, ranges, 'hostID');
}

/** The host uid and gid of the container's root. */
export function rootPair(map: IdMap): { uid: number; gid: number } {
  return { uid: toHost(0, map.uid, 'uid'), gid: toHost(0, map.gid, 'gid') };
}

/** Container uid/gid → host uid/gid; throws for ids outside the mapping. */
export function toHostIds(map: IdMap): (uid: number, gid: number) => { uid: number; gid: number } {
  return (uid, gid) => ({ uid: toHost(uid, map.uid, 'uid'), gid: toHost(gid, map.gid, 'gid') });
}

/** The id the kernel shows for a host id that a user namespace does not map. */
export const overflowId = 65534;

/**
 * Host uid/gid → container uid/gid, an unmapped id becoming the overflow id as the kernel
 * shows it inside the namespace.
 */
export function toContainerIds(
  map: IdMap,
): (uid: number, gid: number) => { uid: number; gid: number } {
  return (uid, gid) => ({
    uid: toContainer(uid, map.uid) ?? overflowId,
    gid: toContainer(gid, map.gid) ?? overflowId,
  });
}
