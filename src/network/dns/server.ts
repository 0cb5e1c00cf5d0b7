import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';

/**
 * The embedded DNS server that dockerd runs for containers on user-defined networks: it
 * answers A, AAAA and PTR queries for the names the engine knows (containers, aliases) and
 * forwards everything else to the container's upstream servers, relaying their reply.
 *
 * Behaviour follows Docker's resolver:
 * - answers carry TTL 600 and the RA flag; RD and CD are copied from the query;
 * - a name that is ours but has no address of the asked family is NOERROR with no answers;
 * - MX for one of our names is NOERROR with no answers; other types are forwarded;
 * - upstreams are tried in order, each with its own timeout; an upstream that times out,
 *   fails, answers SERVFAIL or REFUSED, or answers NXDOMAIN without the AA bit makes the
 *   server try the next one (RFC 8020: only an authoritative NXDOMAIN ends the search);
 * - when no upstream gives an answer the last failure reply received is relayed, and when
 *   none replied at all the client gets SERVFAIL; the server itself never says REFUSED;
 * - a truncated upstream reply over UDP is relayed with its TC bit, so the client retries
 *   over TCP, where the query is forwarded over TCP;
 * - our own answers larger than the client's UDP size (512, or its EDNS size) are cut to fit
 *   and marked TC;
 * - with ndots set by the client, a single-label A/AAAA name that is not ours gets NOERROR
 *   and no records rather than being forwarded;
 * - packets that do not decode, responses, and queries without a question are dropped;
 * - at most `maxConcurrent` forwarded queries are in flight; past that the client gets
 *   SERVFAIL at once.
 */

/** Where the names come from: the engine's view of containers and networks. */
export interface DnsNames {
  /**
   * The addresses of `name` as seen from the container whose address is `client`. `name` is
   * lower-case without a trailing dot, either a single label (`web`) or qualified with the
   * network's name (`web.mynet`); both must be handled. `undefined` means the name is not one
   * of ours (the query is forwarded upstream); an empty array means the name is ours but has
   * no address of that type (the reply is NOERROR with no answers).
   */
  resolve(client: string, name: string, type: 'A' | 'AAAA'): string[] | undefined;
  /**
   * The name for a reverse lookup of `ip` (dotted IPv4 or canonical IPv6) as seen from
   * `client`, without a trailing dot; `undefined` when the address is not one of ours.
   */
  reverse(client: string, ip: string): string | undefined;
}

export interface DnsServer {
  /** The address both listeners are bound to. */
  readonly address: string;
  /** The UDP port (the TCP one too, unless the listeners were given as sockets). */
  readonly port: number;
  /** The TCP port. */
  readonly tcpPort: number;
  /** Stops both listeners and drops open TCP connections; in-flight forwards are abandoned. */
  close(): Promise<void>;
}

export interface DnsServerOptions {
  /** The address to bind, e.g. 127.0.0.11 in a container's namespace, or 127.0.0.1. */
  address: string;
  /** 0 or absent: a free port, the same number for UDP and TCP. */
  port?: number;
  /**
   * Sockets already bound (and the TCP one listening), e.g. made inside a container's network
   * namespace: served instead of binding `address:port`; closed with the server.
   */
  fds?: { udp: number; tcp: number };
  names: DnsNames;
  /** The upstream servers for a client, `ip` or `ip:port` (`[v6]:port`), tried in order. */
  upstreams: (client: string) => readonly string[];
  /** How long one upstream gets to answer (Docker: 4 s). */
  timeoutMs?: number;
  /** The bound on forwarded queries in flight (Docker: 100). */
  maxConcurrent?: number;
  /**
   * Whether the client's resolv.conf sets ndots above 0 (`--dns-option ndots:N`). Then an A or
   * AAAA query for a single label that is not ours is answered NOERROR with no records instead
   * of going upstream, so the client goes on with its search domains, as Docker does.
   */
  ndotsSet?: (client: string) => boolean;
}

