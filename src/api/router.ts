import { InvalidArgumentError, NotFoundError } from '../errors/index.js';
import type { Exchange } from './exchange.js';
import { API_VERSION, MIN_API_VERSION } from './exchange.js';
import { compareVersions } from './params.js';

export type Handler = (ex: Exchange) => Promise<void>;

interface Route {
  method: string;
  regex: RegExp;
  names: string[];
  handler: Handler;
}

export interface Match {
  handler: Handler;
  params: Record<string, string>;
  version: string;
  path: string;
}

/**
 * Routes by method and path pattern. `{name}` matches one segment; `{name*}` matches the rest
 * including slashes (image names like `docker.io/library/busybox:latest`).
 */
export interface Router {
  add(method: string, pattern: string, handler: Handler): void;
  /** Throws NotFoundError("page not found"), or InvalidArgumentError for a bad version. */
  match(method: string, path: string): Match;
}

class PatternRouter implements Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): void {
    const names: string[] = [];
    const source = pattern
      .split('/')
      .map((seg) => {
        const m = /^\{(\w+)(\*?)\}$/.exec(seg);
        if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(m[1] as string);
        return m[2] === '*' ? '(.+)' : '([^/]+)';
      })
      .join('/');
    this.routes.push({ method, regex: new RegExp(`^${source}$`), names, handler });
  }

  match(method: string, rawPath: string): Match {
    let path = rawPath;
    let version = API_VERSION;
    const prefix = /^\/v(\d+\.\d+)(\/.*)$/.exec(rawPath);
    if (prefix) {
      version = prefix[1] as string;
      path = prefix[2] as string;
      if (compareVersions(version, MIN_API_VERSION) < 0) {
        throw new InvalidArgumentError(
          `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
        );
      }
      if (compareVersions(version, API_VERSION) > 0) {
        throw new InvalidArgumentError(
          `client version ${version} is too new. Maximum supported API version is ${API_VERSION}`,
        );
      }
    }
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1] as string);
      });
      return { handler: route.handler, params, version, path };
    }
    throw new NotFoundError('page not found');
  }
}

export function newRouter(): Router {
  return new PatternRouter();
}
