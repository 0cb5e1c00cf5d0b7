import * as dnsServer from './dns/server.js';
import * as etcFiles from './etc.js';

/** The embedded DNS server and the /etc file generators, as the network service uses them. */
export type { DnsNames, DnsServer } from './dns/server.js';
export type DnsModule = Pick<typeof dnsServer, 'startDnsServer'>;
export type EtcModule = Pick<
  typeof etcFiles,
  'buildHosts' | 'buildResolvConf' | 'resolveExtraHosts'
>;

export async function loadDns(): Promise<DnsModule | undefined> {
  return dnsServer;
}

export async function loadEtc(): Promise<EtcModule | undefined> {
  return etcFiles;
}

/** /etc/hosts without the generator module: Docker's fixed lines, the addresses, links, extra hosts. */
export function plainHosts(input: {
  hostname: string;
  addresses: readonly string[];
  extraHosts: readonly string[];
  links: readonly { names: readonly string[]; ip: string }[];
}): string {
  return etcFiles.buildHosts({ ...input, ipv6: true });
}
