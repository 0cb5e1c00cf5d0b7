import { DistributionError } from './errors.js';

/**
 * Repository names, tags and digests as the Distribution Spec defines them. Anything that is
 * not matched here never reaches the filesystem, which is what refuses path traversal.
 */

const component = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const namePattern = new RegExp(`^${component}(?:/${component})*$`);
const tagPattern = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const digestPattern = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const sha256Pattern = /^sha256:[a-f0-9]{64}$/;

/** Longest repository name accepted (distribution's limit, which keeps paths short). */
export const MAX_NAME_LENGTH = 255;

export function isRepositoryName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && namePattern.test(name);
}

/** Throws NAME_INVALID unless `name` matches the spec's `<name>` grammar. */
export function checkName(name: string): string {
  if (!isRepositoryName(name)) throw new DistributionError('NAME_INVALID', { name });
  return name;
}

export function isTag(s: string): boolean {
  return tagPattern.test(s);
}

/** A digest this registry stores: sha256 only. */
export type Sha256 = `sha256:${string}`;

/**
 * Parses a digest from a request: anything outside the spec's digest grammar is
 * DIGEST_INVALID; a well-formed digest of another algorithm is refused the same way, since
 * this registry only computes sha256.
 */
export function parseDigestParam(s: string): Sha256 {
  if (!digestPattern.test(s) || !sha256Pattern.test(s)) {
    throw new DistributionError('DIGEST_INVALID', { digest: s }, { message: 'invalid digest' });
  }
  return s as Sha256;
}

export function isSha256(s: string): s is Sha256 {
  return sha256Pattern.test(s);
}

/** A manifest reference: a tag or a digest. */
export type Reference = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Sha256 };

/** Parses `<reference>`: a digest when it has a colon, else a tag; MANIFEST_INVALID/DIGEST_INVALID otherwise. */
export function parseReference(s: string): Reference {
  if (s.includes(':')) return { kind: 'digest', digest: parseDigestParam(s) };
  if (!isTag(s)) {
    throw new DistributionError('MANIFEST_INVALID', { reference: s }, { message: 'invalid tag' });
  }
  return { kind: 'tag', tag: s };
}
