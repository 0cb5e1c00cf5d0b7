import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { applyLayer, type ApplyOptions, type IdShift } from '../archive/archive.js';
import type { Store } from '../content/content.js';
import { readBlob, writeBlob } from '../content/helpers.js';
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  SystemError,
  isNotFound,
} from '../errors/index.js';
import type { EventInput, Events } from '../events/events.js';
import { isMountPoint, mountAll, unmount, unmountAll } from '../mount/mount-linux.js';
import type { Mount } from '../mount/mount.js';
import type { Snapshotter } from '../snapshots/snapshotter.js';
import type { ImageSummary } from '../spec/engine.js';
import {
  MediaType,
  type HistoryEntry,
  type ImageConfig,
  type ImageRuntimeConfig,
  type Manifest,
} from '../spec/oci-image.js';
import { readJsonIfExists, removeTempFiles, writeJsonAtomic } from '../util/atomic.js';
import { isDigest, sha256, shortId, type Digest } from '../util/digest.js';
import { KeyedMutex } from '../util/lock.js';
import { busyboxRootfs } from './busybox.js';
import {
  debianPath,
  debianRootfs,
  debianTarget,
  hostMirrors,
  type DebianTarget,
} from './debian.js';
import { applyChanges } from './changes.js';
import type {
  BuildImageOptions,
  BootstrapOptions,
  CommitOptions,
  ImageRecord,
  ImageService,
  ImportOptions,
  LoadResult,
  PullOptions,
  PushOptions,
  RemoveResult,
} from './images.js';
import { chainIDs, layerContentSize, storeLayer, type StoredLayer } from './layers.js';
import {
  pull,
  push,
  type DistributionHost,
  type DistributionOptions,
  type UnpackProgress,
} from './distribution.js';
import { readArchive, removeStaging, type StagedImage } from './load.js';
import {
  familiarName,
  familiarString,
  parseAnyReference,
  parseNormalizedNamed,
  parseTagTarget,
  referenceString,
  tagNameOnly,
  type Reference,
} from './reference.js';
import { historyBody, inspectBody, summary } from './render.js';
import { findImage, isImageIDPrefix } from './resolve.js';
import { writeArchive, type SaveItem } from './save.js';

/**
 * The image service over a content store and a snapshotter.
 *
 * Commit point: `<root>/images.json` (see images.ts for its schema). Every operation first
 * writes its blobs and unpacks its layers, then records the image; a crash before the record
 * leaves blobs and snapshots that no record reaches, and `open`, `remove` and `prune` collect
 * exactly those (by walking the records: manifest, config and layer blobs; snapshots by chain
 * ID). Work in flight holds a lease on what it wrote so that a collection running meanwhile
 * leaves it alone. Snapshots this service owns carry the label `berth.diffid`, or a key
 * starting with `berth-tmp-`; any other snapshot (a container's) is never touched, and a layer
 * that one still stands on is kept because the snapshotter refuses to remove it.
 */

const diffIDLabel = 'berth.diffid';
const tmpKeyPrefix = 'berth-tmp-';
/** sha256 of an empty tar (1024 zero bytes): a commit that changed nothing. */
const emptyTarDigest = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';
const imageConfigKeys: ReadonlySet<string> = new Set([
  'User',
  'ExposedPorts',
  'Env',
  'Entrypoint',
  'Cmd',
  'Volumes',
  'WorkingDir',
  'Labels',
  'StopSignal',
  'Healthcheck',
  'Shell',
  'OnBuild',
  'ArgsEscaped',
]);
const defaultPath = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

interface RecordsFile {
  version: 1;
  images: Record<string, ImageRecord>;
}

interface Lease {
  digests: Set<string>;
  snapshots: Set<string>;
  /** Streaming blob writes under way, whose digests are not known yet. */
  ingesting: number;
}

interface UserInfo {
  id: string;
  running: boolean;
}

interface RemoveOptions {
  force: boolean;
  noprune: boolean;
  inUse: (id: string) => boolean;
  user?: (id: string) => UserInfo | undefined;
}

/** What a removal did to the draft; layers are filled in once collection has run. */
interface RemovalPlan {
  results: (RemoveResult | { deletedImage: ImageRecord })[];
  events: EventInput[];
}

function hostArchitecture(): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
    loong64: 'loong64',
  };
  return map[process.arch] ?? process.arch;
}

