import { DistributionError } from './errors.js';
import { checkName } from './names.js';

/**
 * The registry's URL space, parsed without touching storage. Names may contain slashes, so
 * each route is recognised by its suffix and the name is what precedes it; the name is then
 * checked against the spec's grammar (NAME_INVALID otherwise).
 */

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'token' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'uploads'; name: string }
  | { kind: 'upload'; name: string; uuid: string }
  | { kind: 'referrers'; name: string; digest: string };

/** What each route answers; anything else is 405 UNSUPPORTED. */
export const METHODS: Record<Route['kind'], readonly string[]> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  token: ['GET', 'POST'],
  tags: ['GET'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
  referrers: ['GET'],
};

const SUFFIXES: { re: RegExp; make: (name: string, arg: string) => Route }[] = [
  { re: /^\/v2\/(.+)\/tags\/list$/, make: (name) => ({ kind: 'tags', name }) },
  {
    re: /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    make: (name, reference) => ({ kind: 'manifest', name, reference }),
  },
  { re: /^\/v2\/(.+)\/blobs\/uploads\/?$/, make: (name) => ({ kind: 'uploads', name }) },
  {
    re: /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/,
    make: (name, uuid) => ({ kind: 'upload', name, uuid }),
  },
  { re: /^\/v2\/(.+)\/blobs\/([^/]+)$/, make: (name, digest) => ({ kind: 'blob', name, digest }) },
  {
    re: /^\/v2\/(.+)\/referrers\/([^/]+)$/,
    make: (name, digest) => ({ kind: 'referrers', name, digest }),
  },
];

/**
 * Parses a request path (without its query). Returns undefined for paths outside the API (404);
 * throws NAME_INVALID for an API path whose name breaks the grammar (`..`, upper case, `%2e`).
 */
export function parseRoute(pathname: string): Route | undefined {
  if (pathname === '/v2' || pathname === '/v2/') return { kind: 'base' };
  if (pathname === '/v2/_catalog') return { kind: 'catalog' };
  if (pathname === '/token') return { kind: 'token' };
  if (!pathname.startsWith('/v2/')) return undefined;
  for (const { re, make } of SUFFIXES) {
    const m = re.exec(pathname);
    if (m) return make(checkName(m[1] as string), m[2] ?? '');
  }
  return undefined;
}

/** The repository a route acts on, if any. */
export function routeName(route: Route): string | undefined {
  return 'name' in route ? route.name : undefined;
}

/** True for requests that change the registry (refused in read-only mode). */
export function isWrite(method: string): boolean {
  return method === 'PUT' || method === 'POST' || method === 'PATCH' || method === 'DELETE';
}

/** The token scope action a request needs on its repository. */
export function requiredAction(method: string): 'pull' | 'push' | 'delete' {
  if (method === 'DELETE') return 'delete';
  return isWrite(method) ? 'push' : 'pull';
}

export function methodNotAllowed(method: string): DistributionError {
  return new DistributionError('UNSUPPORTED', { method });
}
