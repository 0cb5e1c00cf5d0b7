import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, isNotFound } from '../errors/index.js';
import {
  parseRemapTarget,
  parseSubordinateFile,
  rangesFor,
  type IdMap,
  type IdRange,
} from './idmap.js';

/** Where the account and subordinate-id databases are read from (the host's by default). */
export interface IdFiles {
  passwd: string;
  group: string;
  subuid: string;
  subgid: string;
}

/**
 * The host's files, each overridable by an environment variable (BERTH_PASSWD_FILE,
 * BERTH_GROUP_FILE, BERTH_SUBUID_FILE, BERTH_SUBGID_FILE) so that tests use their own copies.
 */
export function idFilesFromEnv(env: NodeJS.ProcessEnv): IdFiles {
  return {
    passwd: env.BERTH_PASSWD_FILE || '/etc/passwd',
    group: env.BERTH_GROUP_FILE || '/etc/group',
    subuid: env.BERTH_SUBUID_FILE || '/etc/subuid',
    subgid: env.BERTH_SUBGID_FILE || '/etc/subgid',
  };
}

async function readOptional(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err: unknown) {
    if (isNotFound(err)) return '';
    throw err;
  }
}

/** name → id and id → name of an /etc/passwd or /etc/group text (fields 0 and 2). */
function accounts(text: string): { byName: Map<string, number>; byId: Map<number, string> } {
  const byName = new Map<string, number>();
  const byId = new Map<number, string>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || !f[0] || !/^\d+$/.test(f[2] ?? '')) continue;
    byName.set(f[0], Number(f[2]));
    if (!byId.has(Number(f[2]))) byId.set(Number(f[2]), f[0]);
  }
  return { byName, byId };
}

/** The names an account is listed under in the subordinate files: its name and its id. */
function ownerNames(
  given: string,
  db: { byName: Map<string, number>; byId: Map<number, string> },
): string[] {
  if (/^\d+$/.test(given)) {
    const name = db.byId.get(Number(given));
    return name === undefined ? [given] : [given, name];
  }
  const id = db.byName.get(given);
  return id === undefined ? [given] : [given, String(id)];
}

/**
 * Resolves a `--userns-remap` value to the daemon's id mapping from the subordinate id files:
 * every range listed for the user (by name or uid) in subuid, for the group in subgid.
 * A user without ranges is an InvalidArgumentError that says which line to add; berth does not
 * create the user or the ranges itself.
 */
export async function loadRemap(value: string, files: IdFiles): Promise<IdMap> {
  const target = parseRemapTarget(value);
  const users = accounts(await readOptional(files.passwd));
  const groups = accounts(await readOptional(files.group));
  const userNames = ownerNames(target.user, users);
  const groupNames =
    target.group !== undefined
      ? ownerNames(target.group, groups)
      : // As dockerd: without a group, the user's name (or uid) is looked up in subgid.
        userNames;
  const need = (ranges: IdRange[], file: string, who: string): IdRange[] => {
    if (ranges.length === 0) {
      throw new InvalidArgumentError(
        `--userns-remap ${value}: no subordinate ids for ${who} in ${file} (add a line such as ${who}:100000:65536)`,
      );
    }
    return ranges;
  };
  const subuid = parseSubordinateFile(await readOptional(files.subuid), files.subuid);
  const subgid = parseSubordinateFile(await readOptional(files.subgid), files.subgid);
  return {
    uid: need(rangesFor(subuid, userNames), files.subuid, target.user),
    gid: need(rangesFor(subgid, groupNames), files.subgid, target.group ?? target.user),
  };
}
