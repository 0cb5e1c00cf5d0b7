import net from 'node:net';
import { InvalidArgumentError } from '../errors/index.js';

/**
 * The files dockerd writes for a container's /etc: hosts and resolv.conf, byte for byte as
 * dockerd 20.10 writes them. Pure text in, text out; the caller reads the host's files and
 * writes the results.
 */

/** The nameserver of the embedded DNS server, inside the container's namespace. */
export const embeddedDnsAddress = '127.0.0.11';

/** The word `--add-host name:host-gateway` uses for the host's gateway address. */
export const hostGatewayName = 'host-gateway';

const defaultHostsV4 = ['127.0.0.1\tlocalhost'];
const defaultHostsV6 = [
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/**
 * /etc/hosts of a container with its own network namespace (bridge, user-defined, none):
 * the loopback entries (the IPv6 ones only when `ipv6`, i.e. the container's loopback has
 * ::1), then each `extraHosts` entry (`name:ip`, already through {@link resolveExtraHosts})
 * as `ip<TAB>name`, then the legacy links, then one line per container address naming the
 * FQDN and the bare host name (`172.17.0.2<TAB>web.example.org web`). No addresses (network
 * none) means no line for the host name, as dockerd does.
 */
export function buildHosts(input: {
  hostname: string;
  domainname?: string;
  addresses: readonly string[];
  extraHosts: readonly string[];
  links?: readonly { names: readonly string[]; ip: string }[];
  ipv6: boolean;
}): string {
  const lines = [...defaultHostsV4, ...(input.ipv6 ? defaultHostsV6 : [])];
  for (const entry of input.extraHosts) {
    const i = entry.indexOf(':');
    lines.push(`${entry.slice(i + 1)}\t${entry.slice(0, i)}`);
  }
  for (const link of input.links ?? []) lines.push(`${link.ip}\t${link.names.join(' ')}`);
  if (input.hostname) {
    // A dotted host name or a domain name gives the FQDN and, after it, the first label.
    const fqdn = input.domainname ? `${input.hostname}.${input.domainname}` : input.hostname;
    const dot = fqdn.indexOf('.');
    const names = dot >= 0 ? `${fqdn} ${fqdn.slice(0, dot)}` : fqdn;
    for (const ip of input.addresses) lines.push(`${ip}\t${names}`);
  }
  return lines.map((l) => `${l}\n`).join('');
}

/**
 * `--add-host` entries validated as dockerd does, in the form the hosts file takes
 * (`name:ip`). `name=ip` (the docker CLI's other spelling) and a bracketed IPv6 address
 * (`name:[::1]`) are accepted and rewritten; `host-gateway` becomes `hostGateway`. A bad
 * entry is an InvalidArgumentError with dockerd's message; so is `host-gateway` when
 * `hostGateway` is empty.
 */
export function resolveExtraHosts(extraHosts: readonly string[], hostGateway: string): string[] {
  return extraHosts.map((entry) => {
    const sep = entry.includes('=') ? '=' : ':';
    const i = entry.indexOf(sep);
    if (i <= 0) throw new InvalidArgumentError(`bad format for add-host: ${goQuote(entry)}`);
    const name = entry.slice(0, i);
    let ip = entry.slice(i + 1);
    if (ip.length > 2 && ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
    if (ip === hostGatewayName) {
      if (!hostGateway) {
        throw new InvalidArgumentError('unable to derive the IP value for host-gateway');
      }
      return `${name}:${hostGateway}`;
    }
    if (net.isIP(ip.trim()) === 0) {
      throw new InvalidArgumentError(`invalid IP address in add-host: ${goQuote(ip)}`);
    }
    return `${name}:${ip}`;
  });
}

/** Go's %q for the ASCII text these messages quote. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** The lines of a resolv.conf with `#` comments cut off. */
function lines(text: string): string[] {
  return text.split('\n').map((l) => {
    const i = l.indexOf('#');
    return i >= 0 ? l.slice(0, i) : l;
  });
}

const looseV6 = /^(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%\w+)?$/;

function isV4(s: string): boolean {
  return net.isIPv4(s) && s.split('.').every((p) => p.length <= 3);
}

/** The nameservers of a resolv.conf, IPv4, IPv6 or both, in file order. */
export function nameservers(text: string, kind: 'ip' | 'ipv4' | 'ipv6' = 'ip'): string[] {
  const out: string[] = [];
  for (const line of lines(text)) {
    const m = /^\s*nameserver\s*(\S+)\s*$/.exec(line);
    if (!m || m[1] === undefined) continue;
    const v4 = isV4(m[1]);
    const v6 = !v4 && looseV6.test(m[1]);
    if ((kind !== 'ipv6' && v4) || (kind !== 'ipv4' && v6)) out.push(m[1]);
  }
  return out;
}

/** The words of the last `search` (or `options`) line of a resolv.conf. */
function lastDirective(text: string, word: 'search' | 'options'): string[] {
  let out: string[] = [];
  const re = new RegExp(`^\\s*${word}(?:\\s+(.*))?$`);
  for (const line of lines(text)) {
    const m = re.exec(line);
    if (m) out = (m[1] ?? '').split(/\s+/).filter(Boolean);
  }
  return out;
}

const localhostNameserver = /^nameserver\s+(?:127\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}|::1$)\s*/gm;
const v6Nameserver = /^nameserver\s+(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%\w+)?\s*/gm;
const fallbackV4 = ['nameserver 8.8.8.8', 'nameserver 8.8.4.4'];
const fallbackV6 = ['nameserver 2001:4860:4860::8888', 'nameserver 2001:4860:4860::8844'];

/**
 * dockerd's clean-up of the host's resolv.conf for a container: loopback nameservers removed
 * (unreachable from the container), IPv6 ones too when IPv6 is off, and Google's public
 * servers written in when no nameserver is left.
 */
function filterHostResolvConf(text: string, ipv6: boolean): string {
  let out = text.replace(localhostNameserver, '');
  if (!ipv6) out = out.replace(v6Nameserver, '');
  if (nameservers(out).length === 0) {
    out += `\n${[...fallbackV4, ...(ipv6 ? fallbackV6 : [])].join('\n')}`;
  }
  return out;
}

function writeResolvConf(
  dns: readonly string[],
  search: readonly string[],
  options: readonly string[],
): string {
  let out = '';
  const searchLine = search.join(' ');
  if (search.length > 0 && searchLine.trim() !== '.') out += `search ${searchLine}\n`;
  for (const ns of dns) out += `nameserver ${ns}\n`;
  const optionsLine = options.join(' ');
  if (options.length > 0 && optionsLine.trim() !== '') out += `options ${optionsLine}\n`;
  return out;
}

/**
 * /etc/resolv.conf of a container, and the servers its embedded DNS server forwards to.
 *
 * - With `--dns`, `--dns-search` or `--dns-option`: a new file whose nameservers, search
 *   list and options are the given ones, each falling back to the host's own (unfiltered).
 * - Without any: the host's file with loopback nameservers removed (and the public
 *   fallback when none remain). IPv6 nameservers stay only when `ipv6` (the network has IPv6).
 * - `hostNetwork` (`--network host`) without any of the flags: the host's file unchanged.
 * - `embedded` (user-defined networks): nameserver 127.0.0.11 followed by the IPv6
 *   nameservers of the file above, its search list, and its options plus `ndots:0` unless
 *   they set ndots themselves. dockerd 20.10 writes no comment lines.
 *
 * `upstreams` are the IPv4 nameservers queries go to: the given `--dns` servers, or else the
 * host's, loopback ones included (the embedded server reaches those from the host).
 */
export function buildResolvConf(input: {
  hostResolvConf: string;
  dns: readonly string[];
  dnsSearch: readonly string[];
  dnsOptions: readonly string[];
  embedded: boolean;
  /** The container's network has IPv6 (default false). */
  ipv6?: boolean;
  /** The container shares the host's network namespace (default false). */
  hostNetwork?: boolean;
}): { content: string; upstreams: string[] } {
  const host = input.hostResolvConf;
  const custom = input.dns.length > 0 || input.dnsSearch.length > 0 || input.dnsOptions.length > 0;
  let content: string;
  let upstreams: string[];
  if (custom) {
    content = writeResolvConf(
      input.dns.length > 0 ? input.dns : nameservers(host),
      input.dnsSearch.length > 0 ? input.dnsSearch : lastDirective(host, 'search'),
      input.dnsOptions.length > 0 ? input.dnsOptions : lastDirective(host, 'options'),
    );
    upstreams = nameservers(content, 'ipv4');
  } else if (input.hostNetwork) {
    return { content: host, upstreams: nameservers(host, 'ipv4') };
  } else {
    upstreams = nameservers(host, 'ipv4');
    // dockerd filters once as the sandbox is made (IPv6 assumed on) and again as the
    // endpoint joins (with the network's IPv6 setting); the embedded case keeps the first.
    content = filterHostResolvConf(host, true);
    if (!input.embedded && !input.ipv6) content = filterHostResolvConf(content, false);
  }
  if (!input.embedded || input.hostNetwork) return { content, upstreams };
  const options = lastDirective(content, 'options');
  const hasNdots = options.some((o) => o.includes('ndots'));
  return {
    content: writeResolvConf(
      [embeddedDnsAddress, ...nameservers(content, 'ipv6')],
      lastDirective(content, 'search'),
      hasNdots ? options : [...options, 'ndots:0'],
    ),
    upstreams,
  };
}
