/**
 * The embedded DNS server and the /etc file generators live in `./dns/server.js` and
 * `./etc.js`, written beside this service. They are loaded here by their documented
 * signatures; while a tree lacks them, DNS is off and the /etc files keep a plain form
 * (`available` tells which).
 */

export interface DnsNames {
  resolve(client: string, name: string, type: 'A' | 'AAAA'): string[] | undefined;
  reverse(client: string, ip: string): string | undefined;
}

export interface DnsServer {
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface DnsModule {
  startDnsServer(options: {
    address: string;
    port?: number;
    names: DnsNames;
    upstreams: (client: string) => readonly string[];
    timeoutMs?: number;
  }): Promise<DnsServer>;
}

export interface EtcModule {
  buildHosts(input: {
    hostname: string;
    domainname?: string;
    addresses: readonly string[];
    extraHosts: readonly string[];
    links?: readonly { names: readonly string[]; ip: string }[];
    ipv6: boolean;
  }): string;
  buildResolvConf(input: {
    hostResolvConf: string;
    dns: readonly string[];
    dnsSearch: readonly string[];
    dnsOptions: readonly string[];
    embedded: boolean;
  }): { content: string; upstreams: string[] };
  resolveExtraHosts(extraHosts: readonly string[], hostGateway: string): string[];
}

async function load<T>(specifier: string, member: string): Promise<T | undefined> {
  try {
    const mod = (await import(specifier)) as Record<string, unknown>;
    return typeof mod[member] === 'function' ? (mod as T) : undefined;
  } catch (err: unknown) {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw err;
  }
}

// Specifiers held in variables: the compiler does not resolve them, the loader does.
const dnsSpecifier = './dns/server.js';
const etcSpecifier = './etc.js';

export async function loadDns(): Promise<DnsModule | undefined> {
  return load<DnsModule>(new URL(dnsSpecifier, import.meta.url).href, 'startDnsServer');
}

export async function loadEtc(): Promise<EtcModule | undefined> {
  return load<EtcModule>(new URL(etcSpecifier, import.meta.url).href, 'buildHosts');
}

/** /etc/hosts without the generator module: Docker's fixed lines, the addresses, links, extra hosts. */
export function plainHosts(input: {
  hostname: string;
  addresses: readonly string[];
  extraHosts: readonly string[];
  links: readonly { names: readonly string[]; ip: string }[];
}): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const e of input.extraHosts) {
    const i = e.indexOf(':');
    lines.push(`${e.slice(i + 1)}\t${e.slice(0, i)}`);
  }
  for (const l of input.links) lines.push(`${l.ip}\t${l.names.join(' ')}`);
  for (const a of input.addresses) lines.push(`${a}\t${input.hostname}`);
  return `${lines.join('\n')}\n`;
}
