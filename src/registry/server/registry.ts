import type { Readable } from 'node:stream';
import type { Descriptor, ManifestMediaType } from './manifest.js';
import type { Reference, Sha256 } from './names.js';
import type { ByteRange } from './ranges.js';

/**
 * The registry's storage: repositories of manifests and tags over one content-addressed blob
 * pool shared (and deduplicated) by every repository. Failures are DistributionErrors carrying
 * the spec's codes (BLOB_UNKNOWN, MANIFEST_UNKNOWN, ...), since that is this API's vocabulary.
 */

export interface BlobInfo {
  digest: Sha256;
  size: number;
}

export interface UploadStatus {
  uuid: string;
  /** The repository the upload was started in; it completes only there. */
  name: string;
  /** Bytes acknowledged so far: they survive a crash of the server. */
  offset: number;
  startedAt: Date;
}

export interface StoredManifest {
  digest: Sha256;
  mediaType: ManifestMediaType;
  size: number;
  /** The bytes as pushed; absent for HEAD lookups. */
  body?: Buffer;
}

export interface GcReport {
  /** Blobs removed (or that would be, with dryRun). */
  blobsRemoved: Sha256[];
  bytesFreed: number;
  /** Upload sessions removed for having been idle longer than the upload age limit. */
  uploadsRemoved: string[];
}

export interface GcOptions {
  /** Blobs (and repository links to them) younger than this are kept though unreferenced. */
  graceMs: number;
  /** Upload sessions idle longer than this are removed; Infinity keeps them all. */
  uploadMaxAgeMs: number;
  dryRun?: boolean;
}

export interface BlobReader {
  /** The blob's info and how many bytes will be read. */
  info: BlobInfo;
  range: ByteRange | undefined;
  stream: Readable;
}

export interface RegistryStore {
  /** A blob linked into `name`, or BLOB_UNKNOWN. */
  statBlob(name: string, digest: Sha256): Promise<BlobInfo>;
  /** Opens a blob of `name` (optionally a byte range of it, already validated against its size). */
  openBlob(name: string, digest: Sha256, range?: ByteRange): Promise<BlobReader>;
  /** Unlinks a blob from `name` (the bytes go at the next GC); BLOB_UNKNOWN if not linked. */
  deleteBlob(name: string, digest: Sha256): Promise<void>;
  /** Links a blob of repository `from` into `name`; undefined when `from` does not have it. */
  mountBlob(name: string, from: string, digest: Sha256): Promise<BlobInfo | undefined>;

  /** Starts an upload session; TOOMANYREQUESTS when the session limit is reached. */
  startUpload(name: string): Promise<UploadStatus>;
  /** An upload's acknowledged state; BLOB_UPLOAD_UNKNOWN when absent or of another repository. */
  uploadStatus(name: string, uuid: string): Promise<UploadStatus>;
  /**
   * Appends a request body to an upload, durably: the returned offset is on disk. With
   * `start`, the chunk must begin at the acknowledged offset (else 416 BLOB_UPLOAD_INVALID);
   * with `length`, exactly that many bytes must arrive. A failed append leaves the upload at
   * its previous offset. SIZE_INVALID (413) past the upload size limit.
   */
  appendUpload(
    name: string,
    uuid: string,
    body: AsyncIterable<Uint8Array>,
    options?: { start?: number; length?: number },
  ): Promise<UploadStatus>;
  /**
   * Verifies the upload against `digest` and publishes it as a blob of `name` (atomically: the
   * blob is visible complete or not at all). DIGEST_INVALID on mismatch (the upload is dropped).
   */
  completeUpload(name: string, uuid: string, digest: Sha256): Promise<BlobInfo>;
  /** Drops an upload; BLOB_UPLOAD_UNKNOWN when absent. */
  cancelUpload(name: string, uuid: string): Promise<void>;

  /**
   * Validates and stores a manifest under a tag or its digest. MANIFEST_INVALID for a
   * malformed document, DIGEST_INVALID when pushed by a digest it does not have,
   * MANIFEST_BLOB_UNKNOWN when it references blobs or manifests `name` does not have.
   */
  putManifest(
    name: string,
    reference: Reference,
    body: Buffer,
    contentType: string | undefined,
  ): Promise<{ digest: Sha256; subject: Sha256 | undefined }>;
  /** A manifest by tag or digest, with its bytes when `withBody`; MANIFEST_UNKNOWN otherwise. */
  getManifest(name: string, reference: Reference, withBody: boolean): Promise<StoredManifest>;
  /**
   * By digest: removes the manifest and every tag pointing at it. By tag: removes the tag only.
   * MANIFEST_UNKNOWN when absent.
   */
  deleteManifest(name: string, reference: Reference): Promise<void>;
  /** Tags of `name`; NAME_UNKNOWN when the repository does not exist. */
  listTags(name: string): Promise<string[]>;
  /** Every repository name. */
  listRepositories(): Promise<string[]>;
  /** Descriptors of the manifests in `name` whose subject is `digest`. */
  referrers(name: string, digest: Sha256): Promise<Descriptor[]>;

  /**
   * Mark and sweep: removes blobs no manifest of any repository references, sparing those
   * younger than the grace period; runs alongside serving (manifest and blob publication wait
   * for it) and never touches an upload in flight.
   */
  gc(options: GcOptions): Promise<GcReport>;
}
