import { InvalidArgumentError } from '../errors/index.js';
import type { VolumeCreateRequest, VolumeService } from '../volumes/volumes.js';
import type { Router } from './router.js';
import { compareVersions, objectBody, qBool, qFilters } from './params.js';

function stringMap(v: unknown, field: string): Record<string, string> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new InvalidArgumentError(`invalid JSON: ${field} must be an object`);
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val !== 'string') {
      throw new InvalidArgumentError(`invalid JSON: ${field}.${k} must be a string`);
    }
    out[k] = val;
  }
  return out;
}

export function volumeRoutes(router: Router, v: VolumeService): void {
  router.add('GET', '/volumes', async (ex) => {
    ex.json(200, { Volumes: await v.list(qFilters(ex)), Warnings: null });
  });

  router.add('POST', '/volumes/create', async (ex) => {
    const body = await objectBody(ex);
    if (body.Name !== undefined && typeof body.Name !== 'string') {
      throw new InvalidArgumentError('invalid JSON: Name must be a string');
    }
    if (body.Driver !== undefined && typeof body.Driver !== 'string') {
      throw new InvalidArgumentError('invalid JSON: Driver must be a string');
    }
    const request: VolumeCreateRequest = {
      ...(typeof body.Name === 'string' ? { Name: body.Name } : {}),
      ...(typeof body.Driver === 'string' ? { Driver: body.Driver } : {}),
      DriverOpts: stringMap(body.DriverOpts, 'DriverOpts'),
      Labels: stringMap(body.Labels, 'Labels'),
    };
    ex.json(201, await v.create(request));
  });

  router.add('POST', '/volumes/prune', async (ex) => {
    const filters = qFilters(ex);
    // API 1.42 made prune take anonymous volumes only; older clients still get them all.
    if (compareVersions(ex.version, '1.42') < 0) filters.all = ['true'];
    ex.json(200, await v.prune(filters));
  });

  router.add('GET', '/volumes/{name}', async (ex) => {
    ex.json(200, await v.get(ex.params.name ?? ''));
  });

  router.add('DELETE', '/volumes/{name}', async (ex) => {
    await v.remove(ex.params.name ?? '', { force: qBool(ex, 'force') });
    ex.empty(204);
  });
}
