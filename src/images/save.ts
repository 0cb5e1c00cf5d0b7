import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { Provider } from '../content/content.js';
import { MediaType, type Descriptor, type Index, type Manifest } from '../spec/oci-image.js';
import { hexOf, type Digest } from '../util/digest.js';
import type { ImageRecord } from './images.js';
import { familiarName, familiarString, referenceString, type Reference } from './reference.js';

/**
 * Writing `docker save` tarballs the way Docker 25 and later do: an OCI image layout
 * (oci-layout, index.json, blobs/sha256/...) that is also a docker-archive (manifest.json with
 * Config, RepoTags and Layers pointing into blobs/, and the legacy `repositories` file), so
 * that both new and old `docker load` read it. Layers are written as the uncompressed tars the
 * content store holds.
 */

export interface SaveItem {
  record: ImageRecord;
  /** Tagged names to write for this image (may be empty: the image is saved by ID). */
  tags: Reference[];
  manifest: Manifest;
  manifestDigest: Digest;
  manifestSize: number;
}

const epoch = new Date(0);

interface BlobEntry {
  digest: Digest;
  mtime: Date;
}

export async function writeArchive(
  items: readonly SaveItem[],
  content: Provider,
  out: Writable,
): Promise<void> {
  const blobs = new Map<string, BlobEntry>();
  const addBlob = (digest: string, mtime: Date): void => {
    if (!blobs.has(digest)) blobs.set(digest, { digest: digest as Digest, mtime });
  };
  const index: Index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
  const legacy: { Config: string; RepoTags: string[] | null; Layers: string[]; Parent?: string }[] =
    [];
  const repositories: Record<string, Record<string, string>> = {};
  const saved = new Set(items.map((i) => i.record.id));
  for (const item of items) {
    const r = item.record;
    const created = r.config.created ? new Date(r.config.created) : epoch;
    const when = Number.isNaN(created.getTime()) ? epoch : created;
    addBlob(r.id, when);
    addBlob(item.manifestDigest, epoch);
    for (const l of item.manifest.layers) addBlob(l.digest, when);
    const platform = { architecture: r.config.architecture, os: r.config.os };
    const descriptor = (annotations?: Record<string, string>): Descriptor => ({
      mediaType: MediaType.ociManifest,
      digest: item.manifestDigest,
      size: item.manifestSize,
      ...(annotations ? { annotations } : {}),
      platform,
    });
    if (item.tags.length === 0) index.manifests.push(descriptor());
    for (const t of item.tags) {
      index.manifests.push(
        descriptor({
          'io.containerd.image.name': referenceString(t),
          'org.opencontainers.image.ref.name': t.tag ?? 'latest',
        }),
      );
      const lastLayer = r.config.rootfs.diff_ids[r.config.rootfs.diff_ids.length - 1];
      if (lastLayer) {
        const repo = (repositories[familiarName(t)] ??= {});
        repo[t.tag ?? 'latest'] = hexOf(lastLayer as Digest);
      }
    }
    const entry: (typeof legacy)[number] = {
      Config: `blobs/sha256/${hexOf(r.id)}`,
      RepoTags: item.tags.length > 0 ? item.tags.map(familiarString) : null,
      Layers: item.manifest.layers.map((l) => `blobs/sha256/${hexOf(l.digest as Digest)}`),
    };
    if (r.parent && saved.has(r.parent)) entry.Parent = r.parent;
    legacy.push(entry);
  }

  const pack = tar.pack();
  const done = pipeline(pack, out);
  const add = (
    header: Partial<tar.Header> & { name: string },
    body?: Buffer | string,
  ): Promise<void> =>
    new Promise((resolve, reject) => {
      pack.entry({ uid: 0, gid: 0, mode: 0o644, ...header }, body ?? '', (err) =>
        err ? reject(err) : resolve(),
      );
    });
  try {
    await add({ name: 'blobs/', type: 'directory', mode: 0o755, mtime: epoch });
    await add({ name: 'blobs/sha256/', type: 'directory', mode: 0o755, mtime: epoch });
    for (const b of [...blobs.values()].sort((x, y) => (x.digest < y.digest ? -1 : 1))) {
      const info = await content.info(b.digest);
      const reader = await content.reader(b.digest);
      const sink = pack.entry(
        { name: `blobs/sha256/${hexOf(b.digest)}`, size: info.size, mode: 0o644, mtime: b.mtime },
        (err) => {
          if (err) sink.destroy(err);
        },
      );
      await pipeline(reader, sink);
    }
    await add({ name: 'index.json', mtime: epoch }, JSON.stringify(index));
    await add({ name: 'manifest.json', mtime: epoch }, `${JSON.stringify(legacy)}\n`);
    await add({ name: 'oci-layout', mtime: epoch }, '{"imageLayoutVersion": "1.0.0"}');
    if (Object.keys(repositories).length > 0) {
      await add({ name: 'repositories', mtime: epoch }, `${JSON.stringify(repositories)}\n`);
    }
    pack.finalize();
  } catch (err: unknown) {
    pack.destroy(err instanceof Error ? err : new Error(String(err)));
    await done.catch(() => undefined);
    throw err;
  }
  await done;
}
