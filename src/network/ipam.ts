import { ConflictError, InvalidArgumentError, UnavailableError } from '../errors/index.js';
import {
  contains,
  formatAddr,
  formatCidr,
  lastAddr,
  overlaps,
  parseAddr,
  parseCidr,
  within,
  type Cidr,
} from './ip.js';

/**
 * Address management, pure: which subnet a network gets, which address an endpoint gets.
 * Nothing here is persisted on its own: a network's pools live in its record and the leases
 * are the addresses of its endpoints, so after a crash they are derived again from those
 * records and can never disagree with them.
 */

/** One IPAM.Config entry as Docker shows it (every field present once normalised). */
export interface PoolConfig {
  Subnet: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

/** Docker's default address pools: 172.17-31/16, then 192.168.0.0/16 in /20 steps. */
export function defaultPools(): Cidr[] {
  const out: Cidr[] = [];
  for (let b = 17; b <= 31; b++) out.push(parseCidr(`172.${b}.0.0/16`));
  for (let c = 0; c < 256; c += 16) out.push(parseCidr(`192.168.${c}.0/20`));
  return out;
}

/**
 * The first default pool that overlaps neither a network's subnet nor a subnet routed on the
 * host (so that berth never shadows an address the host reaches elsewhere).
 */
export function chooseSubnet(
  taken: readonly Cidr[],
  pools: readonly Cidr[] = defaultPools(),
): Cidr {
  const free = pools.find((p) => !taken.some((t) => overlaps(p, t)));
  if (!free)
    throw new UnavailableError(
      'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network',
    );
  return free;
}

/**
 * Checks and completes one pool: the gateway defaults to the first address of the subnet
 * (of the range, when one is given, as Docker does), every address must lie in the subnet.
 */
export function normalisePool(input: PoolConfig, options: { defaultGateway: boolean }): PoolConfig {
  const subnet = parseCidr(input.Subnet, { loose: true });
  const out: PoolConfig = { Subnet: formatCidr(subnet) };
  if (input.IPRange) {
    const range = parseCidr(input.IPRange, { loose: true, what: 'ip-range' });
    if (!within(range, subnet))
      throw new InvalidArgumentError(
        `Invalid ip-range ${input.IPRange}: it should be within subnet ${input.Subnet}`,
      );
    out.IPRange = formatCidr(range);
  }
  const inSubnet = (s: string, what: string): string => {
    const a = parseAddr(s, what);
    if (!contains(subnet, a))
      throw new InvalidArgumentError(`${what} ${s} is not in subnet ${out.Subnet}`);
    return formatAddr(a);
  };
  if (input.Gateway) out.Gateway = inSubnet(input.Gateway, 'gateway');
  else if (options.defaultGateway)
    out.Gateway = formatAddr({ family: subnet.family, value: subnet.base + 1n });
  const aux = input.AuxiliaryAddresses ?? {};
  if (Object.keys(aux).length > 0) {
    out.AuxiliaryAddresses = {};
    for (const [k, v] of Object.entries(aux))
      out.AuxiliaryAddresses[k] = inSubnet(v, 'auxiliary address');
  }
  return out;
}

/** Rejects a pool overlapping another network's pool, with dockerd's message. */
export function checkNoOverlap(pool: PoolConfig, others: readonly string[]): void {
  const s = parseCidr(pool.Subnet, { loose: true });
  for (const o of others) {
    if (overlaps(s, parseCidr(o, { loose: true })))
      throw new ConflictError('Pool overlaps with other one on this address space');
  }
}

/** Addresses no endpoint may get: network, broadcast (v4), gateway, auxiliary ones. */
function reserved(pool: PoolConfig): Set<bigint> {
  const subnet = parseCidr(pool.Subnet, { loose: true });
  const out = new Set<bigint>([subnet.base]);
  if (subnet.family === 4) out.add(lastAddr(subnet));
  out.add(parseAddr(gatewayOf(pool)).value);
  for (const v of Object.values(pool.AuxiliaryAddresses ?? {})) out.add(parseAddr(v).value);
  return out;
}

/**
 * One address for an endpoint: the requested one when it is free and in the subnet, else the
 * lowest free address of the range (the subnet without one). `leased` holds the addresses the
 * network's endpoints have now.
 */
export function allocate(
  pool: PoolConfig,
  leased: ReadonlySet<string>,
  requested?: string,
  networkName = '',
): string {
  const subnet = parseCidr(pool.Subnet, { loose: true });
  const taken = reserved(pool);
  for (const l of leased) {
    const a = parseAddr(l);
    if (a.family === subnet.family) taken.add(a.value);
  }
  if (requested) {
    const a = parseAddr(requested, 'IP address');
    if (!contains(subnet, a))
      throw new InvalidArgumentError(
        `Invalid address ${requested}: It does not belong to any of this network's subnets`,
      );
    if (taken.has(a.value)) throw new ConflictError('Address already in use');
    return formatAddr(a);
  }
  const range: Cidr = pool.IPRange ? parseCidr(pool.IPRange, { loose: true }) : subnet;
  const last = lastAddr(range);
  // Bounded: a /64 is too large to walk, but the first free address comes early in practice.
  for (let v = range.base, n = 0; v <= last && n < 1_000_000; v++, n++) {
    if (!taken.has(v)) return formatAddr({ family: subnet.family, value: v });
  }
  throw new UnavailableError(
    `no available IPv${subnet.family} addresses on this network's address pools: ${networkName}`,
  );
}

/** The gateway a pool has: the given one, else the first address of the subnet. */
export function gatewayOf(pool: PoolConfig): string {
  if (pool.Gateway) return pool.Gateway;
  const s = parseCidr(pool.Subnet, { loose: true });
  return formatAddr({ family: s.family, value: s.base + 1n });
}

/** Prefix length of a pool's subnet. */
export function prefixLength(pool: PoolConfig): number {
  return parseCidr(pool.Subnet, { loose: true }).bits;
}

export function familyOf(pool: PoolConfig): 4 | 6 {
  return parseCidr(pool.Subnet, { loose: true }).family;
}
