import { ConflictError, InvalidArgumentError, UnavailableError } from '../errors/index.js';
import { tryParseAddr } from './ip.js';

/**
 * Port publishing, pure: what a container's PortBindings/ExposedPorts/PublishAllPorts ask for,
 * and which host ports that becomes.
 */

export type Proto = 'tcp' | 'udp' | 'sctp';

/** One asked-for binding: a host port range (0-0 for "any free") to one container port. */
export interface PortRequest {
  proto: Proto;
  containerPort: number;
  hostIp: string;
  hostPortLow: number;
  hostPortHigh: number;
}

/** One binding as made. */
export interface PortMapping {
  proto: Proto;
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

type Bindings = Record<string, readonly { HostIp?: string; HostPort?: string }[] | null>;

function parseRange(s: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new InvalidArgumentError(`invalid ${what}: ${s}`);
  const lo = Number(m[1]);
  const hi = m[2] !== undefined ? Number(m[2]) : lo;
  if (lo < 1 || hi > 65535 || hi < lo) throw new InvalidArgumentError(`invalid ${what}: ${s}`);
  return [lo, hi];
}

/** `80/tcp` or `80-81/udp` into its protocol and port range. */
export function parsePortKey(key: string): { proto: Proto; low: number; high: number } {
  const slash = key.indexOf('/');
  const proto = (slash < 0 ? 'tcp' : key.slice(slash + 1).toLowerCase()) as Proto;
  if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp')
    throw new InvalidArgumentError(`invalid proto: ${proto}`);
  const [low, high] = parseRange(slash < 0 ? key : key.slice(0, slash), 'containerPort');
  return { proto, low, high };
}

/**
 * The bindings a container asks for: its PortBindings (a container range maps pairwise onto
 * an equally long host range, or each port onto the whole host range when only one is
 * given), then, with PublishAllPorts, every exposed port not bound yet to a random host port.
 * `defaultHostIp` is the network's host_binding_ipv4 (0.0.0.0 by default).
 */
export function portRequests(
  bindings: Bindings | undefined,
  exposed: Record<string, unknown> | undefined,
  publishAll: boolean,
  defaultHostIp = '0.0.0.0',
): PortRequest[] {
  const out: PortRequest[] = [];
  const bound = new Set<string>();
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { proto, low, high } = parsePortKey(key);
    for (const b of list ?? [{}]) {
      const hostIp = b.HostIp || defaultHostIp;
      if (!tryParseAddr(hostIp)) throw new InvalidArgumentError(`invalid IP address: ${hostIp}`);
      const [hlo, hhi] = b.HostPort ? parseRange(b.HostPort, 'hostPort') : [0, 0];
      const count = high - low + 1;
      if (count > 1 && hlo !== 0 && hhi - hlo + 1 !== count && hhi !== hlo)
        throw new InvalidArgumentError(
          `invalid ranges specified for container and host Ports: ${key} and ${b.HostPort ?? ''}`,
        );
      for (let p = low; p <= high; p++) {
        bound.add(`${p}/${proto}`);
        const pairwise = count > 1 && hlo !== 0 && hhi - hlo + 1 === count;
        const h = pairwise ? hlo + (p - low) : 0;
        out.push({
          proto,
          containerPort: p,
          hostIp,
          hostPortLow: pairwise ? h : hlo,
          hostPortHigh: pairwise ? h : hhi,
        });
      }
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {})) {
      const { proto, low, high } = parsePortKey(key);
      for (let p = low; p <= high; p++) {
        if (bound.has(`${p}/${proto}`)) continue;
        out.push({
          proto,
          containerPort: p,
          hostIp: defaultHostIp,
          hostPortLow: 0,
          hostPortHigh: 0,
        });
      }
    }
  }
  return out;
}

const anyAddr = (ip: string): boolean => ip === '0.0.0.0' || ip === '::';

/** Whether two host bindings would catch the same packets. */
export function clashes(a: PortMapping, b: PortMapping): boolean {
  return (
    a.proto === b.proto &&
    a.hostPort === b.hostPort &&
    (a.hostIp === b.hostIp || anyAddr(a.hostIp) || anyAddr(b.hostIp))
  );
}

export interface PortAllocatorOptions {
  /** Bindings other containers hold now. */
  held: readonly PortMapping[];
  /** The range random host ports come from (the host's ip_local_port_range, as dockerd's). */
  ephemeral: [number, number];
  /**
   * Takes the host port on the host itself (binds it), false when a host process has it:
   * the check and the reservation in one step, so nothing can take the port in between.
   */
  take: (m: PortMapping) => Promise<boolean>;
  /** Gives back a port `take` took (the allocation failed further on). */
  release: (m: PortMapping) => Promise<void>;
}

/**
 * Host ports for every request, taken, or a ConflictError with dockerd's words and nothing
 * taken: a fixed port another container holds is "port is already allocated"; one a host
 * process has is "address already in use"; ranges and random ports take the first free one.
 */
export async function allocatePorts(
  requests: readonly PortRequest[],
  options: PortAllocatorOptions,
): Promise<PortMapping[]> {
  const made: PortMapping[] = [];
  try {
    for (const r of requests) made.push(await allocateOne(r, made, options));
  } catch (err: unknown) {
    for (const m of made) await options.release(m);
    throw err;
  }
  return made;
}

/** `tcp4 0.0.0.0:80`, `udp6 [::]:53`: a host binding as Go's net package prints it. */
export function listenName(m: PortMapping): string {
  const v6 = m.hostIp.includes(':');
  return `${m.proto}${v6 ? '6' : '4'} ${v6 ? `[${m.hostIp}]` : m.hostIp}:${m.hostPort}`;
}

async function allocateOne(
  r: PortRequest,
  made: readonly PortMapping[],
  options: PortAllocatorOptions,
): Promise<PortMapping> {
  const held = (m: PortMapping): boolean =>
    options.held.some((h) => clashes(h, m)) || made.some((h) => clashes(h, m));
  const fixed = r.hostPortLow !== 0 && r.hostPortLow === r.hostPortHigh;
  const [lo, hi] = r.hostPortLow === 0 ? options.ephemeral : [r.hostPortLow, r.hostPortHigh];
  for (let p = lo; p <= hi; p++) {
    const m: PortMapping = {
      proto: r.proto,
      containerPort: r.containerPort,
      hostIp: r.hostIp,
      hostPort: p,
    };
    if (held(m)) {
      if (fixed)
        throw new ConflictError(`Bind for ${r.hostIp}:${p} failed: port is already allocated`);
      continue;
    }
    if (await options.take(m)) return m;
    if (fixed)
      throw new ConflictError(
        `Error starting userland proxy: listen ${listenName(m)}: bind: address already in use`,
      );
  }
  if (r.hostPortLow === 0) throw new UnavailableError('no free host port in the ephemeral range');
  throw new ConflictError(
    `Bind for ${r.hostIp}:${r.hostPortLow}-${r.hostPortHigh} failed: port is already allocated`,
  );
}

/** NetworkSettings.Ports: every exposed port, null when unbound, else its host bindings. */
export function portsView(
  exposed: Record<string, unknown> | undefined,
  mappings: readonly PortMapping[],
): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  for (const key of Object.keys(exposed ?? {})) {
    const { proto, low, high } = parsePortKey(key);
    for (let p = low; p <= high; p++) out[`${p}/${proto}`] = null;
  }
  for (const m of mappings) {
    const k = `${m.containerPort}/${m.proto}`;
    (out[k] ??= []).push({ HostIp: m.hostIp, HostPort: String(m.hostPort) });
  }
  return out;
}
