import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { chmod, chown, readFile, rm, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ContainerService } from '../containers/containers.js';
import type { ImageService } from '../images/images.js';
import type { Events } from '../events/events.js';
import type { SystemService } from '../system/system.js';
import { InvalidArgumentError, isNotFound, toHttpStatus } from '../errors/index.js';
import { plainExchange, upgradeExchange, type Exchange } from './exchange.js';
import { newRouter, type Router } from './router.js';
import { containerRoutes } from './containers.js';
import { imageRoutes } from './images.js';
import { execRoutes } from './exec.js';
import { systemRoutes } from './system.js';
import { eventRoutes } from './events.js';
import { registryRoutes } from './registry.js';
import type { RegistryClientService } from '../registry/client/service.js';

export interface Services {
  containers: ContainerService;
  images: ImageService;
  events: Events;
  system: SystemService;
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

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Serves the Engine API on the given hosts (`unix:///path`). Each socket file is replaced if
 * stale, made mode 0660 and given to the group `socketGroup` (default `berth`) when it exists.
 */
export async function startApiServer(options: {
  hosts: string[];
  services: Services;
  socketGroup?: string;
}): Promise<ApiServer> {
  const router = buildRouter(options.services);
  const paths: string[] = [];
  for (const host of options.hosts) {
    if (host.startsWith('tcp://')) {
      throw new InvalidArgumentError('tcp hosts need TLS (--tlsverify), not configured');
    }
    if (host.startsWith('unix://')) paths.push(host.slice('unix://'.length));
    else if (host.startsWith('/')) paths.push(host);
    else throw new InvalidArgumentError(`unsupported host: ${host}`);
  }
  const gid = await groupId(options.socketGroup ?? 'berth');
  const servers: Server[] = [];
  const sockets = new Set<Duplex>();
  try {
    for (const path of paths) {
      const server = createServer((req: IncomingMessage, res: ServerResponse) => {
        void dispatch(router, plainExchange(req, res));
      });
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