const respTtl = 600;
const defaultTimeoutMs = 4000;
const defaultMaxConcurrent = 100;
const minUdpSize = 512;
const maxTcpMessage = 65535;
const tcpIdleMs = 10_000;
const ptrV4 = '.in-addr.arpa';
const ptrV6 = '.ip6.arpa';

type Proto = 'udp' | 'tcp';

export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const maxConcurrent = options.maxConcurrent ?? defaultMaxConcurrent;
  let inFlight = 0;
  let closed = false;

  const answer = async (query: Buffer, client: string, proto: Proto): Promise<Buffer | null> => {
    let packet: dnsPacket.DecodedPacket;
    try {
      packet = dnsPacket.decode(query);
    } catch {
      return null;
    }
    if (packet.type === 'response' || !packet.questions || packet.questions.length === 0) {
      return null;
    }
    const local =
      localAnswer(packet, client, options.names) ??
      (options.ndotsSet?.(client) ? singleLabelStop(packet) : undefined);
    if (local) return fit(local, proto === 'tcp' ? maxTcpMessage : udpSize(packet));
    if (inFlight >= maxConcurrent) return failure(packet, 'SERVFAIL');
    inFlight++;
    try {
      const relayed = await forward(query, packet.id ?? 0, options.upstreams(client), proto, {
        timeoutMs,
        isClosed: () => closed,
      });
      return relayed ?? failure(packet, 'SERVFAIL');
    } finally {
      inFlight--;
    }
  };

  const family = net.isIPv6(options.address) ? 'udp6' : 'udp4';
  const { udp, tcp, port } = options.fds
    ? await adopt(options.fds, family)
    : await bindBoth(options.address, options.port ?? 0, family);
  const tcpPort = (tcp.address() as net.AddressInfo).port;
  const sockets = new Set<net.Socket>();

  udp.on('message', (msg, rinfo) => {
    void answer(msg, plainAddress(rinfo.address), 'udp').then(
      (reply) => {
        if (reply && !closed) udp.send(reply, rinfo.port, rinfo.address, () => undefined);
      },
      () => undefined,
    );
  });
  udp.on('error', () => undefined);

  tcp.on('connection', (socket) => {
    sockets.add(socket);
    socket.setTimeout(tcpIdleMs, () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const client = plainAddress(socket.remoteAddress ?? '');
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (len === 0) {
          socket.destroy();
          return;
        }
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        void answer(Buffer.from(msg), client, 'tcp').then(
          (reply) => {
            if (reply && !socket.destroyed) socket.write(frame(reply));
          },
          () => undefined,
        );
      }
    });
  });
  tcp.on('error', () => undefined);

  return {
    address: options.address,
    port,
    tcpPort,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const s of sockets) s.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

/** Binds UDP first, then TCP on the same port; with port 0 retries when TCP finds it taken. */
async function bindBoth(
  address: string,
  port: number,
  family: 'udp4' | 'udp6',
): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket(family);
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, address, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    const bound = udp.address().port;
    const tcp = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ port: bound, host: address, exclusive: true }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return { udp, tcp, port: bound };
    } catch (err: unknown) {
      udp.close();
      const inUse = (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (port !== 0 || !inUse || attempt >= 20) throw err;
    }
  }
}

/** Serves sockets made elsewhere: dgram and net wrap the fds as they are. */
async function adopt(
  fds: { udp: number; tcp: number },
  family: 'udp4' | 'udp6',
): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  const udp = dgram.createSocket(family);
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ fd: fds.udp }, () => {
      udp.off('error', reject);
      resolve();
    });
  });
  const tcp = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen({ fd: fds.tcp }, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
  } catch (err: unknown) {
    udp.close();
    throw err;
  }
  return { udp, tcp, port: udp.address().port };
}

function plainAddress(a: string): string {
  return a.startsWith('::ffff:') && net.isIPv4(a.slice(7)) ? a.slice(7) : a;
}

