import { InvalidArgumentError } from '../../errors/index.js';
import type { AuthConfig } from './auth-config.js';
import { checkLogin, searchRegistry, type RegistryOptions, type SearchResult } from './registry.js';

/** What berthd does with registries besides pulling and pushing: `POST /auth` and search. */
export interface RegistryClientService {
  /**
   * Checks credentials against the registry `auth.serveraddress` names (Docker Hub when
   * empty). UnauthorizedError when refused; the body of `POST /auth` when accepted.
   */
  login(auth: AuthConfig): Promise<{ Status: string; IdentityToken: string }>;
  /**
   * `GET /images/search`: `term` may start with a registry (`host:port/term`), else Docker
   * Hub's index is asked. Filters: is-official, is-automated, stars.
   */
  search(
    term: string,
    options: { limit?: number; filters?: Record<string, string[]>; auth?: AuthConfig },
  ): Promise<SearchResult[]>;
}

/** `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/x` → `host:5000`. */
export function registryDomain(serverAddress: string | undefined): string {
  const s = (serverAddress ?? '').trim();
  if (s === '') return 'docker.io';
  const host = s.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  if (host === 'index.docker.io' || host === 'registry-1.docker.io' || host === 'docker.io')
    return 'docker.io';
  if (host === '') throw new InvalidArgumentError(`invalid registry address ${JSON.stringify(s)}`);
  return host;
}

/** Splits a search term into the registry it names and the term proper. */
export function splitSearchTerm(term: string): { domain: string; term: string } {
  const i = term.indexOf('/');
  if (i > 0) {
    const first = term.slice(0, i);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      return { domain: registryDomain(first), term: term.slice(i + 1) };
    }
  }
  return { domain: 'docker.io', term };
}

function boolFilter(values: string[] | undefined, name: string): boolean | undefined {
  const v = values?.[0];
  if (v === undefined) return undefined;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new InvalidArgumentError(`invalid filter '${name}=${v}'`);
}

export function newRegistryClientService(options: RegistryOptions): RegistryClientService {
  return {
    async login(auth) {
      const domain = registryDomain(auth.serveraddress);
      await checkLogin(domain, auth, options);
      return { Status: 'Login Succeeded', IdentityToken: '' };
    },
    async search(term, o) {
      for (const k of Object.keys(o.filters ?? {})) {
        if (!['is-official', 'is-automated', 'stars'].includes(k))
          throw new InvalidArgumentError(`invalid filter '${k}'`);
      }
      const limit = o.limit ?? 25;
      if (limit < 1 || limit > 100)
        throw new InvalidArgumentError(`limit ${limit} is outside the range of [1, 100]`);
      const split = splitSearchTerm(term);
      const results = await searchRegistry(split.domain, split.term, limit, o.auth ?? {}, options);
      const official = boolFilter(o.filters?.['is-official'], 'is-official');
      const automated = boolFilter(o.filters?.['is-automated'], 'is-automated');
      const starsText = o.filters?.stars?.[0];
      const stars = starsText === undefined ? 0 : Number(starsText);
      if (Number.isNaN(stars))
        throw new InvalidArgumentError(`invalid filter 'stars=${starsText}'`);
      return results.filter(
        (r) =>
          (official === undefined || r.is_official === official) &&
          (automated === undefined || r.is_automated === automated) &&
          r.star_count >= stars,
      );
    },
  };
}
