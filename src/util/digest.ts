import { createHash, randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors/index.js';

/** An OCI digest: `sha256:` and 64 lowercase hex digits. */
export type Digest = `sha256:${string}`;

const digestPattern = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): s is Digest {
  return digestPattern.test(s);
}

/** Parses a digest from outside, refusing anything that is not a sha256 digest. */
export function parseDigest(s: string): Digest {
  if (!isDigest(s)) throw new InvalidArgumentError(`invalid digest ${JSON.stringify(s)}`);
  return s;
}

export function sha256(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function hexOf(d: Digest): string {
  return d.slice('sha256:'.length);
}

/** A new 64-hex-digit identifier, as Docker gives containers and exec sessions. */
export function newId(): string {
  return randomBytes(32).toString('hex');
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
