import type { ImageRecord } from '../images/images.js';
import type { ImageSummary } from '../spec/engine.js';
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
    const df = await services.system.df();
    const images = Array.isArray(df.Images) ? (df.Images as ImageSummary[]) : [];
    ex.json(200, { ...df, Images: withSharedSize(images, await services.images.list()) });
  });
}

/**
 * dockerd's df counts, per image, its containers and the bytes of layers another image also has: the docker CLI
 * takes an in-use image's size less that as what removing containers would not reclaim, and
 * skips the image when it is unknown (-1).
 */
function withSharedSize(images: ImageSummary[], records: ImageRecord[]): ImageSummary[] {
  const users = new Map<string, number>();
  for (const r of records) for (const c of r.chainIDs) users.set(c, (users.get(c) ?? 0) + 1);
  const byId = new Map(records.map((r) => [r.id, r]));
  return images.map((img) => {
    const r = byId.get(img.Id as ImageRecord['id']);
    if (!r) return img;
    const shared = r.chainIDs.reduce(
      (sum, c, i) => sum + ((users.get(c) ?? 0) > 1 ? (r.layerSizes?.[i] ?? 0) : 0),
      0,
    );
    // df counts every image's containers: none is 0, not the list's "not counted" (-1).
    return { ...img, SharedSize: shared, Containers: Math.max(0, img.Containers) };
  });
}
