import { createHash, randomBytes, randomUUID, type Hash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errnoCode, isNotFound } from '../../errors/index.js';
import { removeTempFiles, syncDir, writeFileAtomic } from '../../util/atomic.js';
import { KeyedMutex } from '../../util/lock.js';
import { DistributionError } from './errors.js';
import { parseManifest, type Descriptor, type ManifestMediaType } from './manifest.js';
import { isRepositoryName, isSha256, isTag, type Reference, type Sha256 } from './names.js';
import type { ByteRange } from './ranges.js';
import type {
  BlobInfo,
  BlobReader,
  GcOptions,
  GcReport,
  RegistryStore,
  StoredManifest,
  UploadStatus,
} from './registry.js';
import { RwLock } from './rwlock.js';

/**
 * The registry's filesystem store. Layout under its root (written down once here):
 *
 *   blobs/sha256/<hex>                          every blob and manifest, read-only, published
 *                                               only once verified (link(2) of a synced file)
 *   uploads/<uuid>/data                         an upload's bytes; only the first `offset` count
 *   uploads/<uuid>/state.json                   {name, startedAt, offset}: the acknowledged state
 *   repositories/<name>/_layers/<hex>           empty: blob <hex> belongs to the repository
 *   repositories/<name>/_manifests/revisions/<hex>   {mediaType, size}: a manifest of the repository
 *   repositories/<name>/_manifests/tags/<tag>   the digest the tag points at
 *   repositories/<name>/_referrers/<subject hex>/<hex>   the descriptor of a manifest with that subject
 *   tmp/                                        temporary files of manifest writes
 *   serve.pid, auth/token.key                   the serving process and its token key (main.ts)
 *
 * Names are checked against the spec's grammar before they become paths, and the `_` prefix
 * cannot begin a name component, so repository folders never collide with these.
 */

export interface StoreOptions {
  /** Largest blob an upload may grow to (bytes); Infinity for no limit. */
  maxUploadSize?: number;
  /** Upload sessions open at once; TOOMANYREQUESTS beyond. */
  maxUploadSessions?: number;
}

export async function newFsRegistryStore(
  root: string,
  options: StoreOptions = {},
): Promise<RegistryStore> {
  const store = new FsRegistryStore(path.resolve(root), options) satisfies RegistryStore;
  await store.open();
  return store;
}

interface UploadRecord {
  name: string;
  startedAt: string;
  offset: number;
}

interface RevisionRecord {
  mediaType: ManifestMediaType;
  size: number;
}

const uuidPattern = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;
const hexPattern = /^[a-f0-9]{64}$/;

