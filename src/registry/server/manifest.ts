import { DistributionError } from './errors.js';
import { isSha256, type Sha256 } from './names.js';

/**
 * Manifests as the registry accepts them: parsed and validated before anything is stored. The
 * registry keeps the pushed bytes unchanged and serves them with the media type they were
 * pushed with.
 */

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
const SCHEMA1 = [
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
];

export type ManifestMediaType =
  typeof OCI_MANIFEST | typeof OCI_INDEX | typeof DOCKER_MANIFEST | typeof DOCKER_LIST;

export const MANIFEST_MEDIA_TYPES: readonly ManifestMediaType[] = [
  OCI_MANIFEST,
  OCI_INDEX,
  DOCKER_MANIFEST,
  DOCKER_LIST,
];

export interface Descriptor {
  mediaType: string;
  digest: Sha256;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
}

export interface ParsedManifest {
  mediaType: ManifestMediaType;
  /** Blobs that must exist in the repository (config and distributable layers). */
  blobs: Descriptor[];
  /** Manifests an index lists, which must exist in the repository. */
  manifests: Descriptor[];
  subject: Descriptor | undefined;
  /** The referrers API's artifactType: the manifest's own, else an image's config media type. */
  artifactType: string | undefined;
  annotations: Record<string, string> | undefined;
}

function invalid(detail: string): DistributionError {
  return new DistributionError('MANIFEST_INVALID', detail);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function annotationsOf(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isRecord(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw invalid(`${where}.annotations must be a map of strings`);
  }
  return v as Record<string, string>;
}

/** Validates one descriptor; MANIFEST_INVALID naming `where` when it is malformed. */
export function parseDescriptor(v: unknown, where: string): Descriptor {
  if (!isRecord(v)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size, artifactType, urls } = v;
  if (typeof mediaType !== 'string' || mediaType === '') {
    throw invalid(`${where}.mediaType is required`);
  }
  if (typeof digest !== 'string' || !isSha256(digest)) {
    throw invalid(`${where}.digest ${JSON.stringify(digest)} is not a sha256 digest`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}.size must be a non-negative integer`);
  }
  const d: Descriptor = { mediaType, digest, size };
  if (artifactType !== undefined) {
    if (typeof artifactType !== 'string') throw invalid(`${where}.artifactType must be a string`);
    d.artifactType = artifactType;
  }
  const annotations = annotationsOf(v.annotations, where);
  if (annotations) d.annotations = annotations;
  if (urls !== undefined) {
    if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string')) {
      throw invalid(`${where}.urls must be a list of strings`);
    }
    d.urls = urls as string[];
  }
  return d;
}

/** Layers that live elsewhere by design and are not required in the registry. */
function isForeignLayer(d: Descriptor): boolean {
  return (
    d.mediaType === 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' ||
    d.mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.')
  );
}

/**
 * Parses and validates a pushed manifest. `contentType` is the request's Content-Type (media
 * parameters ignored). Schema 1 and unknown media types are refused; a `mediaType` field must
 * agree with the Content-Type. Throws MANIFEST_INVALID with a detail saying why.
 */
export function parseManifest(body: Buffer, contentType: string | undefined): ParsedManifest {
  const ct = contentType?.split(';')[0]?.trim().toLowerCase() ?? '';
  if (SCHEMA1.includes(ct)) throw invalid('schema 1 manifests are not supported');
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (!isRecord(doc)) throw invalid('manifest must be a JSON object');
  if (doc.schemaVersion === 1) throw invalid('schema 1 manifests are not supported');
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  const field = doc.mediaType;
  if (field !== undefined && typeof field !== 'string') throw invalid('mediaType must be a string');
  let mediaType: string;
  if (MANIFEST_MEDIA_TYPES.includes(ct as ManifestMediaType)) {
    if (field !== undefined && field !== ct) {
      throw invalid(`mediaType ${field} does not match Content-Type ${ct}`);
    }
    mediaType = ct;
  } else if (typeof field === 'string') {
    mediaType = field;
  } else if (Array.isArray(doc.manifests)) {
    mediaType = OCI_INDEX;
  } else {
    mediaType = OCI_MANIFEST;
  }
  if (SCHEMA1.includes(mediaType)) throw invalid('schema 1 manifests are not supported');
  if (!MANIFEST_MEDIA_TYPES.includes(mediaType as ManifestMediaType)) {
    throw invalid(`unsupported manifest media type ${JSON.stringify(mediaType)}`);
  }
  const mt = mediaType as ManifestMediaType;
  const subject = doc.subject === undefined ? undefined : parseDescriptor(doc.subject, 'subject');
  if (doc.artifactType !== undefined && typeof doc.artifactType !== 'string') {
    throw invalid('artifactType must be a string');
  }
  const annotations = annotationsOf(doc.annotations, 'manifest');
  const blobs: Descriptor[] = [];
  const manifests: Descriptor[] = [];
  let artifactType = doc.artifactType as string | undefined;
  if (mt === OCI_MANIFEST || mt === DOCKER_MANIFEST) {
    if (doc.manifests !== undefined) throw invalid('an image manifest has no manifests field');
    const config = parseDescriptor(doc.config, 'config');
    if (!Array.isArray(doc.layers)) throw invalid('layers must be a list');
    const layers = doc.layers.map((l, i) => parseDescriptor(l, `layers[${i}]`));
    blobs.push(config, ...layers.filter((l) => !isForeignLayer(l)));
    artifactType ??= config.mediaType;
  } else {
    if (doc.layers !== undefined || doc.config !== undefined) {
      throw invalid('an index has no config or layers');
    }
    if (!Array.isArray(doc.manifests)) throw invalid('manifests must be a list');
    manifests.push(...doc.manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`)));
  }
  return { mediaType: mt, blobs, manifests, subject, artifactType, annotations };
}

/**
 * Accept negotiation on manifest GET: true when the client can take `mediaType`. No Accept
 * header, or one that names no manifest type at all, takes anything (the bytes are served as
 * pushed); otherwise the type, or a wildcard, must be listed.
 */
export function accepts(acceptHeader: string | undefined, mediaType: string): boolean {
  if (acceptHeader === undefined || acceptHeader.trim() === '') return true;
  const types = acceptHeader
    .split(',')
    .map((t) => t.split(';')[0]?.trim().toLowerCase() ?? '')
    .filter((t) => t !== '');
  if (types.includes(mediaType) || types.includes('*/*') || types.includes('application/*')) {
    return true;
  }
  const namesManifest = types.some(
    (t) => MANIFEST_MEDIA_TYPES.includes(t as ManifestMediaType) || SCHEMA1.includes(t),
  );
  return !namesManifest;
}