function frame(msg: Buffer): Buffer {
  const out = Buffer.alloc(2 + msg.length);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

/** The largest reply the client takes over UDP: its EDNS size, but never under 512. */
function udpSize(query: dnsPacket.DecodedPacket): number {
  for (const rr of query.additionals ?? []) {
    if (rr.type === 'OPT') return Math.max(minUdpSize, rr.udpPayloadSize ?? 0);
  }
  return minUdpSize;
}

function replyFlags(query: dnsPacket.DecodedPacket, rcode: number): number {
  const copied = (query.flags ?? 0) & (dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED);
  return copied | dnsPacket.RECURSION_AVAILABLE | rcode;
}

const rcodes: Record<'NOERROR' | 'SERVFAIL', number> = { NOERROR: 0, SERVFAIL: 2 };

function failure(query: dnsPacket.DecodedPacket, rcode: 'SERVFAIL'): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: query.id ?? 0,
    flags: replyFlags(query, rcodes[rcode]),
    questions: query.questions ?? [],
  });
}

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.+$/, '');
}

/** The reply for a query we answer ourselves, or undefined when it goes upstream. */
function localAnswer(
  query: dnsPacket.DecodedPacket,
  client: string,
  names: DnsNames,
): dnsPacket.Packet | undefined {
  const q = (query.questions ?? [])[0];
  if (!q || (q.class !== undefined && q.class !== 'IN')) return undefined;
  const name = normalizeName(q.name);
  const reply = (answers: dnsPacket.Answer[]): dnsPacket.Packet => ({
    type: 'response',
    id: query.id ?? 0,
    flags: replyFlags(query, rcodes.NOERROR),
    questions: [q],
    answers,
  });
  switch (q.type) {
    case 'A':
    case 'AAAA': {
      const type = q.type;
      const addrs = names.resolve(client, name, type);
      if (addrs === undefined) return undefined;
      return reply(
        shuffle(addrs).map((data): dnsPacket.StringAnswer => ({
          type,
          name: q.name,
          ttl: respTtl,
          data,
        })),
      );
    }
    case 'MX': {
      const ours =
        names.resolve(client, name, 'A') !== undefined ||
        names.resolve(client, name, 'AAAA') !== undefined;
      return ours ? reply([]) : undefined;
    }
    case 'PTR': {
      const ip = ptrAddress(name);
      if (ip === undefined) return undefined;
      const host = names.reverse(client, ip);
      if (host === undefined) return undefined;
      return reply([{ type: 'PTR', name: q.name, ttl: respTtl, data: normalizeName(host) }]);
    }
    default:
      return undefined;
  }
}

/** NOERROR with no records for an A/AAAA query of a single label; undefined otherwise. */
function singleLabelStop(query: dnsPacket.DecodedPacket): dnsPacket.Packet | undefined {
  const q = (query.questions ?? [])[0];
  if (!q || (q.type !== 'A' && q.type !== 'AAAA') || normalizeName(q.name).includes('.')) {
    return undefined;
  }
  return {
    type: 'response',
    id: query.id ?? 0,
    flags: replyFlags(query, rcodes.NOERROR),
    questions: [q],
    answers: [],
  };
}

/**
 * The address a reverse name stands for: `4.3.2.1.in-addr.arpa` is 1.2.3.4, and 32 nibbles
 * under ip6.arpa an IPv6 address in canonical form; anything else is undefined.
 */
export function ptrAddress(name: string): string | undefined {
  if (name.endsWith(ptrV4)) {
    const parts = name.slice(0, -ptrV4.length).split('.').reverse();
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && +p <= 255)) {
      return undefined;
    }
    return parts.join('.');
  }
  if (name.endsWith(ptrV6)) {
    const nibbles = name.slice(0, -ptrV6.length).split('.').reverse();
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(nibbles.slice(i, i + 4).join(''));
    return canonicalV6(groups.map((g) => g.replace(/^0+(?=.)/, '')));
  }
  return undefined;
}

