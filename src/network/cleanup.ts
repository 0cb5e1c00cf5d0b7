import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readJsonIfExists } from '../util/atomic.js';
import { deleteLink, deleteRules, iptablesSave, listLinks } from './netlink.js';
import type { NetworkRecord } from './network.js';
import { taggedRules } from './rules.js';
import { daemonTag } from './service.js';

/**
 * Removes what a berthd's networks leave on the host once its data root is to be thrown
 * away (test engines): every rule of its tag, the bridges of its networks (the default
 * bridge only when nothing else is enslaved to it) and the macvlan parents it made. Call with
 * the daemon stopped.
 */
export async function purgeNetworkState(dataRoot: string): Promise<void> {
  const root = path.join(dataRoot, 'network');
  const tag = daemonTag(root);
  await deleteRules(taggedRules(await iptablesSave(), tag).map((r) => r.rule));
  let names: string[] = [];
  try {
    names = await fs.readdir(path.join(root, 'networks'));
  } catch {
    return;
  }
  const links = await listLinks();
  for (const name of names) {
    const r = await readJsonIfExists<NetworkRecord>(path.join(root, 'networks', name));
    if (r?.Driver === 'macvlan' && r.CreatedParent) {
      if (links.some((l) => l.name === r.CreatedParent?.name))
        await deleteLink(r.CreatedParent.name);
      continue;
    }
    if (!r || r.Driver !== 'bridge') continue;
    const bridge = r.Options['com.docker.network.bridge.name'] ?? `br-${r.Id.slice(0, 12)}`;
    if (links.some((l) => l.master === bridge)) continue;
    if (links.some((l) => l.name === bridge)) await deleteLink(bridge);
  }
}
