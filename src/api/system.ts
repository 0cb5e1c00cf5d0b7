import type { Router } from './router.js';
import type { Services } from './server.js';

const PING_HEADERS = {
  'Builder-Version': '1',
  'Cache-Control': 'no-cache, no-store, must-revalidate',
  Pragma: 'no-cache',
};

export function systemRoutes(router: Router, services: Services): void {
  router.add('GET', '/_ping', async (ex) => {
    ex.stream(200, {
      ...PING_HEADERS,
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': '2',
    });
    ex.write('OK');
    ex.end();
  });
  router.add('HEAD', '/_ping', async (ex) => {
    ex.empty(200, { ...PING_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
  });
  router.add('GET', '/version', async (ex) => {
    ex.json(200, services.system.version());
  });
  router.add('GET', '/info', async (ex) => {
    ex.json(200, await services.system.info());
  });
  router.add('GET', '/system/df', async (ex) => {
    ex.json(200, await services.system.df());
  });
}
