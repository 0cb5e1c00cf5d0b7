import type { Store } from '../content/content.js';
import { readBlob, writeBlob } from '../content/helpers.js';
import { InvalidArgumentError, NotFoundError } from '../errors/index.js';
import type { AuthConfig } from '../registry/client/auth-config.js';
import {
  parseManifestDocument,
  parsePlatformSpec,
  selectPlatform,
} from '../registry/client/manifest.js';
import {
  openRepository,
  type RegistryOptions,
  type Repository,
} from '../registry/client/registry.js';
import { MediaType, type ImageConfig, type Manifest } from '../spec/oci-image.js';
import { shortId, sha256, type Digest } from '../util/digest.js';
import type { ImageRecord } from './images.js';
import { chainIDs } from './layers.js';
import { eachLimited, layerEvent, progressEvent, type ProgressEvent } from './progress.js';
import {
  familiarName,
  familiarString,
  fullName,
  parseNormalizedNamed,
  tagNameOnly,
  type Reference,
} from './reference.js';

/**
 * Pull and push over the distribution API, for the image service. Nothing is recorded until
 * every blob (layers, config, manifest) is committed, verified, to the content store and every
 * layer is unpacked: a pull cut at any moment leaves no image, only blobs that the service's
 * collection removes (they are leased while the pull runs).
 */

export interface DistributionOptions extends RegistryOptions {
  /** Layers downloaded at once (`--max-concurrent-downloads`). */
  maxDownloads: number;
  /** Layers uploaded at once (`--max-concurrent-uploads`). */
  maxUploads: number;
}

/** What the image service lends a pull or push. */
export interface DistributionHost {
  content: Store;
  options: DistributionOptions;
  records(): ImageRecord[];
  /** Protects a blob from collection for the operation's lifetime. */
  hold(digest: string): void;
  /**
   * Unpacks the layers of a record not yet committed, in chain order; returns the content
   * size of each layer it unpacked (undefined where the layer already was).
   */
  unpack(record: ImageRecord, options: UnpackProgress): Promise<(number | undefined)[]>;
  /** Records a pulled image: adds the record (or merges), gives the tag, adds the repo digest. */
  commit(
    record: ImageRecord,
    tag: string | undefined,
    repoDigest: string,
    source: string,
  ): Promise<void>;
  /** Adds a repo digest and a source repository to an image after a push. */
  pushed(id: string, repoDigest: string, repository: string): Promise<void>;
  /** Docker's layer size (file bytes) of a stored layer blob. */
  layerSize(digest: Digest): Promise<number>;
}

export interface UnpackProgress {
  /** Resolves once layer `index`'s blob is stored (rejects when it will not be). */
  ready?: (index: number) => Promise<void>;
  /** Told before and after each layer is unpacked. */
  onLayer?: (index: number, phase: 'start' | 'done') => void;
}

export interface PullRequest {
  ref: string;
  platform?: string;
  auth: AuthConfig;
  allTags?: boolean;
  onProgress: (e: ProgressEvent) => void;
}

export interface PushRequest {
  ref: string;
  auth: AuthConfig;
  onProgress: (e: ProgressEvent) => void;
}

async function has(content: Store, digest: string): Promise<boolean> {
  try {
    await content.info(digest as Digest);
    return true;
  } catch (err: unknown) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
}

