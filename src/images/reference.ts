import { InvalidArgumentError } from '../errors/index.js';

/**
 * Docker image references (`[domain/]path[:tag][@digest]`), parsed and normalised the way
 * Docker's distribution/reference package does: `busybox` is `docker.io/library/busybox`, a
 * first component is a domain only when it has a `.` or `:`, is `localhost`, or has capitals.
 */
export interface Reference {
  /** Registry host and port: `docker.io`, `localhost:5000`. */
  domain: string;
  /** Repository path inside the registry: `library/busybox`. */
  path: string;
  tag?: string;
  digest?: string;
}

export const defaultDomain = 'docker.io';
const legacyDefaultDomain = 'index.docker.io';
const officialRepoPrefix = 'library/';
const nameTotalLengthMax = 255;

const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainAndPort = `(?:${domainName}|${ipv6})(?::[0-9]+)?`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const namePattern = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;

const referenceRegexp = new RegExp(
  `^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`,
);
const anchoredTag = new RegExp(`^${tagPattern}$`);
const anchoredDomain = new RegExp(`^(${domainAndPort})/(.*)$`);
const anchoredIdentifier = /^[a-f0-9]{64}$/;
const digestLengths: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** Checks an OCI digest string the way go-digest's Parse does, with its messages. */
export function validateDigest(s: string): string {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 >= s.length) throw new InvalidArgumentError('invalid checksum digest format');
  const algorithm = s.slice(0, i);
  const hex = s.slice(i + 1);
  const want = digestLengths[algorithm];
  if (want === undefined) {
    if (!/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/.test(algorithm)) {
      throw new InvalidArgumentError('invalid checksum digest format');
    }
    throw new InvalidArgumentError('unsupported digest algorithm');
  }
  if (hex.length !== want) throw new InvalidArgumentError('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(hex)) throw new InvalidArgumentError('invalid checksum digest format');
  return s;
}

/** Parses a reference that is already fully qualified (Docker's reference.Parse). */
function parseQualified(s: string): Reference {
  const m = referenceRegexp.exec(s);
  if (!m) {
    if (s === '') {
      throw new InvalidArgumentError('repository name must have at least one component');
    }
    if (referenceRegexp.test(s.toLowerCase())) {
      throw new InvalidArgumentError('invalid reference format: repository name must be lowercase');
    }
    throw new InvalidArgumentError('invalid reference format');
  }
  const name = m[1] ?? '';
  if (name.length > nameTotalLengthMax) {
    throw new InvalidArgumentError(
      `repository name must not be more than ${nameTotalLengthMax} characters`,
    );
  }
  const d = anchoredDomain.exec(name);
  const ref: Reference =
    d && (d[1] ?? '').length > 0
      ? { domain: d[1] ?? '', path: d[2] ?? '' }
      : { domain: '', path: name };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) ref.digest = validateDigest(m[3]);
  return ref;
}

function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i === -1 ? '' : name.slice(0, i);
  if (i === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = defaultDomain;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === legacyDefaultDomain) domain = defaultDomain;
  if (domain === defaultDomain && !remainder.includes('/')) {
    remainder = officialRepoPrefix + remainder;
  }
  return { domain, remainder };
}

/**
 * Parses a name as the docker CLI and dockerd accept it (`ParseNormalizedNamed`), filling in
 * `docker.io` and `library/`. InvalidArgumentError with Docker's message when it is not one.
 */
export function parseNormalizedNamed(s: string): Reference {
  if (anchoredIdentifier.test(s)) {
    throw new InvalidArgumentError(
      `invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`,
    );
  }
  const { domain, remainder } = splitDockerDomain(s);
  const tagSep = remainder.indexOf(':');
  const remoteName = tagSep > -1 ? remainder.slice(0, tagSep) : remainder;
  if (remoteName.toLowerCase() !== remoteName) {
    throw new InvalidArgumentError(
      `invalid reference format: repository name (${remoteName}) must be lowercase`,
    );
  }
  const ref = parseQualified(`${domain}/${remainder}`);
  if (ref.domain === '') {
    // Only reachable when the domain part itself is malformed.
    throw new InvalidArgumentError('invalid reference format');
  }
  return ref;
}

/** A reference or an image ID, as dockerd's ParseAnyReference tells them apart. */
export type AnyReference = { kind: 'id'; digest: string } | { kind: 'named'; ref: Reference };

export function parseAnyReference(s: string): AnyReference {
  if (anchoredIdentifier.test(s)) return { kind: 'id', digest: `sha256:${s}` };
  if (/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:/.test(s)) {
    try {
      return { kind: 'id', digest: validateDigest(s) };
    } catch (err: unknown) {
      if (!(err instanceof InvalidArgumentError)) throw err;
    }
  }
  return { kind: 'named', ref: parseNormalizedNamed(s) };
}

/** `docker.io/library/busybox`. */
export function fullName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The name as Docker shows it: `busybox`, `user/app`, `localhost:5000/app`. */
export function familiarName(ref: Reference): string {
  if (ref.domain !== defaultDomain) return fullName(ref);
  return ref.path.startsWith(officialRepoPrefix) &&
    !ref.path.slice(officialRepoPrefix.length).includes('/')
    ? ref.path.slice(officialRepoPrefix.length)
    : ref.path;
}

function suffix(ref: Reference): string {
  return (ref.tag !== undefined ? `:${ref.tag}` : '') + (ref.digest ? `@${ref.digest}` : '');
}

/** `busybox:latest`, `busybox@sha256:...`. */
export function familiarString(ref: Reference): string {
  return familiarName(ref) + suffix(ref);
}

/** `docker.io/library/busybox:latest`. */
export function referenceString(ref: Reference): string {
  return fullName(ref) + suffix(ref);
}

/** Adds the tag `latest` to a reference with neither tag nor digest. */
export function tagNameOnly(ref: Reference): Reference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

/**
 * Parses the target of a tag (`repo[:tag]`) into its familiar `repo:tag` form, refusing digests
 * as dockerd does.
 */
export function parseTagTarget(repo: string, tag?: string): Reference {
  if (tag !== undefined && tag !== '' && !anchoredTag.test(tag)) {
    throw new InvalidArgumentError('invalid tag format');
  }
  const parsed = parseNormalizedNamed(repo);
  if (parsed.digest !== undefined) {
    throw new InvalidArgumentError('refusing to create a tag with a digest reference');
  }
  const ref = tag !== undefined && tag !== '' ? { ...parsed, tag } : tagNameOnly(parsed);
  if (familiarName(ref) === 'sha256' && ref.tag !== undefined && anchoredIdentifier.test(ref.tag)) {
    throw new InvalidArgumentError(
      'refusing to create an ambiguous tag using digest algorithm as name',
    );
  }
  return ref;
}

/** The familiar `repo:tag` of a name given by a user (`busybox` → `busybox:latest`). */
export function normalizeTag(s: string): string {
  return familiarString(parseTagTarget(s));
}
