import dgram from 'node:dgram';
import net from 'node:net';
import { errnoCode, SystemError } from '../errors/index.js';
import { listenName, type PortMapping } from './ports.js';

/**
 * Host ports held by berthd for as long as a container publishes them, as dockerd's
 * docker-proxy holds them: published ports are DNATed by iptables, which nothing in the
 * kernel's socket tables knows of, so without a socket bound on the port another process
 * could bind it (and be silently shadowed by the DNAT) and the kernel could hand it out as
 * an ephemeral port. Taking the hold is also the check that the port is free, race-free.
 *
 * TCP ports are held by a listening socket: the DNAT catches every packet to a local address
 * before it could reach the socket, so a connection arrives only where there is no rule: the
 * container starting, or an IPv6 host address (the rules are IPv4's); such a connection is
 * passed to the container when its address is known, else closed. UDP ports are held by a bound socket whose datagrams are
 * dropped. SCTP ports are not held (Node has no SCTP sockets).
 */
export interface PortHolds {
  /**
   * Binds the mapping's host address and port; false when another socket has it
   * (EADDRINUSE). A mapping held already is true at once. Other bind errors (an address not
   * on the host) are thrown.
   */
  take(m: PortMapping): Promise<boolean>;
  /** Closes the hold of a mapping; nothing when there is none. */
  release(m: PortMapping): Promise<void>;
  /** Closes every hold (the daemon shutting down). */
  close(): Promise<void>;
}

export interface PortHoldsOptions {
  /** Where a connection that reaches a held TCP port goes: the container's address. */
  targetOf(m: PortMapping): { ip: string; port: number } | undefined;
}

type Hold = { kind: 'tcp'; server: net.Server } | { kind: 'udp'; socket: dgram.Socket };

const keyOf = (m: PortMapping): string => `${m.proto}/${m.hostIp}/${m.hostPort}`;

/** The bind error in dockerd's words. */
function bindError(m: PortMapping, err: unknown): Error {
  const code = errnoCode(err);
  const why =
    code === 'EADDRNOTAVAIL'
      ? 'cannot assign requested address'
      : code === 'EACCES'
        ? 'permission denied'
        : err instanceof Error
          ? err.message
          : String(err);
  return new SystemError(`Error starting userland proxy: listen ${listenName(m)}: bind: ${why}`, {
    cause: err,
  });
}

function pass(conn: net.Socket, target: { ip: string; port: number } | undefined): void {
  if (!target) {
    conn.destroy();
    return;
  }
  const up = net.connect({ host: target.ip, port: target.port });
  const end = (): void => {
    conn.destroy();
    up.destroy();
  };
  conn.on('error', end);
  up.on('error', end);
  conn.pipe(up).pipe(conn);
}

function listenTcp(m: PortMapping, options: PortHoldsOptions): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((conn) => pass(conn, options.targetOf(m)));
    server.once('error', reject);
    server.listen(
      {
        host: m.hostIp,
        port: m.hostPort,
        exclusive: true,
        // [::] holds the IPv6 port only, as docker-proxy's; 0.0.0.0 is held on its own.
        ipv6Only: m.hostIp.includes(':'),
      },
      () => {
        server.off('error', reject);
        // Never keeps the daemon alive on its own.
        server.unref();
        resolve(server);
      },
    );
  });
}

function bindUdp(m: PortMapping): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const v6 = m.hostIp.includes(':');
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.bind({ address: m.hostIp, port: m.hostPort, exclusive: true }, () => {
      socket.removeAllListeners('error');
      socket.on('error', () => undefined);
      socket.unref();
      resolve(socket);
    });
  });
}

class Holds implements PortHolds {
  readonly #o: PortHoldsOptions;
  readonly #held = new Map<string, Hold>();

  constructor(o: PortHoldsOptions) {
    this.#o = o;
  }

  async take(m: PortMapping): Promise<boolean> {
    if (m.proto === 'sctp' || this.#held.has(keyOf(m))) return true;
    try {
      const hold: Hold =
        m.proto === 'tcp'
          ? { kind: 'tcp', server: await listenTcp(m, this.#o) }
          : { kind: 'udp', socket: await bindUdp(m) };
      this.#held.set(keyOf(m), hold);
      return true;
    } catch (err: unknown) {
      if (errnoCode(err) === 'EADDRINUSE') return false;
      throw bindError(m, err);
    }
  }

  async release(m: PortMapping): Promise<void> {
    const hold = this.#held.get(keyOf(m));
    if (!hold) return;
    this.#held.delete(keyOf(m));
    await closeHold(hold);
  }

  async close(): Promise<void> {
    const all = [...this.#held.values()];
    this.#held.clear();
    await Promise.all(all.map(closeHold));
  }
}

function closeHold(hold: Hold): Promise<void> {
  return new Promise((resolve) => {
    // The listening socket closes at once; connections passed on meanwhile may go on.
    if (hold.kind === 'tcp') {
      hold.server.close();
      resolve();
    } else hold.socket.close(() => resolve());
  });
}

/** An empty set of holds; the daemon has one. */
export function newPortHolds(options: PortHoldsOptions): PortHolds {
  return new Holds(options);
}