/** A promise settled from outside; settling it again does nothing. */
function deferred(): Deferred {
  let resolve = (): void => undefined;
  let reject = (_err: unknown): void => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Awaited only by the unpacking, which may have stopped before reaching this layer.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** `docker pull`: one tag, one digest, or (allTags) every tag of the repository. */
export async function pull(host: DistributionHost, req: PullRequest): Promise<void> {
  const named = parseNormalizedNamed(req.ref);
  if (req.allTags && (named.tag !== undefined || named.digest !== undefined)) {
    throw new InvalidArgumentError("tag can't be used with --all-tags/-a");
  }
  const repo = openRepository(named.domain, named.path, req.auth, host.options);
  const refs: Reference[] = req.allTags
    ? (await repo.listTags()).sort().map((tag) => ({ ...named, tag }))
    : [tagNameOnly(named)];
  if (req.allTags) {
    req.onProgress({ status: `Pulling from ${named.path}`, id: '' });
  }
  const outcomes: boolean[] = [];
  for (const ref of refs) outcomes.push(await pullOne(host, repo, ref, req));
  if (req.allTags) {
    req.onProgress({
      status: `Status: ${outcomes.some((x) => x) ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarName(named)}`,
    });
  }
}

/** Pulls one reference; true when the name now points to a different image. */
async function pullOne(
  host: DistributionHost,
  repo: Repository,
  ref: Reference,
  req: PullRequest,
): Promise<boolean> {
  const tagOrDigest = ref.digest ?? ref.tag ?? 'latest';
  const display = familiarString(ref);
  const fetched = await repo.getManifest(tagOrDigest);
  let doc = parseManifestDocument(fetched.body, fetched.mediaType, display);
  const repoDigest = fetched.digest;
  let manifestBody = fetched.body;
  let manifestDigest = fetched.digest;
  if (doc.kind === 'index') {
    const chosen = selectPlatform(doc.index, parsePlatformSpec(req.platform));
    const inner = await repo.getManifest(chosen.digest);
    doc = parseManifestDocument(inner.body, inner.mediaType ?? chosen.mediaType, display);
    if (doc.kind !== 'manifest') throw new InvalidArgumentError(`${display}: nested manifest list`);
    manifestBody = inner.body;
    manifestDigest = inner.digest;
  }
  const manifest: Manifest = doc.manifest;
  if (!req.allTags) req.onProgress({ status: `Pulling from ${ref.path}`, id: tagOrDigest });

  host.hold(manifestDigest);
  host.hold(manifest.config.digest);
  for (const l of manifest.layers) host.hold(l.digest);

  // The config first: it names the diff IDs, and a layer already unpacked needs no download.
  if (!(await has(host.content, manifest.config.digest))) {
    await repo.fetchBlob(manifest.config, host.content);
  }
  const configBytes = await readBlob(host.content, manifest.config.digest as Digest);
  let config: ImageConfig;
  try {
    config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
  } catch (cause: unknown) {
    throw new InvalidArgumentError(`${display}: image config is not JSON`, { cause });
  }
  const diffIDs = config.rootfs?.diff_ids;
  if (!Array.isArray(diffIDs) || diffIDs.length !== manifest.layers.length) {
    throw new InvalidArgumentError(
      `${display}: the manifest has ${manifest.layers.length} layers, the image config ${Array.isArray(diffIDs) ? diffIDs.length : 'no'} diff IDs`,
    );
  }
  if (req.platform !== undefined && req.platform !== '') {
    const want = parsePlatformSpec(req.platform);
    if (config.os !== want.os || config.architecture !== want.architecture) {
      throw new NotFoundError(
        `image with reference ${display} was found but does not match the specified platform: wanted ${want.os}/${want.architecture}, actual: ${config.os}/${config.architecture}`,
      );
    }
  }

  const layers = manifest.layers;
  const ids = layers.map((l) => shortId(l.digest));
  const present = await Promise.all(layers.map((l) => has(host.content, l.digest)));
  layers.forEach((_, i) => {
    req.onProgress(layerEvent(ids[i] ?? '', present[i] ? 'Already exists' : 'Pulling fs layer'));
  });
  const missing = layers.map((l, i) => ({ l, i })).filter(({ i }) => !present[i]);
  missing
    .slice(host.options.maxDownloads)
    .forEach(({ i }) => req.onProgress(layerEvent(ids[i] ?? '', 'Waiting')));
  // Each layer is unpacked as soon as its blob is stored and its parent unpacked, while the
  // later ones still download. The first failure rejects every layer still awaited.
  const stored = layers.map(() => deferred());
  present.forEach((p, i) => p && stored[i]?.resolve());
  const downloads = eachLimited(missing, host.options.maxDownloads, async ({ l, i }) => {
    const id = ids[i] ?? '';
    let last = 0;
    try {
      await repo.fetchBlob(l, host.content, (current) => {
        // At most one message per 512 KiB, and the last one, as dockerd thins them out.
        if (current - last >= 512 * 1024 || current === l.size || last === 0) {
          last = current;
          req.onProgress(progressEvent(id, 'Downloading', current, l.size));
        }
      });
    } catch (err: unknown) {
      for (const d of stored) d.reject(err);
      throw err;
    }
    req.onProgress(layerEvent(id, 'Verifying Checksum'));
    req.onProgress(layerEvent(id, 'Download complete'));
    stored[i]?.resolve();
  });
  // Settled below in every case; this only keeps an early failure from counting as unhandled.
  downloads.catch(() => undefined);

  await writeBlob(host.content, manifestBody, manifestDigest);
  const record: ImageRecord = {
    id: manifest.config.digest as Digest,
    manifest: manifestDigest,
    repoTags: [],
    repoDigests: [],
    config,
    chainIDs: chainIDs(diffIDs),
    size: 0,
    layerSizes: [],
    added: new Date().toISOString(),
  };
  let unpacked: (number | undefined)[];
  try {
    unpacked = await host.unpack(record, {
      ready: async (index) => stored[index]?.promise,
      onLayer: (index, phase) => {
        if (present[index]) return;
        const id = ids[index] ?? '';
        const size = layers[index]?.size ?? 0;
        if (phase === 'start') req.onProgress(progressEvent(id, 'Extracting', size, size));
        else req.onProgress(layerEvent(id, 'Pull complete'));
      },
    });
  } finally {
    // No blob is left being written when the pull ends, whichever way it ends.
    await downloads.catch(() => undefined);
  }
  await downloads;
  const layerSizes: number[] = [];
  for (const [i, l] of layers.entries()) {
    layerSizes.push(unpacked[i] ?? (await host.layerSize(l.digest as Digest)));
  }
  record.layerSizes = layerSizes;
  record.size = layerSizes.reduce((a, b) => a + b, 0);

  const tag =
    ref.digest === undefined
      ? familiarString(tagNameOnly({ ...ref, digest: undefined }))
      : undefined;
  const before = host.records().find((r) => (tag !== undefined ? r.repoTags.includes(tag) : false));
  const known = host.records().find((r) => r.id === record.id);
  const repoDigestName = `${familiarName(ref)}@${repoDigest}`;
  await host.commit(record, tag, repoDigestName, fullName(ref));
  const updated = tag !== undefined ? before?.id !== record.id : known === undefined;
  if (!req.allTags) {
    req.onProgress({ status: `Digest: ${repoDigest}` });
    req.onProgress({
      status: `Status: ${updated ? 'Downloaded newer image' : 'Image is up to date'} for ${display}`,
    });
  }
  return updated;
}

/** `docker push`: the tag named, or every tag of the repository when none is. */
export async function push(host: DistributionHost, req: PushRequest): Promise<void> {
  const named = parseNormalizedNamed(req.ref);
  if (named.digest !== undefined) {
    throw new InvalidArgumentError('cannot push a digest reference');
  }
  const repoName = fullName(named);
  const records = host.records();
  const targets: { tag: string; record: ImageRecord }[] = [];
  for (const r of records) {
    for (const t of r.repoTags) {
      const p = parseNormalizedNamed(t);
      if (fullName(p) !== repoName) continue;
      if (named.tag !== undefined && p.tag !== named.tag) continue;
      targets.push({ tag: p.tag ?? 'latest', record: r });
    }
  }
  if (targets.length === 0) {
    throw new NotFoundError(
      named.tag !== undefined
        ? `tag does not exist: ${familiarString(named)}`
        : `An image does not exist locally with the tag: ${familiarName(named)}`,
    );
  }
  targets.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
  const repo = openRepository(named.domain, named.path, req.auth, host.options, true);
  req.onProgress({ status: `The push refers to repository [${repoName}]` });
  for (const { tag, record } of targets) await pushOne(host, repo, tag, record, req);
}

async function pushOne(
  host: DistributionHost,
  repo: Repository,
  tag: string,
  record: ImageRecord,
  req: PushRequest,
): Promise<void> {
  host.hold(record.manifest);
  host.hold(record.id);
  const manifestBody = await readBlob(host.content, record.manifest);
  const manifest = JSON.parse(manifestBody.toString('utf8')) as Manifest;
  for (const l of manifest.layers) host.hold(l.digest);
  // Newest layer first, as the docker CLI shows them.
  const order = manifest.layers.map((l, i) => ({ l, i })).reverse();
  const ids = manifest.layers.map((_, i) => shortId(record.config.rootfs.diff_ids[i] ?? ''));
  for (const { i } of order) req.onProgress(layerEvent(ids[i] ?? '', 'Preparing'));
  order
    .slice(host.options.maxUploads)
    .forEach(({ i }) => req.onProgress(layerEvent(ids[i] ?? '', 'Waiting')));
  const mountSources = (record.sources ?? [])
    .map((s) => parseNormalizedNamed(s))
    .filter((s) => s.domain === repo.domain && s.path !== repo.path);
  await eachLimited(order, host.options.maxUploads, async ({ l, i }) => {
    const id = ids[i] ?? '';
    if (await repo.blobExists(l.digest)) {
      req.onProgress(layerEvent(id, 'Layer already exists'));
      return;
    }
    for (const src of mountSources) {
      if (await repo.mountBlob(l.digest, src.path)) {
        req.onProgress(layerEvent(id, `Mounted from ${src.path}`));
        return;
      }
    }
    let last = 0;
    await repo.pushBlob(
      l,
      () => host.content.reader(l.digest as Digest),
      (current) => {
        if (current - last >= 512 * 1024 || current === l.size || last === 0) {
          last = current;
          req.onProgress(progressEvent(id, 'Pushing', current, l.size));
        }
      },
    );
    req.onProgress(layerEvent(id, 'Pushed'));
  });
  if (!(await repo.blobExists(manifest.config.digest))) {
    await repo.pushBlob(manifest.config, () =>
      host.content.reader(manifest.config.digest as Digest),
    );
  }
  const mediaType = manifest.mediaType ?? MediaType.ociManifest;
  const digest = await repo.putManifest(tag, manifestBody, mediaType);
  if (digest !== sha256(manifestBody))
    throw new InvalidArgumentError('manifest digest changed in transit');
  req.onProgress({ status: `${tag}: digest: ${digest} size: ${manifestBody.length}` });
  req.onProgress({
    progressDetail: {},
    aux: { Tag: tag, Digest: digest, Size: manifestBody.length },
  });
  const ref = parseNormalizedNamed(`${repo.domain}/${repo.path}`);
  await host.pushed(record.id, `${familiarName(ref)}@${digest}`, `${repo.domain}/${repo.path}`);
}
