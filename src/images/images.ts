import type { Readable, Writable } from 'node:stream';
import type { ImageConfig } from '../spec/oci-image.js';
import type { ImageSummary } from '../spec/engine.js';
import type { Digest } from '../util/digest.js';
import type { AuthConfig } from '../registry/client/auth-config.js';
import type { ProgressEvent } from './progress.js';

/**
 * The image service: image records by name and ID over the content store (manifests, configs,
 * layer blobs) and the snapshotter (unpacked layers, keyed by chain ID).
 *
 * Persisted schema (written atomically, one file): `<root>/images.json` =
 *   { "version": 1, "images": { "<config digest>": ImageRecord }, }
 * Tags live inside the records; a name belongs to at most one image.
 *
 * Names are Docker references: `busybox`, `busybox:1`, `library/busybox`,
 * `docker.io/library/busybox:latest` all name `busybox:latest`; images are also found by full
 * ID, `sha256:`-less ID, unique ID prefix, and `name@digest` for a repo digest.
 */

export interface ImageRecord {
  /** The config's digest: the image ID. */
  id: Digest;
  /** Digest of the manifest in the content store. */
  manifest: Digest;
  /** Normalised familiar names, `busybox:latest`. */
  repoTags: string[];
  repoDigests: string[];
  /** The parsed image config (also in the content store under `id`). */
  config: ImageConfig;
  /** Chain IDs of the layers, bottom first: the snapshot keys of the unpacked layers. */
  chainIDs: string[];
  /** Sum of uncompressed layer sizes. */
  size: number;
  /**
   * Per layer, bottom first, what Docker reports as its size (file bytes and symlink target
   * lengths); their sum is `size`. Absent in records written before it existed.
   */
  layerSizes?: number[];
  /** ISO time a name was last given to the image (`Metadata.LastTagTime`). */
  lastTagTime?: string;
  /** For images made by commit or build: the ID of the image they were made from. */
  parent?: Digest;
  /** ISO time when berth first stored the image. */
  added: string;
  /**
   * For a builder step's image: the step's cache key (instruction after expansion, sources'
   * content digest). A later step with the same parent and key reuses this image.
   */
  buildKey?: string;
  /**
   * Repositories (`127.0.0.1:5000/app`) the image's blobs were pulled from or pushed to: a push
   * to another repository of the same registry mounts blobs from them instead of uploading.
   */
  sources?: string[];
}

export interface RemoveResult {
  Untagged?: string;
  Deleted?: string;
}

export interface ImportOptions {
  /** `repo[:tag]` to tag the new image with. */
  reference?: string;
  /** Dockerfile-style instructions applied to the config: CMD, ENTRYPOINT, ENV, EXPOSE, ... */
  changes?: string[];
  message?: string;
  platform?: string;
}

export interface CommitOptions {
  /** The image the container runs. */
  parent: ImageRecord;
  /** Tar stream of the container's changes (OCI whiteouts). */
  diff: Readable;
  /** Container config to store as the image's defaults. */
  config: ImageConfig['config'];
  reference?: string;
  comment?: string;
  author?: string;
  changes?: string[];
  /** The container's ID, recorded as `container`. */
  container?: string;
  createdBy?: string;
}

export interface BuildImageOptions {
  /** The image the step ran on; undefined for a first step on `scratch`. */
  parent?: ImageRecord;
  /** The new image's container defaults, whole (they replace the parent's). */
  config: ImageConfig['config'];
  /** The history entry's `created_by`. */
  createdBy: string;
  /**
   * The step's changes as a layer tar (OCI whiteouts). Absent, or an empty tar, gives no new
   * layer and a history entry with `empty_layer`.
   */
  diff?: Readable;
  /** The builder's cache key for the step, kept as the record's `buildKey`. */
  buildKey?: string;
  /** ISO time for `created` (the history entry's too); now when absent. */
  created?: string;
  /** `os/arch[/variant]` for an image on scratch; the parent's otherwise. */
  platform?: string;
  /**
   * A step taken from another image (a `--cache-from` one, whose history continues the
   * parent's): its history entry `historyIndex` as it is (`createdBy`, `created` and `diff` are
   * then not used), with that entry's layer of `image` when it has one.
   */
  restore?: { image: ImageRecord; historyIndex: number };
}

export interface LoadResult {
  /** `Loaded image: name:tag` / `Loaded image ID: sha256:...` lines, as docker load prints. */
  messages: string[];
}

