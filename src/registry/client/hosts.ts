import { isIP } from 'node:net';
import { InvalidArgumentError } from '../../errors/index.js';

/**
 * Where a registry domain is reached, as dockerd decides it: docker.io through the configured
 * mirrors first and then registry-1.docker.io; a registry listed as insecure (by host:port or
 * CIDR, and 127.0.0.0/8 and ::1 always) is tried over HTTPS without verification and then over
 * plain HTTP; every other registry only over verified HTTPS.
 */
export interface Endpoint {
  /** `https://host:port` (no trailing slash). */
  url: string;
  /** Skip certificate verification and fall back to plain HTTP when HTTPS fails. */
  insecure: boolean;
  /** A mirror: failures fall through to the next endpoint. */
  mirror: boolean;
  /** The `host:port` its certs.d directory is named after. */
  hostDir: string;
}

export interface RegistryHostOptions {
  /** `--registry-mirror` URLs, for docker.io only. */
  mirrors: string[];
  /** `--insecure-registry`: `host[:port]` or CIDR. */
  insecure: string[];
}

export const dockerHubDomain = 'docker.io';
export const dockerHubHost = 'registry-1.docker.io';

/** Checks a `--registry-mirror` value: an http(s) URL with no path, as dockerd does. */
export function validateMirror(s: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch (cause: unknown) {
    throw new InvalidArgumentError(`invalid mirror: "${s}" is not a valid URI`, { cause });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new InvalidArgumentError(
      `invalid mirror: unsupported scheme "${u.protocol.replace(':', '')}" in "${s}"`,
    );
  if (u.pathname !== '/' && u.pathname !== '')
    throw new InvalidArgumentError(
      `invalid mirror: path, query, or fragment at end of the URI "${s}"`,
    );
  return `${u.protocol}//${u.host}`;
}

/** Checks an `--insecure-registry` value: a CIDR or host[:port] without scheme. */
export function validateInsecure(s: string): string {
  if (s.includes('://'))
    throw new InvalidArgumentError(`insecure registry ${s} should not contain '://'`);
  if (s.includes('/')) {
    parseCidr(s);
    return s;
  }
  if (!/^[A-Za-z0-9.\-[\]:]+$/.test(s))
    throw new InvalidArgumentError(`insecure registry ${s} is not valid`);
  return s;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function expandIpv6(ip: string): bigint {
  const [head = '', tail] = ip.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - h.length - t.length;
  const groups = [...h, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...t];
  return groups.reduce((n, g) => (n << 16n) + BigInt(parseInt(g || '0', 16)), 0n);
}

function parseCidr(s: string): { family: 4 | 6; base: bigint; bits: number } {
  const [addr = '', bitsText = ''] = s.split('/');
  const family = isIP(addr);
  const bits = Number(bitsText);
  if (family === 0 || !/^\d+$/.test(bitsText) || bits > (family === 4 ? 32 : 128))
    throw new InvalidArgumentError(`invalid CIDR ${s}`);
  return {
    family: family as 4 | 6,
    base: family === 4 ? BigInt(ipv4ToInt(addr)) : expandIpv6(addr),
    bits,
  };
}

function inCidr(ip: string, cidr: string): boolean {
  const c = parseCidr(cidr);
  const fam = isIP(ip);
  if (fam !== c.family) return false;
  const width = BigInt(c.family === 4 ? 32 : 128);
  const value = fam === 4 ? BigInt(ipv4ToInt(ip)) : expandIpv6(ip);
  const shift = width - BigInt(c.bits);
  return value >> shift === c.base >> shift;
}

/** Whether `hostPort` (a reference's domain) is an insecure registry under `list`. */
export function isInsecureRegistry(hostPort: string, list: readonly string[]): boolean {
  if (list.includes(hostPort)) return true;
  const host = hostOnly(hostPort);
  if (host === 'localhost') return true;
  const cidrs = ['127.0.0.0/8', '::1/128', ...list.filter((s) => s.includes('/'))];
  if (isIP(host) === 0) return list.includes(host);
  return cidrs.some((c) => inCidr(host, c));
}

/** `127.0.0.1:5000` → `127.0.0.1`; `[::1]:5000` → `::1`. */
export function hostOnly(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']'));
  const i = hostPort.lastIndexOf(':');
  return i > 0 && !hostPort.slice(0, i).includes(':') ? hostPort.slice(0, i) : hostPort;
}

/** The endpoints for a reference's domain, in the order they are tried. */
export function endpointsFor(domain: string, options: RegistryHostOptions): Endpoint[] {
  if (domain === dockerHubDomain) {
    const out: Endpoint[] = options.mirrors.map((m) => {
      const host = new URL(m).host;
      return {
        url: m,
        insecure: m.startsWith('http:') || isInsecureRegistry(host, options.insecure),
        mirror: true,
        hostDir: host,
      };
    });
    out.push({
      url: `https://${dockerHubHost}`,
      insecure: false,
      mirror: false,
      hostDir: dockerHubDomain,
    });
    return out;
  }
  return [
    {
      url: `https://${domain}`,
      insecure: isInsecureRegistry(domain, options.insecure),
      mirror: false,
      hostDir: domain,
    },
  ];
}
