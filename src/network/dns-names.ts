import type { DnsNames } from './dns/server.js';
import type { SandboxRecord } from './network.js';

/**
 * The embedded DNS's view of the endpoint table, pure: a client (a container's address) sees
 * the containers sharing one of its DNS-enabled networks, by name, short id, alias, and each
 * of those qualified with the network's name; nothing else is ours (forwarded upstream).
 */
export function endpointNames(
  sandboxes: () => Iterable<SandboxRecord>,
  /** Network name by id, for the DNS-enabled (user-defined) networks only. */
  dnsNetwork: (networkId: string) => string | undefined,
): DnsNames {
  const clientNetworks = (client: string): Set<string> => {
    const out = new Set<string>();
    for (const s of sandboxes()) {
      const eps = Object.values(s.endpoints);
      if (!eps.some((e) => e.ipv4 === client || e.ipv6 === client)) continue;
      for (const e of eps) if (dnsNetwork(e.networkId) !== undefined) out.add(e.networkId);
    }
    return out;
  };
  return {
    resolve(client, name, type) {
      const networks = clientNetworks(client);
      if (networks.size === 0) return undefined;
      const q = name.replace(/\.$/, '').toLowerCase();
      const out: string[] = [];
      let known = false;
      for (const s of sandboxes()) {
        for (const a of Object.values(s.attachments)) {
          const ep = s.endpoints[a.networkId];
          if (!networks.has(a.networkId) || !ep) continue;
          const net = (dnsNetwork(a.networkId) ?? '').toLowerCase();
          const names = [s.name, s.containerId.slice(0, 12), ...a.aliases].map((x) =>
            x.toLowerCase(),
          );
          if (!names.some((x) => x === q || `${x}.${net}` === q)) continue;
          known = true;
          const ip = type === 'A' ? ep.ipv4 : ep.ipv6;
          if (ip && !out.includes(ip)) out.push(ip);
        }
      }
      // A name of ours without an address of that family is still ours: answered empty.
      return known ? out : undefined;
    },
    reverse(client, ip) {
      const networks = clientNetworks(client);
      for (const s of sandboxes()) {
        for (const ep of Object.values(s.endpoints)) {
          if (!networks.has(ep.networkId) || (ep.ipv4 !== ip && ep.ipv6 !== ip)) continue;
          return `${s.name}.${dnsNetwork(ep.networkId) ?? ''}`;
        }
      }
      return undefined;
    },
  };
}
