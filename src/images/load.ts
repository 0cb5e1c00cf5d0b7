import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { InvalidArgumentError, isNotFound } from '../errors/index.js';
import {
  MediaType,
  type Descriptor,
  type ImageConfig,
  type Index,
  type Manifest,
} from '../spec/oci-image.js';
import { isDigest, sha256 } from '../util/digest.js';
import { parseNormalizedNamed, tagNameOnly, type Reference } from './reference.js';

/**
 * Reading `docker load` archives: a docker-archive (manifest.json naming Config, RepoTags and
 * Layers) or an OCI image layout (oci-layout, index.json, blobs/sha256/...). The tarball is
 * unpacked once into a staging directory, every name checked to stay inside it and every
 * `blobs/<alg>/<hex>` file checked against its digest on the way in.
 */

/** One image found in an archive, ready to be stored. */
export interface StagedImage {
  /** The config's bytes, whose digest is the image ID. */
  configBytes: Buffer;
  config: ImageConfig;
  /** Staged files of the layers, bottom first (tar, maybe gzip). */
  layerFiles: string[];
  /** Names to tag the image with, normalised (`docker.io/library/busybox:latest`). */
  tags: Reference[];
}

interface Staging {
  dir: string;
  /** Archive names of links, to their target names (relative to the archive root). */
  links: Map<string, string>;
  files: Set<string>;
}

function bad(message: string, cause?: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`invalid archive: ${message}`, { cause });
}

/** A tar entry's name as a clean relative path, or an error when it leaves the archive. */
function entryName(raw: string): string {
  const name = path.posix.normalize(raw.replace(/^\.\/+/, ''));
  if (path.posix.isAbsolute(raw) || name === '..' || name.startsWith('../')) {
    throw bad(`entry ${JSON.stringify(raw)} points outside the archive`);
  }
  return name.replace(/\/+$/, '');
}

/** Unpacks the archive into `dir` (which must exist and be empty). */
async function stage(input: Readable, dir: string): Promise<Staging> {
  const staging: Staging = { dir, links: new Map(), files: new Set() };
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const done = (err?: unknown): void => {
      if (err) {
        stream.resume();
        next(err instanceof Error ? err : new Error(String(err)));
      } else {
        next();
      }
    };
    (async (): Promise<void> => {
      const name = entryName(header.name);
      if (name === '.' || name === '') {
        stream.resume();
        return;
      }
      const target = path.join(dir, name);
      switch (header.type) {
        case 'directory':
          await fs.mkdir(target, { recursive: true });
          stream.resume();
          return;
        case 'file':
        case 'contiguous-file': {
          await fs.mkdir(path.dirname(target), { recursive: true });
          const hash = createHash('sha256');
          stream.on('data', (b: unknown) => hash.update(b as Buffer));
          await pipeline(stream, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
          const m = /^blobs\/(sha256)\/([^/]+)$/.exec(name);
          if (m && `sha256:${m[2] ?? ''}` !== `sha256:${hash.digest('hex')}`) {
            throw bad(`blob ${name} does not match its digest`);
          }
          staging.files.add(name);
          return;
        }
        case 'symlink': {
          const link = header.linkname ?? '';
          const resolved = path.posix.normalize(
            path.posix.isAbsolute(link)
              ? link.slice(1)
              : path.posix.join(path.posix.dirname(name), link),
          );
          if (resolved === '..' || resolved.startsWith('../')) {
            throw bad(`link ${JSON.stringify(header.name)} points outside the archive`);
          }
          staging.links.set(name, resolved);
          stream.resume();
          return;
        }
        case 'link':
          staging.links.set(name, entryName(header.linkname ?? ''));
          stream.resume();
          return;
        default:
          // Devices, fifos and the like have no place in an image archive; pax headers are
          // consumed by tar-stream itself.
          stream.resume();
          return;
      }
    })().then(
      () => done(),
      (err: unknown) => done(err),
    );
  });
  try {
    await pipeline(input, extract);
  } catch (err: unknown) {
    if (err instanceof InvalidArgumentError) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw bad(detail, err);
  }
  return staging;
}

/** The staged file an archive name refers to, links followed; undefined when there is none. */
function resolveName(s: Staging, name: string): string | undefined {
  let cur = entryName(name);
  for (let hops = 0; hops < 16; hops++) {
    if (s.files.has(cur)) return path.join(s.dir, cur);
    const next = s.links.get(cur);
    if (next === undefined) return undefined;
    cur = next;
  }
  return undefined;
}

