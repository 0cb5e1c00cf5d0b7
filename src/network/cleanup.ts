import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonIfExists } from '../util/atomic.js';
import { deleteLink, deleteRules, iptablesSave, listLinks } from './netlink.js';
import type { NetworkRecord } from './network.js';
import { taggedRules } from './rules.js';
import { daemonTag } from './service.js';

/**
 * Removes what a berthd's networks leave on the host once its data root is to be thrown
 * away (test engines): every rule of its tag, the bridges of its networks, each only when
 * nothing is enslaved to it any more, and the macvlan parents it made. Call with the daemon
 * stopped.
 */
export async function purgeNetworkState(dataRoot: string): Promise<void> {
  const root = path.join(dataRoot, 'network');
  const tag = daemonTag(root);
  await deleteRules(taggedRules(await iptablesSave(), tag).map((r) => r.rule));
  const links = await listLinks();
  for (const r of await recordsOf(root)) {
    const made = r.Driver === 'macvlan' ? r.CreatedParent?.name : undefined;
    if (made !== undefined && links.some((l) => l.name === made)) await deleteLink(made);
  }
  // The default bridge by its name too: its record may be gone with a half-made data root.
  for (const bridge of new Set([...(await bridgesOf(root)), `bd-${tag}`])) {
    if (links.some((l) => l.master === bridge)) continue;
    if (links.some((l) => l.name === bridge)) await deleteLink(bridge);
  }
}

/**
 * What of a berthd's networks is still on the host: its bridges (by their records, and the
 * default bridge by its tag's name) and rules of its tag, one line each; empty when nothing.
 */
export async function leftNetworkState(dataRoot: string): Promise<string[]> {
  const root = path.join(dataRoot, 'network');
  const tag = daemonTag(root);
  const bridges = new Set([...(await bridgesOf(root)), `bd-${tag}`]);
  const out = (await listLinks())
    .filter((l) => bridges.has(l.name) || (l.master !== undefined && bridges.has(l.master)))
    .map((l) => `link ${l.name}${l.master ? ` (on ${l.master})` : ''}`);
  for (const r of taggedRules(await iptablesSave(), tag))
    out.push(`rule -t ${r.rule.table} -A ${r.rule.chain} ${r.rule.spec}`);
  return out;
}

/** The network records under a network root (none when it has none). */
async function recordsOf(root: string): Promise<NetworkRecord[]> {
  let names: string[] = [];
  try {
    names = await fs.readdir(path.join(root, 'networks'));
  } catch {
    return [];
  }
  const out: NetworkRecord[] = [];
  for (const name of names) {
    const r = await readJsonIfExists<NetworkRecord>(path.join(root, 'networks', name));
    if (r) out.push(r);
  }
  return out;
}

/** The bridge names of the bridge networks recorded under a network root. */
async function bridgesOf(root: string): Promise<string[]> {
  return (await recordsOf(root))
    .filter((r) => r.Driver === 'bridge')
    .map((r) => r.Options['com.docker.network.bridge.name'] ?? `br-${r.Id.slice(0, 12)}`);
}
