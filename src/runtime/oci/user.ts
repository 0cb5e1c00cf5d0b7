import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, isNotFound } from '../../errors/index.js';
import type { ResolvedUser } from './spec.js';

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const maxId = 2147483647;

/**
 * Resolves a Docker `User` (`name`, `uid`, `name:group`, `uid:gid`, empty for root) against the
 * container's /etc/passwd and /etc/group, as runc's libcontainer/user does for dockerd: numeric
 * ids need no entry; a name that has none is an error. `groupAdd` are the --group-add entries.
 * The primary gid comes first in additionalGids, then the groups listing the user, then groupAdd.
 */
export async function resolveUser(
  rootfs: string,
  user: string,
  groupAdd: readonly string[] = [],
): Promise<ResolvedUser> {
  const [userArg = '', groupArg] = splitOnce(user, ':');
  const passwd = parsePasswd(await readInRoot(rootfs, '/etc/passwd'));
  const groups = parseGroup(await readInRoot(rootfs, '/etc/group'));

  let uid = 0;
  let gid = 0;
  let name = '';
  const numericUid = parseId(userArg);
  const match =
    userArg === ''
      ? passwd.find((p) => p.uid === 0)
      : numericUid !== undefined
        ? passwd.find((p) => p.uid === numericUid)
        : passwd.find((p) => p.name === userArg);
  if (match) {
    uid = match.uid;
    gid = match.gid;
    name = match.name;
  } else if (numericUid !== undefined) {
    uid = numericUid;
  } else if (userArg !== '') {
    throw new InvalidArgumentError(
      `unable to find user ${userArg}: no matching entries in passwd file`,
    );
  }

  const sgids: number[] = [];
  if (groupArg !== undefined && groupArg !== '') {
    gid = lookupGroup(groups, groupArg);
  } else if (name !== '') {
    for (const g of groups) if (g.members.includes(name)) sgids.push(g.gid);
  }
  const extra = groupAdd.map((g) => lookupGroup(groups, g));
  return { uid, gid, additionalGids: [gid, ...sgids, ...extra] };
}

function lookupGroup(groups: GroupEntry[], arg: string): number {
  const numeric = parseId(arg);
  const found = groups.find((g) => (numeric !== undefined ? g.gid === numeric : g.name === arg));
  if (found) return found.gid;
  if (numeric !== undefined) return numeric;
  throw new InvalidArgumentError(`unable to find group ${arg}: no matching entries in group file`);
}

function parseId(s: string): number | undefined {
  if (!/^-?[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  if (n < 0 || n > maxId) {
    throw new InvalidArgumentError(`uids and gids must be in range 0-${maxId}`);
  }
  return n;
}

function splitOnce(s: string, sep: string): [string, string?] {
  const i = s.indexOf(sep);
  return i < 0 ? [s] : [s.slice(0, i), s.slice(i + 1)];
}

/** Reads a file of the container's filesystem; symlinks stay inside the rootfs. */
async function readInRoot(rootfs: string, file: string): Promise<string> {
  let rel = file;
  for (let hops = 0; hops < 40; hops++) {
    const host = path.join(rootfs, rel);
    let stat;
    try {
      stat = await fs.lstat(host);
    } catch (err: unknown) {
      if (isNotFound(err)) return '';
      throw err;
    }
    if (!stat.isSymbolicLink()) return fs.readFile(host, 'utf8');
    const target = await fs.readlink(host);
    rel = path.posix.resolve(path.posix.dirname(rel), target);
  }
  return '';
}

function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!f[0] || !Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], uid, gid });
  }
  return out;
}

function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const gid = Number(f[2]);
    if (!f[0] || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], gid, members: (f[3] ?? '').split(',').filter(Boolean) });
  }
  return out;
}
