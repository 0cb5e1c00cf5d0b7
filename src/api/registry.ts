import { InvalidArgumentError, NotImplementedError } from '../errors/index.js';
import { decodeRegistryAuth, normalizeAuth } from '../registry/client/auth-config.js';
import type { RegistryClientService } from '../registry/client/service.js';
import type { Exchange } from './exchange.js';
import { qFilters, qString } from './params.js';
import type { Router } from './router.js';
import type { Services } from './server.js';

/** The credentials of `X-Registry-Auth`, anonymous when absent. */
export function registryAuth(ex: Exchange): ReturnType<typeof decodeRegistryAuth> {
  const h = ex.req.headers['x-registry-auth'];
  return decodeRegistryAuth(Array.isArray(h) ? h[0] : h);
}

export function registryRoutes(router: Router, services: Services): void {
  const registry = (): RegistryClientService => {
    if (!services.registry) throw new NotImplementedError('registry access is not configured');
    return services.registry;
  };

  router.add('POST', '/auth', async (ex) => {
    let raw: unknown;
    try {
      raw = JSON.parse((await ex.body()).toString('utf8') || '{}');
    } catch (cause: unknown) {
      throw new InvalidArgumentError('invalid JSON body', { cause });
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      throw new InvalidArgumentError('invalid auth configuration: not an object');
    ex.json(200, await registry().login(normalizeAuth(raw as Record<string, unknown>)));
  });

  router.add('GET', '/images/search', async (ex) => {
    const term = qString(ex, 'term');
    if (term === undefined || term === '') throw new InvalidArgumentError('term is required');
    const limitText = qString(ex, 'limit');
    const limit = limitText === undefined || limitText === '' ? undefined : Number(limitText);
    if (limit !== undefined && !Number.isInteger(limit))
      throw new InvalidArgumentError(`invalid limit ${limitText}`);
    ex.json(
      200,
      await registry().search(term, {
        ...(limit !== undefined ? { limit } : {}),
        filters: qFilters(ex),
        auth: registryAuth(ex),
      }),
    );
  });
}
