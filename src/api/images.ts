import type { ImageSummary } from '../spec/engine.js';
import { InvalidArgumentError, NotImplementedError } from '../errors/index.js';
import { PassThrough } from 'node:stream';
import type { Router } from './router.js';
import type { Exchange } from './exchange.js';
import type { Services } from './server.js';
import { qBool, qFilters, qString } from './params.js';
import { jsonLine, pipeTo } from './streams.js';
import { registryAuth } from './registry.js';
import type { ProgressEvent } from '../images/progress.js';

/**
 * `fromImage` and `tag` of `POST /images/create` as one reference: a tag that is a digest
 * makes `name@digest`; neither tag nor digest means every tag, as dockerd has it.
 */
export function pullTarget(
  fromImage: string,
  tag: string | undefined,
): { ref: string; allTags: boolean } {
  const lastSlash = fromImage.lastIndexOf('/');
  const hasTag = fromImage.includes('@') || fromImage.lastIndexOf(':') > lastSlash;
  if (tag !== undefined && tag !== '') {
    if (hasTag) return { ref: fromImage, allTags: false };
    return {
      ref: tag.includes(':') ? `${fromImage}@${tag}` : `${fromImage}:${tag}`,
      allTags: false,
    };
  }
  return { ref: fromImage, allTags: !hasTag };
}

/**
 * Runs a pull or push, streaming its progress as JSON lines. The response starts with the
 * first message, so that a failure before it (no such image, denied) is a plain error status
 * as dockerd gives; a failure afterwards is the stream's last message, `errorDetail`.
 */
async function progressStream(
  ex: Exchange,
  run: (onProgress: (e: ProgressEvent) => void) => Promise<void>,
): Promise<void> {
  let started = false;
  const start = (): void => {
    if (started) return;
    started = true;
    ex.stream(200, { 'Content-Type': 'application/json' });
  };
  try {
    await run((e) => {
      start();
      ex.write(jsonLine(e));
    });
  } catch (err: unknown) {
    if (!started) throw err;
    const message = err instanceof Error ? err.message : String(err);
    ex.write(jsonLine({ errorDetail: { message }, error: message }));
  }
  start();
  ex.end();
}

/** Matches a reference filter (`busybox`, `busybox:*`, `bus*:latest`) against a repo tag. */
function referenceMatches(pattern: string, repoTag: string): boolean {
  const glob = (p: string): RegExp =>
    new RegExp(
      '^' +
        p
          .split('*')
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('[^/]*') +
        '$',
    );
  const [repo = '', tag = ''] = splitTag(repoTag);
  if (pattern.includes(':')) {
    const [prepo = '', ptag = ''] = splitTag(pattern);
    return glob(prepo).test(repo) && glob(ptag).test(tag);
  }
  return glob(pattern).test(repo);
}

function splitTag(ref: string): [string, string] {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return [ref.slice(0, colon), ref.slice(colon + 1)];
  return [ref, 'latest'];
}

/** `GET /images/json` filters, applied to summaries. */
export function filterImages(
  images: ImageSummary[],
  filters: Record<string, string[]>,
): ImageSummary[] {
  for (const key of Object.keys(filters)) {
    if (!['dangling', 'label', 'reference', 'before', 'since', 'until'].includes(key)) {
      throw new InvalidArgumentError(`invalid filter '${key}'`);
    }
  }
  const created = (ref: string): number => {
    const hit = images.find(
      (i) =>
        i.Id === ref ||
        i.Id.replace(/^sha256:/, '').startsWith(ref.replace(/^sha256:/, '')) ||
        i.RepoTags.includes(ref) ||
        i.RepoTags.includes(`${ref}:latest`),
    );
    if (!hit) throw new InvalidArgumentError(`No such image: ${ref}`);
    return hit.Created;
  };
  const patterns = filters.reference ?? [];
  // Like dockerd, a reference filter also narrows each image's tags to the matching ones.
  const narrowed =
    patterns.length === 0
      ? images
      : images.map((img) => ({
          ...img,
          RepoTags: img.RepoTags.filter((t) => patterns.some((p) => referenceMatches(p, t))),
        }));
  return narrowed.filter((img) => {
    const dangling = filters.dangling?.[0];
    if (dangling !== undefined) {
      const want = dangling === 'true' || dangling === '1';
      if (!['true', 'false', '1', '0'].includes(dangling)) {
        throw new InvalidArgumentError(`Invalid filter 'dangling=${dangling}'`);
      }
      if (want !== (img.RepoTags.length === 0)) return false;
    }
    for (const l of filters.label ?? []) {
      const eq = l.indexOf('=');
      const labels = img.Labels ?? {};
      if (eq < 0 ? !(l in labels) : labels[l.slice(0, eq)] !== l.slice(eq + 1)) return false;
    }
    if (patterns.length > 0 && img.RepoTags.length === 0) return false;
    for (const b of filters.before ?? []) if (img.Created >= created(b)) return false;
    for (const s of filters.since ?? []) if (img.Created <= created(s)) return false;
    return true;
  });
}