async function readStaged(s: Staging, name: string): Promise<Buffer> {
  const file = resolveName(s, name);
  if (!file) throw bad(`${name} is missing`);
  return fs.readFile(file);
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (err: unknown) {
    throw bad(`${what} is not valid JSON`, err);
  }
}

/** Checks an image config from outside, each problem with its own message. */
export function validateConfig(value: unknown, what = 'image config'): ImageConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(`${what} is not an object`);
  }
  const c = value as Partial<ImageConfig>;
  const rootfs = c.rootfs as { type?: unknown; diff_ids?: unknown } | undefined;
  if (!rootfs || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) {
    throw bad(`${what} has no rootfs of type layers`);
  }
  for (const d of rootfs.diff_ids) {
    if (typeof d !== 'string' || !isDigest(d))
      throw bad(`${what} has a bad diff ID ${JSON.stringify(d)}`);
  }
  if (c.os !== undefined && typeof c.os !== 'string') throw bad(`${what} has a bad os`);
  if (c.architecture !== undefined && typeof c.architecture !== 'string') {
    throw bad(`${what} has a bad architecture`);
  }
  if (c.config !== undefined && c.config !== null && typeof c.config !== 'object') {
    throw bad(`${what} has a bad config`);
  }
  if (c.history !== undefined && !Array.isArray(c.history)) throw bad(`${what} has a bad history`);
  return value as ImageConfig;
}

function parseTag(s: string): Reference {
  try {
    return tagNameOnly(parseNormalizedNamed(s));
  } catch (err: unknown) {
    throw bad(`bad name ${JSON.stringify(s)}`, err);
  }
}

interface DockerManifestItem {
  Config?: unknown;
  RepoTags?: unknown;
  Layers?: unknown;
}

async function dockerArchive(s: Staging): Promise<StagedImage[]> {
  const items = parseJson<unknown>(await readStaged(s, 'manifest.json'), 'manifest.json');
  if (!Array.isArray(items)) throw bad('manifest.json is not a list');
  const out: StagedImage[] = [];
  for (const raw of items as DockerManifestItem[]) {
    if (typeof raw !== 'object' || raw === null || typeof raw.Config !== 'string') {
      throw bad('manifest.json entry has no Config');
    }
    if (
      !Array.isArray(raw.Layers) ||
      !raw.Layers.every((l): l is string => typeof l === 'string')
    ) {
      throw bad('manifest.json entry has no Layers list');
    }
    const tags = raw.RepoTags ?? [];
    if (!Array.isArray(tags) || !tags.every((t): t is string => typeof t === 'string')) {
      throw bad('manifest.json entry has a bad RepoTags');
    }
    const configBytes = await readStaged(s, raw.Config);
    const config = validateConfig(parseJson(configBytes, raw.Config), raw.Config);
    if (config.rootfs.diff_ids.length !== raw.Layers.length) {
      throw bad(
        `${raw.Config} names ${config.rootfs.diff_ids.length} layers, manifest.json ${raw.Layers.length}`,
      );
    }
    const layerFiles = raw.Layers.map((l) => {
      const f = resolveName(s, l);
      if (!f) throw bad(`layer ${l} is missing`);
      return f;
    });
    out.push({ configBytes, config, layerFiles, tags: tags.map(parseTag) });
  }
  return out;
}

function blobName(d: Descriptor, what: string): string {
  if (typeof d?.digest !== 'string' || !isDigest(d.digest)) throw bad(`${what} has a bad digest`);
  return `blobs/sha256/${d.digest.slice('sha256:'.length)}`;
}

async function readBlobChecked(s: Staging, d: Descriptor, what: string): Promise<Buffer> {
  const name = blobName(d, what);
  const bytes = await readStaged(s, name);
  // Staging checked the digest of blobs stored as files; links to them are checked here.
  if (sha256(bytes) !== d.digest) throw bad(`${name} does not match its digest`);
  if (typeof d.size === 'number' && d.size !== bytes.length)
    throw bad(`${name} has the wrong size`);
  return bytes;
}

const manifestTypes: ReadonlySet<string> = new Set([
  MediaType.ociManifest,
  MediaType.dockerManifest,
]);
const indexTypes: ReadonlySet<string> = new Set([MediaType.ociIndex, MediaType.dockerManifestList]);

function tagsOf(d: Descriptor): Reference[] {
  const a = d.annotations ?? {};
  const full = a['io.containerd.image.name'];
  if (full) return [parseTag(full)];
  const refName = a['org.opencontainers.image.ref.name'];
  // A bare tag (`latest`) names no repository; only a full reference can be used.
  if (refName && /[:/@]/.test(refName)) return [parseTag(refName)];
  return [];
}