/** RFC 5952 text: the longest run (two or more) of zero groups becomes `::`. */
function canonicalV6(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Encodes a reply, dropping trailing answers and setting TC until it fits `max` bytes. */
function fit(reply: dnsPacket.Packet, max: number): Buffer {
  let buf = dnsPacket.encode(reply);
  if (buf.length <= max) return buf;
  const answers = [...(reply.answers ?? [])];
  while (answers.length > 0) {
    answers.pop();
    buf = dnsPacket.encode({
      ...reply,
      flags: (reply.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE,
      answers,
    });
    if (buf.length <= max) return buf;
  }
  return buf;
}

/** `ip`, `ip:port` or `[ip6]:port` as host and port (53 when absent). */
export function parseUpstream(spec: string): { host: string; port: number } | undefined {
  const s = spec.trim();
  let host = s;
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracket) {
    host = bracket[1] ?? '';
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (!net.isIPv6(s)) {
    const i = s.lastIndexOf(':');
    if (i > 0) {
      host = s.slice(0, i);
      port = Number(s.slice(i + 1));
    }
  }
  if (!net.isIP(host) || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port };
}

/**
 * Tries the upstreams in order; the first usable reply (NOERROR, authoritative NXDOMAIN, or
 * anything truncated over UDP) is returned as received. Otherwise the last failure reply, or
 * null when none replied.
 */
async function forward(
  query: Buffer,
  id: number,
  upstreams: readonly string[],
  proto: Proto,
  o: { timeoutMs: number; isClosed: () => boolean },
): Promise<Buffer | null> {
  let lastFailure: Buffer | null = null;
  for (const spec of upstreams) {
    if (o.isClosed()) break;
    const target = parseUpstream(spec);
    if (!target) continue;
    let reply: Buffer;
    try {
      reply =
        proto === 'udp'
          ? await exchangeUdp(query, id, target, o.timeoutMs)
          : await exchangeTcp(query, id, target, o.timeoutMs);
    } catch {
      continue;
    }
    let header: dnsPacket.DecodedPacket;
    try {
      header = dnsPacket.decode(reply);
    } catch {
      continue;
    }
    if (header.flag_tc && proto === 'udp') return reply;
    const rcode = (header.flags ?? 0) & 0xf;
    if (rcode === 0 || (rcode === 3 && header.flag_aa)) return reply;
    lastFailure = reply;
  }
  return lastFailure;
}

function exchangeUdp(
  query: Buffer,
  id: number,
  target: { host: string; port: number },
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(target.host) ? 'udp6' : 'udp4');
    const done = (err: Error | null, reply?: Buffer): void => {
      clearTimeout(timer);
      sock.close();
      if (err || !reply) reject(err ?? new Error('no reply'));
      else resolve(reply);
    };
    const timer = setTimeout(() => done(new Error('upstream timed out')), timeoutMs);
    sock.on('error', (err) => done(err));
    sock.on('message', (msg, rinfo) => {
      // Only the upstream's reply to this query counts; stray datagrams are ignored.
      if (plainAddress(rinfo.address) !== target.host || rinfo.port !== target.port) return;
      if (msg.length < 12 || msg.readUInt16BE(0) !== id) return;
      done(null, msg);
    });
    sock.send(query, target.port, target.host, (err) => {
      if (err) done(err);
    });
  });
}

function exchangeTcp(
  query: Buffer,
  id: number,
  target: { host: string; port: number },
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: target.host, port: target.port });
    let pending = Buffer.alloc(0);
    let finished = false;
    const done = (err: Error | null, reply?: Buffer): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      if (err || !reply) reject(err ?? new Error('no reply'));
      else resolve(reply);
    };
    const timer = setTimeout(() => done(new Error('upstream timed out')), timeoutMs);
    sock.on('error', (err) => done(err));
    sock.on('close', () => done(new Error('upstream closed the connection')));
    sock.on('connect', () => sock.write(frame(query)));
    sock.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) return;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        if (msg.length >= 12 && msg.readUInt16BE(0) === id) {
          done(null, Buffer.from(msg));
          return;
        }
      }
    });
  });
}