function parsePlatform(p: string | undefined): {
  os: string;
  architecture: string;
  variant?: string;
} {
  if (!p) return { os: 'linux', architecture: hostArchitecture() };
  const [os = '', architecture = hostArchitecture(), variant] = p.toLowerCase().split('/');
  if (os !== 'linux') throw new InvalidArgumentError(`unsupported os ${os}`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

function stableJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The repository (`docker.io/library/busybox`) of a familiar tag or digest reference. */
function repoOf(familiar: string): string {
  const r = parseNormalizedNamed(familiar);
  return `${r.domain}/${r.path}`;
}

class Images implements ImageService {
  readonly #root: string;
  readonly #content: Store;
  readonly #snapshots: Snapshotter;
  readonly #events: Events;
  readonly #busyboxPath: string;
  readonly #driverName: string;
  readonly #ids: IdShift | undefined;
  readonly #file: string;
  readonly #tmp: string;
  readonly #distribution: DistributionOptions;
  readonly #queue = new KeyedMutex();
  readonly #unpacking = new KeyedMutex();
  readonly #bootstrapping = new KeyedMutex();
  readonly #leases = new Set<Lease>();
  readonly #manifests = new Map<string, Manifest>();
  readonly #graphDrivers = new Map<string, Record<string, string>>();
  #records = new Map<string, ImageRecord>();
  #gcWanted = false;

  constructor(options: NewImageServiceOptions) {
    this.#root = options.root;
    this.#content = options.content;
    this.#snapshots = options.snapshotter;
    this.#events = options.events;
    this.#busyboxPath = options.busyboxPath ?? '/bin/busybox';
    this.#driverName = options.graphDriverName ?? 'overlay2';
    this.#ids = options.ids;
    this.#file = path.join(this.#root, 'images.json');
    this.#tmp = path.join(this.#root, 'tmp');
    this.#distribution = {
      hosts: { mirrors: [], insecure: [] },
      certsDir: '/etc/berth/certs.d',
      maxDownloads: 3,
      maxUploads: 5,
      ...options.distribution,
    };
  }

  async open(): Promise<void> {
    await fs.mkdir(this.#root, { recursive: true, mode: 0o700 });
    await removeTempFiles(this.#root);
    await this.#removeCrashLeftovers();
    const file = await readJsonIfExists<RecordsFile>(this.#file);
    if (file !== undefined) {
      if (file.version !== 1 || typeof file.images !== 'object' || file.images === null) {
        throw new SystemError(`${this.#file}: unknown records version ${String(file.version)}`);
      }
      for (const [id, r] of Object.entries(file.images)) {
        if (!isDigest(id) || r.id !== id) throw new SystemError(`${this.#file}: bad record ${id}`);
        this.#records.set(id, r);
      }
    }
    await this.#queue.withLock('records', () => this.#collect());
  }

  /**
   * Staging and mount directories of operations a crash interrupted. A layer being unpacked
   * when berthd died is still mounted on its `mnt-` directory: unmount it first, or the rmdir
   * fails (EBUSY) and, worse, a recursive removal would reach through the mount.
   */
  async #removeCrashLeftovers(): Promise<void> {
    let names: string[] = [];
    try {
      names = await fs.readdir(this.#tmp);
    } catch (err: unknown) {
      if (!isNotFound(err)) throw err;
    }
    for (const name of names) {
      const p = path.join(this.#tmp, name);
      await unmountAll(p, { detach: true });
      if (await isMountPoint(p)) throw new SystemError(`${p}: still mounted after unmount`);
    }
    await fs.rm(this.#tmp, { recursive: true, force: true });
    await fs.mkdir(this.#tmp, { mode: 0o700 });
  }

  // ---- records ---------------------------------------------------------------------------

  /** Runs `fn` on a copy of the records under the queue and commits the copy atomically. */
  async #mutate<T>(fn: (draft: Map<string, ImageRecord>) => T | Promise<T>): Promise<T> {
    return this.#queue.withLock('records', async () => this.#mutateLocked(fn));
  }

  async #mutateLocked<T>(fn: (draft: Map<string, ImageRecord>) => T | Promise<T>): Promise<T> {
    const draft = new Map<string, ImageRecord>();
    for (const [k, v] of this.#records) draft.set(k, structuredClone(v));
    const result = await fn(draft);
    const body: RecordsFile = { version: 1, images: Object.fromEntries(draft) };
    await writeJsonAtomic(this.#file, body);
    this.#records = draft;
    return result;
  }

  /** Gives `tag` to image `id` in the draft; returns the image it was taken from, if another. */
  #setTag(
    draft: Map<string, ImageRecord>,
    tag: string,
    id: string,
    now: string,
  ): string | undefined {
    let previous: string | undefined;
    for (const r of draft.values()) {
      if (r.id !== id && r.repoTags.includes(tag)) {
        r.repoTags = r.repoTags.filter((t) => t !== tag);
        previous = r.id;
      }
    }
    const target = draft.get(id);
    if (!target) throw new NotFoundError(`No such image: ${id}`);
    if (!target.repoTags.includes(tag))
      target.repoTags = [...target.repoTags, tag].sort(compareStrings);
    target.lastTagTime = now;
    return previous;
  }

  // ---- leases and collection -------------------------------------------------------------

  #lease(): Lease {
    const lease: Lease = { digests: new Set(), snapshots: new Set(), ingesting: 0 };
    this.#leases.add(lease);
    return lease;
  }

  async #release(lease: Lease, collectNow: boolean): Promise<void> {
    this.#leases.delete(lease);
    if (collectNow || this.#gcWanted) await this.#queue.withLock('records', () => this.#collect());
  }

  /**
   * Writes a layer to the content store under `lease`. While the write is under way the lease
   * counts as ingesting (its digest is not known yet), and the digest is leased before that
   * count drops, so a collection never sees the blob unprotected.
   */
  async #ingestLayer(lease: Lease, input: Readable): Promise<StoredLayer> {
    lease.ingesting++;
    try {
      const layer = await storeLayer(this.#content, input);
      lease.digests.add(layer.diffID);
      return layer;
    } finally {
      lease.ingesting--;
    }
  }

  #ingestingNow(): boolean {
    for (const l of this.#leases) if (l.ingesting > 0) return true;
    return false;
  }

  #leasedBlob(digest: string): boolean {
    for (const l of this.#leases) if (l.digests.has(digest)) return true;
    return false;
  }

  #leasedSnapshot(key: string): boolean {
    for (const l of this.#leases) if (l.snapshots.has(key)) return true;
    return false;
  }

  async #manifest(digest: string): Promise<Manifest> {
    const cached = this.#manifests.get(digest);
    if (cached) return cached;
    const m = JSON.parse(
      (await readBlob(this.#content, digest as Digest)).toString('utf8'),
    ) as Manifest;
    this.#manifests.set(digest, m);
    return m;
  }

  /**
   * Deletes blobs and snapshots that no record reaches and no lease holds. Runs under the
   * queue. Returns the snapshot keys it removed.
   */
  async #collect(): Promise<Set<string>> {
    const removed = new Set<string>();
    const keepBlobs = new Set<string>();
    const keepSnaps = new Set<string>();
    for (const r of this.#records.values()) {
      keepBlobs.add(r.id);
      keepBlobs.add(r.manifest);
      try {
        for (const l of (await this.#manifest(r.manifest)).layers) keepBlobs.add(l.digest);
      } catch (err: unknown) {
        if (!(err instanceof NotFoundError)) throw err;
      }
      for (const c of r.chainIDs) keepSnaps.add(c);
    }

    const snaps = await this.#snapshots.walk();
    const parents = new Map(snaps.map((s) => [s.key, s.parent]));
    const depth = (key: string): number => {
      let n = 0;
      for (let p = parents.get(key); p !== undefined && n < 1000; p = parents.get(p)) n++;
      return n;
    };
    const garbage = snaps
      .filter(
        (s) =>
          !keepSnaps.has(s.key) &&
          ((s.kind === 'committed' && s.labels[diffIDLabel] !== undefined) ||
            s.key.startsWith(tmpKeyPrefix)),
      )
      .sort((a, b) => depth(b.key) - depth(a.key));
    for (const s of garbage) {
      // Leases are read at the moment of removal: work may have begun since the walk.
      if (this.#leasedSnapshot(s.key)) continue;
      try {
        await this.#snapshots.remove(s.key);
        removed.add(s.key);
      } catch (err: unknown) {
        // Something (a container's layer, or a kept layer above) still stands on it.
        if (err instanceof ConflictError || err instanceof NotFoundError) continue;
        throw err;
      }
    }

    this.#gcWanted = false;
    if (this.#ingestingNow()) this.#gcWanted = true;
    const blobs = this.#gcWanted ? [] : await this.#content.list();
    for (const info of blobs) {
      if (keepBlobs.has(info.digest) || this.#leasedBlob(info.digest)) continue;
      // A blob written now is not leased by digest until its write is done: leave blobs
      // for the collection that runs when that lease ends.
      if (this.#ingestingNow()) {
        this.#gcWanted = true;
        break;
      }
      try {
        await this.#content.delete(info.digest);
        this.#manifests.delete(info.digest);
      } catch (err: unknown) {
        if (!(err instanceof NotFoundError)) throw err;
      }
    }
    return removed;
  }

  // ---- reading ---------------------------------------------------------------------------

  async list(): Promise<ImageRecord[]> {
    return [...this.#records.values()].map((r) => structuredClone(r));
  }

  async get(ref: string): Promise<ImageRecord> {
    return structuredClone(findImage(this.#records.values(), ref));
  }

  async summaries(containers: Map<string, number>): Promise<ImageSummary[]> {
    return [...this.#records.values()]
      .sort((a, b) => compareStrings(b.config.created ?? '', a.config.created ?? ''))
      .map((r) => summary(r, containers));
  }

  async inspect(ref: string): Promise<Record<string, unknown>> {
    const r = findImage(this.#records.values(), ref);
    return inspectBody(r, { Name: this.#driverName, Data: await this.#graphDriverData(r) });
  }

  /** Where the image's layers are on disk, in the shape of Docker's overlay2 GraphDriver data. */
  async #graphDriverData(r: ImageRecord): Promise<Record<string, string>> {
    const top = r.chainIDs[r.chainIDs.length - 1];
    if (top === undefined) return {};
    const cached = this.#graphDrivers.get(top);
    if (cached) return cached;
    const key = `${tmpKeyPrefix}inspect-${randomBytes(8).toString('hex')}`;
    const lease = this.#lease();
    lease.snapshots.add(key);
    let mounts: Mount[];
    try {
      mounts = await this.#snapshots.view(key, top);
    } catch (err: unknown) {
      await this.#release(lease, false);
      if (err instanceof NotFoundError) return {};
      throw err;
    }
    try {
      await this.#snapshots.remove(key);
    } finally {
      await this.#release(lease, false);
    }
    const m = mounts[0];
    let layers: string[] = [];
    if (m?.type === 'bind') layers = [m.source];
    else if (m?.type === 'overlay') {
      const lower = m.options.find((o) => o.startsWith('lowerdir='));
      layers = lower ? lower.slice('lowerdir='.length).split(':') : [];
    }
    const [upper, ...lower] = layers;
    if (upper === undefined) return {};
    const base = path.dirname(upper);
    const data: Record<string, string> = {};
    if (lower.length > 0) data.LowerDir = lower.join(':');
    data.MergedDir = path.join(base, 'merged');
    data.UpperDir = upper;
    data.WorkDir = path.join(base, 'work');
    this.#graphDrivers.set(top, data);
    return data;
  }

  async history(ref: string): Promise<Record<string, unknown>[]> {
    const r = findImage(this.#records.values(), ref);
    return historyBody(r, (id) => this.#records.get(id));
  }

  async diskUsage(): Promise<{ layersSize: number }> {
    const sizes = new Map<string, number>();
    for (const r of this.#records.values()) {
      r.chainIDs.forEach((c, i) => sizes.set(c, r.layerSizes?.[i] ?? 0));
    }
    let layersSize = 0;
    for (const s of sizes.values()) layersSize += s;
    return { layersSize };
  }

  // ---- tagging and removal ---------------------------------------------------------------

  async tag(source: string, target: string): Promise<void> {
    const ref = parseTagTarget(target);
    const name = familiarString(ref);
    const id = await this.#mutate((draft) => {
      const img = findImage(draft.values(), source);
      this.#setTag(draft, name, img.id, new Date().toISOString());
      return img.id;
    });
    this.#events.publish({ Type: 'image', Action: 'tag', id, attributes: { name } });
  }

  async remove(ref: string, options: RemoveOptions): Promise<RemoveResult[]> {
    return this.#queue.withLock('records', async () => {
      const plan: RemovalPlan = { results: [], events: [] };
      await this.#mutateLocked((draft) => this.#planRemove(draft, ref, options, plan));
      return this.#finishRemoval(plan);
    });
  }

  /** Publishes a removal's events, collects garbage and lists what went, layers included. */
  async #finishRemoval(plan: RemovalPlan): Promise<RemoveResult[]> {
    for (const e of plan.events) this.#events.publish(e);
    const removed = await this.#collect();
    const out: RemoveResult[] = [];
    const reported = new Set<string>();
    for (const [i, r] of plan.results.entries()) {
      if (!('deletedImage' in r)) {
        out.push(r);
        continue;
      }
      const img = r.deletedImage;
      out.push({ Deleted: img.id });
      const later = new Set(
        plan.results
          .slice(i + 1)
          .flatMap((x) => ('deletedImage' in x ? x.deletedImage.chainIDs : [])),
      );
      for (const c of [...img.chainIDs].reverse()) {
        if (removed.has(c) && !later.has(c) && !reported.has(c)) {
          reported.add(c);
          out.push({ Deleted: c });
        }
      }
    }
    return out;
  }

  #refsOf(r: ImageRecord): string[] {
    return [...r.repoTags, ...r.repoDigests].sort((a, b) =>
      compareStrings(
        referenceString(parseNormalizedNamed(a)),
        referenceString(parseNormalizedNamed(b)),
      ),
    );
  }

  #untag(draft: Map<string, ImageRecord>, r: ImageRecord, name: string, plan: RemovalPlan): void {
    const rec = draft.get(r.id);
    if (!rec) return;
    rec.repoTags = rec.repoTags.filter((t) => t !== name);
    rec.repoDigests = rec.repoDigests.filter((t) => t !== name);
    plan.results.push({ Untagged: name });
    plan.events.push({ Type: 'image', Action: 'untag', id: r.id, attributes: { name: r.id } });
  }

  /** moby's isSingleReference: every name in one repository and at most one of them a tag. */
  #isSingleReference(refs: readonly string[]): boolean {
    if (refs.length <= 1) return refs.length === 1;
    let single: string | undefined;
    const canonical = new Set<string>();
    for (const r of refs) {
      if (r.includes('@')) canonical.add(repoOf(r));
      else if (single === undefined) single = r;
      else return false;
    }
    const first = single ?? refs[0] ?? '';
    return canonical.size === 1 && canonical.has(repoOf(first));
  }

  #conflict(
    draft: Map<string, ImageRecord>,
    id: string,
    mask: { children: boolean; running: boolean; references: boolean; stopped: boolean },
    options: RemoveOptions,
  ): { hard: boolean; used: boolean; message: string } | undefined {
    if (mask.children && [...draft.values()].some((r) => r.parent === id)) {
      return { hard: true, used: false, message: 'image has dependent child images' };
    }
    const user = options.user?.(id);
    const used = user !== undefined || options.inUse(id);
    if (mask.running && user?.running) {
      return {
        hard: true,
        used: true,
        message: `image is being used by running container ${shortId(user.id)}`,
      };
    }
    const rec = draft.get(id);
    if (mask.references && rec && rec.repoTags.length + rec.repoDigests.length > 0) {
      return { hard: false, used: false, message: 'image is referenced in multiple repositories' };
    }
    if (mask.stopped && used && !user?.running) {
      const message = user
        ? `image is being used by stopped container ${shortId(user.id)}`
        : 'image is being used by a container';
      return { hard: false, used: true, message };
    }
    return undefined;
  }

  #conflictError(id: string, c: { hard: boolean; message: string }): ConflictError {
    const force = c.hard ? 'cannot be forced' : 'must be forced';
    return new ConflictError(`conflict: unable to delete ${shortId(id)} (${force}) - ${c.message}`);
  }

  /** dockerd's ImageDelete on the draft (daemon/images/image_delete.go). */
  #planRemove(
    draft: Map<string, ImageRecord>,
    ref: string,
    options: RemoveOptions,
    plan: RemovalPlan,
  ): void {
    const img = findImage(draft.values(), ref);
    let refs = this.#refsOf(img);
    let quiet = false;
    if (!isImageIDPrefix(img.id, ref)) {
      const user = options.user?.(img.id);
      if (!options.force && this.#isSingleReference(refs) && (user || options.inUse(img.id))) {
        const who = user ? `container ${shortId(user.id)}` : 'a container';
        throw new ConflictError(
          `conflict: unable to remove repository reference "${ref}" (must force) - ${who} is using its referenced image ${shortId(img.id)}`,
        );
      }
      const parsed = parseAnyReference(ref);
      if (parsed.kind !== 'named') throw new NotFoundError(`No such image: ${ref}`);
      const named = tagNameOnly(parsed.ref);
      const name = familiarString(
        named.digest !== undefined ? { ...named, tag: undefined } : named,
      );
      if (!refs.includes(name)) throw new NotFoundError(`No such image: ${familiarString(named)}`);
      this.#untag(draft, img, name, plan);
      refs = this.#refsOf(draft.get(img.id) ?? img);
      if (named.digest === undefined) {
        const repo = repoOf(name);
        const tagLeft = refs.some((r) => !r.includes('@') && repoOf(r) === repo);
        if (!tagLeft) {
          for (const r of refs.filter((x) => x.includes('@') && repoOf(x) === repo)) {
            this.#untag(draft, img, r, plan);
          }
          refs = this.#refsOf(draft.get(img.id) ?? img);
        }
      }
      if (refs.length > 0) return;
      quiet = true;
    } else if (this.#isSingleReference(refs)) {
      const c = this.#conflict(
        draft,
        img.id,
        { children: true, running: true, references: false, stopped: !options.force },
        options,
      );
      if (c) throw this.#conflictError(img.id, c);
      for (const r of refs) this.#untag(draft, img, r, plan);
    }
    this.#deleteImage(draft, img.id, options.force, !options.noprune, quiet, options, plan);
  }

  /** moby's imageDeleteHelper. */
  #deleteImage(
    draft: Map<string, ImageRecord>,
    id: string,
    force: boolean,
    prune: boolean,
    quiet: boolean,
    options: RemoveOptions,
    plan: RemovalPlan,
  ): void {
    const c = this.#conflict(
      draft,
      id,
      { children: true, running: true, references: !force, stopped: !force },
      options,
    );
    if (c) {
      const rec = draft.get(id);
      const dangling =
        rec !== undefined &&
        rec.repoTags.length + rec.repoDigests.length === 0 &&
        ![...draft.values()].some((r) => r.parent === id);
      if (quiet && (!dangling || c.used)) return;
      throw this.#conflictError(id, c);
    }
    const rec = draft.get(id);
    if (!rec) return;
    for (const r of this.#refsOf(rec)) this.#untag(draft, rec, r, plan);
    const gone = draft.get(id) ?? rec;
    draft.delete(id);
    plan.events.push({ Type: 'image', Action: 'delete', id, attributes: { name: id } });
    plan.results.push({ deletedImage: gone });
    if (!prune || !gone.parent || !draft.has(gone.parent)) return;
    this.#deleteImage(draft, gone.parent, false, true, true, options, plan);
  }

  async prune(options: {
    danglingOnly: boolean;
    inUse: (id: string) => boolean;
    user?: (id: string) => UserInfo | undefined;
    filters: Record<string, string[]>;
  }): Promise<{ ImagesDeleted: RemoveResult[]; SpaceReclaimed: number }> {
    const accepted = new Set(['dangling', 'label', 'label!', 'until']);
    for (const k of Object.keys(options.filters)) {
      if (!accepted.has(k)) throw new InvalidArgumentError(`invalid filter '${k}'`);
    }
    const until = pruneUntil(options.filters.until);
    const labelMatch = labelFilter(options.filters);
    return this.#queue.withLock('records', async () => {
      const plan: RemovalPlan = { results: [], events: [] };
      const sizes = new Map<string, number>();
      for (const r of this.#records.values()) {
        r.chainIDs.forEach((c, i) => sizes.set(c, r.layerSizes?.[i] ?? 0));
      }
      await this.#mutateLocked((draft) => {
        const all = [...draft.values()];
        const hasChildren = (id: string): boolean => all.some((r) => r.parent === id);
        const candidates = all.filter((r) => {
          if (options.danglingOnly && hasChildren(r.id)) return false;
          if (r.repoTags.length + r.repoDigests.length === 0 && hasChildren(r.id)) return false;
          if (until !== undefined) {
            const created = Date.parse(r.config.created ?? '');
            if (Number.isNaN(created) || created > until) return false;
          }
          return labelMatch(r.config.config?.Labels ?? {});
        });
        const removeOptions: RemoveOptions = { force: false, noprune: false, inUse: options.inUse };
        if (options.user) removeOptions.user = options.user;
        for (const r of candidates) {
          if (!draft.has(r.id)) continue;
          const refs = this.#refsOf(r);
          const tryRemove = (s: string): void => {
            try {
              this.#planRemove(draft, s, removeOptions, plan);
            } catch (err: unknown) {
              if (err instanceof ConflictError || err instanceof NotFoundError) return;
              throw err;
            }
          };
          if (refs.length > 0) {
            const hasTag = refs.some((x) => !x.includes('@'));
            if (!options.danglingOnly || !hasTag) for (const s of refs) tryRemove(s);
          } else {
            tryRemove(r.id.slice('sha256:'.length));
          }
        }
      });
      const results = await this.#finishRemoval(plan);
      let space = 0;
      for (const d of results)
        if (d.Deleted && sizes.has(d.Deleted)) space += sizes.get(d.Deleted) ?? 0;
      return { ImagesDeleted: results, SpaceReclaimed: space };
    });
  }

  // ---- making images ---------------------------------------------------------------------

  /**
   * Stores an image whose layers are already in the content store (uncompressed, digest =
   * diff ID): writes config and manifest, unpacks the layers, and returns the record to add.
   */
  async #storeImage(
    lease: Lease,
    configBytes: Buffer,
    layers: StoredLayer[],
    extra: { parent?: Digest },
  ): Promise<ImageRecord> {
    const id = sha256(configBytes);
    lease.digests.add(id);
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    await writeBlob(this.#content, configBytes, id);
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: id, size: configBytes.length },
      layers: layers.map((l) => ({
        mediaType: l.mediaType ?? MediaType.ociLayer,
        digest: l.diffID,
        size: l.tarSize,
      })),
    };
    const manifestBytes = stableJson(manifest);
    const manifestDigest = sha256(manifestBytes);
    lease.digests.add(manifestDigest);
    await writeBlob(this.#content, manifestBytes, manifestDigest);
    this.#manifests.set(manifestDigest, manifest);
    const record: ImageRecord = {
      id,
      manifest: manifestDigest,
      repoTags: [],
      repoDigests: [],
      config,
      chainIDs: chainIDs(config.rootfs.diff_ids),
      size: layers.reduce((n, l) => n + l.contentSize, 0),
      layerSizes: layers.map((l) => l.contentSize),
      added: new Date().toISOString(),
    };
    if (extra.parent) record.parent = extra.parent;
    await this.#unpackLeased(record, lease);
    return record;
  }

  /** Adds a new record (or merges into an existing one with the same ID) and tags it. */
  async #commitRecord(
    record: ImageRecord,
    tags: string[],
  ): Promise<{ record: ImageRecord; moved: Map<string, string> }> {
    return this.#mutate((draft) => {
      const now = new Date().toISOString();
      const existing = draft.get(record.id);
      if (!existing) draft.set(record.id, record);
      const moved = new Map<string, string>();
      for (const t of tags) {
        const prev = this.#setTag(draft, t, record.id, now);
        if (prev) moved.set(t, prev);
      }
      return { record: structuredClone(draft.get(record.id) ?? record), moved };
    });
  }

  async #withLease<T>(fn: (lease: Lease) => Promise<T>): Promise<T> {
    const lease = this.#lease();
    let ok = false;
    try {
      const result = await fn(lease);
      ok = true;
      return result;
    } finally {
      // On failure, whatever the operation wrote is garbage now: collect it at once.
      await this.#release(lease, !ok);
    }
  }

  async importRootfs(tar: Readable, options: ImportOptions): Promise<ImageRecord> {
    const tag = options.reference ? familiarString(parseTagTarget(options.reference)) : undefined;
    const platform = parsePlatform(options.platform);
    const runtimeConfig = applyChanges({}, options.changes ?? []);
    const record = await this.#withLease(async (lease) => {
      const layer = await this.#ingestLayer(lease, tar);
      const created = new Date().toISOString();
      const message = options.message || 'Imported from -';
      const config: ImageConfig = {
        architecture: platform.architecture,
        comment: message,
        config: runtimeConfig,
        created,
        history: [{ created, comment: message }],
        os: platform.os,
        rootfs: { type: 'layers', diff_ids: [layer.diffID] },
      };
      if (platform.variant) config.variant = platform.variant;
      const stored = await this.#storeImage(lease, stableJson(config), [layer], {});
      return (await this.#commitRecord(stored, tag ? [tag] : [])).record;
    });
    if (tag)
      this.#events.publish({
        Type: 'image',
        Action: 'tag',
        id: record.id,
        attributes: { name: tag },
      });
    this.#events.publish({
      Type: 'image',
      Action: 'import',
      id: record.id,
      attributes: { name: record.id },
    });
    return record;
  }

  async load(tar: Readable): Promise<LoadResult> {
    await fs.mkdir(this.#tmp, { recursive: true, mode: 0o700 });
    const dir = await fs.mkdtemp(path.join(this.#tmp, 'load-'));
    const platform = { os: 'linux', architecture: hostArchitecture() };
    try {
      const loaded = await this.#withLease(async (lease) => {
        const staged = await readArchive(tar, dir, platform);
        const out: { record: ImageRecord; tags: string[] }[] = [];
        for (const img of staged)
          out.push({
            record: await this.#storeStaged(lease, img),
            tags: img.tags.map(familiarString),
          });
        // One write for the whole archive: all of it is loaded, or none.
        return this.#mutate((draft) => {
          const now = new Date().toISOString();
          const messages: string[] = [];
          const ids: string[] = [];
          for (const { record, tags } of out) {
            if (!draft.has(record.id)) draft.set(record.id, record);
            for (const t of tags) {
              const prev = this.#setTag(draft, t, record.id, now);
              if (prev) {
                messages.push(
                  `The image ${t} already exists, renaming the old one with ID ${prev} to empty string`,
                );
              }
              messages.push(`Loaded image: ${t}`);
            }
            if (tags.length === 0) messages.push(`Loaded image ID: ${record.id}`);
            ids.push(record.id);
          }
          return { messages, ids };
        });
      });
      for (const id of loaded.ids) {
        this.#events.publish({ Type: 'image', Action: 'load', id, attributes: { name: id } });
      }
      return { messages: loaded.messages };
    } finally {
      await removeStaging(dir);
    }
  }

  async #storeStaged(lease: Lease, img: StagedImage): Promise<ImageRecord> {
    const layers: StoredLayer[] = [];
    for (const [i, file] of img.layerFiles.entries()) {
      const layer = await this.#ingestLayer(lease, createReadStream(file));
      const want = img.config.rootfs.diff_ids[i];
      if (layer.diffID !== want) {
        throw new InvalidArgumentError(
          `invalid archive: layer ${i + 1} has diff ID ${layer.diffID}, the config says ${String(want)}`,
        );
      }
      layers.push(layer);
    }
    return this.#storeImage(lease, img.configBytes, layers, {});
  }

  async save(refs: string[], out: Writable): Promise<void> {
    const items = new Map<string, SaveItem>();
    const lease = this.#lease();
    try {
      for (const name of refs) {
        const { record, tags } = this.#saveTarget(name);
        lease.digests.add(record.id);
        lease.digests.add(record.manifest);
        let item = items.get(record.id);
        if (!item) {
          const manifest = await this.#manifest(record.manifest);
          for (const l of manifest.layers) lease.digests.add(l.digest);
          const info = await this.#content.info(record.manifest);
          item = {
            record,
            tags: [],
            manifest,
            manifestDigest: record.manifest,
            manifestSize: info.size,
          };
          items.set(record.id, item);
        }
        for (const t of tags) {
          if (!item.tags.some((x) => referenceString(x) === referenceString(t))) item.tags.push(t);
        }
      }
      await writeArchive([...items.values()], this.#content, out);
    } finally {
      await this.#release(lease, false);
    }
    for (const id of items.keys()) {
      this.#events.publish({ Type: 'image', Action: 'save', id, attributes: { name: id } });
    }
  }

  /** The image a `docker save` argument names and the tags to write for it (moby's parseNames). */
  #saveTarget(name: string): { record: ImageRecord; tags: Reference[] } {
    const parsed = parseAnyReference(name);
    if (parsed.kind === 'id') return { record: findImage(this.#records.values(), name), tags: [] };
    const ref = parsed.ref;
    if (ref.tag === undefined && ref.digest === undefined) {
      if (familiarName(ref) !== 'sha256') {
        const repo = `${ref.domain}/${ref.path}`;
        const matches = [...this.#records.values()].flatMap((r) =>
          r.repoTags.filter((t) => repoOf(t) === repo).map((t) => ({ r, t })),
        );
        const first = matches[0];
        if (first) {
          // All tags of the repository; every one names the same or another image.
          if (matches.every((m) => m.r.id === first.r.id)) {
            return {
              record: first.r,
              tags: matches.map((m) => tagNameOnly(parseNormalizedNamed(m.t))),
            };
          }
        }
      }
      return { record: findImage(this.#records.values(), name), tags: [] };
    }
    const record = findImage(this.#records.values(), name);
    return { record, tags: ref.digest !== undefined ? [] : [ref] };
  }

  async bootstrap(name: string, options: BootstrapOptions = {}): Promise<ImageRecord> {
    const ref = parseTagTarget(name);
    const tag = familiarString(ref);
    const repo = familiarName(ref);
    if (repo !== 'busybox' && repo !== 'debian') {
      throw new InvalidArgumentError(
        `no built-in recipe for ${tag}: berth image bootstrap makes busybox and debian:<suite>[-slim]`,
      );
    }
    const target = repo === 'debian' ? debianTarget(ref.tag ?? 'latest') : undefined;
    return this.#bootstrapping.withLock(tag, async () => {
      const existing = [...this.#records.values()].find((r) => r.repoTags.includes(tag));
      if (existing) return structuredClone(existing);
      const record = target
        ? await this.#bootstrapDebian(tag, target, options)
        : await this.#bootstrapBusybox(tag);
      this.#events.publish({
        Type: 'image',
        Action: 'tag',
        id: record.id,
        attributes: { name: tag },
      });
      return record;
    });
  }

  async #bootstrapDebian(
    tag: string,
    target: DebianTarget,
    options: BootstrapOptions,
  ): Promise<ImageRecord> {
    const mirrors = await hostMirrors();
    options.onProgress?.(`I: bootstrapping ${tag} from ${mirrors.archive} with mmdebstrap`);
    const started = new Date();
    return this.#withLease(async (lease) => {
      const build = debianRootfs(target, mirrors, options);
      // The layer is ingested as the tar streams; it counts only if mmdebstrap succeeded.
      const [ingested, built] = await Promise.allSettled([
        this.#ingestLayer(lease, build.tar),
        build.done,
      ]);
      if (built.status === 'rejected') throw built.reason;
      if (ingested.status === 'rejected') throw ingested.reason;
      const layer = ingested.value;
      const created = started.toISOString();
      const variant = target.slim ? 'minbase, slim' : 'minbase';
      const history: HistoryEntry[] = [
        {
          created,
          created_by: `mmdebstrap --variant=minbase ${target.suite} (berth image bootstrap ${tag}: ${variant}, ${mirrors.archive})`,
        },
        { created, created_by: '/bin/sh -c #(nop)  CMD ["bash"]', empty_layer: true },
      ];
      const config: ImageConfig = {
        architecture: hostArchitecture(),
        config: { Env: [debianPath], Cmd: ['bash'] },
        created,
        history,
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [layer.diffID] },
      };
      const stored = await this.#storeImage(lease, stableJson(config), [layer], {});
      return (await this.#commitRecord(stored, [tag])).record;
    });
  }

  async #bootstrapBusybox(tag: string): Promise<ImageRecord> {
    const rootfs = await busyboxRootfs(this.#busyboxPath);
    const record = await this.#withLease(async (lease) => {
      const layer = await this.#ingestLayer(lease, Readable.from([rootfs.tar]));
      const created = rootfs.created.toISOString();
      const history: HistoryEntry[] = [
        {
          created,
          created_by: `/bin/sh -c #(nop) ADD file:${this.#busyboxPath} in / (${rootfs.version})`,
        },
        { created, created_by: '/bin/sh -c #(nop)  CMD ["sh"]', empty_layer: true },
      ];
      const config: ImageConfig = {
        architecture: hostArchitecture(),
        config: { Env: [defaultPath], Cmd: ['sh'] },
        created,
        history,
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [layer.diffID] },
      };
      const stored = await this.#storeImage(lease, stableJson(config), [layer], {});
      return (await this.#commitRecord(stored, [tag])).record;
    });
    return record;
  }

  async commit(options: CommitOptions): Promise<ImageRecord> {
    const tag = options.reference ? familiarString(parseTagTarget(options.reference)) : undefined;
    const parent = this.#records.get(options.parent.id) ?? options.parent;
    const base: ImageRuntimeConfig = { ...(parent.config.config ?? {}) };
    for (const [k, v] of Object.entries(options.config ?? {})) {
      // Only what an image carries: a container's Hostname, Tty and the like stay with it.
      if (v !== undefined && imageConfigKeys.has(k)) (base as Record<string, unknown>)[k] = v;
    }
    const runtimeConfig = applyChanges(base, options.changes ?? []);
    const record = await this.#withLease(async (lease) => {
      for (const c of parent.chainIDs) lease.snapshots.add(c);
      const layer = await this.#ingestLayer(lease, options.diff);
      const empty = layer.diffID === emptyTarDigest;
      const created = new Date().toISOString();
      const entry: HistoryEntry = { created, created_by: options.createdBy ?? '' };
      if (options.author) entry.author = options.author;
      if (options.comment) entry.comment = options.comment;
      if (empty) entry.empty_layer = true;
      const config: ImageConfig = {
        ...structuredClone(parent.config),
        config: runtimeConfig,
        created,
        history: [...(parent.config.history ?? []), entry],
        rootfs: {
          type: 'layers',
          diff_ids: empty
            ? [...parent.config.rootfs.diff_ids]
            : [...parent.config.rootfs.diff_ids, layer.diffID],
        },
      };
      delete config.comment;
      delete config.author;
      delete config.container;
      if (options.author) config.author = options.author;
      if (options.comment) config.comment = options.comment;
      if (options.container) config.container = options.container;
      const parentLayers = await this.#layersOf(parent, lease);
      const layers = empty ? parentLayers : [...parentLayers, layer];
      const stored = await this.#storeImage(lease, stableJson(config), layers, {
        parent: parent.id,
      });
      return (await this.#commitRecord(stored, tag ? [tag] : [])).record;
    });
    if (tag)
      this.#events.publish({
        Type: 'image',
        Action: 'tag',
        id: record.id,
        attributes: { name: tag },
      });
    return record;
  }

  /**
   * A parent image's layers as a child's manifest lists them, held by `lease`. A pulled
   * parent's layers stay compressed as they came, and the child's manifest says so.
   */
  async #layersOf(parent: ImageRecord, lease: Lease): Promise<StoredLayer[]> {
    const manifest = await this.#manifest(parent.manifest);
    return manifest.layers.map((l, i) => {
      lease.digests.add(l.digest as Digest);
      return {
        diffID: l.digest as Digest,
        tarSize: l.size,
        contentSize: parent.layerSizes?.[i] ?? 0,
        mediaType: l.mediaType.endsWith('gzip') ? MediaType.ociLayerGzip : MediaType.ociLayer,
      };
    });
  }

  async build(options: BuildImageOptions): Promise<ImageRecord> {
    const parent = options.parent
      ? (this.#records.get(options.parent.id) ?? options.parent)
      : undefined;
    const platform = parsePlatform(options.platform);
    return this.#withLease(async (lease) => {
      for (const c of parent?.chainIDs ?? []) lease.snapshots.add(c);
      const restored = options.restore ? await this.#restoredStep(options.restore) : undefined;
      if (restored?.layer) lease.digests.add(restored.layer.diffID);
      const layer = restored
        ? restored.layer
        : options.diff
          ? await this.#ingestLayer(lease, options.diff)
          : undefined;
      const empty = restored ? !restored.layer : !layer || layer.diffID === emptyTarDigest;
      const created = restored?.entry.created ?? options.created ?? new Date().toISOString();
      const entry: HistoryEntry = restored?.entry ?? { created, created_by: options.createdBy };
      if (empty && !restored) entry.empty_layer = true;
      const base: ImageConfig = parent
        ? structuredClone(parent.config)
        : {
            architecture: platform.architecture,
            os: platform.os,
            ...(platform.variant ? { variant: platform.variant } : {}),
            rootfs: { type: 'layers', diff_ids: [] },
          };
      const config: ImageConfig = {
        ...base,
        config: options.config ?? {},
        created,
        history: [...(base.history ?? []), entry],
        rootfs: {
          type: 'layers',
          diff_ids:
            empty || !layer
              ? [...base.rootfs.diff_ids]
              : [...base.rootfs.diff_ids, restored?.diffID ?? layer.diffID],
        },
      };
      delete config.comment;
      delete config.author;
      delete config.container;
      const parentLayers = parent ? await this.#layersOf(parent, lease) : [];
      const layers = empty || !layer ? parentLayers : [...parentLayers, layer];
      const stored = await this.#storeImage(
        lease,
        stableJson(config),
        layers,
        parent ? { parent: parent.id } : {},
      );
      if (options.buildKey !== undefined) stored.buildKey = options.buildKey;
      return (await this.#commitRecord(stored, [])).record;
    });
  }

  /** History entry `historyIndex` of an image, and its layer when the entry made one. */
  async #restoredStep(from: {
    image: ImageRecord;
    historyIndex: number;
  }): Promise<{ entry: HistoryEntry; layer?: StoredLayer; diffID?: Digest }> {
    const image = this.#records.get(from.image.id) ?? from.image;
    const history = image.config.history ?? [];
    const entry = history[from.historyIndex];
    if (!entry) {
      throw new InvalidArgumentError(`image ${image.id} has no history entry ${from.historyIndex}`);
    }
    if (entry.empty_layer) return { entry: structuredClone(entry) };
    const index = history.slice(0, from.historyIndex).filter((h) => !h.empty_layer).length;
    const manifest = await this.#manifest(image.manifest);
    const l = manifest.layers[index];
    const diffID = image.config.rootfs.diff_ids[index];
    if (!l || !diffID) throw new InvalidArgumentError(`image ${image.id} has no layer ${index}`);
    return {
      entry: structuredClone(entry),
      // The blob as the image holds it (a pulled one stays compressed); `diffID` its content's.
      layer: {
        diffID: l.digest as Digest,
        tarSize: l.size,
        contentSize: image.layerSizes?.[index] ?? 0,
        mediaType: l.mediaType.endsWith('gzip') ? MediaType.ociLayerGzip : MediaType.ociLayer,
      },
      diffID: diffID as Digest,
    };
  }

  // ---- registries ------------------------------------------------------------------------

  #distributionHost(lease: Lease): DistributionHost {
    return {
      content: this.#content,
      options: this.#distribution,
      records: () => [...this.#records.values()].map((r) => structuredClone(r)),
      hold: (digest) => lease.digests.add(digest),
      unpack: (record, options) => this.#unpackLeased(record, lease, options),
      layerSize: async (digest) => layerContentSize(await this.#content.reader(digest)),
      commit: async (record, tag, repoDigest, source) => {
        await this.#mutate((draft) => {
          const now = new Date().toISOString();
          if (!draft.has(record.id)) draft.set(record.id, record);
          const r = draft.get(record.id) ?? record;
          if (tag !== undefined) this.#setTag(draft, tag, record.id, now);
          if (!r.repoDigests.includes(repoDigest))
            r.repoDigests = [...r.repoDigests, repoDigest].sort(compareStrings);
          if (!(r.sources ?? []).includes(source)) r.sources = [...(r.sources ?? []), source];
        });
        if (tag !== undefined)
          this.#events.publish({
            Type: 'image',
            Action: 'tag',
            id: record.id,
            attributes: { name: tag },
          });
      },
      pushed: async (id, repoDigest, repository) => {
        await this.#mutate((draft) => {
          const r = draft.get(id);
          if (!r) return;
          if (!r.repoDigests.includes(repoDigest))
            r.repoDigests = [...r.repoDigests, repoDigest].sort(compareStrings);
          if (!(r.sources ?? []).includes(repository))
            r.sources = [...(r.sources ?? []), repository];
        });
      },
    };
  }

  async pull(ref: string, options: PullOptions): Promise<void> {
    await this.#withLease((lease) =>
      pull(this.#distributionHost(lease), {
        ref,
        auth: options.auth ?? {},
        onProgress: options.onProgress ?? ((): void => undefined),
        ...(options.platform !== undefined ? { platform: options.platform } : {}),
        ...(options.allTags ? { allTags: true } : {}),
      }),
    );
    this.#events.publish({ Type: 'image', Action: 'pull', id: ref, attributes: { name: ref } });
  }

  async push(ref: string, options: PushOptions): Promise<void> {
    await this.#withLease((lease) =>
      push(this.#distributionHost(lease), {
        ref,
        auth: options.auth ?? {},
        onProgress: options.onProgress ?? ((): void => undefined),
      }),
    );
    this.#events.publish({ Type: 'image', Action: 'push', id: ref, attributes: { name: ref } });
  }

  // ---- unpacking -------------------------------------------------------------------------

  async unpack(image: ImageRecord): Promise<string | undefined> {
    const lease = this.#lease();
    try {
      await this.#unpackLeased(image, lease);
    } finally {
      await this.#release(lease, false);
    }
    return image.chainIDs[image.chainIDs.length - 1];
  }

  /**
   * Unpacks the image's layers in chain order, each once `ready(index)` has resolved (its
   * blob is stored); the content size of each layer unpacked now, undefined for those that
   * already were.
   */
  async #unpackLeased(
    image: ImageRecord,
    lease: Lease,
    options: UnpackProgress = {},
  ): Promise<(number | undefined)[]> {
    const { ready, onLayer } = options;
    const sizes: (number | undefined)[] = [];
    const chain = chainIDs(image.config.rootfs.diff_ids);
    for (const c of chain) lease.snapshots.add(c);
    const manifest = await this.#manifest(image.manifest);
    if (manifest.layers.length !== chain.length) {
      throw new InvalidArgumentError(`image ${image.id}: manifest and config disagree on layers`);
    }
    for (const [i, key] of chain.entries()) {
      const layer = manifest.layers[i];
      const diffID = image.config.rootfs.diff_ids[i];
      if (!layer || !diffID) continue;
      lease.digests.add(layer.digest);
      await ready?.(i);
      onLayer?.(i, 'start');
      sizes[i] = await this.#unpacking.withLock(key, () =>
        this.#unpackLayer(
          key,
          i > 0 ? chain[i - 1] : undefined,
          layer.digest as Digest,
          diffID,
          lease,
        ),
      );
      onLayer?.(i, 'done');
    }
    return sizes;
  }

  async #unpackLayer(
    chainID: string,
    parent: string | undefined,
    blob: Digest,
    diffID: string,
    lease: Lease,
  ): Promise<number | undefined> {
    try {
      const info = await this.#snapshots.stat(chainID);
      if (info.kind === 'committed') return undefined;
      throw new SystemError(`snapshot ${chainID} exists but is not committed`);
    } catch (err: unknown) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    const key = `${tmpKeyPrefix}unpack-${randomBytes(8).toString('hex')}`;
    lease.snapshots.add(key);
    const mounts = await this.#snapshots.prepare(key, parent);
    let committed = false;
    try {
      const only = mounts.length === 1 ? mounts[0] : undefined;
      let result: { diffID: string; contentSize: number };
      const reader = await this.#content.reader(blob);
      if (only && only.type === 'bind') {
        result = await applyLayer(only.source, reader, this.#applyOptions());
      } else {
        const target = await fs.mkdtemp(path.join(this.#tmp, 'mnt-'));
        try {
          await mountAll(mounts, target);
          try {
            result = await applyLayer(target, reader, this.#applyOptions());
          } finally {
            await unmount(target);
          }
        } finally {
          await fs.rmdir(target);
        }
      }
      if (result.diffID !== diffID) {
        throw new InvalidArgumentError(
          `layer ${blob} has diff ID ${result.diffID}, the image config says ${diffID}`,
        );
      }
      try {
        await this.#snapshots.commit(chainID, key, { labels: { [diffIDLabel]: diffID } });
        committed = true;
      } catch (err: unknown) {
        // Someone committed the same layer meanwhile; theirs is as good as ours.
        if (!(err instanceof ConflictError)) throw err;
      }
      return result.contentSize;
    } finally {
      if (!committed) await this.#discardSnapshot(key);
    }
  }

  #applyOptions(): ApplyOptions {
    return this.#ids ? { whiteouts: 'remove', ids: this.#ids } : { whiteouts: 'remove' };
  }

  async #discardSnapshot(key: string): Promise<void> {
    try {
      await this.#snapshots.remove(key);
    } catch (err: unknown) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
}

export interface NewImageServiceOptions {
  /** Directory for the records file and staging areas. */
  root: string;
  content: Store;
  snapshotter: Snapshotter;
  events: Events;
  /** The static busybox that `bootstrap` builds from; default /bin/busybox. */
  busyboxPath?: string;
  /** `GraphDriver.Name` in inspect: 'overlay2' (the default), or 'vfs' over the native snapshotter. */
  graphDriverName?: string;
  /**
   * The owner shift of a remapped daemon (--userns-remap): layer files are written owned by
   * the host ids their tar ids map to. The snapshotter must then hold only shifted layers.
   */
  ids?: IdShift;
  /** Registries: mirrors, insecure hosts, certs.d, concurrency. Defaults as dockerd's. */
  distribution?: Partial<DistributionOptions>;
}

/** Opens the image service: reads the records and collects what a crash may have left. */
export async function newImageService(options: NewImageServiceOptions): Promise<ImageService> {
  const images = new Images(options);
  await images.open();
  return images satisfies ImageService;
}

/** `until` of a prune filter (timestamp, RFC 3339 or a Go duration before now) in ms. */
function pruneUntil(values: string[] | undefined): number | undefined {
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) throw new InvalidArgumentError('more than one until filter specified');
  const v = values[0] ?? '';
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1e3,
    m: 6e4,
    h: 3.6e6,
  };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(v); m; m = re.exec(v)) {
    total += Number(m[1]) * (units[m[2] ?? 's'] ?? 0);
    consumed = re.lastIndex;
  }
  if (consumed === v.length && v !== '') return Date.now() - total;
  const t = Date.parse(v);
  if (Number.isNaN(t))
    throw new InvalidArgumentError(`failed to parse value as time or duration: "${v}"`);
  return t;
}

/** The `label` / `label!` prune filters: `key` or `key=value`, all of them must hold. */
function labelFilter(
  filters: Record<string, string[]>,
): (labels: Record<string, string>) => boolean {
  const test = (labels: Record<string, string>, spec: string): boolean => {
    const i = spec.indexOf('=');
    if (i < 0) return spec in labels;
    return labels[spec.slice(0, i)] === spec.slice(i + 1);
  };
  const want = filters.label ?? [];
  const not = filters['label!'] ?? [];
  return (labels) => want.every((s) => test(labels, s)) && !not.some((s) => test(labels, s));
}
