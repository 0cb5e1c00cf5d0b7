/**
 * Byte ranges: the `Range` header of blob GETs (RFC 9110, one range) and the `Content-Range`
 * of chunked uploads (distribution's `<start>-<end>`, with an optional `bytes ` prefix).
 */

/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a blob GET's Range header against the blob's size. Returns undefined when the header
 * is absent or not a single `bytes=` range (the whole blob is then sent, as RFC 9110 allows),
 * 'unsatisfiable' when it asks for bytes past the end, else the clamped range.
 */
export function parseRangeHeader(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes=(\d*)-(\d*)\s*$/.exec(header);
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') {
    // A suffix range: the last N bytes.
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  let end = b === '' ? size - 1 : Number(b);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return undefined;
  if (start >= size) return 'unsatisfiable';
  if (end < start) return undefined;
  if (end >= size) end = size - 1;
  return { start, end };
}

/** Parses an upload chunk's Content-Range (`0-1023` or `bytes 0-1023`); undefined when malformed. */
export function parseContentRange(header: string): ByteRange | undefined {
  const m = /^\s*(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?\s*$/.exec(header);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  return { start, end };
}

/** The Range header an upload's status carries: `0-<last byte>`, `0-0` when empty (as distribution). */
export function uploadRange(offset: number): string {
  return `0-${offset > 0 ? offset - 1 : 0}`;
}
