import type { Readable } from 'node:stream';
import { InvalidArgumentError } from '../errors/index.js';

/**
 * The build service: a Dockerfile and a context into an image, step by step as Docker's
 * classic builder does it. Each step gives an image (metadata steps an `empty_layer` history
 * entry, RUN a container's changes, COPY/ADD the copied files); a step is taken from the cache
 * when an image exists with the same parent and the same cache key (the instruction after
 * expansion, plus the content and metadata of COPY/ADD sources). Cache keys live in the image
 * records (`buildKey`), so the cache survives restarts and goes with the images. With
 * `cacheFrom`, dockerd's rule instead: a step is the next history entry of a cache-from image
 * whose history and layers continue the parent's, when that entry's `created_by` is the step's;
 * the local cache counts only for ancestors of those images.
 *
 * The stages the target needs are built concurrently, each waiting for another stage only at
 * the step that uses it; their output is given whole per stage, in Dockerfile order, so the
 * "Step N/M" lines read as the classic builder's. The first failing stage fails the build: the
 * others are cancelled (their RUN commands killed, containers removed), and when more than one
 * stage was built the error names the step and the Dockerfile line it failed at.
 *
 * Persisted state: none of its own; scratch space under `<tmp>/build-<random>` is removed when
 * the build ends (and any left by a crash is removed when the service opens).
 */

export interface BuildRequest {
  /** Names to tag the result with, `repo[:tag]`. */
  tags: string[];
  /** Path of the Dockerfile inside the context; `Dockerfile` by default. */
  dockerfile: string;
  /** `--build-arg`: a null value takes it from the daemon's environment (unset here). */
  buildArgs: Record<string, string | null>;
  /** `--label`: set on the final image. */
  labels: Record<string, string>;
  /** Build only up to this stage (its name); the last stage when empty. */
  target: string;
  noCache: boolean;
  /** Pull FROM images even when present (an absent one is always pulled). */
  pull: boolean;
  /** Suppress the command output (`-q`): only the image ID is streamed at the end. */
  quiet: boolean;
  /** RUN containers' network mode (`default`, `none`, `host`). */
  networkMode: string;
  /** `host:ip` lines added to RUN containers' /etc/hosts. */
  extraHosts: string[];
  /** Images whose steps may be used as cache (`--cache-from`); absent ones are passed over. */
  cacheFrom: string[];
  /** Remove intermediate containers (always done; kept for the API's `rm`/`forcerm`). */
  remove: boolean;
  /** `os/arch` for scratch images. */
  platform?: string;
  /**
   * Secrets by id for `RUN --mount=type=secret`: their bytes. Held in memory only; never
   * written to disk, a record, an image, its history or a cache key.
   */
  secrets?: ReadonlyMap<string, Buffer>;
  signal?: AbortSignal;
}

/** One message of the progress stream, as dockerd's JSON messages. */
export type BuildMessage =
  | { stream: string }
  | { aux: { ID: string } }
  | { status: string; id?: string }
  | { errorDetail: { message: string; code?: number }; error: string };

export interface BuildResult {
  /** The final image's ID (`sha256:...`). */
  id: string;
  /** The familiar names it was tagged with. */
  tags: string[];
}

export interface BuildService {
  /**
   * Runs a build from a context stream (a tar, possibly compressed, or a bare Dockerfile).
   * Progress goes to `progress` as it happens. A failed step rejects with the error (an
   * InvalidArgumentError for bad input, a BuildStepError for a failed RUN); nothing is tagged
   * then, and the images of the steps that succeeded stay as cache.
   */
  build(
    context: Readable,
    request: BuildRequest,
    progress: (m: BuildMessage) => void,
  ): Promise<BuildResult>;
  /**
   * `POST /build/prune`: removes build cache, i.e. untagged step images that no tagged image
   * and no container stands on (all untagged step images with `all`).
   */
  prune(options: { all: boolean }): Promise<{ CachesDeleted: string[]; SpaceReclaimed: number }>;
  /**
   * `POST /berth/build/secrets`: holds secrets in memory for one coming build and returns the
   * one-use handle that build names them by; the buffers are the store's from then on.
   * InvalidArgumentError for a bad id or size, UnavailableError when too many are waiting.
   */
  stageSecrets(secrets: ReadonlyMap<string, Buffer>): string;
  /**
   * Claims staged secrets (the handle is spent). NotFoundError when unknown, used or expired.
   * The caller wipes them once the build ends.
   */
  takeSecrets(handle: string): Map<string, Buffer>;
}

/** A RUN step whose command exited non-zero (dockerd's code is its exit status). */
export class BuildStepError extends InvalidArgumentError {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}