async function ociLayout(
  s: Staging,
  platform: { os: string; architecture: string },
): Promise<StagedImage[]> {
  const layout = parseJson<{ imageLayoutVersion?: unknown }>(
    await readStaged(s, 'oci-layout'),
    'oci-layout',
  );
  if (typeof layout.imageLayoutVersion !== 'string')
    throw bad('oci-layout has no imageLayoutVersion');
  const index = parseJson<Index>(await readStaged(s, 'index.json'), 'index.json');
  if (!Array.isArray(index.manifests)) throw bad('index.json has no manifests');
  const byConfig = new Map<string, StagedImage>();
  const visit = async (d: Descriptor, tags: Reference[], depth: number): Promise<void> => {
    if (depth > 4) throw bad('image indexes nested too deep');
    if (indexTypes.has(d.mediaType)) {
      const nested = parseJson<Index>(await readBlobChecked(s, d, 'index'), blobName(d, 'index'));
      if (!Array.isArray(nested.manifests)) throw bad(`${blobName(d, 'index')} has no manifests`);
      const candidates = nested.manifests.filter((m) => manifestTypes.has(m.mediaType));
      const pick =
        candidates.find(
          (m) =>
            m.platform?.os === platform.os && m.platform.architecture === platform.architecture,
        ) ?? (candidates.length === 1 ? candidates[0] : undefined);
      if (!pick)
        throw bad(
          `no image for ${platform.os}/${platform.architecture} in ${blobName(d, 'index')}`,
        );
      await visit(pick, tags, depth + 1);
      return;
    }
    if (!manifestTypes.has(d.mediaType))
      throw bad(`unsupported media type ${JSON.stringify(d.mediaType)}`);
    const manifest = parseJson<Manifest>(
      await readBlobChecked(s, d, 'manifest'),
      blobName(d, 'manifest'),
    );
    if (manifest.schemaVersion !== 2 || !manifest.config || !Array.isArray(manifest.layers)) {
      throw bad(`${blobName(d, 'manifest')} is not an image manifest`);
    }
    const configBytes = await readBlobChecked(s, manifest.config, 'config');
    const config = validateConfig(
      parseJson(configBytes, 'config'),
      blobName(manifest.config, 'config'),
    );
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw bad(
        `config names ${config.rootfs.diff_ids.length} layers, the manifest ${manifest.layers.length}`,
      );
    }
    const layerFiles: string[] = [];
    for (const l of manifest.layers) {
      if (/zstd/.test(l.mediaType)) throw bad(`zstd layers are not supported (${l.digest})`);
      const name = blobName(l, 'layer');
      const file = resolveName(s, name);
      if (!file) throw bad(`layer ${name} is missing`);
      if (!s.files.has(name)) {
        // A linked blob was not hashed while staging.
        const hash = createHash('sha256');
        await pipeline((await fs.open(file)).createReadStream(), hash);
        if (`sha256:${hash.digest('hex')}` !== l.digest)
          throw bad(`${name} does not match its digest`);
      }
      layerFiles.push(file);
    }
    const id = sha256(configBytes);
    const seen = byConfig.get(id);
    if (seen) {
      seen.tags.push(...tags);
    } else {
      byConfig.set(id, { configBytes, config, layerFiles, tags: [...tags] });
    }
  };
  for (const d of index.manifests) await visit(d, tagsOf(d), 0);
  return [...byConfig.values()];
}

/**
 * Reads a `docker load` tarball into `dir` and returns the images in it. InvalidArgumentError
 * (one line, `invalid archive: ...`) when it is neither format or anything in it is wrong.
 */
export async function readArchive(
  input: Readable,
  dir: string,
  platform: { os: string; architecture: string },
): Promise<StagedImage[]> {
  const s = await stage(input, dir);
  if (resolveName(s, 'manifest.json')) return dockerArchive(s);
  if (resolveName(s, 'index.json') && resolveName(s, 'oci-layout')) return ociLayout(s, platform);
  if (s.files.size === 0 && s.links.size === 0) throw bad('empty archive');
  throw bad(
    'neither a docker archive (manifest.json) nor an OCI image layout (oci-layout, index.json)',
  );
}

/** Removes a staging directory, whatever is in it. */
export async function removeStaging(dir: string): Promise<void> {
  try {
    await fs.rm(dir, { recursive: true, force: true });
  } catch (err: unknown) {
    if (!isNotFound(err)) throw err;
  }
}