export function imageRoutes(router: Router, services: Services): void {
  const images = services.images;
  const inUse = (id: string): boolean => (services.containers.imageUsers().get(id) ?? 0) > 0;

  router.add('GET', '/images/json', async (ex) => {
    const summaries = await images.summaries(services.containers.imageUsers());
    ex.json(200, filterImages(summaries, qFilters(ex)));
  });

  // berth's own: the built-in images (busybox from the host's busybox-static, debian:<suite>
  // from Debian's packages), no registry needed. A JSON stream as docker's pull: progress as
  // {"stream"} lines, then {"aux":{"ID","RepoTags"}}; an error before the first line is a plain
  // error response, after it an {"error","errorDetail"} line.
  router.add('POST', '/berth/images/bootstrap', async (ex) => {
    const name = qString(ex, 'name') ?? 'busybox';
    const begin = (): void => {
      if (!ex.headersSent) ex.stream(200, { 'Content-Type': 'application/json' });
    };
    let record;
    try {
      record = await images.bootstrap(name, {
        onProgress: (line) => {
          begin();
          ex.write(jsonLine({ stream: `${line}\n` }));
        },
        signal: ex.signal,
      });
    } catch (err: unknown) {
      if (!ex.headersSent) throw err;
      const message = err instanceof Error ? err.message : String(err);
      ex.write(jsonLine({ error: message, errorDetail: { message } }));
      ex.end();
      return;
    }
    begin();
    ex.write(jsonLine({ aux: { ID: record.id, RepoTags: record.repoTags } }));
    ex.end();
  });

  router.add('POST', '/images/prune', async (ex) => {
    const filters = qFilters(ex);
    const dangling = filters.dangling?.[0];
    const danglingOnly = dangling === undefined || dangling === 'true' || dangling === '1';
    const rest = { ...filters };
    delete rest.dangling;
    ex.json(200, await images.prune({ danglingOnly, inUse, filters: rest }));
  });

  router.add('POST', '/images/create', async (ex) => {
    const fromSrc = qString(ex, 'fromSrc');
    const fromImage = qString(ex, 'fromImage');
    if (fromImage !== undefined && fromSrc === undefined) {
      const platform = qString(ex, 'platform');
      const pull = pullTarget(fromImage, qString(ex, 'tag'));
      await progressStream(ex, (onProgress) =>
        images.pull(pull.ref, {
          auth: registryAuth(ex),
          onProgress,
          ...(pull.allTags ? { allTags: true } : {}),
          ...(platform !== undefined && platform !== '' ? { platform } : {}),
        }),
      );
      return;
    }
    if (fromSrc === undefined) throw new InvalidArgumentError('fromImage or fromSrc is required');
    if (fromSrc !== '-') {
      throw new NotImplementedError('importing from a URL is not supported; use fromSrc=-');
    }
    const repo = qString(ex, 'repo');
    const tag = qString(ex, 'tag');
    const message = qString(ex, 'message');
    const platform = qString(ex, 'platform');
    const changes = ex.query
      .getAll('changes')
      .flatMap((s) => s.split('\n'))
      .filter((s) => s.trim() !== '');
    const record = await images.importRootfs(ex.bodyStream(), {
      ...(repo !== undefined ? { reference: tag !== undefined ? `${repo}:${tag}` : repo } : {}),
      ...(changes.length > 0 ? { changes } : {}),
      ...(message !== undefined ? { message } : {}),
      ...(platform !== undefined ? { platform } : {}),
    });
    ex.stream(200, { 'Content-Type': 'application/json' });
    ex.write(jsonLine({ status: record.id }));
    ex.end();
  });

  router.add('POST', '/images/load', async (ex) => {
    const result = await images.load(ex.bodyStream());
    ex.stream(200, { 'Content-Type': 'application/json' });
    for (const m of result.messages) ex.write(jsonLine({ stream: `${m}\n` }));
    ex.end();
  });

  router.add('GET', '/images/get', async (ex) => {
    const names = ex.query.getAll('names').filter((n) => n !== '');
    if (names.length === 0) throw new InvalidArgumentError('no images named to save');
    for (const n of names) await images.get(n);
    ex.stream(200, { 'Content-Type': 'application/x-tar' });
    await saveTo(ex, names);
  });

  router.add('GET', '/images/{name*}/get', async (ex) => {
    const name = ex.params.name as string;
    await images.get(name);
    ex.stream(200, { 'Content-Type': 'application/x-tar' });
    await saveTo(ex, [name]);
  });

  const saveTo = async (ex: Exchange, refs: string[]): Promise<void> => {
    const out = new PassThrough();
    const done = images.save(refs, out).then(
      () => out.end(),
      (err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    await pipeTo(ex, out);
    await done;
  };

  router.add('POST', '/images/{name*}/push', async (ex) => {
    const name = ex.params.name as string;
    const tag = qString(ex, 'tag');
    const ref = tag !== undefined && tag !== '' ? `${name}:${tag}` : name;
    await progressStream(ex, (onProgress) =>
      images.push(ref, { auth: registryAuth(ex), onProgress }),
    );
  });

  router.add('GET', '/images/{name*}/json', async (ex) => {
    ex.json(200, await images.inspect(ex.params.name as string));
  });

  router.add('GET', '/images/{name*}/history', async (ex) => {
    ex.json(200, await images.history(ex.params.name as string));
  });

  router.add('POST', '/images/{name*}/tag', async (ex) => {
    const repo = qString(ex, 'repo');
    if (repo === undefined)
      throw new InvalidArgumentError('repository name must have at least one component');
    const tag = qString(ex, 'tag');
    await images.tag(ex.params.name as string, tag !== undefined ? `${repo}:${tag}` : repo);
    ex.empty(201);
  });

  router.add('DELETE', '/images/{name*}', async (ex) => {
    ex.json(
      200,
      await images.remove(ex.params.name as string, {
        force: qBool(ex, 'force'),
        noprune: qBool(ex, 'noprune'),
        inUse,
      }),
    );
  });
}
