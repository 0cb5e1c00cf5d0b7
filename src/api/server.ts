import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { chmod, chown, readFile, rm, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { BuildService } from '../build/build.js';
import type { ContainerService } from '../containers/containers.js';
import type { ImageService } from '../images/images.js';
import type { Events } from '../events/events.js';
import type { SystemService } from '../system/system.js';
import type { VolumeService } from '../volumes/volumes.js';
import { InvalidArgumentError, isNotFound, toHttpStatus } from '../errors/index.js';
import { plainExchange, upgradeExchange, type Exchange } from './exchange.js';
import { newRouter, type Router } from './router.js';
import { containerRoutes } from './containers.js';
import { imageRoutes } from './images.js';
import { execRoutes } from './exec.js';
import { systemRoutes } from './system.js';
import { eventRoutes } from './events.js';
import { buildRoutes } from './build.js';
import { networkRoutes } from './networks.js';
import type { NetworkService } from '../network/network.js';
import { volumeRoutes } from './volumes.js';
import { registryRoutes } from './registry.js';
import type { RegistryClientService } from '../registry/client/service.js';

export interface Services {
  containers: ContainerService;
  images: ImageService;
  events: Events;
  system: SystemService;
  build: BuildService;
  /** Networks; the /networks routes answer 501 without it. */
  networks?: NetworkService;
  /** Absent in engines (and API tests) without volumes: the /volumes routes are then not served. */
  volumes?: VolumeService;
  /** Login checks and search; absent, those routes answer 501. */
  registry?: RegistryClientService;
}

export interface ApiServer {
  /** Stops listening, ends open connections and removes the socket files. */
  close(): Promise<void>;
}

/** Builds the router with every resource's routes. */
export function buildRouter(services: Services): Router {
  const router = newRouter();
  systemRoutes(router, services);
  eventRoutes(router, services);
  containerRoutes(router, services);
  execRoutes(router, services);
  imageRoutes(router, services);
  buildRoutes(router, services);
  networkRoutes(router, services);
  if (services.volumes) volumeRoutes(router, services.volumes);
  registryRoutes(router, services);
  return router;
}

/** The one place errors become HTTP answers. */
export function sendError(ex: Exchange, err: unknown): void {
  const status = toHttpStatus(err);
  if (status === 500) {
    process.stderr.write(
      `berth api: ${ex.method} ${ex.path}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
  }
  if (ex.headersSent) {
    // A stream already started: the only signal left is breaking the connection.
    ex.destroy();
    return;
  }
  if (status === 304) {
    ex.empty(304);
    return;
  }
  const message = err instanceof Error ? err.message : String(err);
  ex.json(status, { message });
}

/** Routes one exchange and answers it, whatever happens. */
export async function dispatch(router: Router, ex: Exchange): Promise<void> {
  try {
    const match = router.match(ex.method, ex.path);
    ex.params = match.params;
    ex.version = match.version;
    ex.path = match.path;
    await match.handler(ex);
  } catch (err: unknown) {
    sendError(ex, err);
  }
}

async function groupId(name: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile('/etc/group', 'utf8');
  } catch (err: unknown) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  for (const line of text.split('\n')) {
    const [gname, , gid] = line.split(':');
    if (gname === name && gid !== undefined) return Number(gid);
  }
  return undefined;
}

/** TLS material for tcp hosts: PEM bytes; clients must present a certificate signed by `ca`. */
export interface ApiTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

interface Listener {
  kind: 'unix' | 'tcp';
  /** The socket path, or the address of a tcp host. */
  address: string;
  port: number;
}

function parseListener(host: string): Listener {
  if (host.startsWith('unix://')) return { kind: 'unix', address: host.slice(7), port: 0 };
  if (host.startsWith('/')) return { kind: 'unix', address: host, port: 0 };
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d+)$/.exec(host);
  if (m) {
    return {
      kind: 'tcp',
      address: (m[1] as string).replace(/^\[|\]$/g, ''),
      port: Number(m[2]),
    };
  }
  throw new InvalidArgumentError(`unsupported host: ${host}`);
}

/**
 * The listener in front of a TLS server: TLS connections (a handshake record first) go to
 * `inner`; a plain HTTP request gets the answer dockerd (Go's TLS server) gives it.
 */
function tlsFront(inner: NetServer): NetServer {
  return createNetServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === 0x16) inner.emit('connection', socket);
      else {
        socket.end(
          'HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n',
        );
      }
    });
  });
}

function listen(server: NetServer, path: string, port?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (port !== undefined) {
      server.listen(port, path, done);
      return;
    }
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Serves the Engine API on the given hosts (`unix:///path`, `tcp://addr:port`). Each socket
 * file is replaced if stale, made mode 0660 and given to the group `socketGroup` (default
 * `berth`) when it exists. A tcp host is served only over TLS with client certificates
 * verified against `tls.ca`; without `tls` it is refused.
 */
export async function startApiServer(options: {
  hosts: string[];
  services: Services;
  socketGroup?: string;
  tls?: ApiTls;
}): Promise<ApiServer> {
  const router = buildRouter(options.services);
  const listeners = options.hosts.map(parseListener);
  const paths: string[] = [];
  for (const l of listeners) {
    if (l.kind === 'unix') paths.push(l.address);
    else if (!options.tls) {
      throw new InvalidArgumentError(
        `tcp://${l.address}:${l.port}: tcp hosts need TLS client certificates (--tlsverify)`,
      );
    }
  }
  const gid = await groupId(options.socketGroup ?? 'berth');
  const servers: NetServer[] = [];
  const sockets = new Set<Duplex>();
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    void dispatch(router, plainExchange(req, res));
  };
  try {
    for (const l of listeners) {
      const tls = options.tls;
      const server =
        l.kind === 'tcp' && tls
          ? createTlsServer(
              {
                ca: tls.ca,
                cert: tls.cert,
                key: tls.key,
                requestCert: true,
                rejectUnauthorized: true,
                minVersion: 'TLSv1.2',
                // As the plain server: a client half-closes an attach stream once its stdin ends
                // (the docker CLI sends a TLS close_notify) and still reads the output.
                allowHalfOpen: true,
              },
              onRequest,
            )
          : createServer(onRequest);
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
        void dispatch(router, upgradeExchange(req, socket, head));
      });
      server.on('connection', (socket: Duplex) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      if (l.kind === 'tcp') {
        const front = tlsFront(server);
        front.on('connection', (socket: Duplex) => {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
        });
        await listen(front, l.address, l.port);
        servers.push(front);
        continue;
      }
      const path = l.address;
      await mkdir(dirname(path), { recursive: true });
      await rm(path, { force: true });
      await listen(server, path);
      servers.push(server);
      await chmod(path, 0o660);
      if (gid !== undefined) await chown(path, process.getuid?.() ?? 0, gid);
    }
  } catch (err: unknown) {
    for (const s of servers) s.close();
    throw err;
  }
  return {
    async close(): Promise<void> {
      const closed = servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
          }),
      );
      for (const socket of sockets) socket.destroy();
      await Promise.all(closed);
      for (const path of paths) await rm(path, { force: true });
    },
  };
}