function hex(d: Sha256): string {
  return d.slice('sha256:'.length);
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch (err: unknown) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

async function readdirIfExists(p: string): Promise<string[]> {
  try {
    return await fs.readdir(p);
  } catch (err: unknown) {
    if (isNotFound(err) || errnoCode(err) === 'ENOTDIR') return [];
    throw err;
  }
}

async function rmIfExists(p: string): Promise<boolean> {
  try {
    await fs.unlink(p);
    return true;
  } catch (err: unknown) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

class FsRegistryStore {
  readonly #blobs: string;
  readonly #uploads: string;
  readonly #repos: string;
  readonly #tmp: string;
  readonly #maxUploadSize: number;
  readonly #maxSessions: number;
  /** Per-upload serialisation: one append or completion at a time. */
  readonly #uploadLocks = new KeyedMutex();
  /** Per-repository serialisation of manifest and tag changes. */
  readonly #repoLocks = new KeyedMutex();
  /** Publication (shared) against garbage collection (exclusive). */
  readonly #gcLock = new RwLock();
  /** Running digests of uploads, valid for the offset recorded beside them. */
  readonly #hashes = new Map<string, { hash: Hash; offset: number }>();
  /** Uploads with a request in progress, which GC never removes. */
  readonly #active = new Set<string>();

  constructor(root: string, options: StoreOptions) {
    this.#blobs = path.join(root, 'blobs', 'sha256');
    this.#uploads = path.join(root, 'uploads');
    this.#repos = path.join(root, 'repositories');
    this.#tmp = path.join(root, 'tmp');
    this.#maxUploadSize = options.maxUploadSize ?? Infinity;
    this.#maxSessions = options.maxUploadSessions ?? Infinity;
  }

  async open(): Promise<void> {
    for (const d of [this.#blobs, this.#uploads, this.#repos]) {
      await fs.mkdir(d, { recursive: true });
    }
    // Temporary manifest files are never acknowledged: whatever a crash left there is garbage.
    await fs.rm(this.#tmp, { recursive: true, force: true });
    await fs.mkdir(this.#tmp, { recursive: true });
  }

  #repo(name: string): string {
    if (!isRepositoryName(name)) throw new DistributionError('NAME_INVALID', { name });
    return path.join(this.#repos, ...name.split('/'));
  }

  #blobPath(d: Sha256): string {
    return path.join(this.#blobs, hex(d));
  }

  #layerLink(name: string, d: Sha256): string {
    return path.join(this.#repo(name), '_layers', hex(d));
  }

  #revision(name: string, d: Sha256): string {
    return path.join(this.#repo(name), '_manifests', 'revisions', hex(d));
  }

  #tagFile(name: string, tag: string): string {
    return path.join(this.#repo(name), '_manifests', 'tags', tag);
  }

  // ---- blobs ----

  async statBlob(name: string, digest: Sha256): Promise<BlobInfo> {
    const linked =
      (await exists(this.#layerLink(name, digest))) || (await exists(this.#revision(name, digest)));
    if (linked) {
      try {
        const st = await fs.stat(this.#blobPath(digest));
        return { digest, size: st.size };
      } catch (err: unknown) {
        if (!isNotFound(err)) throw err;
      }
    }
    throw new DistributionError('BLOB_UNKNOWN', { digest });
  }

  async openBlob(name: string, digest: Sha256, range?: ByteRange): Promise<BlobReader> {
    const info = await this.statBlob(name, digest);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.#blobPath(digest), 'r');
    } catch (err: unknown) {
      if (isNotFound(err)) throw new DistributionError('BLOB_UNKNOWN', { digest });
      throw err;
    }
    const stream = range
      ? handle.createReadStream({ start: range.start, end: range.end })
      : handle.createReadStream();
    return { info, range, stream };
  }

  async deleteBlob(name: string, digest: Sha256): Promise<void> {
    if (!(await rmIfExists(this.#layerLink(name, digest)))) {
      throw new DistributionError('BLOB_UNKNOWN', { digest });
    }
  }

  async mountBlob(name: string, from: string, digest: Sha256): Promise<BlobInfo | undefined> {
    return this.#gcLock.shared(async () => {
      let info: BlobInfo;
      try {
        info = await this.statBlob(from, digest);
      } catch (err: unknown) {
        if (err instanceof DistributionError && err.code === 'BLOB_UNKNOWN') return undefined;
        throw err;
      }
      await this.#link(name, digest);
      return info;
    });
  }

  /** Links a published blob into a repository (a fresh link also shields it from GC's sweep). */
  async #link(name: string, digest: Sha256): Promise<void> {
    const link = this.#layerLink(name, digest);
    await fs.mkdir(path.dirname(link), { recursive: true });
    await writeFileAtomic(link, '');
  }

  /** Publishes a synced file as blob `digest`: hard link, so the blob appears whole or not at all. */
  async #publish(file: string, digest: Sha256): Promise<void> {
    const target = this.#blobPath(digest);
    await fs.chmod(file, 0o444);
    try {
      await fs.link(file, target);
    } catch (err: unknown) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      // Equal digests are equal bytes: keep the blob there, and make it young again so that
      // GC's grace period covers this new use of it too.
      const now = new Date();
      await fs.utimes(target, now, now);
    }
    await syncDir(this.#blobs);
  }

  // ---- uploads ----

  #uploadDir(uuid: string): string {
    if (!uuidPattern.test(uuid)) throw new DistributionError('BLOB_UPLOAD_UNKNOWN', { uuid });
    return path.join(this.#uploads, uuid);
  }

  async #readUpload(name: string, uuid: string): Promise<UploadRecord> {
    const dir = this.#uploadDir(uuid);
    let rec: UploadRecord;
    try {
      rec = JSON.parse(await fs.readFile(path.join(dir, 'state.json'), 'utf8')) as UploadRecord;
    } catch (err: unknown) {
      if (isNotFound(err)) throw new DistributionError('BLOB_UPLOAD_UNKNOWN', { uuid });
      throw err;
    }
    if (rec.name !== name) throw new DistributionError('BLOB_UPLOAD_UNKNOWN', { uuid });
    return rec;
  }

  #status(uuid: string, rec: UploadRecord): UploadStatus {
    return { uuid, name: rec.name, offset: rec.offset, startedAt: new Date(rec.startedAt) };
  }

  async startUpload(name: string): Promise<UploadStatus> {
    this.#repo(name);
    if (this.#maxSessions !== Infinity) {
      const open = (await readdirIfExists(this.#uploads)).filter((n) => uuidPattern.test(n));
      if (open.length >= this.#maxSessions) {
        throw new DistributionError(
          'TOOMANYREQUESTS',
          { limit: this.#maxSessions },
          { message: 'too many upload sessions open', headers: { 'Retry-After': '1' } },
        );
      }
    }
    const uuid = randomUUID();
    const dir = path.join(this.#uploads, uuid);
    await fs.mkdir(dir);
    await (await fs.open(path.join(dir, 'data'), 'wx', 0o644)).close();
    const rec: UploadRecord = { name, startedAt: new Date().toISOString(), offset: 0 };
    await writeFileAtomic(path.join(dir, 'state.json'), JSON.stringify(rec));
    await syncDir(this.#uploads);
    this.#hashes.set(uuid, { hash: createHash('sha256'), offset: 0 });
    return this.#status(uuid, rec);
  }

  async uploadStatus(name: string, uuid: string): Promise<UploadStatus> {
    return this.#status(uuid, await this.#readUpload(name, uuid));
  }

  async appendUpload(
    name: string,
    uuid: string,
    body: AsyncIterable<Uint8Array>,
    options: { start?: number; length?: number } = {},
  ): Promise<UploadStatus> {
    const dir = this.#uploadDir(uuid);
    return this.#uploadLocks.withLock(uuid, async () => {
      const rec = await this.#readUpload(name, uuid);
      if (options.start !== undefined && options.start !== rec.offset) {
        throw new DistributionError(
          'BLOB_UPLOAD_INVALID',
          { offset: rec.offset, start: options.start },
          {
            status: 416,
            message: 'chunk out of order',
            headers: { Range: `0-${rec.offset > 0 ? rec.offset - 1 : 0}` },
          },
        );
      }
      if (options.length !== undefined && rec.offset + options.length > this.#maxUploadSize) {
        throw this.#tooBig();
      }
      this.#active.add(uuid);
      const file = path.join(dir, 'data');
      const handle = await fs.open(file, 'r+');
      let offset = rec.offset;
      let state = this.#hashes.get(uuid);
      try {
        // Bytes past the acknowledged offset are a crash's leftovers: never part of the blob.
        await handle.truncate(rec.offset);
        if (state?.offset !== rec.offset) state = await this.#rehash(file, rec.offset);
        this.#hashes.delete(uuid);
        for await (const chunk of body) {
          if (offset + chunk.byteLength > this.#maxUploadSize) throw this.#tooBig();
          let off = 0;
          while (off < chunk.byteLength) {
            const { bytesWritten } = await handle.write(
              chunk,
              off,
              chunk.byteLength - off,
              offset + off,
            );
            off += bytesWritten;
          }
          state.hash.update(chunk);
          offset += chunk.byteLength;
        }
        if (options.length !== undefined && offset - rec.offset !== options.length) {
          throw new DistributionError(
            'SIZE_INVALID',
            { expected: options.length, received: offset - rec.offset },
            { message: 'chunk length does not match its Content-Length or Content-Range' },
          );
        }
        await handle.sync();
        const next: UploadRecord = { ...rec, offset };
        await writeFileAtomic(path.join(dir, 'state.json'), JSON.stringify(next));
        this.#hashes.set(uuid, { hash: state.hash, offset });
        return this.#status(uuid, next);
      } catch (err: unknown) {
        await handle.truncate(rec.offset).catch(() => undefined);
        throw err;
      } finally {
        await handle.close();
        this.#active.delete(uuid);
      }
    });
  }

  #tooBig(): DistributionError {
    return new DistributionError(
      'SIZE_INVALID',
      { limit: this.#maxUploadSize },
      { status: 413, message: 'blob exceeds the upload size limit' },
    );
  }

  /** The digest state of a file's first `offset` bytes (after a restart, or a failed append). */
  async #rehash(file: string, offset: number): Promise<{ hash: Hash; offset: number }> {
    const hash = createHash('sha256');
    if (offset > 0) {
      const handle = await fs.open(file, 'r');
      try {
        for await (const chunk of handle.createReadStream({ start: 0, end: offset - 1 })) {
          hash.update(chunk as Buffer);
        }
      } finally {
        await handle.close().catch(() => undefined);
      }
    }
    return { hash, offset };
  }

  async completeUpload(name: string, uuid: string, digest: Sha256): Promise<BlobInfo> {
    const dir = this.#uploadDir(uuid);
    return this.#uploadLocks.withLock(uuid, async () => {
      const rec = await this.#readUpload(name, uuid);
      const file = path.join(dir, 'data');
      let state = this.#hashes.get(uuid);
      if (state?.offset !== rec.offset) state = await this.#rehash(file, rec.offset);
      const actual = `sha256:${state.hash.copy().digest('hex')}` as Sha256;
      if (actual !== digest) {
        await this.#dropUpload(uuid);
        throw new DistributionError('DIGEST_INVALID', { expected: digest, actual });
      }
      await this.#gcLock.shared(async () => {
        const handle = await fs.open(file, 'r+');
        try {
          await handle.truncate(rec.offset);
          await handle.sync();
        } finally {
          await handle.close();
        }
        await this.#publish(file, digest);
        await this.#link(name, digest);
      });
      await this.#dropUpload(uuid);
      return { digest, size: rec.offset };
    });
  }

  async #dropUpload(uuid: string): Promise<void> {
    this.#hashes.delete(uuid);
    await fs.rm(path.join(this.#uploads, uuid), { recursive: true, force: true });
  }

  async cancelUpload(name: string, uuid: string): Promise<void> {
    this.#uploadDir(uuid);
    await this.#uploadLocks.withLock(uuid, async () => {
      await this.#readUpload(name, uuid);
      await this.#dropUpload(uuid);
    });
  }

  // ---- manifests ----

  async putManifest(
    name: string,
    reference: Reference,
    body: Buffer,
    contentType: string | undefined,
  ): Promise<{ digest: Sha256; subject: Sha256 | undefined }> {
    const parsed = parseManifest(body, contentType);
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}` as Sha256;
    if (reference.kind === 'digest' && reference.digest !== digest) {
      throw new DistributionError('DIGEST_INVALID', { expected: reference.digest, actual: digest });
    }
    return this.#repoLocks.withLock(name, () =>
      this.#gcLock.shared(async () => {
        for (const d of parsed.blobs) {
          let info: BlobInfo;
          try {
            info = await this.statBlob(name, d.digest);
          } catch (err: unknown) {
            if (err instanceof DistributionError && err.code === 'BLOB_UNKNOWN') {
              throw new DistributionError('MANIFEST_BLOB_UNKNOWN', { digest: d.digest });
            }
            throw err;
          }
          if (info.size !== d.size) {
            throw new DistributionError('MANIFEST_INVALID', {
              digest: d.digest,
              reason: `descriptor size ${d.size} but the blob has ${info.size} bytes`,
            });
          }
        }
        for (const m of parsed.manifests) {
          if (!(await exists(this.#revision(name, m.digest)))) {
            throw new DistributionError('MANIFEST_BLOB_UNKNOWN', { digest: m.digest });
          }
        }
        const tmp = path.join(this.#tmp, randomBytes(12).toString('hex'));
        await writeFileAtomic(tmp, body);
        try {
          await this.#publish(tmp, digest);
        } finally {
          await fs.rm(tmp, { force: true });
        }
        const rev = this.#revision(name, digest);
        await fs.mkdir(path.dirname(rev), { recursive: true });
        const record: RevisionRecord = { mediaType: parsed.mediaType, size: body.byteLength };
        await writeFileAtomic(rev, JSON.stringify(record));
        if (parsed.subject) {
          const desc: Descriptor = { mediaType: parsed.mediaType, digest, size: body.byteLength };
          if (parsed.artifactType !== undefined) desc.artifactType = parsed.artifactType;
          if (parsed.annotations !== undefined) desc.annotations = parsed.annotations;
          const file = path.join(
            this.#repo(name),
            '_referrers',
            hex(parsed.subject.digest),
            hex(digest),
          );
          await fs.mkdir(path.dirname(file), { recursive: true });
          await writeFileAtomic(file, JSON.stringify(desc));
        }
        if (reference.kind === 'tag') {
          const tagFile = this.#tagFile(name, reference.tag);
          await fs.mkdir(path.dirname(tagFile), { recursive: true });
          await writeFileAtomic(tagFile, digest);
        }
        return { digest, subject: parsed.subject?.digest };
      }),
    );
  }

  async #resolve(name: string, reference: Reference): Promise<Sha256> {
    if (reference.kind === 'digest') return reference.digest;
    try {
      const d = (await fs.readFile(this.#tagFile(name, reference.tag), 'utf8')).trim();
      if (isSha256(d)) return d;
    } catch (err: unknown) {
      if (!isNotFound(err)) throw err;
    }
    throw new DistributionError('MANIFEST_UNKNOWN', { tag: reference.tag });
  }

  async getManifest(
    name: string,
    reference: Reference,
    withBody: boolean,
  ): Promise<StoredManifest> {
    const digest = await this.#resolve(name, reference);
    let rec: RevisionRecord;
    try {
      rec = JSON.parse(await fs.readFile(this.#revision(name, digest), 'utf8')) as RevisionRecord;
    } catch (err: unknown) {
      if (isNotFound(err)) throw new DistributionError('MANIFEST_UNKNOWN', { digest });
      throw err;
    }
    const m: StoredManifest = { digest, mediaType: rec.mediaType, size: rec.size };
    if (withBody) {
      try {
        m.body = await fs.readFile(this.#blobPath(digest));
      } catch (err: unknown) {
        if (isNotFound(err)) throw new DistributionError('MANIFEST_UNKNOWN', { digest });
        throw err;
      }
    }
    return m;
  }

  async deleteManifest(name: string, reference: Reference): Promise<void> {
    await this.#repoLocks.withLock(name, async () => {
      if (reference.kind === 'tag') {
        if (!(await rmIfExists(this.#tagFile(name, reference.tag)))) {
          throw new DistributionError('MANIFEST_UNKNOWN', { tag: reference.tag });
        }
        return;
      }
      const digest = reference.digest;
      const rev = this.#revision(name, digest);
      if (!(await exists(rev))) throw new DistributionError('MANIFEST_UNKNOWN', { digest });
      const tagsDir = path.join(this.#repo(name), '_manifests', 'tags');
      for (const tag of await readdirIfExists(tagsDir)) {
        if (!isTag(tag)) continue;
        const target = await fs.readFile(path.join(tagsDir, tag), 'utf8').catch(() => '');
        if (target.trim() === digest) await rmIfExists(path.join(tagsDir, tag));
      }
      // The referrers index entry, wherever its subject is.
      try {
        const rec = JSON.parse(await fs.readFile(rev, 'utf8')) as RevisionRecord;
        const body = await fs.readFile(this.#blobPath(digest));
        const parsed = parseManifest(body, rec.mediaType);
        if (parsed.subject) {
          const p = path.join(
            this.#repo(name),
            '_referrers',
            hex(parsed.subject.digest),
            hex(digest),
          );
          await rmIfExists(p);
        }
      } catch (err: unknown) {
        if (!(err instanceof DistributionError) && !isNotFound(err)) throw err;
      }
      await rmIfExists(rev);
    });
  }

  async listTags(name: string): Promise<string[]> {
    if (!(await exists(this.#repo(name))) || !(await this.#isRepository(this.#repo(name)))) {
      throw new DistributionError('NAME_UNKNOWN', { name });
    }
    const tags = await readdirIfExists(path.join(this.#repo(name), '_manifests', 'tags'));
    return tags.filter(isTag);
  }

  async #isRepository(dir: string): Promise<boolean> {
    const entries = await readdirIfExists(dir);
    return entries.includes('_manifests') || entries.includes('_layers');
  }

  async listRepositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string[]): Promise<void> => {
      const entries = await readdirIfExists(dir);
      if (prefix.length > 0 && (entries.includes('_manifests') || entries.includes('_layers'))) {
        out.push(prefix.join('/'));
      }
      for (const e of entries) {
        if (e.startsWith('_') || e.startsWith('.')) continue;
        await walk(path.join(dir, e), [...prefix, e]);
      }
    };
    await walk(this.#repos, []);
    return out.filter(isRepositoryName);
  }

  async referrers(name: string, digest: Sha256): Promise<Descriptor[]> {
    const dir = path.join(this.#repo(name), '_referrers', hex(digest));
    const out: Descriptor[] = [];
    for (const f of await readdirIfExists(dir)) {
      if (!hexPattern.test(f)) continue;
      // A referrer deleted since is not listed: the revision is the source of truth.
      if (!(await exists(this.#revision(name, `sha256:${f}`)))) continue;
      try {
        out.push(JSON.parse(await fs.readFile(path.join(dir, f), 'utf8')) as Descriptor);
      } catch (err: unknown) {
        if (!isNotFound(err)) throw err;
      }
    }
    return out.sort((a, b) => (a.digest < b.digest ? -1 : 1));
  }

  // ---- garbage collection ----

  async gc(options: GcOptions): Promise<GcReport> {
    return this.#gcLock.exclusive(() => this.#gc(options));
  }

  async #gc(options: GcOptions): Promise<GcReport> {
    const now = Date.now();
    const fresh = (mtime: Date): boolean => now - mtime.getTime() < options.graceMs;
    const marked = new Set<string>();
    const linkedFresh = new Set<string>();
    const repos = await this.listRepositories();
    for (const name of repos) {
      const revDir = path.join(this.#repo(name), '_manifests', 'revisions');
      for (const h of await readdirIfExists(revDir)) {
        if (!hexPattern.test(h)) continue;
        marked.add(h);
        let body: Buffer;
        try {
          body = await fs.readFile(path.join(this.#blobs, h));
        } catch (err: unknown) {
          if (isNotFound(err)) continue;
          throw err;
        }
        try {
          const rec = JSON.parse(await fs.readFile(path.join(revDir, h), 'utf8')) as RevisionRecord;
          const parsed = parseManifest(body, rec.mediaType);
          for (const d of [...parsed.blobs, ...parsed.manifests]) marked.add(hex(d.digest));
        } catch (err: unknown) {
          // A stored manifest was validated on push; one that no longer parses keeps nothing.
          if (!(err instanceof DistributionError)) throw err;
        }
      }
      const layersDir = path.join(this.#repo(name), '_layers');
      for (const h of await readdirIfExists(layersDir)) {
        if (!hexPattern.test(h)) continue;
        try {
          if (fresh((await fs.stat(path.join(layersDir, h))).mtime)) linkedFresh.add(h);
        } catch (err: unknown) {
          if (!isNotFound(err)) throw err;
        }
      }
    }
    const report: GcReport = { blobsRemoved: [], bytesFreed: 0, uploadsRemoved: [] };
    const removed = new Set<string>();
    for (const h of await readdirIfExists(this.#blobs)) {
      if (!hexPattern.test(h) || marked.has(h) || linkedFresh.has(h)) continue;
      const file = path.join(this.#blobs, h);
      let st;
      try {
        st = await fs.stat(file);
      } catch (err: unknown) {
        if (isNotFound(err)) continue;
        throw err;
      }
      if (fresh(st.mtime)) continue;
      if (!options.dryRun) await rmIfExists(file);
      removed.add(h);
      report.blobsRemoved.push(`sha256:${h}`);
      report.bytesFreed += st.size;
    }
    if (!options.dryRun) {
      if (removed.size > 0) await syncDir(this.#blobs);
      for (const name of repos) {
        const layersDir = path.join(this.#repo(name), '_layers');
        for (const h of await readdirIfExists(layersDir)) {
          if (removed.has(h)) await rmIfExists(path.join(layersDir, h));
        }
      }
    }
    for (const uuid of await readdirIfExists(this.#uploads)) {
      if (!uuidPattern.test(uuid) || this.#active.has(uuid)) continue;
      let st;
      try {
        st = await fs.stat(path.join(this.#uploads, uuid, 'state.json'));
      } catch (err: unknown) {
        if (!isNotFound(err)) throw err;
        // A session whose start a crash cut short: never acknowledged, aged by its folder.
        try {
          st = await fs.stat(path.join(this.#uploads, uuid));
        } catch (err2: unknown) {
          if (isNotFound(err2)) continue;
          throw err2;
        }
      }
      if (now - st.mtime.getTime() < options.uploadMaxAgeMs) continue;
      if (!options.dryRun) await this.#dropUpload(uuid);
      report.uploadsRemoved.push(uuid);
    }
    await removeTempFiles(this.#blobs);
    return report;
  }
}