export interface PullOptions {
  /** `os[/arch[/variant]]`; default linux/<host arch>. */
  platform?: string;
  /** Credentials from `X-Registry-Auth`; anonymous when empty. */
  auth?: AuthConfig;
  /** Every tag of the repository (`docker pull -a`). */
  allTags?: boolean;
  /** Called for each progress message, in dockerd's JSON shape. */
  onProgress?: (event: ProgressEvent) => void;
}

export interface PushOptions {
  auth?: AuthConfig;
  onProgress?: (event: ProgressEvent) => void;
}

export interface ImageService {
  /** Every image. */
  list(): Promise<ImageRecord[]>;
  /** Resolves a reference or ID; NotFoundError("No such image: <ref>") when nothing matches. */
  get(ref: string): Promise<ImageRecord>;
  /**
   * Summaries as `GET /images/json` returns them. `containers` counts users per image ID; an
   * image absent from it shows `Containers: -1` (not counted), as dockerd's list does.
   */
  summaries(containers: Map<string, number>): Promise<ImageSummary[]>;
  /** The body of `GET /images/{name}/json`. */
  inspect(ref: string): Promise<Record<string, unknown>>;
  /** The body of `GET /images/{name}/history`. */
  history(ref: string): Promise<Record<string, unknown>[]>;
  /** Adds `target` (`repo[:tag]`) as a name of the image `source` names; moves it if taken. */
  tag(source: string, target: string): Promise<void>;
  /**
   * `DELETE /images/{name}`: untags a name or deletes an image, as dockerd does. `inUse` tells
   * whether a container uses an image ID (then ConflictError unless force). Layers and blobs no
   * image references any more are removed.
   */
  remove(
    ref: string,
    options: {
      force: boolean;
      noprune: boolean;
      inUse: (id: string) => boolean;
      /**
       * A container using the image ID, when the caller can tell: gives dockerd's exact
       * conflict messages (running containers cannot be forced past, stopped ones can).
       */
      user?: (id: string) => { id: string; running: boolean } | undefined;
    },
  ): Promise<RemoveResult[]>;
  /** `POST /images/prune`. */
  prune(options: {
    danglingOnly: boolean;
    inUse: (id: string) => boolean;
    user?: (id: string) => { id: string; running: boolean } | undefined;
    filters: Record<string, string[]>;
  }): Promise<{ ImagesDeleted: RemoveResult[]; SpaceReclaimed: number }>;
  /** A one-layer image from a rootfs tarball (`docker import`). */
  importRootfs(tar: Readable, options: ImportOptions): Promise<ImageRecord>;
  /** docker-archive or OCI image-layout tarball (`docker load`). */
  load(tar: Readable): Promise<LoadResult>;
  /** Writes a docker-archive tarball that also is an OCI image layout (`docker save`). */
  save(refs: string[], out: Writable): Promise<void>;
  /**
   * A built-in image made on this machine with no registry: `busybox[:tag]` from the host's
   * busybox-static, or `debian:<suite>[-slim]` from Debian's packages with mmdebstrap (mirror
   * from the host's apt sources). An image already tagged so is returned as it is. Anything
   * else is an InvalidArgumentError; a failed build tags nothing.
   */
  bootstrap(name: string, options?: BootstrapOptions): Promise<ImageRecord>;
  /** One builder step's image: a parent (or nothing), new defaults, maybe a layer. */
  build(options: BuildImageOptions): Promise<ImageRecord>;
  /** An image from a container's changes (`docker commit`). */
  commit(options: CommitOptions): Promise<ImageRecord>;
  /**
   * Makes sure every layer of the image is unpacked as a committed snapshot; returns the top
   * chain ID (the parent for a container's writable snapshot), or undefined for no layers.
   */
  unpack(image: ImageRecord): Promise<string | undefined>;
  /**
   * `POST /images/create?fromImage=`: pulls from a registry. Nothing is tagged until every
   * layer and the config are committed (verified) and unpacked. Errors before the first
   * progress message are the caller's to report as a status; later ones end the stream.
   */
  pull(ref: string, options: PullOptions): Promise<void>;
  /** `POST /images/{name}/push`: the tag given, or every tag of the repository when none. */
  push(ref: string, options: PushOptions): Promise<void>;
  /** Bytes of every image blob and layer, for `/system/df`. */
  diskUsage(): Promise<{ layersSize: number }>;
}

export interface BootstrapOptions {
  /** Each progress line of a long build (mmdebstrap's), as it comes. */
  onProgress?: (line: string) => void;
  /** Stops the build; nothing is tagged. */
  signal?: AbortSignal;
}
