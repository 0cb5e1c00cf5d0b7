import { InvalidArgumentError, NotFoundError } from '../../errors/index.js';
import {
  MediaType,
  type Descriptor,
  type Index,
  type Manifest,
  type Platform,
} from '../../spec/oci-image.js';

/**
 * Manifests as registries serve them: parsed, then validated, before anything is fetched on
 * their word. OCI image manifest and index, Docker schema2 manifest and manifest list; schema1
 * is refused as current dockerd refuses it.
 */

export type ManifestDocument =
  | { kind: 'manifest'; mediaType: string; manifest: Manifest }
  | { kind: 'index'; mediaType: string; index: Index };

const schema1Types = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
]);
const manifestTypes = new Set<string>([MediaType.ociManifest, MediaType.dockerManifest]);
const indexTypes = new Set<string>([MediaType.ociIndex, MediaType.dockerManifestList]);

/** Layer media types berth can unpack. */
export const supportedLayerTypes: ReadonlySet<string> = new Set([
  MediaType.ociLayer,
  MediaType.ociLayerGzip,
  MediaType.dockerLayer,
  MediaType.dockerLayerGzip,
]);

/** What a registry is asked for, best first. */
export const manifestAccept: readonly string[] = [
  MediaType.ociIndex,
  MediaType.dockerManifestList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
];

const digestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** The message dockerd gives for a schema1 image. */
export function schema1Message(reference: string): string {
  return (
    `[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, schema 1 ` +
    `support has been removed. Suggest the author of ${reference} to upgrade the image to the ` +
    `OCI Format or Docker Image manifest v2, schema 2. More information at ` +
    `https://docs.docker.com/go/deprecated-image-specs/`
  );
}

function checkDescriptor(d: unknown, what: string): Descriptor {
  if (d === null || typeof d !== 'object') throw new InvalidArgumentError(`${what}: not an object`);
  const o = d as Record<string, unknown>;
  if (typeof o.mediaType !== 'string' || o.mediaType === '')
    throw new InvalidArgumentError(`${what}: missing mediaType`);
  if (typeof o.digest !== 'string' || !digestRe.test(o.digest))
    throw new InvalidArgumentError(`${what}: invalid digest ${JSON.stringify(o.digest)}`);
  if (!o.digest.startsWith('sha256:') || !/^sha256:[a-f0-9]{64}$/.test(o.digest))
    throw new InvalidArgumentError(`${what}: unsupported digest ${o.digest}`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0)
    throw new InvalidArgumentError(`${what}: invalid size`);
  return o as unknown as Descriptor;
}

/**
 * Parses and validates a manifest body. `contentType` is the response's Content-Type, used
 * when the body carries no mediaType. `reference` names the image in messages.
 */
export function parseManifestDocument(
  body: Buffer,
  contentType: string | undefined,
  reference: string,
): ManifestDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch (cause: unknown) {
    throw new InvalidArgumentError(`manifest for ${reference} is not valid JSON`, { cause });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new InvalidArgumentError(`manifest for ${reference} is not a JSON object`);
  const o = raw as Record<string, unknown>;
  const headerType = (contentType ?? '').split(';')[0]?.trim() ?? '';
  if (o.schemaVersion === 1 || schema1Types.has(headerType)) {
    throw new InvalidArgumentError(schema1Message(reference));
  }
  if (o.schemaVersion !== 2)
    throw new InvalidArgumentError(
      `manifest for ${reference}: unsupported schemaVersion ${JSON.stringify(o.schemaVersion)}`,
    );
  let mediaType = typeof o.mediaType === 'string' ? o.mediaType : headerType;
  if (mediaType === '' || mediaType === 'application/json') {
    mediaType = Array.isArray(o.manifests) ? MediaType.ociIndex : MediaType.ociManifest;
  }
  if (indexTypes.has(mediaType)) {
    if (!Array.isArray(o.manifests))
      throw new InvalidArgumentError(`manifest list for ${reference}: missing manifests`);
    o.manifests.forEach((m, i) => checkDescriptor(m, `manifest list for ${reference}, entry ${i}`));
    return { kind: 'index', mediaType, index: o as unknown as Index };
  }
  if (!manifestTypes.has(mediaType))
    throw new InvalidArgumentError(
      `manifest for ${reference}: unsupported manifest media type ${mediaType}`,
    );
  const config = checkDescriptor(o.config, `manifest for ${reference}, config`);
  if (!Array.isArray(o.layers))
    throw new InvalidArgumentError(`manifest for ${reference}: missing layers`);
  const layers = o.layers.map((l, i) =>
    checkDescriptor(l, `manifest for ${reference}, layer ${i}`),
  );
  if (config.mediaType !== MediaType.ociConfig && config.mediaType !== MediaType.dockerConfig) {
    throw new InvalidArgumentError(
      `manifest for ${reference}: not a container image (config media type ${config.mediaType})`,
    );
  }
  for (const l of layers) {
    if (l.mediaType === MediaType.ociLayerZstd || l.mediaType.endsWith('+zstd')) {
      throw new InvalidArgumentError(
        `layer ${l.digest} of ${reference} is zstd-compressed, which berth cannot unpack (Node 20's zlib has no zstd)`,
      );
    }
    if (!supportedLayerTypes.has(l.mediaType)) {
      throw new InvalidArgumentError(
        `layer ${l.digest} of ${reference}: unsupported media type ${l.mediaType}`,
      );
    }
  }
  return { kind: 'manifest', mediaType, manifest: o as unknown as Manifest };
}

