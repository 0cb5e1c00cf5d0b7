import { NotFoundError } from '../errors/index.js';
import type { ImageRecord } from './images.js';
import { familiarString, parseAnyReference, tagNameOnly } from './reference.js';

/**
 * Finds the image a user's string names, in dockerd's order: an ID (`sha256:<64 hex>` or 64
 * hex), then a name (tag or repo digest), then a unique ID prefix. InvalidArgumentError for a
 * malformed name; NotFoundError (`No such image: busybox:latest`) when nothing matches.
 */
export function findImage(records: Iterable<ImageRecord>, s: string): ImageRecord {
  const list = [...records];
  const parsed = parseAnyReference(s);
  if (parsed.kind === 'id') {
    const hit = list.find((r) => r.id === parsed.digest);
    if (hit) return hit;
    throw new NotFoundError(`No such image: ${parsed.digest}`);
  }
  const named = tagNameOnly(parsed.ref);
  const key = familiarString(named);
  const byName = list.find((r) =>
    named.digest !== undefined
      ? r.repoDigests.includes(familiarString({ ...named, tag: undefined }))
      : r.repoTags.includes(key),
  );
  if (byName) return byName;
  const prefix = idPrefixMatch(list, s);
  if (prefix) return prefix;
  throw new NotFoundError(`No such image: ${key}`);
}

/** The one image whose ID starts with `s` (with or without `sha256:`), if exactly one does. */
function idPrefixMatch(list: readonly ImageRecord[], s: string): ImageRecord | undefined {
  const hex = s.startsWith('sha256:') ? s.slice('sha256:'.length) : s;
  if (!/^[a-f0-9]+$/.test(hex)) return undefined;
  const hits = list.filter((r) => r.id.slice('sha256:'.length).startsWith(hex));
  return hits.length === 1 ? hits[0] : undefined;
}

/** Whether `s` names the image by (a prefix of) its ID, as moby's isImageIDPrefix asks. */
export function isImageIDPrefix(id: string, s: string): boolean {
  if (id.startsWith(s)) return true;
  const i = id.indexOf(':');
  return i >= 0 && id.slice(i + 1).startsWith(s);
}
