import { InvalidArgumentError, NotImplementedError } from '../errors/index.js';
import type {
  CreateNetworkRequest,
  EndpointSettingsRequest,
  NetworkService,
} from '../network/network.js';
import type { Router } from './router.js';
import type { Services } from './server.js';
import { objectBody, qFilters } from './params.js';

/** The /networks routes of the v1.47 API. */
export function networkRoutes(router: Router, services: Services): void {
  const n = (): NetworkService => {
    if (!services.networks) throw new NotImplementedError('networks are not available');
    return services.networks;
  };
  const running = (s: string): boolean => s === 'running' || s === 'paused';

  router.add('GET', '/networks', async (ex) => {
    ex.json(200, await n().list(qFilters(ex)));
  });

  router.add('POST', '/networks/create', async (ex) => {
    const body = (await objectBody(ex)) as unknown as CreateNetworkRequest;
    if (typeof body.Name !== 'string') throw new InvalidArgumentError('network name is required');
    ex.json(201, await n().createNetwork(body));
  });

  router.add('POST', '/networks/prune', async (ex) => {
    ex.json(200, await n().prune(qFilters(ex)));
  });

  router.add('GET', '/networks/{id}', async (ex) => {
    ex.json(200, await n().inspect(ex.params.id as string));
  });

  router.add('DELETE', '/networks/{id}', async (ex) => {
    await n().removeNetwork(ex.params.id as string);
    ex.empty(204);
  });

  router.add('POST', '/networks/{id}/connect', async (ex) => {
    const body = await objectBody(ex);
    const ref = body['Container'];
    if (typeof ref !== 'string' || !ref) throw new InvalidArgumentError('Container is required');
    const c = await services.containers.get(ref);
    const config = (body['EndpointConfig'] ?? {}) as EndpointSettingsRequest;
    await n().connect({ ...c, running: running(c.state.status) }, ex.params.id as string, config);
    ex.empty(200);
  });

  router.add('POST', '/networks/{id}/disconnect', async (ex) => {
    const body = await objectBody(ex);
    const ref = body['Container'];
    if (typeof ref !== 'string' || !ref) throw new InvalidArgumentError('Container is required');
    const c = await services.containers.get(ref);
    await n().disconnect(
      { ...c, running: running(c.state.status) },
      ex.params.id as string,
      body['Force'] === true,
    );
    ex.empty(200);
  });
}
