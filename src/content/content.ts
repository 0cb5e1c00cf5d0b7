import type { Readable } from 'node:stream';
import type { Digest } from '../util/digest.js';

/**
 * The content store: immutable blobs addressed by their sha256 digest, in the manner of
 * containerd's core/content. A blob becomes visible only after its digest has been verified.
 * Backends know nothing of garbage collection: callers decide what to delete.
 */

export interface Info {
  digest: Digest;
  size: number;
  /** When the blob was committed (its file's mtime). */
  createdAt: Date;
}

export interface Provider {
  /** Size and age of a committed blob; NotFoundError when absent. */
  info(digest: Digest): Promise<Info>;
  /** Streams a committed blob; NotFoundError when absent. */
  reader(digest: Digest): Promise<Readable>;
  /** The blob's path on disk, for callers that hand it to other programs; NotFoundError when absent. */
  path(digest: Digest): Promise<string>;
}

export interface Writer {
  /** Appends bytes; the digest is computed as they arrive. */
  write(chunk: Uint8Array): Promise<void>;
  /** Bytes written so far. */
  readonly written: number;
  /**
   * Verifies and publishes the blob. With `expected`, a mismatch throws InvalidArgumentError and
   * publishes nothing; likewise `size`. Committing content that already exists is not an error.
   */
  commit(expected?: Digest, size?: number): Promise<Info>;
  /** Discards what was written. Safe to call after commit (then a no-op). */
  abort(): Promise<void>;
}

export interface Ingester {
  /** Opens a writer for one new blob. Writers are independent; a crash leaves nothing visible. */
  writer(): Promise<Writer>;
}

export interface Manager {
  /** Every committed blob. */
  list(): Promise<Info[]>;
  /** Removes a blob; NotFoundError when absent. */
  delete(digest: Digest): Promise<void>;
}

export interface Store extends Provider, Ingester, Manager {}