const archAliases: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armhf: 'arm',
  armel: 'arm',
  i386: '386',
};

/** Normalises a platform as containerd's platforms.Normalize does (arm64 → v8, arm → v7). */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  const architecture = archAliases[p.architecture.toLowerCase()] ?? p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  if (architecture === 'arm64' && (variant === '8' || variant === undefined || variant === ''))
    variant = 'v8';
  if (architecture === 'arm' && (variant === undefined || variant === '')) variant = 'v7';
  if (architecture === 'arm' && /^[5-8]$/.test(variant ?? '')) variant = `v${variant}`;
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  const out: Platform = { os, architecture };
  if (variant !== undefined && variant !== '') out.variant = variant;
  return out;
}

export function hostArchitecture(): string {
  const map: Record<string, string> = {
    x64: 'amd64',
    arm64: 'arm64',
    arm: 'arm',
    ia32: '386',
    ppc64: 'ppc64le',
    s390x: 's390x',
    riscv64: 'riscv64',
  };
  return map[process.arch] ?? process.arch;
}

/**
 * `--platform`: `os[/arch[/variant]]`, or an architecture alone; empty means linux/<host arch>.
 * InvalidArgumentError for anything else.
 */
export function parsePlatformSpec(spec: string | undefined): Platform {
  if (spec === undefined || spec.trim() === '') {
    return normalizePlatform({ os: 'linux', architecture: hostArchitecture() });
  }
  const parts = spec.trim().toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p)))
    throw new InvalidArgumentError(`"${spec}": invalid platform, expected os[/arch[/variant]]`);
  const [first = '', arch, variant] = parts;
  const knownOs = new Set(['linux', 'windows', 'darwin', 'freebsd']);
  if (parts.length === 1 && !knownOs.has(first)) {
    return normalizePlatform({ os: 'linux', architecture: first });
  }
  const p: Platform = { os: first, architecture: arch ?? hostArchitecture() };
  if (variant !== undefined) p.variant = variant;
  return normalizePlatform(p);
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/');
}

/**
 * The entry of an index for `want`: same os and architecture; the same variant when `want`
 * names one (arm64 without a variant is v8), else the entry without a variant first.
 * Attestation entries (`unknown/unknown`) never match. NotFoundError with dockerd's message
 * when nothing does.
 */
export function selectPlatform(index: Index, want: Platform): Descriptor {
  const w = normalizePlatform(want);
  const candidates = index.manifests.filter((m) => {
    if (!m.platform || !manifestTypes.has(m.mediaType)) return false;
    const p = normalizePlatform(m.platform);
    return p.os === w.os && p.architecture === w.architecture;
  });
  const exact = candidates.find(
    (m) => normalizePlatform(m.platform as Platform).variant === w.variant,
  );
  const chosen =
    exact ??
    (w.variant === undefined
      ? candidates.find((m) => m.platform?.variant === undefined)
      : undefined);
  if (!chosen) {
    throw new NotFoundError(
      `no matching manifest for ${formatPlatform(w)} in the manifest list entries`,
    );
  }
  return chosen;
}
